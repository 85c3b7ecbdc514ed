/**
 * The ordered key index (core/state/ordered_index.ts): a randomized comparison against a sorted
 * reference array (inserts, deletes, forward and reverse range walks with and without bounds,
 * early stop), through enough keys to split and merge chunks many times; and the keyspace keeps
 * it equal to its store through writes, expiry, FLUSHALL and snapshot restore.
 */
import { expect, test } from "bun:test";
import { CHUNK_MAX, lowerBound, OrderedIndex } from "../../core/state/ordered_index.ts";
import { Harness, prng } from "./harness.ts";
import { Keyspace } from "../../core/state/keyspace.ts";
import { decodeSnapshot } from "../../core/state/snapshot.ts";

/** A binary key: 0..6 bytes drawn from a small alphabet incl. 0x00 and 0xff, so ties and prefixes abound. */
function anyKey(r: () => number): string {
  const alpha = [0, 1, 0x41, 0x42, 0x7f, 0x80, 0xfe, 0xff];
  const n = Math.floor(r() * 7);
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCharCode(alpha[Math.floor(r() * alpha.length)]);
  return s + (r() < 0.5 ? String(Math.floor(r() * 5000)) : "");
}

function walk(ix: OrderedIndex, start: string, end: string | null, rev: boolean, limit: number) {
  const got: string[] = [];
  ix.forEach(start, end, rev, (k) => {
    got.push(k);
    return got.length < limit;
  });
  return got;
}

function expected(ref: string[], start: string, end: string | null, rev: boolean, limit: number) {
  const lo = lowerBound(ref, start);
  const hi = end === null ? ref.length : lowerBound(ref, end);
  const s = hi > lo ? ref.slice(lo, hi) : [];
  if (rev) s.reverse();
  return s.slice(0, limit);
}

for (const seed of [1, 2, 3, 4]) {
  test(`randomized against a sorted array (seed ${seed})`, () => {
    const r0 = prng(seed);
    // Seeds 3 and 4: every key under one long prefix (chunks' shared prefixes are long).
    const pre = seed >= 3 ? "tenant/0001/users/" : "";
    const randKey = (r: () => number) => pre + anyKey(r);
    const r = r0;
    const ix = new OrderedIndex();
    const ref: string[] = [];
    const steps = 60_000;
    for (let step = 0; step < steps; step++) {
      // Grow for the first half, then shrink: chunks split, then merge and vanish.
      const grow = step < steps / 2 ? 0.8 : 0.25;
      const k = randKey(r);
      const p = lowerBound(ref, k);
      const present = p < ref.length && ref[p] === k;
      if (r() < grow) {
        expect(ix.insert(k)).toBe(!present);
        if (!present) ref.splice(p, 0, k);
      } else {
        const victim = present || ref.length === 0 ? k : ref[Math.floor(r() * ref.length)];
        const q = lowerBound(ref, victim);
        const there = q < ref.length && ref[q] === victim;
        expect(ix.delete(victim, step)).toBe(there);
        if (there) ref.splice(q, 1);
      }
      if (step % 997 === 0) {
        ix.verify();
        expect(ix.size).toBe(ref.length);
        for (let t = 0; t < 20; t++) {
          const a = randKey(r);
          const b = r() < 0.2 ? null : randKey(r);
          const rev = r() < 0.5;
          const limit = r() < 0.3 ? 1 + Math.floor(r() * 50) : Infinity;
          expect(walk(ix, a, b, rev, limit)).toEqual(expected(ref, a, b, rev, limit));
          expect(ix.has(a)).toBe(ref[lowerBound(ref, a)] === a);
        }
      }
    }
    ix.verify();
    expect(walk(ix, "", null, false, Infinity)).toEqual(ref);
    expect(walk(ix, "", null, true, Infinity)).toEqual([...ref].reverse());
  });
}

