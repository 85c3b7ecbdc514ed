/**
 * Real Redis client libraries against an in-process node's RESP listener: ioredis and node-redis
 * (`redis`): strings, lists, sets, hashes, sorted sets round trips, a pipeline of 1,000 commands
 * (one batch on the write path), errors as Redis 7 words them, AUTH.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Redis } from "ioredis";
import { createClient } from "redis";
import type { TinyKVNode } from "../../core/node/types.ts";
import { HOST, startRespNode } from "./helpers.ts";
import { startTestNode as startTestNodeWith } from "../helpers/in_process.ts";

let node: TinyKVNode;
let secured: TinyKVNode;

beforeAll(async () => {
  node = await startRespNode();
  secured = await startRespNode({ password: "s3cret", auth_failure_delay_ms: 20 });
});

afterAll(async () => {
  await node?.stop();
  await secured?.stop();
});

/** An ioredis client on `port`, connected; `body` runs with it, then it disconnects. */
async function withIo(
  port: number,
  body: (r: Redis) => Promise<void>,
  extra: Record<string, unknown> = {},
): Promise<void> {
  const r = new Redis({ host: HOST, port, lazyConnect: true, maxRetriesPerRequest: 0, ...extra });
  await r.connect();
  try {
    await body(r);
  } finally {
    r.disconnect();
  }
}

describe("ioredis", () => {
  test("round trips of every family", async () => {
    await withIo(node.redisPort, async (r) => {
      expect(await r.ping()).toBe("PONG");
      expect(await r.set("io:s", "v1")).toBe("OK");
      expect(await r.get("io:s")).toBe("v1");
      expect(await r.get("io:missing")).toBeNull();
      expect(await r.incr("io:n")).toBe(1);
      expect(await r.incrby("io:n", 41)).toBe(42);
      expect(await r.append("io:s", "x")).toBe(3);
      expect(await r.mget("io:s", "io:missing")).toEqual(["v1x", null]);
      expect(await r.rpush("io:l", "a", "b", "c")).toBe(3);
      expect(await r.lrange("io:l", 0, -1)).toEqual(["a", "b", "c"]);
      expect(await r.lpop("io:l")).toBe("a");
      expect(await r.sadd("io:set", "x", "y", "x")).toBe(2);
      expect((await r.smembers("io:set")).sort()).toEqual(["x", "y"]);
      expect(await r.sismember("io:set", "y")).toBe(1);
      expect(await r.hset("io:h", "f1", "v1", "f2", "v2")).toBe(2);
      expect(await r.hgetall("io:h")).toEqual({ f1: "v1", f2: "v2" });
      expect(await r.hget("io:h", "f2")).toBe("v2");
      expect(await r.zadd("io:z", 1.5, "a", 2, "b")).toBe(2);
      expect(await r.zscore("io:z", "a")).toBe("1.5");
      expect(await r.zrange("io:z", 0, -1, "WITHSCORES")).toEqual(["a", "1.5", "b", "2"]);
      expect(await r.zincrby("io:z", 1, "a")).toBe("2.5");
      expect(await r.type("io:z")).toBe("zset");
      expect(await r.exists("io:s", "io:l", "io:nope")).toBe(2);
      expect(await r.del("io:s")).toBe(1);
      expect(await r.echo("hi")).toBe("hi");
      expect(await r.dbsize()).toBeGreaterThan(0);
      expect(await r.client("ID")).toBeGreaterThan(0);
      expect(await r.select(0)).toBe("OK");
      await expect(r.select(1)).rejects.toThrow("ERR DB index is out of range");
      const info = await r.info("keyspace");
      expect(info).toContain("# Keyspace");
      expect(info).toMatch(/db0:keys=\d+/);
    });
  });

  test("errors carry Redis's prefixes and texts", async () => {
    await withIo(node.redisPort, async (r) => {
      await r.set("io:str", "x");
      await expect(r.lpush("io:str", "a")).rejects.toThrow(
        "WRONGTYPE Operation against a key holding the wrong kind of value",
      );
      await expect(r.incr("io:str")).rejects.toThrow("ERR value is not an integer or out of range");
      await expect(r.call("nosuchcmd", "a")).rejects.toThrow(
        "ERR unknown command 'nosuchcmd', with args beginning with: 'a'",
      );
      await expect(r.call("get")).rejects.toThrow(
        "ERR wrong number of arguments for 'get' command",
      );
      await expect(r.call("blpop", "q", "0")).rejects.toThrow("ERR unknown command 'blpop'");
      await expect(r.call("subscribe", "ch")).rejects.toThrow("ERR unknown command 'subscribe'");
      await expect(r.call("exec")).rejects.toThrow("ERR EXEC without MULTI");
      // The connection still works after errors.
      expect(await r.get("io:str")).toBe("x");
    });
  });

  test("binary-safe values, and a value of 512 KiB split over many reads", async () => {
    await withIo(node.redisPort, async (r) => {
      const bin = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      expect(await r.set(Buffer.from([0, 13, 10, 255]), bin)).toBe("OK");
      expect(await r.getBuffer(Buffer.from([0, 13, 10, 255]))).toEqual(bin);
      const big = Buffer.alloc(512 * 1024, "z");
      expect(await r.set("io:big", big)).toBe("OK");
      expect((await r.getBuffer("io:big"))!.equals(big)).toBe(true);
      expect(await r.strlen("io:big")).toBe(big.length);
    });
  });

  test("a pipeline of 1,000 commands is answered in order (one batch)", async () => {
    await withIo(node.redisPort, async (r) => {
      const before = node.stats().batchesReceived;
      const p = r.pipeline();
      for (let i = 0; i < 500; i++) {
        p.set(`io:p${i}`, `v${i}`);
        p.get(`io:p${i}`);
      }
      const res = await p.exec();
      expect(res!.length).toBe(1000);
      for (let i = 0; i < 500; i++) {
        expect(res![2 * i]).toEqual([null, "OK"]);
        expect(res![2 * i + 1]).toEqual([null, `v${i}`]);
      }
      // Far fewer batches than commands: what arrives while one is in flight joins the next.
      const batches = node.stats().batchesReceived - before;
      expect(batches).toBeGreaterThan(0);
      expect(batches).toBeLessThan(50);
    });
  });

  test("AUTH: NOAUTH before, WRONGPASS for a bad password, then served", async () => {
    await withIo(secured.redisPort, async (r) => {
      await expect(r.get("k")).rejects.toThrow("NOAUTH Authentication required.");
      await expect(r.auth("wrong")).rejects.toThrow(
        "WRONGPASS invalid username-password pair or user is disabled.",
      );
      expect(await r.auth("default", "s3cret")).toBe("OK");
      expect(await r.set("k", "v")).toBe("OK");
      expect(await r.get("k")).toBe("v");
    }, { enableReadyCheck: false });
    await withIo(secured.redisPort, async (r) => {
      expect(await r.get("k")).toBe("v");
    }, { password: "s3cret" });
  });
});

