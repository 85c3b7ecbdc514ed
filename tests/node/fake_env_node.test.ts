/**
 * The real node (startNode) with an injected fake scheduler, clock and in-memory transport: no
 * sockets and no real time. Checks what the split made testable: stop() waits for the pending
 * table to drain through a promise (no 5 ms polling), bounded by the submit timeout; ADD_NODE is
 * answered when its entry applies (no polling); a 3-node cluster on the memory network answers
 * INFO in a write batch with the same error from every replica's cache.
 */
import { expect, test } from "bun:test";
import { Code } from "../../protocol/codes.ts";
import type { TinyKVNode } from "../../core/node/types.ts";
import { batchKey } from "../../core/node/pending.ts";
import {
  type ClientBatch,
  definePlugin,
  type Plugin,
  type PluginContext,
} from "../../core/plugin/plugin.ts";
import { createIdempotencyPlugin } from "../../plugins/idempotency/mod.ts";
import { fakeClient, type FakeEnv, fakeEnv, startFakeNode } from "../helpers/fake_node.ts";

const SUBMIT_MS = 2000;

function start(e: FakeEnv, id: number, peers: Record<number, string>, plugins: Plugin[] = []) {
  return startFakeNode(e, id, peers, { plugins, config: { raft_submit_timeout_ms: SUBMIT_MS } });
}

/** A plugin that takes every write batch over and answers it (without applying) only when told. */
function holder() {
  let ctx: PluginContext | null = null;
  const held: ClientBatch[] = [];
  const plugin = definePlugin({
    name: "holder",
    setup(c) {
      ctx = c;
    },
    onBatch(batch) {
      if (batch.readOnly) return undefined;
      held.push(batch);
      return { defer: true };
    },
  });
  return {
    plugin,
    held,
    release() {
      for (const b of held.splice(0)) {
        ctx!.answer(b, { codes: [Code.OK], data: ["held"], errors: [null] });
      }
    },
  };
}

test("single node on a fake scheduler: elects itself, writes and reads, INFO in a write batch is refused", async () => {
  const e = fakeEnv();
  const node = await start(e, 1, {});
  await e.s.until("leader", () => node.status().role === "leader", 1000);
  const c = fakeClient(e, node);
  const w = c.send([["SET", "k", "v"], ["INFO"]]);
  // Batches in flight together are concurrent: the read goes once the write is answered.
  await e.s.until("write reply", () => !!c.reply(w), 1000);
  const r = c.send([["GET", "k"], ["INFO"], ["MEMBERS"]]);
  await e.s.until("replies", () => !!c.reply(r), 1000);
  expect(c.reply(w)!.codes).toEqual([Code.OK, Code.SYNTAX]);
  expect((c.reply(w)!.errors as string[])[1]).toBe(
    "INFO must be sent on its own or with reads only",
  );
  expect(c.reply(r)!.codes).toEqual([Code.OK, Code.OK, Code.OK]);
  expect(String((c.reply(r)!.data as unknown[])[1])).toContain("role:leader");
  const stopped = node.stop();
  await e.s.run(100);
  await stopped;
});

/** A single node with one write batch held by the `holder` plugin. */
async function heldBatch() {
  const e = fakeEnv();
  const h = holder();
  const node = await start(e, 1, {}, [h.plugin]);
  await e.s.until("leader", () => node.status().role === "leader", 1000);
  const c = fakeClient(e, node);
  const b = c.send([["SET", "a", "1"]]);
  await e.s.until("the batch to be held", () => h.held.length === 1, 100);
  return { e, h, c, b, node };
}

test("stop() waits for in-flight batches through a promise, not by polling", async () => {
  const { e, h, c, b, node } = await heldBatch();
  e.s.timeouts.length = 0;
  let done = false;
  const stopped = node.stop().then(() => done = true);
  await e.s.run(300);
  expect(done).toBe(false);
  // Waiting costs one timer (the submit-timeout bound), not a 5 ms poll per turn.
  expect(e.s.timeouts).toEqual([SUBMIT_MS]);
  h.release();
  await e.s.run(50);
  expect(c.reply(b)!.codes).toEqual([Code.OK]);
  await e.s.run(50);
  await stopped;
  expect(done).toBe(true);
  // Stopped well before the bound: the drain resolved it (then one 5 ms flush before closing).
  expect(e.s.now).toBeLessThan(SUBMIT_MS);
  expect(e.s.timeouts).toEqual([SUBMIT_MS, 5]);
});