test("sequential inserts fill chunks; deleting everything leaves one empty chunk", () => {
  const ix = new OrderedIndex();
  const n = CHUNK_MAX * 20 + 7;
  for (let i = 0; i < n; i++) ix.insert(`k${String(i).padStart(8, "0")}`);
  ix.verify();
  expect(ix.size).toBe(n);
  for (let i = n - 1; i >= 0; i -= 2) ix.delete(`k${String(i).padStart(8, "0")}`, 1);
  ix.verify();
  for (let i = 0; i < n; i++) ix.delete(`k${String(i).padStart(8, "0")}`, 2);
  ix.verify();
  expect(ix.size).toBe(0);
  expect(walk(ix, "", null, false, Infinity)).toEqual([]);
});

test("removedAfter: a removal is seen in its region, across splits and merges", () => {
  const ix = new OrderedIndex();
  for (let i = 0; i < CHUNK_MAX * 4; i++) ix.insert(`k${String(i).padStart(6, "0")}`);
  expect(ix.removedAfter("", "\uffff", 0)).toBe(false);
  ix.delete("k000100", 5);
  expect(ix.removedAfter("k000050", "k000150", 4)).toBe(true);
  expect(ix.removedAfter("k000050", "k000150", 5)).toBe(false);
  // Far away (another chunk): not affected.
  expect(ix.removedAfter("k003900", "k003950", 4)).toBe(false);
  // The region keeps the revision when its chunk splits.
  for (let i = 0; i < CHUNK_MAX; i++) ix.insert(`k000100_${String(i).padStart(5, "0")}`);
  ix.verify();
  expect(ix.removedAfter("k000099", "k000101", 4)).toBe(true);
  ix.clear(9);
  expect(ix.removedAfter("", "\uffff", 8)).toBe(true);
  expect(ix.removedAfter("", "\uffff", 9)).toBe(false);
});

/** The index holds exactly the store's keys. */
function sameKeys(db: Keyspace): void {
  db.index.verify();
  const keys: string[] = [];
  db.index.forEach("", null, false, (k) => (keys.push(k), true));
  expect(keys).toEqual([...db.store.keys()].sort());
}

/** The keyspace a snapshot of `h` restores to (the state machine keeps its own private). */
function restored(h: Harness): Keyspace {
  return decodeSnapshot(h.sm.snapshot());
}

test("the keyspace keeps the index equal to its store (writes, expiry, rename, flush, restore)", () => {
  const h = new Harness();
  const r = prng(9);
  for (let i = 0; i < 5000; i++) {
    const k = `key:${Math.floor(r() * 800)}`;
    const op = Math.floor(r() * 7);
    if (op === 0) h.run("DEL", k);
    else if (op === 1) h.run("RENAME", k, `key:${Math.floor(r() * 800)}`);
    else if (op === 2) h.run("SET", k, "v", "PX", "5");
    else if (op === 3) h.run("RPUSH", k, "x");
    else h.run("SET", k, "v");
    if (i % 50 === 0) h.ctx.nowMs += 3;
  }
  const keys = (h.ok("RANGE", "", "", "LIMIT", "10000", "KEYSONLY") as unknown[][]).map((e) =>
    e[0]
  );
  const db = restored(h);
  sameKeys(db);
  // The live index (RANGE) shows the store's live keys; the restored one all of them.
  const live = [...db.store.entries()].filter(([, e]) =>
    e.expireAt === 0 || e.expireAt > h.ctx.nowMs
  )
    .map(([k]) => k).sort();
  expect(keys).toEqual(live);
  h.ok("FLUSHALL");
  expect(h.ok("RANGE", "", "")).toEqual([]);
  sameKeys(restored(h));
  const ks = new Keyspace();
  ks.clear();
  sameKeys(ks);
});

