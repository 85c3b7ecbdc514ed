/**
 * Values of the Deno KV API: what structured clone keeps (Deno KV serializes with V8's
 * serializer), written as CBOR. Plain values map to plain CBOR; the rest are CBOR tags in
 * TinyKV's own range 19286..19294 (docs/kv.md lists them). `KvU64` has a fixed 12-byte encoding
 * (`d9 4b 56 48` + 8 big-endian bytes) that the server's KVATOMIC/KVSUM/KVMIN/KVMAX commands
 * (core/state/kv_ops.ts) recognise and add to.
 * @module
 */
import { Tag, valueCodec } from "../protocol/cbor.ts";

/** CBOR tag numbers of the value encoding (never renumber: they are stored). */
export const ValueTag = {
  U64: 19286,
  BIGINT: 19287,
  NEG_ZERO: 19288,
  MAP: 19289,
  SET: 19290,
  DATE: 19291,
  REGEXP: 19292,
  BINARY: 19293,
  ERROR: 19294,
} as const;

const U64_MAX = (1n << 64n) - 1n;

/** An unsigned 64-bit integer, as `Deno.KvU64`: the operand of `sum`, `min` and `max`. */
export class KvU64 {
  /** The value, 0 ≤ value < 2^64. */
  readonly value: bigint;

  /** Throws TypeError for a non-bigint, RangeError outside 0..2^64-1 (Deno's texts). */
  constructor(value: bigint) {
    if (typeof value !== "bigint") {
      throw new TypeError(`Value must be a bigint: received ${typeof value}`);
    }
    if (value < 0n) throw new RangeError(`Value must be a positive bigint: received ${value}`);
    if (value > U64_MAX) throw new RangeError("Value must fit in a 64-bit unsigned integer");
    this.value = value;
    Object.freeze(this);
  }

  /** The value as a bigint. */
  valueOf(): bigint {
    return this.value;
  }

  /** The value in decimal. */
  toString(): string {
    return this.value.toString();
  }

  /** `[KvU64: 5n]` in Deno's console. */
  [Symbol.for("Deno.customInspect")](): string {
    return `[KvU64: ${this.value}n]`;
  }
}

/** The 12 bytes that store a KvU64 (tag 19286 around an 8-byte big-endian byte string). */
export function encodeU64(v: bigint): Uint8Array {
  const out = new Uint8Array(12);
  out[0] = 0xd9;
  out[1] = ValueTag.U64 >> 8;
  out[2] = ValueTag.U64 & 0xff;
  out[3] = 0x48;
  new DataView(out.buffer).setBigUint64(4, v);
  return out;
}

const TYPED: Record<string, new (b: ArrayBuffer) => ArrayBufferView> = {
  Int8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
  DataView,
};

const ERRORS: Record<string, ErrorConstructor> = {
  Error,
  EvalError,
  RangeError,
  ReferenceError,
  SyntaxError,
  TypeError,
  URIError,
};

function notCloneable(v: unknown): TypeError {
  let s: string;
  try {
    s = String(v);
  } catch {
    s = typeof v;
  }
  return new TypeError(`${s} could not be cloned.`);
}

function copyBytes(v: ArrayBufferView | ArrayBuffer): Uint8Array {
  return v instanceof ArrayBuffer
    ? new Uint8Array(v.slice(0))
    : new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength) as ArrayBuffer);
}

/**
 * Deepest nesting of arrays, objects, Maps and Sets a value may have (the decoder's bound, so a
 * value that is written can always be read back).
 */
export const MAX_VALUE_DEPTH = 512;

/** Turns a JS value into the tree the CBOR encoder writes (see the module doc). */
function toWire(v: unknown, seen: Set<object>, depth: number): unknown {
  if (depth > MAX_VALUE_DEPTH) {
    throw new TypeError(`value nested too deeply (max ${MAX_VALUE_DEPTH} levels)`);
  }
  switch (typeof v) {
    case "undefined":
    case "boolean":
    case "string":
      return v;
    case "number":
      return Object.is(v, -0) ? new Tag(null, ValueTag.NEG_ZERO) : v;
    case "bigint":
      return new Tag(v.toString(), ValueTag.BIGINT);
    case "function":
    case "symbol":
      throw notCloneable(v);
  }
  if (v === null) return null;
  const o = v as object;
  if (o instanceof KvU64) return new Tag(encodeU64(o.value).subarray(4), ValueTag.U64);
  if (o instanceof Uint8Array && o.constructor === Uint8Array) return o;
  if (ArrayBuffer.isView(o) || o instanceof ArrayBuffer) {
    const name = o instanceof ArrayBuffer ? "ArrayBuffer" : o.constructor.name;
    if (name !== "ArrayBuffer" && !(name in TYPED)) {
      // a Uint8Array subclass (Bun's Buffer) is stored as a Uint8Array
      if (o instanceof Uint8Array) return copyBytes(o);
      throw notCloneable(o);
    }
    return new Tag([name, copyBytes(o)], ValueTag.BINARY);
  }
  if (o instanceof Date) return new Tag(o.getTime(), ValueTag.DATE);
  if (o instanceof RegExp) return new Tag([o.source, o.flags], ValueTag.REGEXP);
  if (o instanceof Error) return new Tag([o.name, o.message], ValueTag.ERROR);
  if (o instanceof WeakMap || o instanceof WeakSet || o instanceof Promise) throw notCloneable(o);
  if (seen.has(o)) throw new TypeError("cyclic values are not supported by TinyKV's KV API");
  seen.add(o);
  let out: unknown;
  if (Array.isArray(o)) {
    const a = new Array(o.length);
    for (let i = 0; i < o.length; i++) a[i] = toWire(o[i], seen, depth + 1);
    out = a;
  } else if (o instanceof Map) {
    const a: unknown[] = [];
    for (const [k, x] of o) a.push(toWire(k, seen, depth + 1), toWire(x, seen, depth + 1));
    out = new Tag(a, ValueTag.MAP);
  } else if (o instanceof Set) {
    const a: unknown[] = [];
    for (const x of o) a.push(toWire(x, seen, depth + 1));
    out = new Tag(a, ValueTag.SET);
  } else {
    const m = new Map<string, unknown>();
    for (const k of Object.keys(o)) {
      m.set(k, toWire((o as Record<string, unknown>)[k], seen, depth + 1));
    }
    out = m;
  }
  seen.delete(o);
  return out;
}

