/**
 * Byte helpers for the state machine: a binary-safe bytes ⇄ string mapping used for `Map` keys,
 * strict Redis-style integer and float parsing straight from bytes, and number formatting.
 *
 * The key mapping is one UTF-16 code unit per byte (`String.fromCharCode(b)`, 0..255), so it is
 * lossless for every byte value, and JS string comparison equals unsigned byte-wise comparison.
 * (`TextDecoder("latin1")` is not used: it is windows-1252 and remaps 0x80..0x9F.)
 * @module
 */
import { Buffer } from "node:buffer";

const CHUNK = 4096;

/** Below this many bytes, copying by hand costs less than a native `set()` call (and its view). */
const SHORT_COPY = 64;

/** Copies `src[from, from + n)` into `dst` at `at`: by hand when short, else with one `set()`. */
export function copyInto(
  dst: Uint8Array,
  at: number,
  src: Uint8Array,
  from: number,
  n: number,
): void {
  if (n <= SHORT_COPY) {
    for (let i = 0; i < n; i++) dst[at + i] = src[from + i];
  } else dst.set(from === 0 && n === src.length ? src : src.subarray(from, from + n), at);
}

/**
 * Node's `latin1` decoder (`Buffer.prototype.latin1Slice(start, end)`, in both runtimes' node:buffer),
 * which maps each byte to the code unit of the same value: 2-3x faster than `fromCharCode.apply`
 * on Bun for a 17-byte key (65 vs 185 ns; Deno 58 vs 79), and it decodes a range without a view. Used only when
 * it exists and maps all 256 byte values exactly (checked once here), else null.
 */
const latin1: ((this: Uint8Array, start: number, end: number) => string) | null = (() => {
  const f = (Buffer.prototype as unknown as {
    latin1Slice?: (this: Uint8Array, start: number, end: number) => string;
  }).latin1Slice;
  if (typeof f !== "function") return null;
  const all = new Uint8Array(256);
  for (let i = 0; i < 256; i++) all[i] = i;
  try {
    const s = f.call(all, 0, 256);
    if (s.length !== 256) return null;
    for (let i = 0; i < 256; i++) if (s.charCodeAt(i) !== i) return null;
    return f;
  } catch {
    return null;
  }
})();

/** Maps bytes to a string with one code unit per byte (lossless, order-preserving). */
export function bytesToKey(b: Uint8Array): string {
  const n = b.length;
  if (latin1 !== null) return latin1.call(b, 0, n);
  if (n <= CHUNK) return String.fromCharCode.apply(null, b as unknown as number[]);
  let s = "";
  for (let i = 0; i < n; i += CHUNK) {
    s += String.fromCharCode.apply(null, b.subarray(i, i + CHUNK) as unknown as number[]);
  }
  return s;
}

/** {@link bytesToKey} of `n` bytes of `b` at `o`, without a view (or, lacking latin1Slice, for a short key). */
export function keyFrom(b: Uint8Array, o: number, n: number): string {
  if (latin1 !== null) return latin1.call(b, o, o + n);
  if (n <= 16) {
    let s = "";
    for (let i = o; i < o + n; i++) s += String.fromCharCode(b[i]);
    return s;
  }
  return bytesToKey(b.subarray(o, o + n));
}

/** Writes key `s` (one code unit per byte) into `dst` at `at` (room checked by the caller). */
export function putKey(dst: Uint8Array, at: number, s: string): void {
  for (let i = 0; i < s.length; i++) dst[at + i] = s.charCodeAt(i);
}

/** Inverse of {@link bytesToKey}. */
export function keyToBytes(s: string): Uint8Array {
  const n = s.length;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = s.charCodeAt(i);
  return out;
}

/**
 * Hands out small byte arrays carved from shared slabs: allocating one ArrayBuffer per value is
 * slow on Deno (~300 ns and off-heap GC pressure each) while a subarray of a slab costs ~15 ns. A
 * slab stays alive while any array carved from it does, so separate pools keep short-lived bytes
 * from pinning slabs that hold stored values.
 */
