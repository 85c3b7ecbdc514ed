import { describe, expect, test } from "bun:test";
import { hashKey, KeyTable } from "../../core/state/key_table.ts";
import { KeyEntry, Kind } from "../../core/state/keyspace.ts";

/** mulberry32, returning an integer in [0, n). */
function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}
type Rng = ReturnType<typeof prng>;
function shuffle<T>(a: T[], r: Rng): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = r(i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

let rev = 0;
const EMPTY = new Uint8Array(0);
/** A distinct entry each call (told apart by its createRev: the table hands out handles, see entry.ts). */
const entry = () => new KeyEntry(Kind.STRING, EMPTY, ++rev);
/** The same entry (or both absent). */
function same(a: KeyEntry | undefined, b: KeyEntry | undefined): boolean {
  return a === undefined ? b === undefined : b !== undefined && a.createRev === b.createRev;
}

/** A cheap failure for hot loops (an expect() per operation is slow). */
function fail(msg: string): never {
  throw new Error(msg);
}

/** The reference: a Map, plus an array of its keys for O(1) random picks. */
class Model {
  map = new Map<string, KeyEntry>();
  live: string[] = [];
  #at = new Map<string, number>();
  set(k: string, e: KeyEntry): void {
    if (!this.map.has(k)) this.#at.set(k, this.live.push(k) - 1);
    this.map.set(k, e);
  }
  delete(k: string): boolean {
    if (!this.map.delete(k)) return false;
    const i = this.#at.get(k)!;
    const last = this.live.pop()!;
    if (last !== k) {
      this.live[i] = last;
      this.#at.set(last, i);
    }
    this.#at.delete(k);
    return true;
  }
  pick(r: Rng): string {
    return this.live[r(this.live.length)];
  }
}

/** Table vs model in full: size, lookups, iteration (as sets), and the position bookkeeping. */
function checkAll(t: KeyTable, m: Model): void {
  expect(t.size).toBe(m.map.size);
  const seen = new Set<string>();
  for (const [k, e] of t.entries()) {
    if (seen.has(k)) fail(`entries() yielded ${k} twice`);
    seen.add(k);
    if (!same(m.map.get(k), e)) fail(`entries() yielded ${k} with a wrong entry (or dead)`);
  }
  expect(seen.size).toBe(m.map.size);
  const ks = [...t.keys()];
  expect(ks.length).toBe(m.map.size);
  for (const k of ks) if (!seen.has(k)) fail(`keys() yielded ${k}, entries() did not`);
  for (const [k, e] of m.map) if (!same(t.get(k), e) || !t.has(k)) fail(`lost ${k}`);
  const free = t.freeList();
  expect(free.length + t.size).toBe(t.span);
  const isFree = new Uint8Array(t.span);
  for (const p of free) {
    if (!(p >= 0 && p < t.span) || isFree[p] === 1) fail(`bad free list entry ${p}`);
    isFree[p] = 1;
  }
  for (let p = 0; p < t.span; p++) {
    const k = t.keyAt(p);
    if ((k === undefined) !== (isFree[p] === 1)) fail(`position ${p}: free list disagrees`);
    if (k !== undefined && (t.positionOf(k) !== p || !same(t.entryAt(p), m.map.get(k)))) {
      fail(`position ${p} (${k}): positionOf/entryAt disagree`);
    }
  }
}

/** One random operation on a table and its model (pNew: percent of inserts of new keys). */
function step(t: KeyTable, m: Model, r: Rng, pNew: number, fresh: { n: number }): void {
  const x = r(100);
  if (x < pNew || m.live.length === 0) {
    const k = `k${fresh.n++}`, e = entry();
    t.set(k, e);
    m.set(k, e);
  } else if (x < pNew + 5) {
    const k = m.pick(r), e = entry();
    t.set(k, e);
    m.set(k, e);
  } else if (x < 97) {
    const k = m.pick(r);
    if (!t.delete(k)) fail(`delete(${k}) of a live key returned false`);
    m.delete(k);
  } else {
    const k = r(2) === 0 ? `k${r(fresh.n)}` : `nope${r(1000)}`; // often a key deleted earlier
    if (t.delete(k) !== m.delete(k)) fail(`delete(${k}) disagrees`);
  }
  const q = `k${r(fresh.n + 1)}`;
  if (!same(t.get(q), m.map.get(q)) || t.has(q) !== m.map.has(q)) fail(`get/has(${q}) disagree`);
}

describe("KeyTable", () => {
  test("matches a Map across growths, mass deletes and regrowth (and mid-growth work)", () => {
    const r = prng(1);
    const t = new KeyTable(), m = new Model(), fresh = { n: 0 };
    let nextGrow = 768, growths = 0; // the index grows when it would pass 3/4 of 1024, 2048, ...
    const duringGrowth = () => {
      // The insert that just ran started a growth: old and new index coexist now.
      growths++;
      const victims: string[] = [], freed: number[] = [];
      for (let i = 0; i < 40; i++) {
        const k = m.pick(r);
        freed.push(t.positionOf(k));
        expect(t.delete(k)).toBe(true);
        m.delete(k);
        victims.push(k);
        expect(t.has(k)).toBe(false);
      }
      if (m.map.size < 30_000) checkAll(t, m);
      for (let i = 0; i < 500; i++) {
        const q = `k${r(fresh.n)}`;
        if (!same(t.get(q), m.map.get(q))) fail(`mid-growth get(${q})`);
      }
      // Reinsert the victims (shuffled): they reuse the freed positions, last freed first.
      for (const k of shuffle(victims, r)) {
        const e = entry();
        t.set(k, e);
        m.set(k, e);
        expect(t.positionOf(k)).toBe(freed.pop()!);
      }
      for (const k of victims.slice(0, 10)) {
        expect(t.delete(k)).toBe(true);
        m.delete(k);
        expect(t.get(k)).toBeUndefined();
      }
      for (let i = 0; i < 20; i++) step(t, m, r, 50, fresh);
      if (m.map.size < 30_000) checkAll(t, m);
    };
    const run = (pNew: number, until: (n: number) => boolean) => {
      for (let i = 0; i < 2_000_000 && !until(m.map.size); i++) {
        step(t, m, r, pNew, fresh);
        if (m.map.size > nextGrow) {
          nextGrow *= 2;
          duringGrowth();
        }
      }
    };
    run(80, (n) => n >= 190_000); // 8 growths: 1,024 .. 262,144 slots
    expect(m.map.size).toBeLessThan(196_608);
    checkAll(t, m);
    run(5, (n) => n <= 5_000); // delete most
    checkAll(t, m);
    run(80, (n) => n >= 200_000); // regrow through the freed positions, past 3/4 of 2^18
    checkAll(t, m);
    expect(growths).toBe(9);
  }, 30_000);

  test("entries() is safe while keys are deleted ahead/behind, added and re-added", () => {
    const r = prng(2);
    const t = new KeyTable(), m = new Model(), fresh = { n: 0 };
    for (let i = 0; i < 3000; i++) step(t, m, r, 100, fresh);
    for (let i = 0; i < 500; i++) step(t, m, r, 0, fresh); // leave free positions
    const initial = [...m.live];
    const yielded = new Set<string>(), gone = new Set<string>();
    let steps = 0, maxSize = 0;
    const pickWhere = (ok: (p: number) => boolean): string | undefined => {
      for (let i = 0; i < 8 && m.live.length > 0; i++) {
        const k = m.pick(r);
        if (ok(t.positionOf(k))) return k;
      }
      return undefined;
    };
    const kill = (k: string | undefined) => {
      if (k !== undefined && t.delete(k) && m.delete(k)) gone.add(k);
    };
    for (const [k, e] of t.entries()) {
      if (++steps >= 100_000) fail("iteration does not end");
      if (yielded.has(k)) fail(`${k} yielded twice`);
      if (gone.has(k)) fail(`${k} yielded after its deletion`);
      if (!same(t.get(k), e)) fail(`${k} yielded with a stale entry`);
      yielded.add(k);
      const cur = t.positionOf(k);
      const x = r(100);
      if (x < 15) kill(pickWhere((p) => p > cur));
      else if (x < 30) kill(pickWhere((p) => p < cur));
      else if (x < 35) kill(k);
      else if (x < 45) {
        // Delete and re-add the same key (ahead, behind or the current one): it gets its
        // position back, so it is yielded exactly once.
        const b = x < 40 ? m.pick(r) : k, p = t.positionOf(b), e2 = entry();
        t.delete(b);
        t.set(b, e2);
        m.set(b, e2);
        expect(t.positionOf(b)).toBe(p);
      }
      if (r(100) < 55) {
        const n = `k${fresh.n++}`, e2 = entry();
        t.set(n, e2);
        m.set(n, e2);
      }
      maxSize = Math.max(maxSize, t.size);
    }
    expect(maxSize).toBeGreaterThan(3072); // the index grew during the iteration
    for (const k of initial) if (!gone.has(k) && !yielded.has(k)) fail(`${k} never yielded`);
    checkAll(t, m);
  });

  test("positions: stable for life, LIFO reuse, span monotone, same on replicas", async () => {
    // A second instance of the module (another specifier: a path with a query; Bun dedupes a
    // file: URL's query) draws its own hash seed, like another process.
    const spec = new URL("../../core/state/key_table.ts", import.meta.url).pathname + "?replica=2";
    const other = await import(spec);
    expect(other.hashKey("user:1")).not.toBe(hashKey("user:1")); // else: not a second seed
    const r = prng(3);
    const a = new KeyTable(), b: KeyTable = new other.KeyTable();
    const pos = new Map<string, number>(), live: string[] = [], free: number[] = [];
    let span = 0, fresh = 0;
    const verify = () => {
      for (const [k, p] of pos) {
        if (a.positionOf(k) !== p || b.positionOf(k) !== p) fail(`${k} moved`);
      }
      expect([a.freeList(), b.freeList(), a.span, b.span]).toEqual([free, free, span, span]);
      expect([...b.keys()]).toEqual([...a.keys()]);
    };
    for (let i = 0; i < 200_000; i++) {
      const pNew = i < 120_000 ? 75 : 35;
      if (r(100) < pNew || live.length === 0) {
        const k = `p${fresh++}`;
        a.set(k, entry());
        b.set(k, entry());
        const want = free.length > 0 ? free.pop()! : span++;
        if (a.positionOf(k) !== want) fail(`${k}: position ${a.positionOf(k)}, want ${want}`);
        if (b.positionOf(k) !== want) fail(`replica: ${k} at ${b.positionOf(k)}, want ${want}`);
        pos.set(k, want);
        live.push(k);
      } else {
        const j = r(live.length), k = live[j];
        live[j] = live[live.length - 1];
        live.pop();
        if (a.positionOf(k) !== pos.get(k)) fail(`${k} moved`);
        a.delete(k);
        b.delete(k);
        free.push(pos.get(k)!);
        pos.delete(k);
      }
      if (a.span !== span) fail(`span ${a.span}, want ${span}`);
      if (i % 25_000 === 0) verify();
    }
    verify();
    // The table becoming empty (no growth under way: never grown) or clear() resets positions.
    const s = new KeyTable();
    for (let i = 0; i < 500; i++) s.set(`s${i}`, entry());
    for (let i = 0; i < 500; i++) {
      s.delete(`s${i}`);
      expect(s.span).toBe(i < 499 ? 500 : 0); // never shrinks, until the table is empty
    }
    a.clear();
    expect([a.span, a.size, a.freeList(), [...a.keys()], s.freeList()]).toEqual([0, 0, [], [], []]);
    a.set("p5", entry());
    expect(a.positionOf("p5")).toBe(0);
  }, 30_000);

  /** A table rebuilt from `src`'s (position, key) pairs in the given order, as a restore does. */
  function restore(src: KeyTable, r: Rng | "descending"): KeyTable {
    const pairs = [...src.keys()].map((k) => [src.positionOf(k), k] as const);
    if (r === "descending") pairs.sort((x, y) => y[0] - x[0]);
    else shuffle(pairs, r);
    const t = new KeyTable();
    for (const [p, k] of pairs) t.placeAt(p, k, src.get(k)!);
    t.restoreFree(src.span, src.freeList());
    return t;
  }

  function expectSame(a: KeyTable, b: KeyTable): void {
    expect([b.size, b.span]).toEqual([a.size, a.span]);
    expect(b.freeList()).toEqual(a.freeList());
    const ka = [...a.keys()];
    expect([...b.keys()]).toEqual(ka);
    for (const k of ka) {
      if (b.positionOf(k) !== a.positionOf(k) || !same(b.get(k), a.get(k))) fail(`${k} differs`);
    }
  }

  /** The same random operations on every table; new keys must land at the same position. */
  function drive(ts: KeyTable[], seed: number, n: number, pNew: number): void {
    const r = prng(seed), m = new Model(), fresh = { n: 0 };
    for (const k of ts[0].keys()) m.set(k, ts[0].get(k)!);
    for (let i = 0; i < n; i++) {
      const x = r(100);
      if (x < pNew || m.live.length === 0) {
        const k = `n${seed}:${fresh.n++}`, e = entry();
        for (const t of ts) t.set(k, e);
        m.set(k, e);
        const p = ts[0].positionOf(k);
        for (const t of ts) {
          if (t.positionOf(k) !== p) fail(`${k} at ${t.positionOf(k)}, not ${p}`);
        }
      } else {
        const k = m.pick(r);
        for (const t of ts) t.delete(k);
        m.delete(k);
      }
    }
  }

  test("restore: placeAt in any order + restoreFree behaves like the original", () => {
    const r = prng(4);
    const a = new KeyTable(), m = new Model(), fresh = { n: 0 };
    for (let i = 0; i < 130_000; i++) step(a, m, r, 75, fresh); // span past one page (65,536)
    for (let i = 0; i < 3_000; i++) step(a, m, r, 0, fresh); // and free positions
    expect(a.span).toBeGreaterThan(65_536);
    expect(a.freeList().length).toBeGreaterThan(0);
    const b = restore(a, r), c = restore(a, "descending");
    expectSame(a, b);
    expectSame(a, c);
    checkAll(b, m);
    drive([a, b, c], 40, 60_000, 75); // through a further growth of the index
    expect(a.size).toBeGreaterThan(98_304);
    expectSame(a, b);
    expectSame(a, c);
    // A snapshot taken right after a growth began (the original's index is mid-migration).
    const g = new KeyTable();
    for (let i = 0; i < 24_577; i++) g.set(`g${i}`, entry()); // 3/4 of 32,768, plus one
    for (let i = 0; i < 24_577; i += 7) g.delete(`g${i}`);
    const h = restore(g, r);
    expectSame(g, h);
    drive([g, h], 41, 20_000, 50);
    expectSame(g, h);
  }, 30_000);

  test("restore: positions agree after the table empties while either index is mid-growth", () => {
    // Whether emptying resets the table must not depend on the index, which differs between an
    // original and its restored copy (a restore sizes the index for the keys it places).
    const emptyThenAdd = (a: KeyTable, b: KeyTable) => {
      for (const k of [...a.keys()]) for (const t of [a, b]) t.delete(k);
      for (const k of ["x", "y"]) {
        const e = entry();
        for (const t of [a, b]) t.set(k, e);
      }
      expectSame(a, b);
    };
    const a = new KeyTable();
    for (let i = 0; i < 769; i++) a.set(`k${i}`, entry()); // the 769th insert starts a growth
    const b = restore(a, prng(5)); // placeAt finishes its growths at once
    expectSame(a, b);
    emptyThenAdd(a, b); // a is mid-growth when it empties, b is not
    const c = new KeyTable(); // its index grows to 4,096 slots (and never shrinks)
    for (let i = 0; i < 2000; i++) c.set(`k${i}`, entry());
    for (let i = 0; i < 1300; i++) c.delete(`k${i}`);
    const d = restore(c, prng(6)); // 700 keys: a 1,024-slot index
    for (let i = 0; i < 90; i++) {
      const e = entry(); // d's index starts growing at 769 keys, c's does not
      for (const t of [c, d]) t.set(`n${i}`, e);
    }
    expectSame(c, d);
    emptyThenAdd(c, d); // d is mid-growth when it empties, c is not
  });

  test("restore errors: used position, wrong span, bad free positions", () => {
    const mk = () => {
      const t = new KeyTable(); // keys at 0 and 2, position 1 free
      t.placeAt(2, "b", entry());
      t.placeAt(0, "a", entry());
      return t;
    };
    const t = mk();
    expect(() => t.placeAt(0, "c", entry())).toThrow();
    expect(() => t.placeAt(2, "c", entry())).toThrow();
    expect(() => t.placeAt(-1, "c", entry())).toThrow();
    expect(() => t.placeAt(1.5, "c", entry())).toThrow();
    expect(() => mk().restoreFree(2, [1])).toThrow(); // below the placed keys
    expect(() => mk().restoreFree(4, [1])).toThrow(); // a position neither key nor free
    expect(() => mk().restoreFree(3, [])).toThrow();
    expect(() => mk().restoreFree(3, [5])).toThrow(); // out of range
    expect(() => mk().restoreFree(4, [1, 5])).toThrow();
    expect(() => mk().restoreFree(3, [-1])).toThrow();
    expect(() => mk().restoreFree(4, [1, 1])).toThrow(); // duplicated
    expect(() => mk().restoreFree(3, [0])).toThrow(); // holds a key
    expect(() => mk().restoreFree(4, [3, 2])).toThrow();
    const ok = mk();
    ok.restoreFree(4, [3, 1]);
    expect(ok.freeList()).toEqual([3, 1]);
    for (const k of ["c", "d", "e"]) ok.set(k, entry());
    expect(["a", "b", "c", "d", "e"].map((k) => ok.positionOf(k))).toEqual([0, 2, 1, 3, 4]);
  });

  test("hostile keys: shared prefixes, last-char variants, all bytes, empty, 100 KB; clear", () => {
    const keys: string[] = [""];
    for (let i = 0; i < 40_000; i++) keys.push(`user:${String(i).padStart(6, "0")}:profile`);
    const long = "x".repeat(1000);
    for (let c = 0; c < 256; c++) {
      const ch = String.fromCharCode(c);
      keys.push(ch, long + ch, ch + long, "ab" + ch, "abcd" + ch, "\0".repeat(c % 9) + ch);
    }
    for (let c = 0; c < 256; c++) {
      for (let d = 0; d < 256; d += 5) keys.push(String.fromCharCode(c, d));
    }
    const big = "k".repeat(100 * 1024);
    keys.push(big, big.slice(0, -1) + "j", "j" + big.slice(1), big + "\0");
    for (let n = 1; n <= 9; n++) keys.push("\0".repeat(n), "\xff".repeat(n));
    const uniq = [...new Set(keys)];
    expect(uniq.length).toBeGreaterThan(54_000);
    const t = new KeyTable(), r = prng(7);
    for (let round = 0; round < 2; round++) { // round 1 reuses the cleared table
      const m = new Model();
      for (const k of uniq) {
        const e = entry();
        t.set(k, e);
        m.set(k, e);
      }
      checkAll(t, m);
      expect(t.has(big.slice(0, -1))).toBe(false);
      for (const k of uniq) if (r(2) === 0) expect(t.delete(k)).toBe(m.delete(k));
      checkAll(t, m);
      t.clear();
      expect([t.size, t.span, [...t.entries()].length]).toEqual([0, 0, 0]);
      for (const k of uniq.slice(0, 1000)) if (t.has(k) || t.get(k) !== undefined) fail(k);
    }
    t.set("", entry());
    expect(t.positionOf("")).toBe(0);
  });
});

test("KeyTable live counts: nthLive and nextLive agree with iteration after scattered deletes", () => {
  const t = new KeyTable();
  const e = new KeyEntry(Kind.STRING, new Uint8Array(0), 1);
  for (let i = 0; i < 150_000; i++) t.set(`k${i}`, e);
  // Leave a few keys in a mostly free table: long free stretches, pages with none.
  for (let i = 0; i < 150_000; i++) if (i % 9973 !== 0 && i !== 149_999) t.delete(`k${i}`);
  const live: number[] = [];
  for (let p = 0; p < t.span; p++) if (t.keyAt(p) !== undefined) live.push(p);
  expect(live.length).toBe(t.size);
  for (let n = 0; n < live.length; n++) expect(t.nthLive(n)).toBe(live[n]);
  expect(() => t.nthLive(t.size)).toThrow(RangeError);
  let p = t.nextLive(0);
  const walked: number[] = [];
  while (p >= 0) {
    walked.push(p);
    p = t.nextLive(p + 1);
  }
  expect(walked).toEqual(live);
  // Freed positions are reused and counted again.
  for (let i = 0; i < 1000; i++) t.set(`again${i}`, e);
  const after: number[] = [];
  for (let q = 0; q < t.span; q++) if (t.keyAt(q) !== undefined) after.push(q);
  expect(after.length).toBe(t.size);
  for (let n = 0; n < after.length; n++) expect(t.nthLive(n)).toBe(after[n]);
  let count = 0;
  for (let q = t.nextLive(0); q >= 0; q = t.nextLive(q + 1)) count++;
  expect(count).toBe(t.size);
});
