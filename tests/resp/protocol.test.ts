/**
 * The RESP protocol itself, byte for byte, against an in-process node: RESP2 by default, HELLO 3
 * (maps, sets, doubles, nulls), inline commands, replies in order across data and connection
 * commands, QUIT, RESET, SELECT, CLIENT, COMMAND, CONFIG GET, INFO, TIME, LASTSAVE, and redis-cli.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { TinyKVNode } from "../../core/node/types.ts";
import { RawResp, redisCli, resp, startRespNode } from "./helpers.ts";

let node: TinyKVNode;

beforeAll(async () => {
  node = await startRespNode();
});

afterAll(async () => {
  await node?.stop();
});

/** Sends `bytes` on a fresh connection and waits until `expected` bytes came back. */
async function exchange(bytes: string | Uint8Array, expected: string): Promise<string> {
  const c = await RawResp.connect(node.redisPort);
  try {
    await c.write(bytes);
    await c.until((t) => t.length >= expected.length);
    return c.text();
  } finally {
    c.close();
  }
}

function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

describe("RESP2", () => {
  test("replies in order across data and connection commands", async () => {
    const req = cat(
      resp("SET", "p:k", "v"),
      resp("PING"),
      resp("GET", "p:k"),
      resp("ECHO", "e"),
      resp("GET", "p:none"),
      resp("INCR", "p:n"),
      resp("SELECT", "0"),
      resp("LRANGE", "p:none", "0", "-1"),
    );
    const want = "+OK\r\n+PONG\r\n$1\r\nv\r\n$1\r\ne\r\n$-1\r\n:1\r\n+OK\r\n*0\r\n";
    expect(await exchange(req, want)).toBe(want);
  });

  test("inline commands, with quotes", async () => {
    const want = "+OK\r\n$5\r\na b\nc\r\n+PONG\r\n";
    expect(await exchange('SET p:q "a b\\nc"\r\nGET p:q\r\nPING\n', want)).toBe(want);
    const bad = await exchange('SET p:q "open\r\n', "-ERR Protocol error");
    expect(bad).toBe("-ERR Protocol error: unbalanced quotes in request\r\n");
  });

  test("errors", async () => {
    const req = cat(
      resp("SET", "p:s", "x"),
      resp("LPUSH", "p:s", "a"),
      resp("GET"),
      resp("NOPE", "a", "b"),
      resp("SELECT", "3"),
      resp("SELECT", "x"),
      resp("HELLO", "4"),
      resp("EXEC"),
      resp("DISCARD"),
    );
    const want = "+OK\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" +
      "-ERR wrong number of arguments for 'get' command\r\n" +
      "-ERR unknown command 'NOPE', with args beginning with: 'a' 'b' \r\n" +
      "-ERR DB index is out of range\r\n" +
      "-ERR value is not an integer or out of range\r\n" +
      "-NOPROTO unsupported protocol version\r\n" +
      "-ERR EXEC without MULTI\r\n" +
      "-ERR DISCARD without MULTI\r\n";
    expect(await exchange(req, want)).toBe(want);
  });

  test("MULTI/EXEC/DISCARD/WATCH as Redis answers them", async () => {
    const req = cat(
      resp("SET", "t:a", "1"),
      resp("MULTI"),
      resp("INCR", "t:a"),
      resp("LPUSH", "t:a", "x"),
      resp("GET", "t:a"),
      resp("EXEC"),
      // A queueing error discards the whole transaction.
      resp("MULTI"),
      resp("SET", "t:a", "9"),
      resp("GET"),
      resp("EXEC"),
      resp("GET", "t:a"),
      resp("MULTI"),
      resp("MULTI"),
      resp("WATCH", "t:a"),
      resp("DISCARD"),
      resp("MULTI"),
      resp("EXEC"),
    );
    const want = "+OK\r\n+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n" +
      "*3\r\n:2\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n$1\r\n2\r\n" +
      "+OK\r\n+QUEUED\r\n-ERR wrong number of arguments for 'get' command\r\n" +
      "-EXECABORT Transaction discarded because of previous errors.\r\n" +
      "$1\r\n2\r\n" +
      "+OK\r\n-ERR MULTI calls can not be nested\r\n-ERR WATCH inside MULTI is not allowed\r\n+OK\r\n" +
      "+OK\r\n*0\r\n";
    expect(await exchange(req, want)).toBe(want);
  });

  test("WATCH: EXEC runs when the watched keys are unchanged, answers a null array when one changed", async () => {
    const a = await RawResp.connect(node.redisPort);
    const b = await RawResp.connect(node.redisPort);
    try {
      await a.write(cat(resp("SET", "w:k", "1"), resp("WATCH", "w:k", "w:none")));
      expect(await a.until((t) => t.split("\r\n").length > 2)).toBe("+OK\r\n+OK\r\n");
      a.clear();
      await a.write(cat(resp("MULTI"), resp("SET", "w:k", "2"), resp("EXEC")));
      expect(await a.until((t) => t.includes("*1"))).toBe("+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n");
      a.clear();
      // Watch again; another client changes the key; EXEC is aborted and nothing it queued ran.
      await a.write(resp("WATCH", "w:k"));
      expect(await a.until((t) => t.includes("+OK"))).toBe("+OK\r\n");
      a.clear();
      await b.write(resp("SET", "w:k", "other"));
      expect(await b.until((t) => t.includes("+OK"))).toBe("+OK\r\n");
      await a.write(cat(resp("MULTI"), resp("SET", "w:k", "3"), resp("INCR", "w:n"), resp("EXEC")));
      expect(await a.until((t) => t.includes("*-1"))).toBe(
        "+OK\r\n+QUEUED\r\n+QUEUED\r\n*-1\r\n",
      );
      a.clear();
      await a.write(cat(resp("GET", "w:k"), resp("EXISTS", "w:n")));
      expect(await a.until((t) => t.includes(":"))).toBe("$5\r\nother\r\n:0\r\n");
      a.clear();
      // A key created after WATCH aborts too; UNWATCH forgets.
      await a.write(cat(resp("WATCH", "w:new"), resp("UNWATCH"), resp("WATCH", "w:new2")));
      expect(await a.until((t) => t.split("+OK").length > 3)).toBe("+OK\r\n+OK\r\n+OK\r\n");
      a.clear();
      await b.write(resp("SET", "w:new2", "x"));
      await b.until((t) => t.split("+OK").length > 2);
      await a.write(cat(resp("MULTI"), resp("EXEC")));
      expect(await a.until((t) => t.includes("*-1"))).toBe("+OK\r\n*-1\r\n");
    } finally {
      a.close();
      b.close();
    }
  });

  test("scores are bulk strings, HGETALL a flat array", async () => {
    const req = cat(
      resp("ZADD", "p:z", "1.5", "a"),
      resp("ZSCORE", "p:z", "a"),
      resp("ZRANGE", "p:z", "0", "-1", "WITHSCORES"),
      resp("HSET", "p:h", "f", "v"),
      resp("HGETALL", "p:h"),
    );
    const want =
      ":1\r\n$3\r\n1.5\r\n*2\r\n$1\r\na\r\n$3\r\n1.5\r\n:1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n";
    expect(await exchange(req, want)).toBe(want);
  });

  test("QUIT answers what came before, then +OK, then closes", async () => {
    const c = await RawResp.connect(node.redisPort);
    await c.write(cat(resp("SET", "p:quit", "1"), resp("QUIT"), resp("SET", "p:quit", "2")));
    expect(await c.closedWithin()).toBe(true);
    expect(c.text()).toBe("+OK\r\n+OK\r\n");
    expect(await exchange(resp("GET", "p:quit"), "$1\r\n1\r\n")).toBe("$1\r\n1\r\n");
  });
});

