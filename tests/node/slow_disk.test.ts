/**
 * A slow disk does not cost the leader its leadership. While a Ready round awaits its fsync, the
 * node still sends what may leave before persisting (core/node/ready.ts): the leader's heartbeats
 * and appends, and the followers' heartbeat replies. Here every node's fsync takes longer than the
 * election timeout (as when three nodes share one disk that stalls), on the real node over the
 * fake scheduler and memory network: writes keep succeeding, and the first leader's term never
 * changes. Before the fix, followers heard nothing for the length of the leader's fsync, started an
 * election, and the term moved on (2 -> 3) during the writes.
 */
import { expect, test } from "bun:test";
import type { ConfState } from "../../core/raft/types.ts";
import { MemoryStorage } from "../../core/storage/memory.ts";
import type { FakeScheduler } from "../helpers/fake_env.ts";
import { fakeClient, fakeEnv, startFakeNode } from "../helpers/fake_node.ts";
import { Code } from "../../protocol/codes.ts";
import type { TinyKVNode } from "../../core/node/types.ts";

const ELECTION_MS = 400;
const FSYNC_MS = 600;

/** In-memory storage whose `sync()` takes `delayMs` of fake time, as a stalled disk's would. */
class SlowDisk extends MemoryStorage {
  delayMs = 0;
  constructor(conf: ConfState, readonly s: FakeScheduler) {
    super(conf);
  }
  override async sync(): Promise<void> {
    await super.sync();
    if (this.delayMs > 0) await new Promise<void>((r) => this.s.timeout(this.delayMs, r));
  }
}

test("fsyncs longer than the election timeout on every node: writes succeed, no election", async () => {
  const e = fakeEnv();
  const peers = { 1: "127.0.0.1:32001", 2: "127.0.0.1:32002", 3: "127.0.0.1:32003" };
  const conf: ConfState = { voters: [1, 2, 3], learners: [] };
  const nodes: TinyKVNode[] = [];
  const disks = [1, 2, 3].map(() => new SlowDisk(conf, e.s));
  for (const id of [1, 2, 3]) {
    nodes.push(
      await startFakeNode(e, id, peers, {
        storage: disks[id - 1],
        config: { election_timeout_ms: ELECTION_MS, raft_submit_timeout_ms: 10_000 },
      }),
    );
  }
  await e.s.until("a leader", () => nodes.some((n) => n.status().role === "leader"), 10_000);
  const leader = nodes.find((n) => n.status().role === "leader")!;
  const term = leader.status().term;
  const c = fakeClient(e, leader);
  // The disks stall once the cluster runs (an election itself needs fsyncs shorter than the
  // election timeout: a candidate persists its vote before asking for votes).
  for (const d of disks) d.delayMs = FSYNC_MS;
  // Ten seconds of fake time, a write batch every 100 ms: each waits for fsyncs of 600 ms.
  const sent: string[] = [];
  for (let i = 0; i < 100; i++) {
    sent.push(c.send([["SET", `k${i}`, "v"]]));
    await e.s.run(100);
    for (const n of nodes) expect(n.status().term).toBe(term);
  }
  await e.s.until("every write answered", () => sent.every((b) => c.reply(b)), 10_000);
  for (const b of sent) expect(c.reply(b)!.codes).toEqual([Code.OK]);
  expect(leader.status().role).toBe("leader");
  for (const n of nodes) expect(n.status().term).toBe(term);
  const stopped = Promise.all(nodes.map((n) => n.stop()));
  await e.s.run(15_000);
  await stopped;
});
