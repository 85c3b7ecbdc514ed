import { describe, expect, test } from "bun:test";
import { Code } from "../../protocol/codes.ts";
import {
  createStateMachine,
  isServerCommand,
  SERVER_COMMANDS,
  STATE_COMMANDS,
} from "../../core/state/state_machine.ts";
import type { Value } from "../../core/state/types.ts";
import { Harness, prng } from "./harness.ts";

const enc = new TextEncoder();

describe("dispatch", () => {
  test("command names are case-insensitive", () => {
    const h = new Harness();
    h.ok("sEt", "k", "v");
    expect(h.ok("gEt", "k")).toBe("v");
    expect(h.ok("Zadd", "z", "1", "m")).toBe(1);
    expect(h.ok("zrangebyscore", "z", "-INF", "+Inf")).toEqual(["m"]);
  });

  test("unknown commands, including the node's server commands", () => {
    const h = new Harness();
    expect(h.err(Code.UNKNOWN_COMMAND, "FOO", "x")).toBe("unknown command 'FOO'");
    expect(h.err(Code.UNKNOWN_COMMAND, new Uint8Array([0, 0xff]))).toBe(
      "unknown command '\\x00\\xff'",
    );
    h.err(Code.UNKNOWN_COMMAND, "x".repeat(1000));
    h.err(Code.UNKNOWN_COMMAND, "");
    h.err(Code.UNKNOWN_COMMAND, "SETX", "a", "b");
    h.err(Code.UNKNOWN_COMMAND, "SE", "a", "b");
    for (const name of SERVER_COMMANDS) {
      h.err(Code.UNKNOWN_COMMAND, name);
      h.err(Code.UNKNOWN_COMMAND, name.toLowerCase(), "1");
      expect(isServerCommand(enc.encode(name.toLowerCase()))).toBe(true);
    }
    expect([...SERVER_COMMANDS].sort()).toEqual(
      [
        "ADD_NODE",
        "GET_LEADER",
        "INFO",
        "MEMBERS",
        "REMOVE_NODE",
        "SNAPSHOT_CHUNK",
        "SNAPSHOT_SAVE",
        "TRANSFER_LEADER",
      ],
    );
    expect(isServerCommand(enc.encode("GET"))).toBe(false);
    expect(isServerCommand(enc.encode("INFOS"))).toBe(false);
  });

  test("empty argv is a syntax error", () => {
    const sm = createStateMachine();
    const out = { codes: [] as number[], data: [] as Value[], errors: [] as (string | null)[] };
    sm.apply([], { nowMs: 0, index: 1 }, out);
    expect(out.codes).toEqual([Code.SYNTAX]);
  });

  test("wrong arity of every command names the command", () => {
    const h = new Harness();
    for (const name of STATE_COMMANDS) {
      if (["ping", "dbsize", "randomkey", "flushdb", "flushall", "revision"].includes(name)) {
        continue;
      }
      // No command takes zero arguments apart from PING/DBSIZE/RANDOMKEY/FLUSHDB/FLUSHALL/REVISION.
      expect(h.err(Code.SYNTAX, name.toUpperCase())).toBe(
        `wrong number of arguments for '${name}' command`,
      );
    }
    expect(h.err(Code.SYNTAX, "PING", "a", "b")).toBe(
      "wrong number of arguments for 'ping' command",
    );
    h.err(Code.SYNTAX, "DBSIZE", "x");
    h.err(Code.SYNTAX, "TTL", "a", "b");
    h.err(Code.SYNTAX, "LRANGE", "a", "0");
    h.err(Code.SYNTAX, "ZSCORE", "z");
  });

  test("PING / ECHO / DBSIZE", () => {
    const h = new Harness();
    expect(h.ok("PING")).toBe("PONG");
    expect(h.ok("PING", "hi")).toBe("hi");
    expect(h.ok("ECHO", "yo")).toBe("yo");
    expect(h.ok("DBSIZE")).toBe(0);
    h.ok("MSET", "a", "1", "b", "2");
    expect(h.ok("DBSIZE")).toBe(2);
  });

  test("isReadOnly", () => {
    const sm = createStateMachine();
    const ro = [
      "GET",
      "get",
      "MGET",
      "EXISTS",
      "TTL",
      "PTTL",
      "TYPE",
      "STRLEN",
      "LRANGE",
      "LINDEX",
      "LLEN",
      "SMEMBERS",
      "SCARD",
      "SISMEMBER",
      "HGET",
      "HKEYS",
      "HVALS",
      "HGETALL",
      "HLEN",
      "HEXISTS",
      "ZRANGE",
      "ZRANGEBYSCORE",
      "ZSCORE",
      "ZCARD",
      "PING",
      "ECHO",
      "DBSIZE",
      ...("GETRANGE SUBSTR LCS KEYS SCAN TOUCH EXPIRETIME PEXPIRETIME RANDOMKEY OBJECT LPOS " +
        "SINTER SUNION SDIFF SINTERCARD SRANDMEMBER SMISMEMBER SSCAN HMGET HSTRLEN HRANDFIELD " +
        "HSCAN ZRANK ZREVRANK ZREVRANGE ZREVRANGEBYSCORE ZRANGEBYLEX ZREVRANGEBYLEX ZCOUNT " +
        "ZLEXCOUNT ZMSCORE ZUNION ZINTER ZDIFF ZRANDMEMBER ZSCAN WATCHREV IFREV GETREV REVISION " +
        "RANGE RANGEPREFIX CHECK")
        .split(" "),
    ];
    const rw = [
      "SET",
      "MSET",
      "DEL",
      "EXPIRE",
      "PEXPIRE",
      "EXPIREAT",
      "PEXPIREAT",
      "PERSIST",
      "INCR",
      "INCRBY",
      "DECR",
      "DECRBY",
      "APPEND",
      "LPUSH",
      "RPUSH",
      "LPOP",
      "RPOP",
      "SADD",
      "SREM",
      "HSET",
      "HDEL",
      "ZADD",
      "ZINCRBY",
      "ZREM",
      ...("SETNX SETEX PSETEX GETSET GETDEL GETEX MSETNX INCRBYFLOAT SETRANGE UNLINK RENAME " +
        "RENAMENX COPY FLUSHDB FLUSHALL LPUSHX RPUSHX LSET LREM LTRIM LINSERT LMOVE RPOPLPUSH " +
        "LMPOP SINTERSTORE SUNIONSTORE SDIFFSTORE SMOVE SPOP HSETNX HMSET HINCRBY HINCRBYFLOAT " +
        "ZPOPMIN ZPOPMAX ZREMRANGEBYRANK ZREMRANGEBYSCORE ZREMRANGEBYLEX ZUNIONSTORE " +
        "ZINTERSTORE ZDIFFSTORE ZRANGESTORE LEASE KVATOMIC KVSUM KVMIN KVMAX").split(" "),
      "FOO",
      "INFO",
    ];
    for (const n of ro) expect([n, sm.isReadOnly(enc.encode(n))]).toEqual([n, true]);
    for (const n of rw) expect([n, sm.isReadOnly(enc.encode(n))]).toEqual([n, false]);
    expect(ro.length + rw.length - 3).toBe(STATE_COMMANDS.length); // "get" dup, FOO, INFO
  });

  test("random argv never throws and always yields exactly one result", () => {
    const rnd = prng(42);
    const sm = createStateMachine();
    const ctx = { nowMs: 1000, index: 0 };
    const names = STATE_COMMANDS.map((n) => enc.encode(n));
    const words = [
      ..."NX XX EX PX GET KEEPTTL WITHSCORES LIMIT (1 -inf BYLEX BYSCORE REV COUNT MATCH TYPE"
        .split(" "),
      ..."LEFT RIGHT WEIGHTS AGGREGATE MIN MAX [a (b - + * k? IDX LEN WITHMATCHLEN MINMATCHLEN"
        .split(" "),
      ..."WITHVALUES RANK MAXLEN BEFORE AFTER REPLACE PERSIST EXAT 2147483647 -2147483647".split(
        " ",
      ),
      ..."1099511627776 -9223372036854775808 9223372036854775807 1.5 inf ENCODING".split(" "),
    ].map((w) => enc.encode(w));
    const out = { codes: [] as number[], data: [] as Value[], errors: [] as (string | null)[] };
    for (let i = 0; i < 60_000; i++) {
      const argc = 1 + Math.floor(rnd() * 6);
      const argv: Uint8Array[] = [names[Math.floor(rnd() * names.length)]];
      for (let j = 1; j < argc; j++) {
        const r = rnd();
        if (r < 0.3) argv.push(enc.encode(`k${Math.floor(rnd() * 8)}`));
        else if (r < 0.6) argv.push(enc.encode(String(Math.floor(rnd() * 20) - 5)));
        else if (r < 0.8) argv.push(words[Math.floor(rnd() * words.length)]);
        else argv.push(new Uint8Array(Math.floor(rnd() * 4)).map(() => rnd() * 256));
      }
      ctx.index++;
      ctx.nowMs += Math.floor(rnd() * 50);
      sm.apply(argv, ctx, out);
      expect(out.codes.length).toBe(i + 1);
      if (out.codes[i] === Code.INTERNAL) throw new Error(`${argv.map(String)}: ${out.errors[i]}`);
    }
    expect(out.data.length).toBe(60_000);
    expect(out.errors.length).toBe(60_000);
    // The resulting state survives a snapshot round trip.
    const sm2 = createStateMachine();
    sm2.restore(sm.snapshot());
    expect(sm2.snapshot()).toEqual(sm.snapshot());
  });
});