describe("RESP3 via HELLO", () => {
  test("HELLO 3 answers a map; replies then use RESP3 types", async () => {
    const c = await RawResp.connect(node.redisPort);
    try {
      await c.write(resp("HELLO", "3", "SETNAME", "r3"));
      const hello = await c.until((t) => t.includes("modules"));
      expect(hello.startsWith("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n")).toBe(true);
      expect(hello).toContain("$5\r\nproto\r\n:3\r\n");
      expect(hello).toContain("$4\r\nrole\r\n$6\r\nmaster\r\n");
      const before = c.text().length;
      await c.write(cat(
        resp("HSET", "p3:h", "f", "v"),
        resp("HGETALL", "p3:h"),
        resp("SADD", "p3:s", "m"),
        resp("SMEMBERS", "p3:s"),
        resp("ZADD", "p3:z", "2.5", "a"),
        resp("ZSCORE", "p3:z", "a"),
        resp("ZRANGE", "p3:z", "0", "-1", "WITHSCORES"),
        resp("GET", "p3:none"),
        resp("CLIENT", "GETNAME"),
        resp("CONFIG", "GET", "databases"),
      ));
      const want = ":1\r\n%1\r\n$1\r\nf\r\n$1\r\nv\r\n:1\r\n~1\r\n$1\r\nm\r\n:1\r\n,2.5\r\n" +
        "*1\r\n*2\r\n$1\r\na\r\n,2.5\r\n_\r\n$2\r\nr3\r\n%1\r\n$9\r\ndatabases\r\n$1\r\n1\r\n";
      const got = await c.until((t) => t.length - before >= want.length);
      expect(got.slice(before)).toBe(want);
      // HELLO 2 goes back.
      await c.write(resp("HELLO", "2"));
      await c.until((t) => t.lastIndexOf("*14\r\n") > before);
      const mark = c.text().length;
      await c.write(resp("GET", "p3:none"));
      expect((await c.until((t) => t.length > mark)).slice(mark)).toBe("$-1\r\n");
    } finally {
      c.close();
    }
  });

  test("RESET returns to RESP2 and drops the name", async () => {
    const want = "+RESET\r\n$-1\r\n$-1\r\n";
    const c = await RawResp.connect(node.redisPort);
    try {
      await c.write(resp("HELLO", "3", "SETNAME", "x"));
      await c.until((t) => t.includes("modules"));
      const mark = c.text().length;
      await c.write(cat(resp("RESET"), resp("CLIENT", "GETNAME"), resp("GET", "nope")));
      expect((await c.until((t) => t.length - mark >= want.length)).slice(mark)).toBe(want);
    } finally {
      c.close();
    }
  });
});

