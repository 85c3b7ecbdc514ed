/**
 * The key store: binary key strings → entries, in {@link SHARDS} JavaScript `Map`s chosen by a
 * hash of the key.
 *
 * Why not one `Map`: a `Map` grows by rehashing every entry at once. With millions of keys that is
 * one synchronous stall of hundreds of milliseconds (measured: 226 ms at 2²¹ keys on Deno, 287 ms
 * at 3·2²⁰ on Bun; twice that at each later doubling) on every replica at the same log index —
 * heartbeats stop and elections follow. Split over 4,096 maps, each rehash moves 1/4,096 of the
 * keys (a fraction of a millisecond at 10M keys), and since the shards fill evenly their
 * doublings are spread over many thousands of writes instead of landing on one. This is the
 * effect of Redis's incremental rehash, with the engine's own hash tables doing the work.
 *
 * Order: iteration visits the shards in index order, each in insertion order. That is a function
 * of the replicated history only (the shard of a key is a fixed hash of its bytes), so equal
 * states iterate — and snapshot — identically, and a replica restored from a snapshot iterates as
 * the one that wrote it. Maps are created on first use: a small keyspace costs a few maps.
 * @module
 */

/** Number of maps (a power of two). */
export const SHARDS = 4096;
const MASK = SHARDS - 1;
/** Keys up to this many code units are hashed whole; longer ones by an even sample of as many. */
const HASH_FULL = 128;

/**
 * Shard of a binary key string: FNV-1a over its code units (over {@link HASH_FULL} of them spread
 * evenly, for a longer key — the length is mixed in too) and murmur3's finaliser (FNV alone leaves
 * the low bits of sequential keys clustered). Keys that differ only in the middle, like
 * `user:<id>:profile`, spread as well as sequential ones.
 */
export function shardOf(key: string): number {
  const n = key.length;
  let h = 0x811c9dc5 ^ n;
  if (n <= HASH_FULL) {
    for (let i = 0; i < n; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  } else {
    const step = n / HASH_FULL;
    for (let i = 0; i < HASH_FULL; i++) {
      h = Math.imul(h ^ key.charCodeAt(Math.floor(i * step)), 0x01000193);
    }
    h = Math.imul(h ^ key.charCodeAt(n - 1), 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h & MASK;
}

/** A `Map`-like store split over {@link SHARDS} maps (implements the keyspace's `KeyStore`). */
export class ShardedStore<V> {
  readonly #shards: (Map<string, V> | undefined)[] = new Array(SHARDS).fill(undefined);
  #size = 0;

  /** Number of keys. */
  get size(): number {
    return this.#size;
  }

  get(key: string): V | undefined {
    return this.#shards[shardOf(key)]?.get(key);
  }

  set(key: string, value: V): this {
    const i = shardOf(key);
    let m = this.#shards[i];
    if (m === undefined) m = this.#shards[i] = new Map();
    const before = m.size;
    m.set(key, value);
    this.#size += m.size - before;
    return this;
  }

  delete(key: string): boolean {
    const m = this.#shards[shardOf(key)];
    if (m === undefined || !m.delete(key)) return false;
    this.#size--;
    return true;
  }

  clear(): void {
    for (const m of this.#shards) m?.clear(); // ends live iterators, as Map.clear() does
    this.#shards.fill(undefined);
    this.#size = 0;
  }

  /**
   * Every entry, shard by shard. Like a `Map` iterator it is live: entries added to a shard not
   * yet finished are visited, deleted ones are skipped.
   */
  *entries(): IterableIterator<[string, V]> {
    for (let i = 0; i < SHARDS; i++) {
      const m = this.#shards[i];
      if (m !== undefined) yield* m.entries();
    }
  }

  *keys(): IterableIterator<string> {
    for (let i = 0; i < SHARDS; i++) {
      const m = this.#shards[i];
      if (m !== undefined) yield* m.keys();
    }
  }
}