export class SlabPool {
  readonly #slabBytes: number;
  #slab: Uint8Array;
  /** `#slab`'s buffer, kept beside it: reading `.buffer` of a typed array is slow on JSC. */
  #buffer: ArrayBuffer;
  #pos = 0;

  constructor(slabBytes: number) {
    this.#slabBytes = slabBytes;
    this.#buffer = new ArrayBuffer(slabBytes);
    this.#slab = new Uint8Array(this.#buffer);
  }

  #fresh(): void {
    this.#buffer = new ArrayBuffer(this.#slabBytes);
    this.#slab = new Uint8Array(this.#buffer);
    this.#pos = 0;
  }

  /**
   * Copies `n` bytes of `src` at `from` (at most the slab size) into the current slab, without
   * making a view, and answers their offset there; the slab's buffer is then {@link buffer}.
   */
  place(src: Uint8Array, from: number, n: number): number {
    if (this.#pos + n > this.#slabBytes) this.#fresh();
    const at = this.#pos;
    copyInto(this.#slab, at, src, from, n);
    this.#pos = at + n;
    return at;
  }

  /** The buffer of the current slab (where {@link place} copied the last bytes). */
  get buffer(): ArrayBuffer {
    return this.#buffer;
  }

  /** `n` fresh bytes (`n` at most the slab size), from a new slab when the current one is full. */
  take(n: number): Uint8Array {
    if (this.#pos + n > this.#slabBytes) this.#fresh();
    const c = this.#slab.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return c;
  }
}

// Stored values: small slabs bound how much one live value can pin.
const SLAB_MAX_VALUE = 128;
const values = new SlabPool(4096);

/**
 * Bytes to store: a small value is copied into a slab; a large one is `b` itself when it owns its
 * whole buffer, else a compact copy. Values decoded from a batch are views into the whole log
 * entry; storing the view would keep the entry alive. A small value is copied even when it owns
 * its buffer: kept as it is, each would be one more JS object (its `ArrayBuffer`) per key for the
 * major GC to mark (#11).
 */
export function own(b: Uint8Array): Uint8Array {
  const n = b.byteLength;
  if (n > SLAB_MAX_VALUE) return b.byteOffset === 0 && n === b.buffer.byteLength ? b : b.slice();
  const c = alloc(n);
  c.set(b);
  return c;
}

/**
 * {@link own} without a view, for a small value (`n` bytes of `src` at `from`, at most
 * {@link SLAB_MAX_VALUE}: see {@link isSlabValue}): copies them into a value slab and answers
 * their offset in {@link ownedBuffer}. The key table stores a string value as (buffer, offset,
 * length) anyway; the view `own` hands back is garbage the moment it is stored.
 */
export function ownAt(src: Uint8Array, from: number, n: number): number {
  return values.place(src, from, n);
}

/** The buffer of the bytes the last {@link ownAt} copied. */
export function ownedBuffer(): ArrayBuffer {
  return values.buffer;
}

/** True if `n` bytes are stored in a slab (a value {@link ownAt} takes). */
export function isSlabValue(n: number): boolean {
  return n <= SLAB_MAX_VALUE;
}

/** Allocates `n` fresh bytes (from a slab when small; see {@link own}). */
export function alloc(n: number): Uint8Array {
  return n > SLAB_MAX_VALUE ? new Uint8Array(n) : values.take(n);
}

/** ASCII case-insensitive comparison of `b` against a lower-case ASCII word. */
export function eqWord(b: Uint8Array, lower: string): boolean {
  const n = lower.length;
  if (b.length !== n) return false;
  for (let i = 0; i < n; i++) {
    let c = b[i];
    if (c >= 65 && c <= 90) c |= 0x20;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Parse result when the bytes are not a valid int64 (see {@link parseInt64}). */
export const NOT_AN_INTEGER: unique symbol = Symbol("not an integer");

/**
 * Parses a strict Redis integer (`-?[1-9][0-9]*` or `0`, no spaces, no `+`) within int64.
 * Values with at most 15 digits are exact numbers; longer ones are exact `bigint`s (they may still
 * be within `Number.MAX_SAFE_INTEGER`, callers that only need a number use {@link parseIntArg}).
 */
export function parseInt64(b: Uint8Array): number | bigint | typeof NOT_AN_INTEGER {
  const n = b.length;
  if (n === 0 || n > 20) return NOT_AN_INTEGER;
  let i = 0;
  let neg = false;
  if (b[0] === 45) {
    if (n === 1) return NOT_AN_INTEGER;
    neg = true;
    i = 1;
  }
  const first = b[i];
  if (first === 48) {
    // "0" alone; "-0", leading zeros rejected like Redis.
    return n === 1 ? 0 : NOT_AN_INTEGER;
  }
  const digits = n - i;
  if (digits > 19) return NOT_AN_INTEGER;
  let v = 0;
  for (let j = i; j < n; j++) {
    const d = b[j] - 48;
    if (d < 0 || d > 9) return NOT_AN_INTEGER;
    if (digits <= 15) v = v * 10 + d;
  }
  if (digits <= 15) return neg ? -v : v;
  let big = 0n;
  for (let j = i; j < n; j++) big = big * 10n + BigInt(b[j] - 48);
  if (neg) big = -big;
  if (big < INT64_MIN || big > INT64_MAX) return NOT_AN_INTEGER;
  return big;
}

/**
 * Parses an integer argument (count, index, seconds) as a JS number; int64 values beyond 2^53
 * become the nearest double, which is fine for clamped indices and range checks.
 * Returns `null` when the bytes are not an int64.
 */
export function parseIntArg(b: Uint8Array): number | null {
  const v = parseInt64(b);
  if (v === NOT_AN_INTEGER) return null;
  return typeof v === "number" ? v : Number(v);
}

/** True when `v` is within int64 (as a bigint). */
export function inInt64(v: bigint): boolean {
  return v >= INT64_MIN && v <= INT64_MAX;
}

/** Decimal ASCII bytes of an integer (number or bigint). */
export function intToBytes(v: number | bigint): Uint8Array {
  const s = String(v);
  const out = alloc(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

const FLOAT_RE = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)$/;

/**
 * Parses a float argument the way Redis does for scores: decimal/exponent notation, or
 * `inf`/`+inf`/`-inf` (any case). NaN and anything else give `null`.
 */
export function parseFloatArg(b: Uint8Array): number | null {
  const n = b.length;
  if (n === 0 || n > 64) return null;
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCharCode(b[i]);
  const lower = s.toLowerCase();
  if (lower === "inf" || lower === "+inf" || lower === "infinity" || lower === "+infinity") {
    return Infinity;
  }
  if (lower === "-inf" || lower === "-infinity") return -Infinity;
  if (!FLOAT_RE.test(s)) return null;
  const v = Number(s);
  return Number.isNaN(v) ? null : v;
}

/** Printable rendering of (possibly binary) bytes for error messages, truncated. */
export function printable(b: Uint8Array, max = 64): string {
  let s = "";
  const n = Math.min(b.length, max);
  for (let i = 0; i < n; i++) {
    const c = b[i];
    s += c >= 32 && c < 127 ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, "0")}`;
  }
  return b.length > max ? s + "..." : s;
}

/**
 * Formats a float the way Redis replies INCRBYFLOAT/HINCRBYFLOAT results (its "human" form: plain
 * decimal, never an exponent, at most 17 fraction digits, trailing zeros dropped). Redis computes
 * in `long double`; we compute in double and print the shortest exact decimal, so results agree
 * except in the last digits of inexact sums (0.1 + 0.2 gives 0.30000000000000004 here).
 */
export function formatFloat(v: number): string {
  // Integral doubles past 2^53 print exactly (String(2 ** 63) would be "9223372036854776000").
  if (Number.isInteger(v)) return Number.isSafeInteger(v) ? String(v) : BigInt(v).toString();
  const s = String(v);
  if (s.indexOf("e") < 0) return s;
  let f = v.toFixed(17);
  if (f.indexOf(".") >= 0) f = f.replace(/0+$/, "").replace(/\.$/, "");
  return f === "-0" ? "0" : f;
}

/** ASCII bytes of a string made of char codes < 256. */
export function asciiBytes(s: string): Uint8Array {
  const out = alloc(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