describe("server commands", () => {
  test("CLIENT ID/SETNAME/GETNAME/INFO/LIST/NO-EVICT/KILL", async () => {
    const a = await RawResp.connect(node.redisPort);
    const b = await RawResp.connect(node.redisPort);
    try {
      await a.write(cat(resp("CLIENT", "SETNAME", "alpha"), resp("CLIENT", "ID")));
      const idText = await a.until((t) => /:\d+\r\n$/.test(t));
      const id = Number(/:(\d+)\r\n$/.exec(idText)![1]);
      await b.write(cat(
        resp("CLIENT", "LIST"),
        resp("CLIENT", "NO-EVICT", "on"),
        resp("CLIENT", "SETNAME", "has space"),
        resp("CLIENT", "INFO"),
        resp("CLIENT", "KILL", "ID", String(id)),
      ));
      const t = await b.until((x) => /:1\r\n$/.test(x));
      expect(t).toContain(`id=${id} `);
      expect(t).toContain("name=alpha");
      expect(t).toContain(
        "+OK\r\n-ERR Client names cannot contain spaces, newlines or special characters.\r\n",
      );
      expect(await a.closedWithin()).toBe(true);
    } finally {
      a.close();
      b.close();
    }
  });

  test("COMMAND COUNT/INFO/DOCS, CONFIG GET, INFO sections, TIME, LASTSAVE, DBSIZE", async () => {
    const c = await RawResp.connect(node.redisPort);
    try {
      await c.write(resp("COMMAND", "COUNT"));
      const count = Number(/^:(\d+)\r\n$/.exec(await c.until((t) => t.endsWith("\r\n")))![1]);
      expect(count).toBeGreaterThan(40);
      let mark = c.text().length;
      await c.write(resp("COMMAND", "INFO", "get", "nosuch"));
      const info = (await c.until((t) => t.endsWith("*-1\r\n"))).slice(mark);
      expect(
        info.startsWith("*2\r\n*10\r\n$3\r\nget\r\n:2\r\n*1\r\n+readonly\r\n:1\r\n:1\r\n:1\r\n"),
      ).toBe(
        true,
      );
      mark = c.text().length;
      await c.write(resp("CONFIG", "GET", "save"));
      expect((await c.until((t) => t.length > mark + 10)).slice(mark)).toBe(
        "*2\r\n$4\r\nsave\r\n$0\r\n\r\n",
      );
      mark = c.text().length;
      await c.write(resp("INFO"));
      const all = (await c.until((t) => t.includes("# Raft") && t.endsWith("\r\n\r\n"))).slice(
        mark,
      );
      for (
        const s of [
          "Server",
          "Clients",
          "Memory",
          "Persistence",
          "Stats",
          "Replication",
          "Keyspace",
          "Raft",
        ]
      ) {
        expect(all).toContain(`# ${s}\r\n`);
      }
      expect(all).toContain("redis_version:7.2.0");
      expect(all).toContain("role:master");
      expect(all).toContain("raft_role:leader");
      mark = c.text().length;
      await c.write(resp("INFO", "replication"));
      const rep = (await c.until((t) => t.length > mark && t.endsWith("\r\n\r\n"))).slice(mark);
      expect(rep).toContain("# Replication");
      expect(rep).not.toContain("# Server");
      mark = c.text().length;
      await c.write(cat(resp("TIME"), resp("LASTSAVE"), resp("DBSIZE")));
      const rest = (await c.until((t) => /:\d+\r\n:\d+\r\n$/.test(t.slice(mark)))).slice(mark);
      const m = /^\*2\r\n\$\d+\r\n(\d+)\r\n\$\d+\r\n(\d+)\r\n:(\d+)\r\n:(\d+)\r\n$/.exec(rest)!;
      expect(Math.abs(Number(m[1]) - Date.now() / 1000)).toBeLessThan(5);
      expect(Number(m[2])).toBeLessThan(1_000_000);
      expect(Number(m[3])).toBeLessThanOrEqual(Number(m[1]));
    } finally {
      c.close();
    }
  });
});

