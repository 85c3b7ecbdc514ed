/**
 * Small helpers shared by the command families: typed key access that answers WRONGTYPE, the
 * checked integer / float increments behind INCRBY, HINCRBY, INCRBYFLOAT and HINCRBYFLOAT, and
 * the count arguments of the pop and random-pick commands (with Redis's error texts).
 * @module
 */
import { Code } from "../../protocol/codes.ts";
import { asciiBytes, formatFloat, inInt64, parseInt64, parseIntArg } from "./bytes.ts";
import type { KeyEntry, Keyspace, KindTag } from "./keyspace.ts";
import { fail, notInteger, notPositive, wrongType } from "./reply.ts";
import type { ResultSink } from "./types.ts";

/**
 * The entry at `k` for writing when it holds `kind`: null when absent, false after writing
 * WRONGTYPE (an expired key is reclaimed, see `Keyspace.write`).
 */
export function writeOf(
  db: Keyspace,
  k: string,
  kind: KindTag,
  now: number,
  out: ResultSink,
): KeyEntry | null | false {
  const e = db.write(k, now);
  if (e === undefined) return null;
  if (e.kind !== kind) {
    wrongType(out);
    return false;
  }
  return e;
}

/** `a + b` within int64 (exact), or null after writing Redis's overflow error. */
export function addInt64(
  a: number | bigint,
  b: number | bigint,
  out: ResultSink,
): number | bigint | null {
  if (typeof a === "number" && typeof b === "number" && Number.isSafeInteger(a + b)) return a + b;
  const big = BigInt(a) + BigInt(b);
  if (!inInt64(big)) {
    fail(out, Code.NOT_INTEGER, "increment or decrement would overflow");
    return null;
  }
  const safe = big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER);
  return safe ? Number(big) : big;
}

/** The text of `a + b` as Redis stores it, or null after writing the NaN/Infinity error. */
export function addFloat(a: number, b: number, out: ResultSink): Uint8Array | null {
  const r = a + b;
  if (!Number.isFinite(r)) {
    fail(out, Code.NOT_INTEGER, "increment would produce NaN or Infinity");
    return null;
  }
  return asciiBytes(formatFloat(r));
}

/** The item at position `i` (in range) of `items`' iteration order: O(i), no copy. */
export function nthOf<T>(items: Iterable<T>, i: number): T {
  for (const x of items) if (i-- === 0) return x;
  throw new Error("index out of range");
}

const INT64_MIN = -(2n ** 63n);

/** True when `b` is exactly int64's minimum (-9223372036854775808), which Redis refuses. */
export function isInt64Min(b: Uint8Array): boolean {
  return parseInt64(b) === INT64_MIN;
}

/**
 * A pop count (LPOP/RPOP, SPOP, ZPOPMIN/ZPOPMAX): an integer ≥ 0, else Redis's "value is out of
 * range, must be positive" (for a non-integer too). Null after writing the error.
 */
export function popCount(arg: Uint8Array, out: ResultSink): number | null {
  const c = parseIntArg(arg);
  if (c === null || c < 0) {
    notPositive(out);
    return null;
  }
  return c;
}

/**
 * A random-pick count (SRANDMEMBER, HRANDFIELD, ZRANDMEMBER): any int64 but its minimum, and with
 * `pairs` (WITHVALUES/WITHSCORES) at least -2^62, with Redis's errors. Null after the error.
 */
export function randomCount(arg: Uint8Array, out: ResultSink, pairs: boolean): number | null {
  const c = parseIntArg(arg);
  if (c === null) {
    notInteger(out);
    return null;
  }
  if (isInt64Min(arg)) {
    fail(
      out,
      Code.NOT_INTEGER,
      "value is out of range, value must between -9223372036854775807 and 9223372036854775807",
    );
    return null;
  }
  if (pairs && c < -(2 ** 62)) {
    fail(out, Code.NOT_INTEGER, "value is out of range");
    return null;
  }
  return c;
}
