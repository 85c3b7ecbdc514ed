/**
 * RESP against a 3-node in-process cluster: ioredis, node-redis and redis-cli write and read
 * through the leader (round trips of every family, pipelines of 1,000 commands, replicated to
 * every node); a follower answers its own connection commands (PING, INFO with role:slave, HELLO
 * role replica) and serves data commands too — writes forwarded to the leader, reads by follower
 * ReadIndex, MULTI/EXEC and WATCH. FLUSHALL is replicated once the state machine has it.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Redis } from "ioredis";
import { createClient } from "redis";
import type { TinyKVNode } from "../../core/node/types.ts";
import { STATE_COMMANDS } from "../../core/state/state_machine.ts";
import { waitFor } from "../helpers/net.ts";
import { HOST, leaderOf, RawResp, redisCli, resp, startRespCluster } from "./helpers.ts";

let nodes: TinyKVNode[] = [];
let leader: TinyKVNode;
let follower: TinyKVNode;

beforeAll(async () => {
  nodes = await startRespCluster();
  leader = leaderOf(nodes)!;
  follower = nodes.find((n) => n !== leader)!;
});

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
});

function io(port: number): Redis {
  return new Redis({ host: HOST, port, lazyConnect: true, maxRetriesPerRequest: 0 });
}

test("ioredis through the leader: every family, a pipeline of 1,000, replicated", async () => {
  const r = io(leader.redisPort);
  await r.connect();
  try {
    expect(await r.set("c:s", "v")).toBe("OK");
    expect(await r.get("c:s")).toBe("v");
    expect(await r.rpush("c:l", "a", "b")).toBe(2);
    expect(await r.lrange("c:l", 0, -1)).toEqual(["a", "b"]);
    expect(await r.sadd("c:set", "m1", "m2")).toBe(2);
    expect(await r.scard("c:set")).toBe(2);
    expect(await r.hset("c:h", "f", "v")).toBe(1);
    expect(await r.hgetall("c:h")).toEqual({ f: "v" });
    expect(await r.zadd("c:z", 3, "x")).toBe(1);
    expect(await r.zrange("c:z", 0, -1, "WITHSCORES")).toEqual(["x", "3"]);
    const p = r.pipeline();
    for (let i = 0; i < 1000; i++) p.incr("c:counter");
    const res = await p.exec();
    expect(res!.map(([, v]) => v)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
  } finally {
    r.disconnect();
  }
  const applied = leader.status().applied;
  await waitFor(
    "followers applied",
    () => nodes.every((n) => n.status().applied >= applied) ? true : undefined,
  );
});

test("node-redis and redis-cli through the leader", async () => {
  const c = createClient({
    socket: { host: HOST, port: leader.redisPort, reconnectStrategy: false },
  });
  c.on("error", () => {});
  await c.connect();
  try {
    const all = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => c.set(`c:nr${i}`, `${i}`)),
    );
    expect(all.every((x) => x === "OK")).toBe(true);
    expect(await c.get("c:nr999")).toBe("999");
  } finally {
    await c.quit();
  }
  expect((await redisCli(["-p", String(leader.redisPort), "GET", "c:nr500"])).out).toBe("500\n");
  expect((await redisCli(["-p", String(leader.redisPort), "GET", "c:counter"])).out).toBe("1000\n");
});

test("a follower serves Redis clients: writes forwarded to the leader, reads by follower ReadIndex, MULTI/EXEC and WATCH", async () => {
  const r = io(follower.redisPort);
  await r.connect();
  const l = io(leader.redisPort);
  await l.connect();
  try {
    expect(await r.ping()).toBe("PONG");
    const info = await r.info("replication");
    expect(info).toContain("role:slave");
    expect(info).toContain(`master_port:${leader.clientPort}`);
    // A write through the follower, read back through the leader and the follower.
    expect(await r.set("c:f", "via-follower")).toBe("OK");
    expect(await l.get("c:f")).toBe("via-follower");
    expect(await r.get("c:f")).toBe("via-follower");
    // A pipeline of 1,000 through the follower: one batch, in order.
    const p = r.pipeline();
    for (let i = 0; i < 1000; i++) p.incr("c:fcount");
    const res = await p.exec();
    expect(res!.map(([, v]) => v)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    // MULTI/EXEC through the follower.
    const tx = await r.multi().set("c:tx", "1").incr("c:tx").get("c:tx").exec();
    expect(tx!.map(([, v]) => v)).toEqual(["OK", 2, "2"]);
    // WATCH conflict: the leader's client changes the key between WATCH and EXEC.
    await r.watch("c:tx");
    await l.set("c:tx", "changed");
    const aborted = await r.multi().set("c:tx", "mine").exec();
    expect(aborted).toBeNull();
    expect(await l.get("c:tx")).toBe("changed");
    // Unchanged: it runs.
    await r.watch("c:tx");
    const ran = await r.multi().set("c:tx", "mine").exec();
    expect(ran!.map(([, v]) => v)).toEqual(["OK"]);
    expect(await l.get("c:tx")).toBe("mine");
  } finally {
    r.disconnect();
    l.disconnect();
  }
  const c = await RawResp.connect(follower.redisPort);
  try {
    await c.write(resp("HELLO", "3"));
    expect(await c.until((t) => t.includes("modules"))).toContain(
      "$4\r\nrole\r\n$7\r\nreplica\r\n",
    );
  } finally {
    c.close();
  }
});

test.skipIf(!STATE_COMMANDS.includes("flushall"))("FLUSHALL is replicated", async () => {
  const r = io(leader.redisPort);
  await r.connect();
  try {
    expect(await r.flushall()).toBe("OK");
    expect(await r.dbsize()).toBe(0);
  } finally {
    r.disconnect();
  }
});