/** Thrown for stored bytes that are not a KV value (e.g. written by a Redis client). */
export class ValueDecodeError extends Error {}

function bad(what: string): never {
  throw new ValueDecodeError(`not a TinyKV KV value: ${what}`);
}

function fromWire(w: unknown, depth: number): unknown {
  if (depth > MAX_VALUE_DEPTH) bad("nested too deeply");
  if (w === null || typeof w !== "object") return w;
  if (w instanceof Uint8Array) return new Uint8Array(w); // a Buffer on Bun: a plain copy
  if (Array.isArray(w)) {
    const a = new Array(w.length);
    for (let i = 0; i < w.length; i++) a[i] = fromWire(w[i], depth + 1);
    return a;
  }
  if (w instanceof Map) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of w) {
      if (typeof k !== "string") bad("object key not a string");
      Object.defineProperty(o, k, {
        value: fromWire(x, depth + 1),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return o;
  }
  if (!(w instanceof Tag)) bad("unexpected CBOR item");
  const t = w as { tag: number; value: unknown };
  const p = t.value;
  switch (t.tag) {
    case ValueTag.U64: {
      if (!(p instanceof Uint8Array) || p.length !== 8) bad("KvU64 payload");
      return new KvU64(new DataView(p.buffer, p.byteOffset, 8).getBigUint64(0));
    }
    case ValueTag.BIGINT:
      if (typeof p !== "string" || !/^-?\d{1,100000}$/.test(p)) bad("bigint payload");
      return BigInt(p);
    case ValueTag.NEG_ZERO:
      return -0;
    case ValueTag.MAP: {
      if (!Array.isArray(p) || p.length % 2 !== 0) bad("Map payload");
      const m = new Map();
      for (let i = 0; i < p.length; i += 2) {
        m.set(fromWire(p[i], depth + 1), fromWire(p[i + 1], depth + 1));
      }
      return m;
    }
    case ValueTag.SET: {
      if (!Array.isArray(p)) bad("Set payload");
      const s = new Set();
      for (const x of p) s.add(fromWire(x, depth + 1));
      return s;
    }
    case ValueTag.DATE:
      if (typeof p !== "number") bad("Date payload");
      return new Date(p);
    case ValueTag.REGEXP:
      if (!Array.isArray(p) || typeof p[0] !== "string" || typeof p[1] !== "string") {
        bad("RegExp payload");
      }
      return new RegExp(p[0], p[1]);
    case ValueTag.BINARY: {
      if (!Array.isArray(p) || typeof p[0] !== "string" || !(p[1] instanceof Uint8Array)) {
        bad("binary payload");
      }
      const buf = new Uint8Array(p[1]).buffer;
      if (p[0] === "ArrayBuffer") return buf;
      const C = TYPED[p[0]];
      if (C === undefined) bad(`binary kind ${p[0]}`);
      return new C(buf);
    }
    case ValueTag.ERROR: {
      if (!Array.isArray(p) || typeof p[0] !== "string" || typeof p[1] !== "string") {
        bad("Error payload");
      }
      const E = ERRORS[p[0]] ?? Error;
      const e = new E(p[1]);
      if (E === Error && p[0] !== "Error") e.name = p[0];
      return e;
    }
  }
  return bad(`tag ${t.tag}`);
}

/** Encodes a value (throws TypeError for what structured clone refuses: functions, symbols). */
export function encodeValue(v: unknown): Uint8Array {
  if (v instanceof KvU64) return encodeU64(v.value);
  return new Uint8Array(valueCodec.encode(toWire(v, new Set(), 0)));
}

/** Decodes bytes written by {@link encodeValue}; throws {@link ValueDecodeError} otherwise. */
export function decodeValue(b: Uint8Array): unknown {
  let w: unknown;
  try {
    w = valueCodec.decode(b);
  } catch (err) {
    bad((err as Error).message);
  }
  return fromWire(w, 0);
}
