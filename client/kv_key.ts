/**
 * Deno KV keys for TinyKV: a key is a tuple of parts (`["users", 42]`), encoded to bytes so that
 * unsigned byte order of the encodings is exactly Deno KV's key order. The encoding is the one
 * Deno KV uses (a subset of FoundationDB's tuple layer); docs/kv.md describes it byte by byte.
 *
 * - `Uint8Array`: `0x01`, the bytes with every `0x00` written as `0x00 0xFF`, then `0x00`.
 * - `string`: `0x02`, its UTF-8 bytes escaped the same way, then `0x00`.
 * - `bigint`: `0x14` for zero; positive: `0x14 + n` then the n big-endian magnitude bytes (n ≤ 8),
 *   or `0x1D n` then the bytes (n ≤ 255); negative: `0x14 - n` then the ones' complement of the
 *   magnitude bytes (n ≤ 8), or `0x0B (n ^ 0xFF)` then the complemented bytes.
 * - `number` (always a double, also for integers): `0x21`, then the IEEE-754 big-endian bits with
 *   the sign bit flipped for non-negative numbers and every bit flipped for negative ones (so
 *   -NaN < -Infinity < ... < -0 < 0 < ... < Infinity < NaN; NaN is canonicalised).
 * - `false`: `0x26`; `true`: `0x27`.
 * @module
 */

/** One part of a key. */
export type KvKeyPart = Uint8Array | string | number | bigint | boolean;
/** A key: a tuple of parts. */
export type KvKey = readonly KvKeyPart[];

/** Largest encoded key a write accepts (Deno KV's limit). */
export const MAX_WRITE_KEY_BYTES = 2048;
/** Largest encoded key a read accepts (one more, so `[...prefix, 0x00]` style keys fit). */
export const MAX_READ_KEY_BYTES = MAX_WRITE_KEY_BYTES + 1;

const BYTES = 0x01;
const STRING = 0x02;
const NEGINTSTART = 0x0b;
const INTZERO = 0x14;
const POSINTEND = 0x1d;
const DOUBLE = 0x21;
const FALSE = 0x26;
const TRUE = 0x27;

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true });

/** A growable byte buffer. */
class Out {
  buf = new Uint8Array(64);
  n = 0;
  push(b: number): void {
    if (this.n === this.buf.length) this.#grow(1);
    this.buf[this.n++] = b;
  }
  #grow(more: number): void {
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.n + more));
    next.set(this.buf.subarray(0, this.n));
    this.buf = next;
  }
  escaped(bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      this.push(b);
      if (b === 0) this.push(0xff);
    }
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.n);
  }
}

const f64 = new DataView(new ArrayBuffer(8));

function encodePart(out: Out, p: KvKeyPart): void {
  if (p instanceof Uint8Array) {
    out.push(BYTES);
    out.escaped(p);
    out.push(0);
  } else if (typeof p === "string") {
    out.push(STRING);
    out.escaped(utf8.encode(p));
    out.push(0);
  } else if (typeof p === "number") {
    out.push(DOUBLE);
    f64.setFloat64(0, Number.isNaN(p) ? NaN : p); // JS NaN is the canonical 0x7ff8000000000000
    const neg = (f64.getUint8(0) & 0x80) !== 0;
    for (let i = 0; i < 8; i++) {
      const b = f64.getUint8(i);
      out.push(neg ? b ^ 0xff : i === 0 ? b ^ 0x80 : b);
    }
  } else if (typeof p === "bigint") {
    encodeBigint(out, p);
  } else if (p === false) {
    out.push(FALSE);
  } else if (p === true) {
    out.push(TRUE);
  } else {
    throw new TypeError("expected string, number, bigint, ArrayBufferView, boolean");
  }
}

function encodeBigint(out: Out, v: bigint): void {
  if (v === 0n) {
    out.push(INTZERO);
    return;
  }
  const neg = v < 0n;
  let mag = neg ? -v : v;
  const digits: number[] = [];
  while (mag > 0n) {
    digits.push(Number(mag & 0xffn));
    mag >>= 8n;
  }
  const n = digits.length;
  if (n > 255) throw new RangeError("bigint key part too large (max 255 bytes)");
  if (neg) {
    if (n <= 8) out.push(INTZERO - n);
    else {
      out.push(NEGINTSTART);
      out.push(n ^ 0xff);
    }
    for (let i = n - 1; i >= 0; i--) out.push(digits[i] ^ 0xff);
  } else {
    if (n <= 8) out.push(INTZERO + n);
    else {
      out.push(POSINTEND);
      out.push(n);
    }
    for (let i = n - 1; i >= 0; i--) out.push(digits[i]);
  }
}

