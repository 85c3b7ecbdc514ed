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
import { bytesToKey, copyInto } from "../../core/state/bytes.ts";

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
 * answers OK 100 times, a single SET once — kept as one record instead of three arrays of `n`: the
 * cache holds every write batch of the last 30 s (600k of them under redis-benchmark -P 1).
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
  if (n < 1) return r;
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
  // A uniform result costs what a one-slot result would (and builds no arrays to say so).
  if (isUniform(r)) return ENTRY_OVERHEAD + 2 * key.length + SLOT_BYTES + payloadBytes(r.value);
  let n = ENTRY_OVERHEAD + 2 * key.length + r.codes.length * SLOT_BYTES;
  const data = r.data;
  for (let i = 0; i < data.length; i++) {
    n += payloadBytes(data[i]);
    const e = r.errors[i];
    if (e !== null && e !== undefined) n += 2 * e.length;
  }
  return n;
}

function payloadBytes(v: unknown): number {
  if (v instanceof Uint8Array) return v.byteLength;
  if (typeof v === "string") return 2 * v.length;
  if (Array.isArray(v)) return 16 * v.length;
  return 0;
}

/** Insertion-ordered (= log-ordered) cache, evicted by leader time only. */
export class ResultCache {
  #map = new Map<string, CachedBatch>();
  /**
   * The keys in insertion (= log) order from `#head` on: eviction reads the oldest from here. A
   * `Map` iterated from its front walks over every entry deleted since its last rehash, so a Map
   * used as a queue costs O(deleted) per eviction (measured: 8-70 µs per evict at 10k-400k
   * entries, on every replica for every applied batch).
   */
  #order: string[] = [];
  #head = 0;
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
    const first = this.#oldest();
    return first !== undefined && first.time >= Math.max(now, this.#now) - this.#windowMs;
  }

