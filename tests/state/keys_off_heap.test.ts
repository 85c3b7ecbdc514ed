/**
 * Keys are bytes, not JS strings (#11): with millions of keys, one string per key was most of what
 * the major GC marked (a full mark-compact of a 5M-key keyspace: 322–476 ms; 28–46 ms without).
 * The keyspace's key table and ordered index must not keep the key strings they are given: after
 * 100,000 SETs of fresh keys and a full collection, the engine holds about as many strings as
 * before. Counted with Bun's heap statistics (JSC's per-type cell counts).
 */
import { expect, test } from "bun:test";
import { heapStats } from "bun:jsc";
import { Harness } from "./harness.ts";
import { KeyTable } from "../../core/state/key_table.ts";
import { KeyEntry, Kind } from "../../core/state/entry.ts";

const { Bun } = globalThis as unknown as { Bun: { gc(force: boolean): void } };

function strings(): number {
  Bun.gc(true);
  return heapStats().objectTypeCounts.string ?? 0;
}

test("100,000 keys in the keyspace are not 100,000 strings on the heap", () => {
  const h = new Harness();
  const value = new Uint8Array(64).fill(0x61);
  const N = 100_000;
  const before = strings();
  for (let i = 0; i < N; i++) h.ok("SET", `key:${i}:${i * 7919}`, value);
  expect(h.sm.size()).toBe(N);
  // an ordered read merges the keys the ordered index buffers (it keeps the last few thousand)
  expect(h.ok("KEYS", "key:1:*")).toEqual(["key:1:7919"]);
  const grown = strings() - before;
  expect(grown).toBeLessThan(N / 10);
  // and every key still reads back
  expect(h.ok("GET", "key:99999:791892081")).toEqual("a".repeat(64));
  expect(h.ok("DBSIZE")).toBe(N);
});

test("key bytes survive churn: deleted keys' bytes are reclaimed by compaction, live keys intact", () => {
  const t = new KeyTable();
  const live = new Map<string, number>();
  let seq = 0;
  // keys of 0..300 bytes (all byte values), so a page's buffer both grows and compacts many times
  const keyOf = (n: number) => {
    let s = "";
    const len = (n * 37) % 301;
    for (let i = 0; i < len; i++) s += String.fromCharCode((n + i * 13) & 0xff);
    return s + `#${n}`;
  };
  for (let round = 0; round < 40; round++) {
    for (let i = 0; i < 1500; i++) {
      const k = keyOf(seq);
      t.addNew(k, new KeyEntry(Kind.STRING, new Uint8Array([seq & 0xff]), seq));
      live.set(k, seq++);
    }
    let i = 0;
    for (const k of [...live.keys()]) {
      if (i++ % 3 === round % 3) {
        expect(t.delete(k)).toBe(true);
        live.delete(k);
      }
    }
  }
  expect(t.size).toBe(live.size);
  for (const [k, n] of live) {
    const p = t.positionOf(k);
    expect(p).toBeGreaterThanOrEqual(0);
    expect(t.keyAt(p)).toBe(k);
    expect(t.compareAt(p, k)).toBe(0);
    expect(t.get(k)!.createRev).toBe(n);
  }
  expect([...t.keys()].sort()).toEqual([...live.keys()].sort());
});
