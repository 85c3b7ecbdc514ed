/**
 * Test-only tool (not part of the suite): random command sequences through TinyKV's state
 * machine and a real `redis-server` (free loopback port, killed at the end), printing the first
 * differing replies. Only deterministic commands; unordered replies are compared sorted. Left
 * out on purpose: OBJECT ENCODING (not tracked per write path), ZRANK WITHSCORE (Redis 7.2; the
 * installed server is 7.0) and floats near 1e308 (Redis computes in long double).
 *
 *   bun tests/state/compare_fuzz.ts [commands=20000] [seed=1]
 */
import { Harness, prng } from "./harness.ts";
import { normalise } from "./compare_scripts.ts";
import { Code } from "../../protocol/codes.ts";
import { startRedis } from "./redis_server.ts";

const N = Number(process.argv[2] ?? 20000);
const rnd = prng(Number(process.argv[3] ?? 1));
const pick = <T>(a: T[]): T => a[Math.floor(rnd() * a.length)];
const int = (lo: number, hi: number) => String(lo + Math.floor(rnd() * (hi - lo + 1)));
const key = () => pick(["a", "b", "c", "d"]);
const mem = () => pick(["m1", "m2", "m3", "m4", "m5", "1", "2", "10"]);
const score = () => pick(["0", "1", "2", "1.5", "-1", "+inf", "-inf", "3"]);
const sb = () => pick(["-inf", "+inf", "(1", "1", "2", "(2", "0", "(0"]);
const lb = () => pick(["-", "+", "[m2", "(m2", "[m4", "(m1", "[1"]);
const idx = () => int(-6, 6);

const UNORDERED = new Set(["smembers", "sinter", "sunion", "sdiff", "keys", "hkeys", "hvals"]);

