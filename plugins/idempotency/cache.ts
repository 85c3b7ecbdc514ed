/**
 * The replicated cache of batch results behind the idempotency plugin. Filled only from applied
 * entries, in log order, and evicted only by age — the entries' leader-decided time — so every
 * replica holds exactly the same cache. Part of snapshots.
 *
 * **A result is never evicted before it is `windowMs` old** (in leader time): that is the
 * deduplication window the client library relies on (it never resends a batch later than
 * `RESEND_WINDOW_MS` after first sending it, which is well inside the smallest window allowed).
 * Memory is bounded by refusing new batches at the leader while the cache is full of results that
 * are still inside the window (`full()`), never by evicting one of them: an evicted result followed
 * by a retry would be a double apply.
 * @module
 */
import { Code } from "../../protocol/codes.ts";
import { decodeCbor, encodeCborCopy } from "../../protocol/cbor.ts";
import { MAX_BATCH_COMMANDS, valueBytes } from "../../protocol/messages.ts";
import type { BatchResult } from "../../core/plugin/plugin.ts";
import type { Value } from "../../core/state/types.ts";

/** One cached batch outcome. */
export interface CachedBatch {
  /** CRC32C of the batch's encoded commands (detects the same id reused for other content). */
  digest: number;
  /** Byte length of the encoded commands (with the digest, a cheap content fingerprint). */
  length: number;
  /** Leader time of the entry that applied it. */
  time: number;
  /** The result; the cache keeps a uniform one compactly (read it with {@link resultOf}). */
  result: BatchResult | UniformResult;
  /** Estimated bytes held (set by the cache). */
  bytes?: number;
}

/**
 * A result whose `n` slots are all the same code and value with no error — a batch of 100 SETs
 * answers OK 100 times — kept as one record instead of three arrays of `n`: the cache holds every
 * write batch of the last 30 s (~20k at full speed), and its snapshot is encoded in one go.
 */
export interface UniformResult {
  readonly n: number;
  readonly code: number;
  readonly value: Value;
}

function isUniform(r: BatchResult | UniformResult): r is UniformResult {
  return !("codes" in r);
}

/** A uniform result's compact form, or the result itself. */
function compact(r: BatchResult): BatchResult | UniformResult {
  const n = r.codes.length;
  if (n < 2) return r;
  const code = r.codes[0];
  const value = r.data[0];
  for (let i = 0; i < n; i++) {
    if (r.codes[i] !== code || r.data[i] !== value || r.errors[i] !== null) return r;
  }
  return { n, code, value };
}

/** The cached batch's result as the client gets it. */
export function resultOf(entry: CachedBatch): BatchResult {
  const r = entry.result;
  if (!isUniform(r)) return r;
  return {
    codes: new Array(r.n).fill(r.code),
    data: new Array(r.n).fill(r.value),
    errors: new Array(r.n).fill(null),
  };
}

/**
 * Most bytes of a batch's reply values kept for retries (64 KiB). A larger reply (GETs of big
 * values inside a write batch) is kept with its large values replaced by TOO_LARGE, so a handful
 * of such batches cannot fill the cache and make every client's writes BUSY for the window; a
 * retry still never applies the batch again.
 */
export const MAX_KEPT_RESULT_BYTES = 64 * 1024;
/** Values larger than this are the ones dropped from a reply kept for retries. */
const DROPPED_VALUE_BYTES = 256;

/** What is kept of `r` for retries: `r` itself, or a copy without its large values. */
export function keptForRetries(r: BatchResult): BatchResult {
  let total = 0;
  for (const v of r.data) {
    if (v !== null && typeof v !== "number") total += valueBytes(v, MAX_KEPT_RESULT_BYTES);
    if (total > MAX_KEPT_RESULT_BYTES) break;
  }
  if (total <= MAX_KEPT_RESULT_BYTES) return r;
  const out: BatchResult = {
    codes: r.codes.slice(),
    data: r.data.slice(),
    errors: r.errors.slice(),
  };
  for (let i = 0; i < out.data.length; i++) {
    const v = out.data[i];
    if (v === null || typeof v === "number") continue;
    const n = valueBytes(v, MAX_KEPT_RESULT_BYTES);
    if (n <= DROPPED_VALUE_BYTES) continue;
    out.codes[i] = Code.TOO_LARGE;
    out.data[i] = null;
    out.errors[i] =
      `the batch was applied once; this reply (${n} bytes) was not kept for retries: read it again`;
  }
  return out;
}

/** Fixed cost charged per cached batch (map slot, key, record, three arrays) in bytes. */
const ENTRY_OVERHEAD = 160;
/** Cost charged per result slot (a code, a data and an error pointer). */
const SLOT_BYTES = 24;

/**
 * Estimated bytes a result holds: per-slot pointers plus the payload of byte strings, strings and
 * (shallowly) arrays. No allocation; one pass over the slots.
 */