  /** The oldest cached result (undefined when empty). */
  #oldest(): CachedBatch | undefined {
    const o = this.#order;
    while (this.#head < o.length) {
      const v = this.#map.get(o[this.#head]);
      if (v !== undefined) return v;
      this.#head++; // not expected: every key leaves the map through evict, which advances too
    }
    return undefined;
  }

  /** Adds a result applied at leader time `entry.time`, then evicts by age (deterministic). */
  add(key: string, entry: CachedBatch): void {
    if (this.#map.has(key)) return;
    entry.result = isUniform(entry.result) ? entry.result : compact(entry.result);
    this.#map.set(key, entry);
    this.#order.push(key);
    entry.bytes = resultBytes(key, entry.result);
    this.#totalBytes += entry.bytes;
    this.evict(entry.time);
  }

  /** Drops the oldest results older than the window at leader time `now` (never younger ones). */
  evict(now: number): void {
    if (now > this.#now) this.#now = now;
    const cutoff = this.#now - this.#windowMs;
    const m = this.#map;
    const o = this.#order;
    for (let v = this.#oldest(); v !== undefined && v.time < cutoff; v = this.#oldest()) {
      m.delete(o[this.#head++]);
      this.#totalBytes -= v.bytes ?? 0;
    }
    // Drop the evicted keys from the queue once they are most of it (amortised O(1) per add).
    if (this.#head > 1024 && this.#head * 2 > o.length) {
      this.#order = o.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Serialises the cache in order (in one go; see {@link snapshotInSteps}). */
  snapshot(): Uint8Array {
    const job = this.snapshotInSteps();
    job.step(Infinity);
    return job.finish();
  }

  /**
   * The cache as it is now, encoded `budget` rows per `step` (format 3, see {@link SnapshotRows}).
   * Taking it copies the rows' references (15–50 ms for 600k rows); results are never changed once
   * cached, so adds and evictions meanwhile do not change what the job writes.
   */
  snapshotInSteps(): { step(budget: number): boolean; finish(): Uint8Array } {
    const keys: string[] = new Array(this.#map.size);
    const rows: CachedBatch[] = new Array(this.#map.size);
    let i = 0;
    // forEach: a for-of over the entries made an array per row (30 ms for 600k; this is ~half).
    this.#map.forEach((v, k) => {
      keys[i] = k;
      rows[i++] = v;
    });
    return new SnapshotRows(this.#now, keys, rows);
  }

  /** Replaces the cache from `snapshot()` output (formats 1 and 2: CBOR; 3: binary). */
  restore(data: Uint8Array): void {
    if (data.length > 0 && data[0] === FORMAT3_TAG) return this.#restore3(data);
    const x = decodeCbor(data) as { v?: number; now?: number; rows?: unknown[] };
    if (!x || (x.v !== 1 && x.v !== 2) || !Array.isArray(x.rows)) {
      throw new Error("idempotency snapshot: unknown format");
    }
    this.#map.clear();
    this.#order = [];
    this.#head = 0;
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
      this.#put(k, { digest, length, time, result });
    }
  }

  #put(k: string, e: CachedBatch): void {
    e.bytes = resultBytes(k, e.result);
    if (!this.#map.has(k)) this.#order.push(k);
    this.#map.set(k, e);
    this.#totalBytes += e.bytes;
    if (e.time > this.#now) this.#now = e.time;
  }

  /** Format 3: every length and count is checked against the bytes present before use. */
  #restore3(data: Uint8Array): void {
    const bad = (why: string) => new Error(`idempotency snapshot: ${why}`);
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const end = data.length;
    if (end < FORMAT3_HEAD || data[1] !== 3) throw bad("unknown format");
    const now = view.getFloat64(2);
    const count = view.getUint32(10);
    if (count > (end - FORMAT3_HEAD) / MIN_ROW_BYTES) {
      throw bad(`claims ${count} rows in ${end} bytes`);
    }
    // Parsed into a new map: a snapshot that turns out malformed leaves the cache as it was.
    const map = new Map<string, CachedBatch>();
    const order: string[] = [];
    let total = 0;
    let latest = Number.isFinite(now) ? now : 0;
    const memo = { len: -1, at: 0, value: null as Value };
    {
      let p = FORMAT3_HEAD;
      const need = (n: number) => {
        if (p + n > end) throw bad("truncated row");
      };
      for (let r = 0; r < count; r++) {
        need(4);
        const kl = view.getUint32(p);
        p += 4;
        need(kl + ROW_FIXED);
        const k = asciiOrUtf8(data, p, kl);
        p += kl;
        const digest = view.getUint32(p);
        const length = view.getUint32(p + 4);
        const time = view.getFloat64(p + 8);
        const kind = data[p + 16];
        p += ROW_FIXED;
        let result: BatchResult | UniformResult;
        if (kind === KIND_UNIFORM_NULL || kind === KIND_UNIFORM) {
          need(6);
          const n = view.getUint32(p);
          const code = view.getUint16(p + 4);
          p += 6;
          if (n < 1 || n > MAX_BATCH_COMMANDS) throw bad("malformed uniform row");
          let value: Value = null;
          if (kind === KIND_UNIFORM) {
            need(4);
            const vl = view.getUint32(p);
            // Rows repeat their value ("OK" for every SET): the same bytes decode once.
            if (vl !== memo.len || !sameBytes(data, p + 4, memo.at, vl)) {
              memo.value = this.#cbor(view, data, p, need, bad) as Value;
              memo.len = vl;
              memo.at = p + 4;
            }
            value = memo.value;
            p += 4 + vl;
          }
          result = { n, code, value };
        } else if (kind === KIND_FULL) {
          const x = this.#cbor(view, data, p, need, bad);
          p += 4 + view.getUint32(p);
          if (
            !Array.isArray(x) || x.length !== 3 || !Array.isArray(x[0]) ||
            !Array.isArray(x[1]) || !Array.isArray(x[2]) || x[0].length > MAX_BATCH_COMMANDS ||
            x[1].length !== x[0].length || x[2].length !== x[0].length
          ) throw bad("malformed row");
          result = { codes: x[0], data: x[1], errors: x[2] };
        } else throw bad(`unknown row kind ${kind}`);
        const bytes = resultBytes(k, result);
        if (!map.has(k)) order.push(k);
        map.set(k, { digest, length, time, result, bytes });
        total += bytes;
        if (time > latest) latest = time;
      }
      if (p !== end) throw bad(`${end - p} bytes after the last row`);
    }
    this.#map = map;
    this.#order = order;
    this.#head = 0;
    this.#totalBytes = total;
    this.#now = latest;
  }

  /** A u32-length-prefixed CBOR value at `p` (the length checked first). */
  #cbor(
    view: DataView,
    data: Uint8Array,
    p: number,
    need: (n: number) => void,
    bad: (why: string) => Error,
  ): unknown {
    need(4);
    const n = view.getUint32(p);
    need(4 + n);
    try {
      return decodeCbor(data.subarray(p + 4, p + 4 + n));
    } catch (err) {
      throw bad(`bad value: ${(err as Error).message}`);
    }
  }
}

/**
 * Snapshot format 3 (binary; the first byte, 0xff, is never the first byte of a CBOR value, so
 * formats 1 and 2 — CBOR maps — are told apart by it). Big-endian:
 * ```
 * u8 0xff, u8 3, f64 now, u32 rows,
 * rows × { u32 keyLen, key (UTF-8), u32 digest, u32 length, f64 time, u8 kind, ... }
 *   kind 0: uniform result, value null:   u32 n, u16 code
 *   kind 1: uniform result with a value:  u32 n, u16 code, u32 len, value (CBOR)
 *   kind 2: any other result:             u32 len, [codes, data, errors] (CBOR)
 * ```
 * Format 2 was one CBOR value of one array per row: 0.4–1 s (and 1.4–1.7 s to restore) for the
 * 600k rows redis-benchmark -P 1 leaves in the window, in one synchronous piece, on every node at
 * once. This format writes a uniform row with a few stores, and {@link SnapshotRows} writes it a
 * slice of rows per event-loop turn.
 */
const FORMAT3_TAG = 0xff;
const FORMAT3_HEAD = 14;
/** digest, length, time, kind. */
const ROW_FIXED = 4 + 4 + 8 + 1;
const MIN_ROW_BYTES = 4 + ROW_FIXED + 6;
const KIND_UNIFORM_NULL = 0;
const KIND_UNIFORM = 1;
const KIND_FULL = 2;
const utf8 = new TextDecoder("utf-8", { fatal: true });
const utf8enc = new TextEncoder();

/** True if `data[a..a+n)` equals `data[b..b+n)` (n small: a repeated value). */
function sameBytes(data: Uint8Array, a: number, b: number, n: number): boolean {
  if (n > 64) return false;
  for (let i = 0; i < n; i++) if (data[a + i] !== data[b + i]) return false;
  return true;
}

/** `n` bytes at `p` as a string: by hand when ASCII (ids are), else strict UTF-8. */
function asciiOrUtf8(data: Uint8Array, p: number, n: number): string {
  let ascii = true;
  for (let i = p; i < p + n; i++) {
    if (data[i] >= 0x80) {
      ascii = false;
      break;
    }
  }
  // ASCII: one code unit per byte is the UTF-8 decoding.
  return ascii ? bytesToKey(data.subarray(p, p + n)) : utf8.decode(data.subarray(p, p + n));
}

/** Writes a captured list of rows in format 3, a slice per step. */
class SnapshotRows {
  readonly #keys: string[];
  readonly #rows: CachedBatch[];
  #next = 0;
  #buf: Uint8Array;
  #view: DataView;
  #pos = FORMAT3_HEAD;

  constructor(now: number, keys: string[], rows: CachedBatch[]) {
    this.#keys = keys;
    this.#rows = rows;
    this.#buf = new Uint8Array(FORMAT3_HEAD + 64 * rows.length);
    this.#view = new DataView(this.#buf.buffer);
    this.#buf[0] = FORMAT3_TAG;
    this.#buf[1] = 3;
    this.#view.setFloat64(2, now);
    this.#view.setUint32(10, rows.length);
  }

  #ensure(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    let cap = this.#buf.length * 2;
    while (cap < this.#pos + n) cap *= 2;
    const b = new Uint8Array(cap);
    b.set(this.#buf.subarray(0, this.#pos));
    this.#buf = b;
    this.#view = new DataView(b.buffer);
  }

  #blob(bytes: Uint8Array): void {
    const n = bytes.length;
    this.#ensure(4 + n);
    this.#view.setUint32(this.#pos, n);
    copyInto(this.#buf, this.#pos + 4, bytes, 0, n);
    this.#pos += 4 + n;
  }

  /** The last uniform value encoded and its bytes: rows repeat it ("OK" for every SET). */
  #lastValue: Value = null;
  #lastBytes: Uint8Array | null = null;

  #encodeValue(v: Value): Uint8Array {
    if (this.#lastBytes === null || v !== this.#lastValue) {
      this.#lastBytes = encodeCborCopy(v);
      this.#lastValue = v;
    }
    return this.#lastBytes;
  }

  step(budget: number): boolean {
    const keys = this.#keys;
    const rows = this.#rows;
    const stop = Math.min(rows.length, this.#next + budget);
    for (let i = this.#next; i < stop; i++) {
      const k = keys[i];
      const e = rows[i];
      this.#ensure(4 + 3 * k.length + ROW_FIXED + 6);
      const buf = this.#buf;
      const view = this.#view;
      let p = this.#pos + 4;
      // Keys are ASCII in practice (client and batch ids): copied by hand, UTF-8 otherwise.
      let ascii = true;
      for (let j = 0; j < k.length; j++) {
        const c = k.charCodeAt(j);
        if (c >= 0x80) {
          ascii = false;
          break;
        }
        buf[p + j] = c;
      }
      const kl = ascii ? k.length : utf8enc.encodeInto(k, buf.subarray(p)).written;
      view.setUint32(this.#pos, kl);
      p += kl;
      view.setUint32(p, e.digest >>> 0);
      view.setUint32(p + 4, e.length >>> 0);
      view.setFloat64(p + 8, e.time);
      const r = e.result;
      if (isUniform(r)) {
        buf[p + 16] = r.value === null ? KIND_UNIFORM_NULL : KIND_UNIFORM;
        view.setUint32(p + 17, r.n);
        view.setUint16(p + 21, r.code);
        this.#pos = p + 23;
        if (r.value !== null) this.#blob(this.#encodeValue(r.value));
      } else {
        buf[p + 16] = KIND_FULL;
        this.#pos = p + 17;
        this.#blob(encodeCborCopy([r.codes, r.data, r.errors]));
      }
    }
    this.#next = stop;
    return stop >= rows.length;
  }

  finish(): Uint8Array {
    if (this.#next < this.#rows.length) throw new Error("idempotency snapshot not finished");
    return this.#buf.subarray(0, this.#pos);
  }
}
