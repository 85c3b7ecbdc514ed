/**
 * The keyspace's sharded store (#11: no `Map` resize of millions of keys at once) behaves as a
 * `Map` for every operation the keyspace uses, iterates deterministically, and spreads keys evenly.
 */
import { expect, test } from "bun:test";
import { ShardedStore, shardOf, SHARDS } from "../../core/state/sharded_store.ts";
import { prng } from "./harness.ts";

test("random operations agree with a Map", () => {
  const rnd = prng(7);
  const s = new ShardedStore<number>();
  const m = new Map<string, number>();
  for (let i = 0; i < 20_000; i++) {
    const k = "k" + Math.floor(rnd() * 3000).toString(36) + (rnd() < 0.1 ? "x".repeat(80) : "");
    const op = rnd();
    if (op < 0.6) {
      s.set(k, i);
      m.set(k, i);
    } else if (op < 0.9) expect(s.delete(k)).toBe(m.delete(k));
    else expect(s.get(k)).toBe(m.get(k));
    expect(s.size).toBe(m.size);
  }
  expect(new Map(s.entries())).toEqual(m);
  expect(new Set(s.keys())).toEqual(new Set(m.keys()));
  s.clear();
  expect(s.size).toBe(0);
  expect([...s.entries()]).toEqual([]);
});

test("iteration is a function of the history only, and live like a Map's", () => {
  const a = new ShardedStore<number>();
  const b = new ShardedStore<number>();
  for (let i = 0; i < 5000; i++) a.set(`key:${i}`, i);
  for (const [k, v] of a.entries()) b.set(k, v); // as a snapshot restore does
  expect([...b.keys()]).toEqual([...a.keys()]);
  // Entries added ahead of the iterator are visited; deleted ones are not.
  const it = a.keys();
  const first = it.next().value as string;
  const last = [...a.keys()].at(-1)!;
  a.delete(last);
  const rest = [...it];
  expect(rest).not.toContain(last);
  expect(rest.length).toBe(a.size - 1);
  expect(first).toBeDefined();
});

test("keys spread evenly over the shards (sequential and common-prefix keys)", () => {
  for (
    const make of [
      (i: number) => `key:${String(i).padStart(12, "0")}`,
      (i: number) => `user:${i}:profile`,
    ]
  ) {
    const counts = new Array(SHARDS).fill(0);
    const n = SHARDS * 64;
    for (let i = 0; i < n; i++) counts[shardOf(make(i))]++;
    // 64 per shard on average: no shard is empty or holds more than 3x its share.
    expect(Math.min(...counts)).toBeGreaterThan(0);
    expect(Math.max(...counts)).toBeLessThan(3 * 64);
  }
});