test("an incremental snapshot taken while keys come and go restores an index of its moment", () => {
  const h = new Harness();
  for (let i = 0; i < 3000; i++) h.ok("SET", `k${String(i).padStart(4, "0")}`, "v");
  const want = (h.ok("RANGE", "", "", "KEYSONLY", "LIMIT", "10000") as unknown[][]).map((e) =>
    e[0]
  );
  const job = h.sm.beginSnapshot();
  let i = 0;
  while (!job.step(100)) {
    // Meanwhile: deletes, new keys, renames.
    h.ok("DEL", `k${String(i * 7).padStart(4, "0")}`);
    h.ok("SET", `new${i}`, "v");
    h.run("RENAME", `k${String(2999 - i).padStart(4, "0")}`, `moved${i}`);
    i++;
  }
  const h2 = new Harness();
  h2.sm.restore(job.finish());
  const got = (h2.ok("RANGE", "", "", "KEYSONLY", "LIMIT", "10000") as unknown[][]).map((e) =>
    e[0]
  );
  expect(got).toEqual(want);
  expect(i).toBeGreaterThan(5);
  sameKeys(decodeSnapshot(h2.sm.snapshot()));
});

for (const seed of [5, 6]) {
  test(`buffered adds (addNew) against a sorted array (seed ${seed})`, () => {
    // Keys arrive as a keyspace adds them: mostly absent (addNew, buffered), mixed with deletes of
    // buffered and merged keys, membership checks, and ordered reads that merge the buffer in.
    const r = prng(seed);
    const ix = new OrderedIndex();
    const ref: string[] = [];
    const key = (): string =>
      r() < 0.5 ? `user:${Math.floor(r() * 40_000)}:x` : anyKey(r) + String(Math.floor(r() * 9));
    for (let step = 0; step < 80_000; step++) {
      const k = key();
      const p = lowerBound(ref, k);
      const present = p < ref.length && ref[p] === k;
      const x = r();
      if (x < (step < 50_000 ? 0.75 : 0.3)) {
        if (!present) {
          ix.addNew(k);
          ref.splice(p, 0, k);
        } else expect(ix.insert(k)).toBe(false);
      } else if (x < 0.95) {
        expect(ix.delete(k, step)).toBe(present);
        if (present) ref.splice(p, 1);
      } else expect(ix.has(k)).toBe(present);
      expect(ix.size).toBe(ref.length);
      if (step % 1499 === 0) {
        const a = key();
        const rev = r() < 0.5;
        expect(walk(ix, a, null, rev, 30)).toEqual(expected(ref, a, null, rev, 30));
      }
      if (step % 9973 === 0) {
        ix.verify();
        expect(walk(ix, "", null, false, Infinity)).toEqual(ref);
      }
    }
    ix.verify();
    expect(walk(ix, "", null, false, Infinity)).toEqual(ref);
    expect(walk(ix, "", null, true, Infinity)).toEqual([...ref].reverse());
  });
}

test("buffered adds removed before a merge: add/delete cycles past the buffer's size, holes, has", () => {
  const ix = new OrderedIndex();
  // A lock-style workload: the same key created and removed over and over, with no ordered read
  // in between. Every cycle takes a slot of the buffer's table: it must merge (and clear) in time.
  for (let i = 0; i < 20_000; i++) {
    ix.addNew("lock");
    expect(ix.has("lock")).toBe(true);
    expect(ix.delete("lock", i + 1)).toBe(true);
    expect(ix.has("lock")).toBe(false);
  }
  expect(ix.size).toBe(0);
  // Holes among live buffered keys; deletes of keys that were never added; then one read.
  const live = new Set<string>();
  for (let i = 0; i < 3000; i++) {
    const k = `k${i}`;
    ix.addNew(k);
    live.add(k);
    if (i % 3 === 0) {
      expect(ix.delete(`k${i - 1}`, 1)).toBe(i > 0);
      live.delete(`k${i - 1}`);
    }
    expect(ix.delete(`absent${i}`, 1)).toBe(false);
  }
  expect(ix.size).toBe(live.size);
  ix.verify();
  expect(walk(ix, "", null, false, Infinity)).toEqual([...live].sort());
});