describe("node-redis", () => {
  test("round trips, pipelines (multi-less), errors", async () => {
    const c = createClient({
      socket: { host: HOST, port: node.redisPort, reconnectStrategy: false },
    });
    c.on("error", () => {});
    await c.connect();
    try {
      expect(await c.ping()).toBe("PONG");
      expect(await c.set("nr:s", "v")).toBe("OK");
      expect(await c.get("nr:s")).toBe("v");
      expect(await c.rPush("nr:l", ["1", "2"])).toBe(2);
      expect(await c.lRange("nr:l", 0, -1)).toEqual(["1", "2"]);
      expect(await c.sAdd("nr:set", ["a", "b"])).toBe(2);
      expect((await c.sMembers("nr:set")).sort()).toEqual(["a", "b"]);
      expect(await c.hSet("nr:h", { a: "1", b: "2" })).toBe(2);
      expect(await c.hGetAll("nr:h")).toEqual({ a: "1", b: "2" });
      expect(await c.zAdd("nr:z", [{ score: 3, value: "x" }, { score: 1, value: "y" }])).toBe(2);
      expect(await c.zRangeWithScores("nr:z", 0, -1)).toEqual([
        { value: "y", score: 1 },
        { value: "x", score: 3 },
      ]);
      expect(await c.zScore("nr:z", "x")).toBe(3);
      // Commands sent together (node-redis pipelines what is issued in the same tick).
      const many = await Promise.all(
        Array.from(
          { length: 1000 },
          (_, i) => i % 2 ? c.get(`nr:k${i - 1}`) : c.set(`nr:k${i}`, `${i}`),
        ),
      );
      for (let i = 0; i < 1000; i++) expect(many[i]).toBe(i % 2 ? `${i - 1}` : "OK");
      await expect(c.sendCommand(["LPUSH", "nr:s", "x"])).rejects.toThrow("WRONGTYPE");
      expect(await c.clientId()).toBeGreaterThan(0);
      await c.clientSetName("tester");
      expect(await c.clientGetName()).toBe("tester");
      expect(await c.sendCommand(["CLIENT", "LIST"])).toContain("name=tester");
    } finally {
      await c.quit();
    }
  });

  test("password in the URL", async () => {
    const c = createClient({ url: `redis://default:s3cret@${HOST}:${secured.redisPort}` });
    c.on("error", () => {});
    await c.connect();
    expect(await c.set("nr:a", "1")).toBe("OK");
    expect(await c.get("nr:a")).toBe("1");
    await c.quit();
  });
});

test("INFO keyspace counts keys with an expiry; CONFIG GET appendonly says whether the node is durable", async () => {
  const { mkdtempSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const walPlugin = (await import("../../plugins/wal/mod.ts")).default;
  const dir = mkdtempSync(join(tmpdir(), "tinykv-resp-aof-"));
  const durable = await startTestNodeWith({ redis_port: 0, data_dir: dir }, [walPlugin]);
  try {
    for (const [n, appendonly] of [[node, "no"], [durable, "yes"]] as const) {
      await withIo(n.redisPort, async (r) => {
        await r.set("exp:a", "1", "EX", 100);
        await r.set("exp:b", "1", "PX", 100_000);
        await r.set("exp:c", "1");
        const info = await r.info("keyspace");
        expect(Number(/db0:keys=\d+,expires=(\d+)/.exec(info)?.[1])).toBeGreaterThanOrEqual(2);
        expect(await r.config("GET", "appendonly")).toEqual(["appendonly", appendonly]);
        await r.del("exp:a", "exp:b", "exp:c");
      });
    }
  } finally {
    await durable.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
