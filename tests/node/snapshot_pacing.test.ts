/**
 * A snapshot's encoding leaves most of the event loop to the node's other work (#11): after each
 * step it pauses for twice the step's duration (at most 50 ms), so a leader short of CPU keeps
 * answering its clients while it encodes. Back to back, the steps of a 3M-key snapshot held a
 * leader's loop for 1.8-3 s and its clients' batches waited over 120 ms.
 */
import { expect, test } from "bun:test";
import { pacedTurns } from "../../core/env/time.ts";
import { Snapshots, type SnapshotsDeps } from "../../core/node/snapshots.ts";
import type { Storage } from "../../core/storage/storage.ts";
import type { SnapshotJob, StateMachine } from "../../core/state/types.ts";
import { fakeClock, FakeScheduler } from "../helpers/fake_env.ts";

test("pacedTurns waits twice the work since the last turn, capped, and a plain turn after none", async () => {
  const s = new FakeScheduler();
  const turn = pacedTurns(fakeClock(s), s, 2, 50);
  const resumed: number[] = [];
  void (async () => {
    s.now += 10; // 10 ms of work
    await turn();
    resumed.push(s.now);
    s.now += 40; // 40 ms of work: the pause is capped at 50
    await turn();
    resumed.push(s.now);
    await turn(); // no work since: one turn, no timer
    resumed.push(s.now);
  })();
  await s.run(500);
  expect(s.timeouts).toEqual([20, 50]);
  expect(resumed).toEqual([30, 120, 120]);
});

test("a snapshot's encoding steps are spaced by twice their duration", async () => {
  const s = new FakeScheduler();
  const starts: number[] = [];
  const STEP_MS = 10;
  const job: SnapshotJob = {
    prefix() {},
    step() {
      starts.push(s.now);
      s.now += STEP_MS; // the step's own work, on the node's clock
      return starts.length === 6;
    },
    finish: () => new Uint8Array(8),
    abort() {},
  };
  const sm = { beginSnapshot: () => job, size: () => 1 } as unknown as StateMachine;
  const log = { debug() {}, info() {}, warn() {}, error() {} };
  const deps = {
    config: { node_id: 1, snapshot_entries: 1, snapshot_keep_entries: 0 },
    state: { applied: 7 },
    sm,
    hooks: { snapshot: () => ({}) },
    clock: fakeClock(s),
    scheduler: s,
    log,
    members: () => ({}),
    restoreMembers() {},
  } as unknown as SnapshotsDeps;
  const snaps = new Snapshots(deps);
  const storage = { term: () => 1 } as unknown as Storage;
  let done = false;
  void snaps.capture(storage, { voters: [1], learners: [] }).then(() => done = true);
  await s.until("the snapshot", () => done, 5_000, 1);
  expect(starts.length).toBe(6);
  for (let i = 1; i < starts.length; i++) {
    expect(starts[i] - starts[i - 1]).toBe(STEP_MS + 2 * STEP_MS);
  }
});