/** Encodes a key (any length, including the empty tuple, which encodes to no bytes). */
export function encodeKey(key: KvKey): Uint8Array {
  if (!Array.isArray(key)) throw new TypeError("key must be an array");
  const out = new Out();
  for (const p of key) encodePart(out, p);
  return out.bytes();
}

/** Thrown for bytes that are not an encoded key (e.g. a key written by a Redis client). */
export class KeyDecodeError extends Error {}

function need(b: Uint8Array, i: number, n: number): void {
  if (i + n > b.length) throw new KeyDecodeError("truncated key");
}

/** Reads an escaped, 0-terminated byte string from `b` at `i`: [bytes, next index]. */
function readEscaped(b: Uint8Array, i: number): [Uint8Array, number] {
  const out = new Out();
  for (;;) {
    need(b, i, 1);
    const c = b[i++];
    if (c !== 0) {
      out.push(c);
      continue;
    }
    if (i < b.length && b[i] === 0xff) {
      out.push(0);
      i++;
      continue;
    }
    return [out.bytes(), i];
  }
}

/** Decodes the bytes made by {@link encodeKey}; throws {@link KeyDecodeError} on other bytes. */
export function decodeKey(b: Uint8Array): KvKeyPart[] {
  const key: KvKeyPart[] = [];
  let i = 0;
  while (i < b.length) {
    const tag = b[i++];
    if (tag === BYTES || tag === STRING) {
      const [bytes, next] = readEscaped(b, i);
      i = next;
      if (tag === BYTES) key.push(bytes);
      else {
        try {
          key.push(utf8Strict.decode(bytes));
        } catch {
          throw new KeyDecodeError("invalid utf-8 in a string key part");
        }
      }
    } else if (tag >= NEGINTSTART && tag <= POSINTEND) {
      let n: number;
      const neg = tag < INTZERO;
      if (tag === NEGINTSTART || tag === POSINTEND) {
        need(b, i, 1);
        n = tag === NEGINTSTART ? b[i++] ^ 0xff : b[i++];
      } else n = neg ? INTZERO - tag : tag - INTZERO;
      need(b, i, n);
      let v = 0n;
      for (let k = 0; k < n; k++) v = (v << 8n) | BigInt(neg ? b[i + k] ^ 0xff : b[i + k]);
      i += n;
      key.push(neg ? -v : v);
    } else if (tag === DOUBLE) {
      need(b, i, 8);
      const neg = (b[i] & 0x80) === 0; // encoded negatives had every bit flipped
      for (let k = 0; k < 8; k++) {
        const c = b[i + k];
        f64.setUint8(k, neg ? c ^ 0xff : k === 0 ? c ^ 0x80 : c);
      }
      i += 8;
      key.push(f64.getFloat64(0));
    } else if (tag === FALSE) key.push(false);
    else if (tag === TRUE) key.push(true);
    else throw new KeyDecodeError(`invalid key part tag 0x${tag.toString(16)}`);
  }
  return key;
}

/** Unsigned byte-wise comparison (Deno KV key order on encoded keys). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** `b` followed by one more byte. */
export function withByte(b: Uint8Array, last: number): Uint8Array {
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  out[b.length] = last;
  return out;
}

/** True if `b` starts with `prefix`. */
export function startsWith(b: Uint8Array, prefix: Uint8Array): boolean {
  if (b.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (b[i] !== prefix[i]) return false;
  return true;
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** Base64url with `=` padding (the form of Deno KV's list cursors). */
export function base64url(b: Uint8Array): string {
  let s = "";
  let i = 0;
  for (; i + 2 < b.length; i += 3) {
    const v = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
    s += B64[v >> 18] + B64[(v >> 12) & 63] + B64[(v >> 6) & 63] + B64[v & 63];
  }
  const rest = b.length - i;
  if (rest === 1) {
    const v = b[i] << 16;
    s += B64[v >> 18] + B64[(v >> 12) & 63] + "==";
  } else if (rest === 2) {
    const v = (b[i] << 16) | (b[i + 1] << 8);
    s += B64[v >> 18] + B64[(v >> 12) & 63] + B64[(v >> 6) & 63] + "=";
  }
  return s;
}

/** Inverse of {@link base64url} (padding optional); null for anything else. */
export function fromBase64url(s: string): Uint8Array | null {
  const t = s.replace(/=+$/, "");
  if (t.length % 4 === 1) return null;
  const out = new Uint8Array(Math.floor((t.length * 3) / 4));
  let bits = 0;
  let acc = 0;
  let o = 0;
  for (let i = 0; i < t.length; i++) {
    const v = B64.indexOf(t[i]);
    if (v < 0) return null;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}
