/**
 * CHECK on the RESP port from real clients (ioredis): inside MULTI/EXEC with and without WATCH, a
 * failed CHECK queued first guards the transaction (nothing of it applies); pipelined (ioredis'
 * auto-pipelining and explicit pipelines) a CHECK guards nothing; malformed CHECK/RANGE/LEASE/KV
 * commands answer clear errors and the connection and other clients carry on.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Redis } from "ioredis";
import type { TinyKVNode } from "../../core/node/types.ts";
import { redisCli, startRespNode } from "../resp/helpers.ts";

let node: TinyKVNode;
let r: Redis;
beforeAll(async () => {
  node = await startRespNode();
  r = new Redis({
    port: node.redisPort,
    host: "127.0.0.1",
    lazyConnect: true,
    maxRetriesPerRequest: 1,
  });
  await r.connect();
});
afterAll(async () => {
  r?.disconnect();
  await node?.stop();
});

const call = (...a: string[]) =>
  r.call(a[0], ...a.slice(1)).then((v) => v, (e: Error) => `ERR:${e.message}`);

test("MULTI/EXEC: a CHECK queued first guards, with and without WATCH", async () => {
  await r.set("mk", "1");
  // Without WATCH: CHECK fails, SET does not apply.
  const a = await r.multi().call("CHECK", "mk", "VALUE", "2").set("mk", "changed").exec();
  const why = "check 1 failed: key 'mk' value differs";
  const aborted = [`ERR ${why}`, `ERR transaction aborted: ${why}`];
  expect(a?.map(([e]) => e?.message)).toEqual(aborted);
  expect(await r.get("mk")).toBe("1");
  // With WATCH (nothing changed the watched key): CHECK fails; the SET must not apply either.
  await r.watch("other");
  const b = await r.multi().call("CHECK", "mk", "VALUE", "2").set("mk", "changed").exec();
  expect(b?.map(([e]) => e?.message)).toEqual(aborted);
  expect(await r.get("mk")).toBe("1");
  // With WATCH and a CHECK that holds: the SET applies.
  await r.watch("other");
  const c = await r.multi().call("CHECK", "mk", "VALUE", "1").set("mk", "2").exec();
  expect(c?.map(([e, v]) => [e, v])).toEqual([[null, "OK"], [null, "OK"]]);
  expect(await r.get("mk")).toBe("2");
});

test("malformed commands answer errors; the connection carries on", async () => {
  const bad = [
    ["CHECK"],
    ["CHECK", "k"],
    ["CHECK", "k", "VALUE"],
    ["RANGE", "a"],
    ["RANGE", "", "", "LIMIT", "0"],
    ["RANGE", "", "", "AT", "x"],
    ["LEASE"],
    ["LEASE", "GRANT", "-1"],
    ["LEASE", "REVOKE", "424242"],
    ["KVATOMIC", "5"],
    ["KVATOMIC", "0", "SET", "k", "v", "9007199254740991"],
    ["KVSUM", "k", "short"],
  ];
  for (const b of bad) {
    const v = await call(...b);
    expect(String(v)).toStartWith("ERR:");
  }
  expect(await r.ping()).toBe("PONG");
});

test("pipelined CHECK (ioredis pipeline, redis-cli reading stdin) guards nothing", async () => {
  const res = await r.pipeline()
    .call("CHECK", "pipe", "EXISTS")
    .set("pipe-a", "1")
    .call("IFREV", "pipe", "3")
    .set("pipe-b", "1")
    .exec();
  expect(res!.map(([e]) => e === null)).toEqual([false, true, false, true]);
  expect(await r.mget("pipe-a", "pipe-b")).toEqual(["1", "1"]);
  const cli = await redisCli(
    ["-p", String(node.redisPort)],
    "CHECK cli EXISTS\nSET cli-a 1\nCHECK cli-a VALUE 2\nSET cli-b 1\nMGET cli-a cli-b\n",
  );
  expect(cli.code).toBe(0);
  expect(cli.out).toContain("check 1 failed: key 'cli' is absent");
  expect(cli.out).toContain("check 1 failed: key 'cli-a' value differs");
  expect(await r.mget("cli-a", "cli-b")).toEqual(["1", "1"]);
});
