/**
 * The replicated cache of batch results behind the idempotency plugin. Filled only from applied
 * entries, in log order, and evicted only by count and by the entries' leader-decided time, so
 * every replica holds exactly the same cache. Part of snapshots.
 * @module
 */
import { decodeCbor, encodeCbor } from "../../core/cbor.ts";
import type { BatchResult } from "../../core/plugin.ts";
import type { Value } from "../../core/state/types.ts";

/** One cached batch outcome. */
export interface CachedBatch {
  /** CRC32C of the batch's encoded commands (detects the same id reused for other content). */
  digest: number;
  /** Byte length of the encoded commands (with the digest, a cheap content fingerprint). */
  length: number;
  /** Leader time of the entry that applied it. */
  time: number;
  result: BatchResult;
}

/** Insertion-ordered (= log-ordered) bounded cache. */
export class ResultCache {
  readonly #map = new Map<string, CachedBatch>();
  readonly #maxEntries: number;
  readonly #maxAgeMs: number;

  constructor(maxEntries: number, maxAgeMs: number) {
    this.#maxEntries = maxEntries;
    this.#maxAgeMs = maxAgeMs;
  }

  get size(): number {
    return this.#map.size;
  }

  get(key: string): CachedBatch | undefined {
    return this.#map.get(key);
  }

  /** Adds a result applied at leader time `time`, then evicts by count and age (deterministic). */
  add(key: string, entry: CachedBatch): void {
    if (this.#map.has(key)) return;
    this.#map.set(key, entry);
    this.evict(entry.time);
  }

  /** Drops the oldest entries beyond the count limit or older than max age at time `now`. */
  evict(now: number): void {
    const m = this.#map;
    const cutoff = now - this.#maxAgeMs;
    for (const [k, v] of m) {
      if (m.size > this.#maxEntries || v.time < cutoff) m.delete(k);
      else break;
    }
  }

  /** Serialises the cache in order. */
  snapshot(): Uint8Array {
    const rows: unknown[] = [];
    for (const [k, v] of this.#map) {
      rows.push([k, v.digest, v.length, v.time, v.result.codes, v.result.data, v.result.errors]);
    }
    return encodeCbor({ v: 1, rows }).slice();
  }

  /** Replaces the cache from `snapshot()` output. */
  restore(data: Uint8Array): void {
    const x = decodeCbor(data) as { v?: number; rows?: unknown[] };
    if (!x || x.v !== 1 || !Array.isArray(x.rows)) {
      throw new Error("idempotency snapshot: unknown format");
    }
    this.#map.clear();
    for (const r of x.rows) {
      const [k, digest, length, time, codes, data, errors] = r as [
        string,
        number,
        number,
        number,
        number[],
        Value[],
        (string | null)[],
      ];
      this.#map.set(k, { digest, length, time, result: { codes, data, errors } });
    }
  }
}
