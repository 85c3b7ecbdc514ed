/**
 * Apply's fast path for a plain `SET key value` (the state machine's `applySet`, read from the
 * entry's bytes with no argv) must be exactly the general path: the same replies, the same state (snapshot bytes), the same watch events, and the
 * same snapshot taken while the commands apply. Random batches are applied twice through the real
 * Applier — once to a state machine with the fast path, once to one whose `applySet` is hidden so
 * every command goes through `apply` — and compared after every batch. (Both store a new string
 * key without an entry handle, `Keyspace.addString`; the command tests check that part.)
 */
import { expect, test } from "bun:test";
import { Applier } from "../../core/node/applier.ts";
import { HookBus } from "../../core/plugin/hooks.ts";
import { createLogger } from "../../core/config/logger.ts";
import { createStateMachine } from "../../core/state/state_machine.ts";
import type { SnapshotJob, StateMachine } from "../../core/state/types.ts";
import { WatchHistory } from "../../core/state/watch_history.ts";
import { encodeCbor } from "../../protocol/cbor.ts";
import { prng } from "../state/harness.ts";

/** `sm` with `applySet` hidden: the applier then sends every SET through `apply`. */
function withoutFastPath(sm: StateMachine): StateMachine {
  return {
    apply: (argv, ctx, out) => sm.apply(argv, ctx, out),
    isReadOnly: (name) => sm.isReadOnly(name),
    snapshot: (head, hint) => sm.snapshot(head, hint),
    beginSnapshot: (head, hint) => sm.beginSnapshot(head, hint),
    restore: (data) => sm.restore(data),
    size: () => sm.size(),
    keepHistory: (h) => sm.keepHistory!(h),
    commitHistory: (index) => sm.commitHistory!(index),
  };
}

/** Every event the history holds, as plain data. */
function events(h: WatchHistory): unknown[] {
  const out: unknown[] = [];
  for (let s = h.firstSeq; s < h.endSeq; s++) {
    const e = h.at(s);
    out.push({
      ...e,
      value: e.value && [...e.value],
      prev: e.prev && { ...e.prev, value: e.prev.value && [...e.prev.value] },
    });
  }
  return out;
}

const SIZES = [0, 1, 5, 64, 127, 128, 129, 300, 5000];