export function resultBytes(key: string, r: BatchResult | UniformResult): number {
  if (isUniform(r)) return resultBytes(key, { codes: [r.code], data: [r.value], errors: [null] });
  let n = ENTRY_OVERHEAD + 2 * key.length + r.codes.length * SLOT_BYTES;
  const data = r.data;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v instanceof Uint8Array) n += v.byteLength;
    else if (typeof v === "string") n += 2 * v.length;
    else if (Array.isArray(v)) n += 16 * v.length;
    const e = r.errors[i];
    if (e !== null && e !== undefined) n += 2 * e.length;
  }
  return n;
}

/** Insertion-ordered (= log-ordered) cache, evicted by leader time only. */
export class ResultCache {
  readonly #map = new Map<string, CachedBatch>();
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #windowMs: number;
  #totalBytes = 0;
  /** Highest leader time seen (eviction never runs backwards when a new leader's clock lags). */
  #now = 0;

  constructor(maxEntries: number, windowMs: number, maxBytes = Number.MAX_SAFE_INTEGER) {
    this.#maxEntries = maxEntries;
    this.#windowMs = windowMs;
    this.#maxBytes = maxBytes;
  }

  get size(): number {
    return this.#map.size;
  }

  /** Estimated bytes held. */
  get bytes(): number {
    return this.#totalBytes;
  }

  get windowMs(): number {
    return this.#windowMs;
  }

  get(key: string): CachedBatch | undefined {
    return this.#map.get(key);
  }

  /**
   * Leader only (not replicated state): true when the cache is at its entry or byte limit and its
   * oldest result is still inside the window at time `now`, so a new batch must be refused (BUSY)
   * rather than evict a result a client may still retry. When the oldest result has expired, the
   * next applied entry evicts it, so the batch may pass.
   */
  full(now: number): boolean {
    if (this.#map.size < this.#maxEntries && this.#totalBytes < this.#maxBytes) return false;
    const first = this.#map.values().next();
    return !first.done && first.value.time >= Math.max(now, this.#now) - this.#windowMs;
  }

  /** Adds a result applied at leader time `entry.time`, then evicts by age (deterministic). */
  add(key: string, entry: CachedBatch): void {
    if (this.#map.has(key)) return;
    entry.result = isUniform(entry.result) ? entry.result : compact(entry.result);
    this.#map.set(key, entry);
    entry.bytes = resultBytes(key, entry.result);
    this.#totalBytes += entry.bytes;
    this.evict(entry.time);
  }

  /** Drops the oldest results older than the window at leader time `now` (never younger ones). */
  evict(now: number): void {
    if (now > this.#now) this.#now = now;
    const cutoff = this.#now - this.#windowMs;
    const m = this.#map;
    for (const [k, v] of m) {
      if (v.time >= cutoff) break;
      m.delete(k);
      this.#totalBytes -= v.bytes ?? 0;
    }
  }

  /** Serialises the cache in order. */
  snapshot(): Uint8Array {
    const rows: unknown[] = [];
    for (const [k, v] of this.#map) {
      const r = v.result;
      // A uniform result's row has its slot count (a number) where the codes array would be.
      if (isUniform(r)) rows.push([k, v.digest, v.length, v.time, r.n, r.code, r.value]);
      else rows.push([k, v.digest, v.length, v.time, r.codes, r.data, r.errors]);
    }
    return encodeCborCopy({ v: 2, now: this.#now, rows });
  }

  /** Replaces the cache from `snapshot()` output. */
  restore(data: Uint8Array): void {
    const x = decodeCbor(data) as { v?: number; now?: number; rows?: unknown[] };
    if (!x || (x.v !== 1 && x.v !== 2) || !Array.isArray(x.rows)) {
      throw new Error("idempotency snapshot: unknown format");
    }
    this.#map.clear();
    this.#totalBytes = 0;
    this.#now = typeof x.now === "number" ? x.now : 0;
    for (const r of x.rows) {
      if (!Array.isArray(r) || r.length !== 7 || typeof r[0] !== "string") {
        throw new Error("idempotency snapshot: malformed row");
      }
      const [k, digest, length, time] = r as [string, number, number, number];
      let result: BatchResult | UniformResult;
      if (typeof r[4] === "number") {
        const n = r[4];
        if (!Number.isInteger(n) || n < 2 || n > MAX_BATCH_COMMANDS || typeof r[5] !== "number") {
          throw new Error("idempotency snapshot: malformed uniform row");
        }
        result = { n, code: r[5], value: r[6] as Value };
      } else {
        result = {
          codes: r[4] as number[],
          data: r[5] as Value[],
          errors: r[6] as (string | null)[],
        };
      }
      const bytes = resultBytes(k, result);
      this.#map.set(k, { digest, length, time, result, bytes });
      this.#totalBytes += bytes;
      if (time > this.#now) this.#now = time;
    }
  }
}
