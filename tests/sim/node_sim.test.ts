/**
 * The node simulation itself: a run is a pure function of its seed (same trace hash twice, in
 * one process), seeds differ, and the plan derives everything from the seed.
 */
import { expect, test } from "bun:test";
import { checkHistory } from "./linearizability.ts";
import { type KvInput, kvModel, planFor, runNodeSim } from "./node_sim.ts";

test("same seed, same trace hash (determinism)", async () => {
  for (const seed of [3, 8, 21]) {
    const a = await runNodeSim(seed);
    const b = await runNodeSim(seed);
    expect(a.ok).toBe(true);
    expect(b.traceHash).toBe(a.traceHash);
    expect(b.steps).toBe(a.steps);
    expect(b.ops).toBe(a.ops);
    expect(b.summary).toBe(a.summary);
  }
}, 60_000);

test("different seeds, different runs", async () => {
  const a = await runNodeSim(5);
  const b = await runNodeSim(6);
  expect(a.traceHash).not.toBe(b.traceHash);
}, 60_000);

test("the plan is derived from the seed alone", () => {
  expect(JSON.stringify(planFor(77))).toBe(JSON.stringify(planFor(77)));
  const lease = Array.from({ length: 30 }, (_, i) => planFor(i + 1).leaseProbe).filter(Boolean);
  expect(lease.length).toBe(10);
});

test("the lease probe with ReadIndex reads (lease_read off): never stale", async () => {
  // The same schedules that show stale lease reads on a branch without the lease fix pass with
  // ReadIndex: the failure the lease seeds report is the lease's, not the simulation's.
  for (let seed = 3; seed <= 60; seed += 3) {
    const r = await runNodeSim(seed, undefined, false);
    expect(r.expected.filter((e) => e.startsWith("lease"))).toEqual([]);
    if (!r.ok) throw new Error(`seed ${seed}: ${r.failures.join("; ")}`);
  }
}, 60_000);

test(
  "the checks have teeth: disks that lie about fsync lose acknowledged writes, and it is caught",
  async () => {
    // Same seeds, same schedules; only sync() persists nothing, so a crash loses writes the node
    // acknowledged. Seeds without the lease probe, so no failure is classed as the known lease one.
    let caught = 0;
    let crashed = 0;
    for (let seed = 1; seed <= 60 && caught < 3; seed++) {
      if (seed % 3 === 0) continue;
      const honest = await runNodeSim(seed);
      expect(honest.ok).toBe(true);
      if (!honest.summary.match(/[1-9]\d* crashes/)) continue;
      crashed++;
      const r = await runNodeSim(seed, undefined, undefined, "fsync");
      if (!r.ok) caught++;
    }
    expect(crashed).toBeGreaterThan(0);
    expect(caught).toBeGreaterThanOrEqual(3);
  },
  60_000,
);

test(
  "the checks have teeth: disks that lose directory fsyncs (segment creation, snapshot renames) are caught",
  async () => {
    // The wal fsyncs its directory after creating a segment and after renaming a snapshot into
    // place; a disk that drops those loses whole files on a crash — and the run must notice.
    // A longer chaos phase (4 s: more crashes) makes a crash between a file's creation and the
    // next directory sync likely enough: about one seed in three is caught.
    let caught = 0;
    for (let seed = 1; seed <= 40 && caught < 3; seed++) {
      const r = await runNodeSim(seed, 4000, undefined, "dirs");
      if (!r.ok) caught++;
    }
    expect(caught).toBeGreaterThanOrEqual(3);
  },
  60_000,
);

test("kvModel: counters reject an INCR applied twice, registers a stale read", () => {
  const op = (input: KvInput, output: string | null | undefined, call: number, ret: number) => ({
    key: "k",
    input,
    output,
    call,
    ret,
  });
  const incr: KvInput = { kind: "incr" };
  const get: KvInput = { kind: "get" };
  // Two acknowledged INCRs, a read of 3: one was applied twice.
  expect(checkHistory(kvModel, [op(incr, "1", 0, 1), op(incr, "2", 2, 3), op(get, "3", 4, 5)]).ok)
    .toBe(false);
  // ...unless a third INCR's outcome is unknown.
  expect(
    checkHistory(kvModel, [
      op(incr, "1", 0, 1),
      op(incr, "2", 2, 3),
      op(incr, undefined, 2, Infinity),
      op(get, "3", 4, 5),
    ]).ok,
  ).toBe(true);
  const put = (v: string): KvInput => ({ kind: "put", value: v });
  expect(
    checkHistory(kvModel, [op(put("a"), null, 0, 1), op(put("b"), null, 2, 3), op(get, "a", 4, 5)])
      .ok,
  )
    .toBe(false);
});