function gen(): string[] {
  const g: (() => string[])[] = [
    () => ["SET", key(), pick(["1", "x", "10", "-3", "2.5"])],
    () => ["GET", key()],
    () => ["SETNX", key(), "v"],
    () => ["GETSET", key(), int(0, 9)],
    () => ["GETDEL", key()],
    () => ["INCRBYFLOAT", key(), pick(["1", "0.5", "-2", "x", "2.5"])],
    () => ["DECRBY", key(), int(-5, 5)],
    () => ["APPEND", key(), "ab"],
    () => ["GETRANGE", key(), idx(), idx()],
    () => ["SETRANGE", key(), int(0, 5), pick(["xy", "z"])],
    () => ["LCS", key(), key()],
    () => ["MSETNX", key(), "1", key(), "2"],
    () => ["RPUSH", key(), mem(), mem()],
    () => ["LPUSHX", key(), mem()],
    () => ["LSET", key(), idx(), "s"],
    () => ["LREM", key(), int(-2, 2), mem()],
    () => ["LTRIM", key(), idx(), idx()],
    () => ["LINSERT", key(), pick(["BEFORE", "AFTER"]), mem(), "ins"],
    () => ["LPOS", key(), mem(), "RANK", pick(["1", "-1", "2"]), "COUNT", int(0, 3)],
    () => ["LMOVE", key(), key(), pick(["LEFT", "RIGHT"]), pick(["LEFT", "RIGHT"])],
    () => ["LMPOP", "2", key(), key(), pick(["LEFT", "RIGHT"]), "COUNT", int(1, 3)],
    () => ["LRANGE", key(), "0", "-1"],
    () => ["LPOP", key(), int(0, 2)],
    () => ["SADD", key(), mem(), mem()],
    () => ["SREM", key(), mem()],
    () => ["SMEMBERS", key()],
    () => ["SINTER", key(), key()],
    () => ["SUNION", key(), key()],
    () => ["SDIFF", key(), key()],
    () => ["SINTERSTORE", key(), key(), key()],
    () => ["SDIFFSTORE", key(), key(), key()],
    () => ["SINTERCARD", "2", key(), key()],
    () => ["SMOVE", key(), key(), mem()],
    () => ["SMISMEMBER", key(), mem(), mem()],
    () => ["HSET", key(), mem(), pick(["1", "x", "2.5"])],
    () => ["HINCRBY", key(), mem(), int(-3, 3)],
    () => ["HINCRBYFLOAT", key(), mem(), pick(["1.5", "-1"])],
    () => ["HSETNX", key(), mem(), "n"],
    () => ["HMGET", key(), mem(), mem()],
    () => ["HSTRLEN", key(), mem()],
    () => ["HGETALL", key()],
    () => ["HDEL", key(), mem()],
    () => [
      "ZADD",
      key(),
      ...pick([[], ["NX"], ["XX"], ["GT"], ["LT"], ["CH"], ["GT", "CH"]]),
      score(),
      mem(),
    ],
    () => ["ZADD", key(), "INCR", score(), mem()],
    () => ["ZRANGE", key(), "0", "-1", "WITHSCORES"],
    () => ["ZRANK", key(), mem()],
    () => ["ZREVRANK", key(), mem()],
    () => ["ZREVRANGE", key(), idx(), idx(), "WITHSCORES"],
    () => ["ZRANGEBYSCORE", key(), sb(), sb(), "WITHSCORES", "LIMIT", int(0, 2), int(-1, 3)],
    () => ["ZREVRANGEBYSCORE", key(), sb(), sb()],
    () => ["ZRANGEBYLEX", key(), lb(), lb()],
    () => ["ZREVRANGEBYLEX", key(), lb(), lb(), "LIMIT", int(0, 2), int(-1, 3)],
    () => ["ZRANGE", key(), sb(), sb(), "BYSCORE", "REV", "WITHSCORES"],
    () => ["ZRANGE", key(), lb(), lb(), "BYLEX"],
    () => ["ZCOUNT", key(), sb(), sb()],
    () => ["ZLEXCOUNT", key(), lb(), lb()],
    () => ["ZPOPMIN", key(), int(0, 2)],
    () => ["ZPOPMAX", key()],
    () => ["ZREMRANGEBYRANK", key(), idx(), idx()],
    () => ["ZREMRANGEBYSCORE", key(), sb(), sb()],
    () => ["ZREMRANGEBYLEX", key(), lb(), lb()],
    () => ["ZMSCORE", key(), mem(), mem()],
    () => [
      "ZUNIONSTORE",
      key(),
      "2",
      key(),
      key(),
      "WEIGHTS",
      pick(["1", "2", "-1"]),
      "1",
      "AGGREGATE",
      pick(["SUM", "MIN", "MAX"]),
    ],
    () => ["ZINTERSTORE", key(), "2", key(), key()],
    () => ["ZDIFFSTORE", key(), "2", key(), key()],
    () => ["ZUNION", "2", key(), key(), "WITHSCORES"],
    () => ["ZINTER", "2", key(), key(), "WITHSCORES"],
    () => ["ZDIFF", "2", key(), key(), "WITHSCORES"],
    () => ["ZRANGESTORE", key(), key(), sb(), sb(), "BYSCORE"],
    () => ["RENAME", key(), key()],
    () => ["RENAMENX", key(), key()],
    () => ["COPY", key(), key(), ...pick([[], ["REPLACE"]])],
    () => ["DEL", key()],
    () => ["TYPE", key()],
    () => ["EXISTS", key(), key()],
    () => ["KEYS", pick(["*", "a*", "[ab]", "?"])],
    () => ["EXPIRE", key(), int(10, 100), ...pick([[], ["NX"], ["XX"], ["GT"], ["LT"]])],
    () => ["TTL", key()],
    () => ["PERSIST", key()],
    // Options, odd numbers and errors.
    () => [
      "SET",
      key(),
      "v",
      ...pick([
        ["NX"],
        ["XX"],
        ["GET"],
        ["NX", "GET"],
        ["XX", "GET"],
        ["EX", "100"],
        ["KEEPTTL"],
        ["EX", "0"],
        ["PX", "x"],
        ["NX", "XX"],
      ]),
    ],
    () => ["GETEX", key(), ...pick([[], ["PERSIST"], ["EX", "100"], ["PX", "-1"], ["FOO"]])],
    () => ["EXPIRETIME", key()],
    () => ["INCRBY", key(), pick(["1", "x", "9223372036854775807", "-9223372036854775808"])],
    () => [
      "LPOS",
      key(),
      mem(),
      ...pick([[], ["MAXLEN", "2"], ["RANK", "0"], ["COUNT", "-1"], ["RANK", "-2", "MAXLEN", "3"]]),
    ],
    () => ["LINDEX", key(), idx()],
    () => ["LRANGE", key(), idx(), idx()],
    () => ["RPOPLPUSH", key(), key()],
    () => ["RPUSHX", key(), mem()],
    () => ["LMPOP", pick(["0", "1", "3", "x"]), key(), pick(["LEFT", "UP"])],
    () => ["SINTERCARD", pick(["1", "2", "0", "x"]), key(), key(), "LIMIT", pick(["0", "1", "-1"])],
    () => ["SUNIONSTORE", key(), key(), key()],
    () => ["SISMEMBER", key(), mem()],
    () => ["SCARD", key()],
    () => ["SPOP", key(), "0"],
    () => ["HMSET", key(), mem(), "1", mem(), "2"],
    () => ["HINCRBY", key(), mem(), pick(["x", "9223372036854775807"])],
    () => ["HINCRBYFLOAT", key(), mem(), pick(["x", "inf", "-inf"])],
    () => ["HEXISTS", key(), mem()],
    () => ["HLEN", key()],
    () => [
      "ZADD",
      key(),
      ...pick([["NX", "XX"], ["GT", "LT"], ["INCR", "GT"], ["INCR", "LT", "CH"], ["XX", "CH"], [
        "NX",
        "INCR",
      ]]),
      score(),
      mem(),
    ],
    () => ["ZINCRBY", key(), score(), mem()],
    () => ["ZSCORE", key(), mem()],
    () => ["ZCARD", key()],
    () => [
      "ZRANGE",
      key(),
      idx(),
      idx(),
      ...pick([["REV"], ["WITHSCORES"], ["LIMIT", "0", "1"], ["BYSCORE", "BYLEX"]]),
    ],
    () => ["ZRANGE", key(), lb(), lb(), "BYLEX", "REV", "LIMIT", int(0, 2), int(-1, 2)],
    () => ["ZRANGESTORE", key(), key(), lb(), lb(), "BYLEX"],
    () => ["ZRANGESTORE", key(), key(), idx(), idx(), "REV"],
    () => [
      "ZINTER",
      "2",
      key(),
      key(),
      "WEIGHTS",
      pick(["2", "0", "-1", "inf"]),
      "1",
      "AGGREGATE",
      pick(["SUM", "MIN", "MAX"]),
      "WITHSCORES",
    ],
    () => ["ZUNION", pick(["1", "2", "3"]), key(), key(), "WITHSCORES"],
    () => ["ZDIFF", pick(["1", "2"]), key(), key()],
    () => ["ZREMRANGEBYRANK", key(), "0", "0"],
    () => ["ZPOPMIN", key(), pick(["-1", "x", "10"])],
    () => ["GETRANGE", key(), pick(["0", "-1", "100", "-100"]), pick(["0", "-1", "100", "-100"])],
    () => ["STRLEN", key()],
    () => [
      "LCS",
      key(),
      key(),
      ...pick([["LEN"], ["IDX"], ["IDX", "WITHMATCHLEN"], ["IDX", "MINMATCHLEN", "2"]]),
    ],
    () => ["MGET", key(), key()],
    () => ["TOUCH", key(), key()],
    () => ["UNLINK", key()],
    () => ["EXPIRE", key(), pick(["-1", "x", "0"])],
    () => ["PEXPIRE", key(), int(10000, 100000), pick(["GT", "LT", "NX", "XX"])],
    () => ["PTTL", key()],
  ];
  return pick(g)();
}

const { redis, stop } = await startRedis();
let diffs = 0;
const h = new Harness(undefined, Date.now());
await redis.send(["FLUSHALL"]);
try {
  for (let i = 0; i < N && diffs < 15; i++) {
    const args = gen();
    h.ctx.nowMs = Date.now();
    const r = h.run(...args);
    const sorted = UNORDERED.has(args[0].toLowerCase());
    const a = JSON.stringify(normalise(r.code, r.value, r.error, sorted));
    const b = JSON.stringify(normalise(Code.OK, await redis.send(args), null, sorted));
    if (a !== b) {
      diffs++;
      console.log(`#${i} ${args.join(" ")}\n  tinykv: ${a}\n  redis:  ${b}`);
      // Resynchronise: copy Redis's state of the keys involved is not possible; start afresh.
      await redis.send(["FLUSHALL"]);
      h.run("FLUSHALL");
    }
  }
} finally {
  stop();
}
console.log(`${N} commands, ${diffs} differences`);
process.exit(diffs === 0 ? 0 : 1);