test("a plain SET applied from the entry's bytes equals the general path (replies, state, watch events, a snapshot taken meanwhile)", () => {
  const rnd = prng(20261204);
  const hooks = new HookBus([], () => {
    throw new Error("no plugins");
  }, createLogger("error"));
  const fast = createStateMachine();
  const slow = createStateMachine();
  expect(fast.applySet).toBeDefined();
  const hFast = new WatchHistory({ revisions: 1_000_000, bytes: 1 << 30 });
  const hSlow = new WatchHistory({ revisions: 1_000_000, bytes: 1 << 30 });
  fast.keepHistory!(hFast);
  slow.keepHistory!(hSlow);
  const a = new Applier(fast, hooks, () => null);
  const b = new Applier(withoutFastPath(slow), hooks, () => null);
  const key = () => `k${Math.floor(rnd() * 300)}`;
  const value = () => "v".repeat(SIZES[Math.floor(rnd() * SIZES.length)]) + Math.floor(rnd() * 10);
  const te = new TextEncoder();
  let jobs: [SnapshotJob, SnapshotJob] | null = null;
  let snapshotsCompared = 0;
  let fastSets = 0;
  for (let index = 1; index <= 400; index++) {
    const cmds: unknown[] = [];
    const n = 1 + Math.floor(rnd() * 40);
    for (let i = 0; i < n; i++) {
      const r = rnd();
      if (r < 0.45) {
        // The fast path's shape, in every case spelling and as text or byte strings.
        const name = ["SET", "set", "SeT"][Math.floor(rnd() * 3)];
        const args = [name, key(), value()];
        const q = rnd();
        if (q < 0.4) cmds.push(args);
        else if (q < 0.8) cmds.push(args.map((x) => te.encode(x)));
        else {
          // Binary keys (every byte value, the empty key) and empty values, as byte strings.
          const bin = new Uint8Array([0xff, 0x00, 0x80, Math.floor(rnd() * 256)]);
          const k = rnd() < 0.2 ? new Uint8Array(0) : bin.subarray(0, 1 + Math.floor(rnd() * 4));
          const v = rnd() < 0.3 ? new Uint8Array(0) : te.encode(args[2]);
          cmds.push([te.encode(name), k, v]);
        }
        fastSets++;
      } else if (r < 0.52) {
        cmds.push(["SET", key(), value(), "PX", String(1 + Math.floor(rnd() * 50))]);
      } else if (r < 0.56) cmds.push(["SET", key(), value(), "NX"]);
      else if (r < 0.62) cmds.push(["DEL", key()]);
      else if (r < 0.68) cmds.push(["RPUSH", key(), "a", "b"]);
      else if (r < 0.72) cmds.push(["HSET", key(), "f", value()]);
      else if (r < 0.77) cmds.push(["PEXPIRE", key(), String(1 + Math.floor(rnd() * 30))]);
      else if (r < 0.80) {
        // Unknown names a bit away from SET (the fast path must not take them).
        const near = ["SETS", "SE", "SEU", "SDT", "RET", "QET", "SeU", "SEt\u0000", "S\u00c5T"];
        cmds.push([near[Math.floor(rnd() * near.length)], key(), "x"]);
      } else if (r < 0.82) cmds.push(["SET", key()]); // wrong arity
      else if (r < 0.84) cmds.push(["SET", "a", "b", "c"]); // syntax error
      else if (r < 0.86) cmds.push(["RENAME", key(), key()]);
      else cmds.push(["GET", key()]);
    }
    // Some batches start with a guard (a failed one aborts the rest); in others a guard comes
    // after a SET, where it guards nothing.
    if (rnd() < 0.1) cmds.unshift(["CHECK", key(), "EXISTS"]);
    if (rnd() < 0.1) cmds.splice(1, 0, ["CHECK", key(), "EXISTS"]);
    const batch = {
      clientId: "c",
      batchId: `b${index}`,
      commands: new Uint8Array(encodeCbor(cmds)),
      count: cmds.length,
    };
    const ctx = { nowMs: 1000 + index * 3, index };
    const ra = a.execute(batch, { ...ctx });
    const rb = b.execute(batch, { ...ctx });
    expect(ra).toEqual(rb);
    fast.commitHistory!(index);
    slow.commitHistory!(index);
    // A snapshot taken across several batches must hold the state as it was when it began.
    if (jobs === null && index % 50 === 10) jobs = [fast.beginSnapshot(), slow.beginSnapshot()];
    if (jobs !== null) {
      const da = jobs[0].step(7);
      const db = jobs[1].step(7);
      expect(da).toBe(db);
      if (da) {
        expect(jobs[0].finish()).toEqual(jobs[1].finish());
        snapshotsCompared++;
        jobs = null;
      }
    }
  }
  if (jobs !== null) {
    // A snapshot still being taken when the batches ran out: finish it.
    let done = false;
    while (!done) {
      done = jobs[0].step(1000);
      expect(jobs[1].step(1000)).toBe(done);
    }
    expect(jobs[0].finish()).toEqual(jobs[1].finish());
    snapshotsCompared++;
  }
  expect(fast.snapshot()).toEqual(slow.snapshot());
  expect(fast.size()).toBe(slow.size());
  expect(fast.size()).toBeGreaterThan(50);
  expect(events(hFast)).toEqual(events(hSlow));
  expect(snapshotsCompared).toBeGreaterThanOrEqual(3);
  expect(fastSets).toBeGreaterThan(2000);
});
