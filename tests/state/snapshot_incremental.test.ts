/**
 * Incremental snapshots: a snapshot encoded a few keys at a time while commands keep changing the
 * state holds exactly the state as it was when it began — for every type, with deletes, expiry,
 * re-created keys and sweeps in between — and the live state is not disturbed.
 */
import { expect, test } from "bun:test";
import { decodeSnapshot } from "../../core/state/snapshot.ts";
import { type Arg, canonical, Harness, prng } from "./harness.ts";

function populate(h: Harness, n: number): void {
  for (let i = 0; i < n; i++) {
    switch (i % 6) {
      case 0:
        h.ok("SET", `s${i}`, `v${i}`);
        break;
      case 1:
        h.ok("SET", `t${i}`, `v${i}`, "PX", String(50 + (i % 200)));
        break;
      case 2:
        h.ok("RPUSH", `l${i}`, "a", "b", `c${i}`);
        break;
      case 3:
        h.ok("SADD", `z${i}`, "m1", `m${i}`);
        break;
      case 4:
        h.ok("HSET", `h${i}`, "f", `v${i}`, "g", "x");
        break;
      case 5:
        h.ok("ZADD", `q${i}`, "1", "a", String(i), "b");
        break;
    }
  }
}

/** A random command that changes the state: overwrites, new keys, deletes, collections, TTLs. */
function mutation(rnd: () => number, n: number): Arg[] {
  const i = Math.floor(rnd() * n);
  const ops: Arg[][] = [
    ["SET", `s${i - (i % 6)}`, `new${i}`],
    ["SET", `fresh${i}`, "x"],
    ["DEL", `s${i - (i % 6)}`, `l${i - (i % 6) + 2}`],
    ["RPUSH", `l${i - (i % 6) + 2}`, "more"],
    ["LPOP", `l${i - (i % 6) + 2}`],
    ["SADD", `z${i - (i % 6) + 3}`, `added${i}`],
    ["SREM", `z${i - (i % 6) + 3}`, "m1"],
    ["HSET", `h${i - (i % 6) + 4}`, "f", "changed"],
    ["HDEL", `h${i - (i % 6) + 4}`, "f", "g"],
    ["ZADD", `q${i - (i % 6) + 5}`, "7", "c"],
    ["EXPIRE", `s${i - (i % 6)}`, "1"],
    ["PERSIST", `t${i - (i % 6) + 1}`],
    ["INCR", `counter${i % 7}`],
    ["DEL", `fresh${i}`],
  ];
  return ops[Math.floor(rnd() * ops.length)];
}

test("a snapshot taken in steps under concurrent writes equals the state at its start", () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const h = new Harness();
    const replica = new Harness(); // applies the same commands, never snapshotted
    populate(h, 600);
    populate(replica, 600);
    const expected = canonical(decodeSnapshot(h.sm.snapshot()));
    const rnd = prng(seed);
    const job = h.sm.beginSnapshot();
    let steps = 0;
    while (!job.step(1 + Math.floor(rnd() * 25))) {
      steps++;
      for (let k = 0; k < 5; k++) {
        const cmd = mutation(rnd, 600);
        h.run(...cmd);
        replica.run(...cmd);
      }
      if (steps % 7 === 0) {
        h.advance(40); // expiry + active sweeps between steps
        replica.advance(40);
      }
    }
    expect(steps).toBeGreaterThan(20);
    const got = canonical(decodeSnapshot(job.finish()));
    expect(got).toEqual(expected);
    // The live state went on exactly like a replica that never took a snapshot.
    expect(canonical(decodeSnapshot(h.sm.snapshot()))).toEqual(
      canonical(decodeSnapshot(replica.sm.snapshot())),
    );
  }
});

test("one snapshot at a time; an aborted one stops tracking and the next one works", () => {
  const h = new Harness();
  populate(h, 60);
  const job = h.sm.beginSnapshot();
  expect(() => h.sm.snapshot()).toThrow(/already/);
  job.step(5);
  job.abort();
  h.ok("SET", "after", "1");
  const snap = decodeSnapshot(h.sm.snapshot());
  expect(snap.store.get("after")).toBeDefined();
  expect(snap.store.size).toBe(61);
});

test("a head given after the capture (prefix): the state is the one at beginSnapshot, after the head", () => {
  const h = new Harness();
  populate(h, 120);
  const expected = canonical(decodeSnapshot(h.sm.snapshot()));
  const job = h.sm.beginSnapshot();
  // Other state encoded in the meantime (a plugin's job): writes keep changing the keyspace.
  const rnd = prng(9);
  for (let k = 0; k < 200; k++) h.run(...mutation(rnd, 120));
  h.ok("SET", "created-before-prefix", "x");
  const head = new Uint8Array([1, 2, 3, 4, 5]);
  job.prefix(head);
  expect(() => job.prefix(head)).toThrow(/after the encoding started/);
  while (!job.step(7)) h.run(...mutation(rnd, 120));
  const out = job.finish();
  expect([...out.subarray(0, 5)]).toEqual([1, 2, 3, 4, 5]);
  expect(canonical(decodeSnapshot(out.subarray(5)))).toEqual(expected);
});
