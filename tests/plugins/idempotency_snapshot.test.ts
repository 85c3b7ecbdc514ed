/**
 * The idempotency cache's snapshot format 3 (binary, written a slice of rows per step): round
 * trips of every row kind, a capture that later adds and evictions do not change, single-command
 * results kept compactly, and hostile bytes refused with a clear error that leaves the cache as it
 * was.
 */
import { expect, test } from "bun:test";
import { Code } from "../../protocol/codes.ts";
import { encodeCbor } from "../../protocol/cbor.ts";
import { type CachedBatch, ResultCache, resultOf } from "../../plugins/idempotency/cache.ts";
import type { BatchResult } from "../../core/plugin/plugin.ts";

const HOUR = 3_600_000;

function row(time: number, result: BatchResult): CachedBatch {
  return { digest: (time * 2654435761) >>> 0, length: 40 + (time % 7), time, result };
}

function ok(n: number): BatchResult {
  return {
    codes: new Array(n).fill(Code.OK),
    data: new Array(n).fill(null),
    errors: new Array(n).fill(null),
  };
}

/** A cache with every kind of row: uniform null, uniform with a value, mixed, non-ASCII keys. */
function filled(): ResultCache {
  const c = new ResultCache(100_000, HOUR);
  for (let i = 0; i < 500; i++) {
    let r: BatchResult;
    if (i % 4 === 0) r = ok(1 + (i % 5));
    else if (i % 4 === 1) r = { codes: [Code.OK, Code.OK], data: [7, 7], errors: [null, null] };
    else if (i % 4 === 2) {
      r = {
        codes: [Code.OK, Code.NOT_INTEGER],
        data: [new Uint8Array([1, 2, 3]), null],
        errors: [null, "value is not an integer or out of range"],
      };
    } else r = { codes: [Code.OK], data: ["bulk é"], errors: [null] };
    c.add(i % 9 === 0 ? `klïent-${i}\u0000b${i}` : `c${i % 3}\u0000b${i}`, row(1000 + i, r));
  }
  return c;
}

function contents(c: ResultCache, keys: string[]): unknown[] {
  return keys.map((k) => {
    const e = c.get(k);
    return e && [e.digest, e.length, e.time, resultOf(e)];
  });
}

const KEYS = Array.from(
  { length: 500 },
  (_, i) => i % 9 === 0 ? `klïent-${i}\u0000b${i}` : `c${i % 3}\u0000b${i}`,
);

test("format 3 round trip: every row kind, non-ASCII keys, exact results and sizes", () => {
  const a = filled();
  const snap = a.snapshot();
  expect(snap[0]).toBe(0xff);
  const b = new ResultCache(100_000, HOUR);
  b.restore(snap);
  expect(b.size).toBe(500);
  expect(b.bytes).toBe(a.bytes);
  expect(contents(b, KEYS)).toEqual(contents(a, KEYS));
  expect(b.snapshot()).toEqual(snap);
});

test("a single-command result is kept as a uniform record (one SET: one small row)", () => {
  const c = new ResultCache(100_000, HOUR);
  for (let i = 0; i < 1000; i++) c.add(`resp-x-1\u0000r${i}`, row(1000 + i, ok(1)));
  const snap = c.snapshot();
  // key 13-16 bytes + 2 + 17 fixed + 6: ~40 bytes a row (format 2: ~47, with three arrays each).
  expect(snap.length).toBeLessThan(1000 * 42 + 14);
  expect(c.get("resp-x-1\u0000r5")!.result).toEqual({ n: 1, code: Code.OK, value: null });
});

test("a job taken in steps writes the cache as it was when taken, whatever is added or evicted meanwhile", () => {
  const c = new ResultCache(100_000, 1000); // 1 s window: later adds evict the oldest
  for (let i = 0; i < 300; i++) c.add(`c\u0000b${i}`, row(10_000 + i, ok(1 + (i % 3))));
  const expected = c.snapshot();
  const job = c.snapshotInSteps();
  let steps = 0;
  let t = 10_300;
  while (!job.step(7)) {
    steps++;
    for (let k = 0; k < 5; k++, t += 10) c.add(`late\u0000${t}`, row(t, ok(2)));
  }
  expect(steps).toBeGreaterThan(30);
  expect(c.get("c\u0000b0")).toBeUndefined(); // evicted while the job ran
  expect(job.finish()).toEqual(expected);
});

