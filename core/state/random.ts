/**
 * Deterministic randomness for commands that pick at random (SPOP, SRANDMEMBER, RANDOMKEY,
 * HRANDFIELD, ZRANDMEMBER). Nothing here reads a clock or `Math.random`: a generator is seeded
 * from what the leader put in the log entry — the entry's index and leader time (`ApplyContext`)
 * — and the command's position among the commands applied at that index (counted by the
 * keyspace, reset when the index changes). Every replica applies the same commands of an entry in
 * the same order, so every replica draws the same numbers. A read served outside the log
 * (ReadIndex) runs at the applied index and the read time: one node answers it, so it only has to
 * be correct, and it does not disturb the next entry's draws (the count restarts there).
 * @module
 */

/** A small PRNG (mulberry32) with a 32-bit state. */
export class Rng {
  #s: number;

  /** A generator for `seed` (any number; mixed down to 32 bits). */
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }

  /** The next 32-bit unsigned value. */
  next(): number {
    this.#s = (this.#s + 0x6d2b79f5) >>> 0;
    let t = this.#s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A uniform integer in [0, n) for 0 < n ≤ 2^53. */
  below(n: number): number {
    if (n <= 0x100000000) return Math.floor((this.next() / 0x100000000) * n);
    const x = this.next() * 0x200000 + (this.next() >>> 11); // 53 bits
    return Math.floor((x / 2 ** 53) * n);
  }
}

function mix(h: number, v: number): number {
  h = Math.imul(h ^ (v >>> 0), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The seed for the `pos`-th random command applied at log `index` with leader time `nowMs`. */
export function seedOf(index: number, nowMs: number, pos: number): number {
  let h = 0x9e3779b9;
  h = mix(h, index % 0x100000000);
  h = mix(h, Math.floor(index / 0x100000000));
  h = mix(h, nowMs % 0x100000000);
  h = mix(h, Math.floor(nowMs / 0x100000000));
  return mix(h, pos);
}
