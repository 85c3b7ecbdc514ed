/**
 * A small seeded PRNG (mulberry32) so benchmark workloads are reproducible.
 * @module
 */

/** Returns a function yielding floats in [0, 1) from a 32-bit seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` pseudo-random bytes (printable ASCII, so values are readable in the CLI) from `seed`. */
export function seededBytes(n: number, seed: number): Uint8Array {
  const r = mulberry32(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = 0x21 + Math.floor(r() * 94);
  return out;
}