describe("redis-cli", () => {
  test("commands, RESP3 (-3), errors, --pipe style input", async () => {
    const p = String(node.redisPort);
    expect((await redisCli(["-p", p, "PING"])).out).toBe("PONG\n");
    expect((await redisCli(["-p", p, "SET", "cli:k", "hello world"])).out).toBe("OK\n");
    expect((await redisCli(["-p", p, "GET", "cli:k"])).out).toBe("hello world\n");
    expect((await redisCli(["-p", p, "RPUSH", "cli:l", "a", "b"])).out).toBe("2\n");
    expect((await redisCli(["-p", p, "LRANGE", "cli:l", "0", "-1"])).out).toBe("a\nb\n");
    expect((await redisCli(["-p", p, "SADD", "cli:s", "m"])).out).toBe("1\n");
    expect((await redisCli(["-p", p, "HSET", "cli:h", "f", "v"])).out).toBe("1\n");
    // A map: redis-cli prints "key value" on one line.
    expect((await redisCli(["-3", "-p", p, "HGETALL", "cli:h"])).out).toBe("f v\n");
    expect((await redisCli(["-p", p, "ZADD", "cli:z", "1", "x"])).out).toBe("1\n");
    expect((await redisCli(["-3", "-p", p, "ZSCORE", "cli:z", "x"])).out).toBe("1\n");
    expect((await redisCli(["-p", p, "GET", "cli:l"])).out).toContain("WRONGTYPE");
    expect((await redisCli(["-p", p, "INFO", "server"])).out).toContain("redis_version:7.2.0");
    // Many commands on stdin: redis-cli pipelines them on one connection.
    const lines = Array.from({ length: 200 }, (_, i) => `SET cli:m${i} ${i}`).join("\n") + "\n";
    const r = await redisCli(["-p", p], lines);
    expect(r.out.split("\n").filter((l) => l === "OK").length).toBe(200);
    expect((await redisCli(["-p", p, "GET", "cli:m199"])).out).toBe("199\n");
  });

  test("--pipe: mass insertion of 150,000 SETs (7 MB, more than the cluster takes at once)", async () => {
    const p = String(node.redisPort);
    const parts: string[] = [];
    for (let i = 0; i < 150_000; i++) {
      const k = `pipe:${i}`, v = `value-${i}`;
      parts.push(`*3\r\n$3\r\nSET\r\n$${k.length}\r\n${k}\r\n$${v.length}\r\n${v}\r\n`);
    }
    // Reading pauses while too much waits behind the batch in flight (TCP back-pressure), rather
    // than closing a client that writes faster than the cluster answers.
    const r = await redisCli(["-p", p, "--pipe"], parts.join(""), 25_000);
    expect(r.out).toContain("errors: 0, replies: 150000");
    expect((await redisCli(["-p", p, "GET", "pipe:149999"])).out).toBe("value-149999\n");
  });
});

test("WATCH of a 900 KB key works (no stack overflow building the watch table)", async () => {
  const key = "w".repeat(900_000);
  const c = await RawResp.connect(node.redisPort);
  try {
    await c.write(cat(resp("WATCH", key), resp("MULTI"), resp("SET", key, "1"), resp("EXEC")));
    expect(await c.until((t) => t.includes("*1"))).toBe("+OK\r\n+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n");
  } finally {
    c.close();
  }
});

test("a missing key is a null array where Redis answers one (LPOP/RPOP with a count, LMPOP)", async () => {
  const req = cat(
    resp("LPOP", "na:none", "2"),
    resp("RPOP", "na:none", "2"),
    resp("LMPOP", "1", "na:none", "LEFT"),
    resp("LPOP", "na:none"),
    resp("RPUSH", "na:l", "a"),
    resp("LPOP", "na:l", "5"),
  );
  const want = "*-1\r\n*-1\r\n*-1\r\n$-1\r\n:1\r\n*1\r\n$1\r\na\r\n";
  expect(await exchange(req, want)).toBe(want);
});

test("ZRANK WITHSCORE: [rank, score] with the score as a bulk string (RESP2), as Redis 7.2", async () => {
  const req = cat(
    resp("ZADD", "zr:z", "1.5", "a", "2", "b"),
    resp("ZRANK", "zr:z", "b", "WITHSCORE"),
    resp("ZREVRANK", "zr:z", "b", "withscore"),
    resp("ZRANK", "zr:z", "a"),
  );
  const want = ":2\r\n*2\r\n:1\r\n$1\r\n2\r\n*2\r\n:0\r\n$1\r\n2\r\n:0\r\n";
  expect(await exchange(req, want)).toBe(want);
});