test("hostile format-3 bytes: a clear error, nothing allocated by a count, the cache unchanged", () => {
  const good = filled().snapshot();
  const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
  const cases: [string, Uint8Array, RegExp][] = [];
  const huge = good.slice();
  view(huge).setUint32(10, 0xffffffff);
  cases.push(["row count beyond the bytes", huge, /claims 4294967295 rows/]);
  cases.push(["truncated", good.slice(0, good.length - 3), /truncated row|bad value/]);
  cases.push(["trailing bytes", new Uint8Array([...good, 0]), /1 bytes after the last row/]);
  const kind = good.slice();
  // First row: key length (u32) at 14, key, then 16 fixed bytes, then the kind byte.
  const kl = view(kind).getUint32(14);
  kind[14 + 4 + kl + 16] = 9;
  cases.push(["unknown row kind", kind, /unknown row kind 9/]);
  const n0 = good.slice();
  view(n0).setUint32(14 + 4 + kl + 17, 0);
  cases.push(["uniform n = 0", n0, /malformed uniform row/]);
  const nBig = good.slice();
  view(nBig).setUint32(14 + 4 + kl + 17, 1e9);
  cases.push(["uniform n over a batch", nBig, /malformed uniform row/]);
  const keyLen = good.slice();
  view(keyLen).setUint32(14, 0xfffffff0);
  cases.push(["key length beyond the data", keyLen, /truncated row/]);
  const version = good.slice();
  version[1] = 4;
  cases.push(["unknown version", version, /unknown format/]);
  // A full row whose CBOR is not [codes, data, errors]: header, key "k", fixed part, kind 2.
  const body = encodeCbor([[1], [null]]);
  const full = new Uint8Array(14 + 4 + 1 + 17 + 4 + body.length);
  const fv = view(full);
  full[0] = 0xff;
  full[1] = 3;
  fv.setUint32(10, 1);
  fv.setUint32(14, 1);
  full[18] = 0x6b;
  full[19 + 16] = 2; // KIND_FULL
  fv.setUint32(19 + 17, body.length);
  full.set(body, 19 + 17 + 4);
  cases.push(["full row of the wrong shape", full, /malformed row/]);

  const c = filled();
  const before = contents(c, KEYS);
  for (const [name, bytes, want] of cases) {
    const t0 = performance.now();
    expect(() => c.restore(bytes), name).toThrow(want);
    expect(performance.now() - t0, name).toBeLessThan(1000);
    expect(c.size, name).toBe(500);
    expect(contents(c, KEYS), name).toEqual(before);
  }
});

test("a batch key over 64 KiB (a plugin's own ids) round trips instead of failing the snapshot", () => {
  const c = new ResultCache(100, HOUR);
  const key = "p".repeat(70_000) + "\u0000" + "b".repeat(300);
  c.add(key, row(5, ok(3)));
  const d = new ResultCache(100, HOUR);
  d.restore(c.snapshot());
  expect(resultOf(d.get(key)!)).toEqual(ok(3));
});

test("a restored cache (formats 2 and 3) evicts oldest first and tells full the way the original does", () => {
  const WINDOW = 100;
  const keys = Array.from({ length: 50 }, (_, i) => `c\u0000b${i}`);
  const a = new ResultCache(31, WINDOW);
  // Added in one go at one leader time, then the window moves on: nothing is evicted yet.
  for (let i = 0; i < 50; i++) a.add(keys[i], row(1000 + i, ok(1)));
  expect(a.size).toBe(50);
  const v2 = new Uint8Array(encodeCbor({
    v: 2,
    now: 1049,
    rows: keys.map((k) => {
      const e = a.get(k)!;
      const r = resultOf(e);
      return [k, e.digest, e.length, e.time, r.codes, r.data, r.errors];
    }),
  }));
  for (const [name, snap] of [["format 3", a.snapshot()], ["format 2", v2]] as const) {
    const b = new ResultCache(31, WINDOW);
    b.restore(snap);
    expect(b.size, name).toBe(50);
    // A result at leader time 1120 evicts every row older than 1020: b0..b19.
    b.add("c\u0000new", row(1120, ok(1)));
    expect(b.size, name).toBe(31);
    expect(b.get(keys[19]), name).toBeUndefined();
    expect(b.get(keys[20]), name).toBeDefined();
    // At its limit with the oldest row (b20, time 1020) inside the window: full; once it is
    // outside, not.
    expect(b.full(1120), name).toBe(true);
    expect(b.full(1121), name).toBe(false);
    // And eviction keeps going in order: at 1135, b20..b34 go.
    b.add("c\u0000newer", row(1135, ok(1)));
    expect(b.get(keys[34]), name).toBeUndefined();
    expect(b.get(keys[35]), name).toBeDefined();
    expect(b.size, name).toBe(17);
  }
});