test("stop() with a batch that never applies ends after the submit timeout (TIMEOUT, outcome unknown)", async () => {
  const { e, c, b, node } = await heldBatch();
  const t0 = e.s.now;
  let done = false;
  const stopped = node.stop().then(() => done = true);
  // The pending table's own deadline (submit timeout) or stop's bound answers it.
  await e.s.until("stop", () => done, SUBMIT_MS + 500);
  await stopped;
  expect(e.s.now - t0).toBeGreaterThanOrEqual(SUBMIT_MS - 100);
  expect(c.reply(b)!.codes).toEqual([Code.TIMEOUT]);
});

test("ADD_NODE is answered when its entry applies (no polling)", async () => {
  const e = fakeEnv();
  const node = await start(e, 1, {});
  await e.s.until("leader", () => node.status().role === "leader", 1000);
  const c = fakeClient(e, node);
  // A conf change is refused (BUSY) until the leader applied its term's first entry.
  const w = c.send([["SET", "k", "v"]]);
  await e.s.until("a write", () => !!c.reply(w), 1000);
  e.s.timeouts.length = 0;
  const t0 = e.s.now;
  const a = c.send([["ADD_NODE", "2", "127.0.0.1:40002", "127.0.0.1:40003", "LEARNER"]]);
  await e.s.until("ADD_NODE answer", () => !!c.reply(a), 1000);
  expect(c.reply(a)!.codes).toEqual([Code.OK]);
  expect(node.status().conf.learners).toEqual([2]);
  // One deadline timer for the waiter (cancelled when answered); answered within a few turns.
  expect(e.s.timeouts).toEqual([5000]);
  expect(e.s.now - t0).toBeLessThan(50);
  const m = c.send([["MEMBERS"]]);
  await e.s.until("MEMBERS", () => !!c.reply(m), 100);
  expect(c.reply(m)!.data).toEqual([[
    [1, `127.0.0.1:${node.raftPort}`, `127.0.0.1:${node.clientPort}`, "voter", "leader"],
    [2, "127.0.0.1:40002", "127.0.0.1:40003", "learner", "follower"],
  ]]);
  const stopped = node.stop();
  await e.s.run(100);
  await stopped;
});

test("3 nodes on the memory network: every replica caches the same answer for INFO in a write batch", async () => {
  const e = fakeEnv();
  const peers = { 1: "127.0.0.1:31001", 2: "127.0.0.1:31002", 3: "127.0.0.1:31003" };
  const idem = [1, 2, 3].map(() => createIdempotencyPlugin());
  const nodes: TinyKVNode[] = [];
  for (const id of [1, 2, 3]) nodes.push(await start(e, id, peers, [idem[id - 1]]));
  await e.s.until("a leader", () => nodes.some((n) => n.status().role === "leader"), 5000);
  const leader = nodes.find((n) => n.status().role === "leader")!;
  const c = fakeClient(e, leader);
  const w = c.send([["SET", "k", "v"], ["INFO"]], "w1", { client_id: "tester" });
  await e.s.until("reply", () => !!c.reply(w), 2000);
  expect(c.reply(w)!.codes).toEqual([Code.OK, Code.SYNTAX]);
  const key = batchKey("tester", "w1");
  await e.s.until("every replica applies", () => idem.every((p) => p.cache()?.get(key)), 2000);
  const results = idem.map((p) => p.cache()!.get(key)!.result);
  for (const r of results) expect(r).toEqual(results[0]);
  // The leader's real client address (30000 + id, not raft port - 1) reaches every node.
  await e.s.until(
    "every node knows the leader's client address",
    () => nodes.every((n) => n.leaderAddress() === `127.0.0.1:${30_000 + leader.id}`),
    2000,
  );
  const stopped = Promise.all(nodes.map((n) => n.stop()));
  await e.s.run(3000);
  await stopped;
});
