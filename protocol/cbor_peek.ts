/**
 * Peeks into CBOR without decoding it. {@link checkBatch} validates a batch's commands at
 * admission and again before apply (one pass, no allocation); {@link isReadOnlyBatch} tells
 * whether every command only reads (so the node can serve the batch by ReadIndex). Both read
 * heads with {@link readHead}.
 * @module
 */

let headerValue = 0;

/** Reads the CBOR head at `p`; sets `headerValue` (the length/count) and returns the offset after it, or -1. */
function readHead(bytes: Uint8Array, p: number): number {
  const info = bytes[p] & 0x1f;
  if (info < 24) {
    headerValue = info;
    return p + 1;
  }
  if (info === 24 && p + 2 <= bytes.length) {
    headerValue = bytes[p + 1];
    return p + 2;
  }
  if (info === 25 && p + 3 <= bytes.length) {
    headerValue = (bytes[p + 1] << 8) | bytes[p + 2];
    return p + 3;
  }
  if (info === 26 && p + 5 <= bytes.length) {
    headerValue = ((bytes[p + 1] << 24) >>> 0) + (bytes[p + 2] << 16) + (bytes[p + 3] << 8) +
      bytes[p + 4];
    return p + 5;
  }
  return -1;
}

/** Most levels of nesting accepted in a batch: the commands array, a command, and 6 more. */
export const MAX_BATCH_NESTING = 8;

/** {@link checkBatch}: the batch is not well-formed CBOR of the accepted shape. */
export const BATCH_MALFORMED = -1;
/** {@link checkBatch}: the batch holds more commands than allowed. */
export const BATCH_TOO_MANY = -2;

/** Most levels of nesting accepted in a whole client frame: the message map, then a batch. */
export const MAX_FRAME_NESTING = MAX_BATCH_NESTING + 2;

/** Items still expected at each open container level (reused: no allocation per call). */
const open = new Float64Array(MAX_FRAME_NESTING);
let problem = "";

/** Why the last {@link checkBatch} failed (meaningful only after a negative answer). */
export function batchProblem(): string {
  return problem;
}

function fail(why: string, at: number): number {
  problem = `${why} at byte ${at}`;
  return BATCH_MALFORMED;
}

/**
 * Validates the CBOR encoding of a batch's commands in one pass, without decoding it: a
 * definite-length array of at most `maxCommands` items, each one well-formed CBOR (definite
 * lengths only, no tags, at most {@link MAX_BATCH_NESTING} levels deep, every claimed length or
 * count backed by bytes actually present), and nothing after the array. Whether an item is a
 * command `toArgv` accepts is left to apply (one bad command fails alone, with SYNTAX).
 * Returns the number of commands, or {@link BATCH_MALFORMED} / {@link BATCH_TOO_MANY} with the
 * reason in {@link batchProblem}. Counts are checked against the bytes left before anything is
 * trusted, so a header claiming 2³²−1 elements fails at once.
 */
export function checkBatch(bytes: Uint8Array, maxCommands: number): number {
  const end = bytes.length;
  if (end === 0) return fail("empty commands", 0);
  if (bytes[0] >> 5 !== 4 || (bytes[0] & 0x1f) > 26) {
    return fail("commands must be a definite-length CBOR array", 0);
  }
  let p = readHead(bytes, 0);
  if (p < 0) return fail("truncated array header", 0);
  const n = headerValue;
  if (n > maxCommands) {
    problem = `${n} commands exceed the limit of ${maxCommands} per batch`;
    return BATCH_TOO_MANY;
  }
  if (n > end - p) return fail(`array claims ${n} commands but only ${end - p} bytes follow`, 0);
  if (n > 0) p = walkItems(bytes, p, n, MAX_BATCH_NESTING);
  if (p < 0) return BATCH_MALFORMED;
  return p === end ? n : fail("trailing bytes after the commands array", p);
}

/**
 * Validates one whole client frame (a CBOR map) the same way before it is decoded: definite
 * lengths, no tags (cbor-x would expand value-sharing tags 28/29 into exponentially many copies),
 * every count backed by bytes, bounded nesting, nothing after the item. True when it is sound.
 */
export function checkFrame(bytes: Uint8Array): boolean {
  if (bytes.length === 0) {
    fail("empty frame", 0);
    return false;
  }
  const p = walkItems(bytes, 0, 1, MAX_FRAME_NESTING);
  if (p < 0) return false;
  if (p !== bytes.length) {
    fail("trailing bytes after the message", p);
    return false;
  }
  return true;
}

/**
 * Walks `count` consecutive CBOR items from `p` (they are the items of a container at level 0;
 * containers inside may open up to `maxDepth` levels). Returns the offset after them, or
 * {@link BATCH_MALFORMED} with the reason in {@link batchProblem}.
 */
function walkItems(bytes: Uint8Array, p: number, count: number, maxDepth: number): number {
  const end = bytes.length;
  open[0] = count;
  let depth = 1;
  while (depth > 0) {
    if (p >= end) return fail("truncated CBOR", p);
    const ib = bytes[p];
    const major = ib >> 5;
    const info = ib & 0x1f;
    if (info > 27) return fail(info === 31 ? "indefinite length" : "reserved head", p);
    let q: number;
    if (major === 7) {
      // false/true/null/undefined, half/single/double floats; other simple values are refused.
      if (info < 20 || info === 24) return fail("unsupported simple value", p);
      q = p + (info === 25 ? 3 : info === 26 ? 5 : info === 27 ? 9 : 1);
      if (q > end) return fail("truncated float", p);
    } else if (major === 6) {
      return fail("tags are not accepted", p);
    } else if (info === 27) {
      if (major > 1) return fail("64-bit length", p);
      q = p + 9; // 64-bit integer
      if (q > end) return fail("truncated integer", p);
    } else {
      q = readHead(bytes, p);
      if (q < 0) return fail("truncated head", p);
      if (major === 2 || major === 3) {
        if (headerValue > end - q) {
          return fail(`string claims ${headerValue} bytes but only ${end - q} follow`, p);
        }
        q += headerValue;
      } else if (major === 4 || major === 5) {
        const items = major === 4 ? headerValue : 2 * headerValue;
        if (items > end - q) {
          return fail(`container claims ${items} items but only ${end - q} bytes follow`, p);
        }
        if (items > 0) {
          if (depth >= maxDepth) return fail("nested too deep", p);
          open[depth++] = items;
          p = q;
          continue;
        }
      }
    }
    p = q;
    // One item done: close every container it completes.
    while (depth > 0 && --open[depth - 1] === 0) depth--;
  }
  return p;
}

/**
 * True when `bytes` is a non-empty CBOR array of argv arrays (byte or text strings) whose every
 * command name satisfies `isRead`. Walks the encoding without decoding it and stops at the first
 * write, so a write batch costs one name lookup. Anything unusual (string-form commands, other
 * types, indefinite lengths) answers false, which only means "send it through the log".
 */
export function isReadOnlyBatch(bytes: Uint8Array, isRead: (name: Uint8Array) => boolean): boolean {
  const end = bytes.length;
  if (end === 0 || bytes[0] >> 5 !== 4) return false;
  let p = readHead(bytes, 0);
  if (p < 0) return false;
  const n = headerValue;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    if (p >= end || bytes[p] >> 5 !== 4) return false;
    p = readHead(bytes, p);
    if (p < 0) return false;
    const argc = headerValue;
    if (argc === 0) return false;
    for (let a = 0; a < argc; a++) {
      if (p >= end) return false;
      const major = bytes[p] >> 5;
      if (major !== 2 && major !== 3) return false;
      const q = readHead(bytes, p);
      if (q < 0 || q + headerValue > end) return false;
      if (a === 0 && !isRead(bytes.subarray(q, q + headerValue))) return false;
      p = q + headerValue;
    }
  }
  return p === end;
}

/**
 * Where each argument of each command of a batch lies in `bytes`, when the batch has the usual
 * shape: a definite-length array of non-empty arrays of byte strings and ASCII text strings (for
 * those, the bytes are exactly what decoding and re-encoding would give). The answer is flat:
 * the number of commands, then per command its argument count and each argument's start and end
 * offset (the first command's count is at index 1). Anything else
 * (string-form commands, numbers, non-ASCII text, indefinite lengths) answers null: the caller
 * decodes it the general way. Every length is checked against the bytes present; a count never
 * sizes an allocation before its bytes are seen. Apply reads the commonest commands straight from
 * these offsets (no view, no argv array per command: #11) and makes views for the rest
 * ({@link argvAt}).
 */
export function commandSpans(bytes: Uint8Array): number[] | null {
  const end = bytes.length;
  if (end === 0 || bytes[0] >> 5 !== 4) return null;
  let p = readHead(bytes, 0);
  if (p < 0) return null;
  const n = headerValue;
  if (n > end - p) return null;
  const out: number[] = [n];
  for (let i = 0; i < n; i++) {
    if (p >= end || bytes[p] >> 5 !== 4) return null;
    p = readHead(bytes, p);
    if (p < 0) return null;
    const argc = headerValue;
    if (argc === 0 || argc > end - p) return null;
    out.push(argc);
    for (let a = 0; a < argc; a++) {
      if (p >= end) return null;
      const major = bytes[p] >> 5;
      if (major !== 2 && major !== 3) return null;
      const q = readHead(bytes, p);
      if (q < 0 || headerValue > end - q) return null;
      const e = q + headerValue;
      if (major === 3) { for (let j = q; j < e; j++) if (bytes[j] >= 0x80) return null; }
      out.push(q, e);
      p = e;
    }
  }
  return p === end ? out : null;
}

/** The argv of the command whose count is at `spans[at]` (see {@link commandSpans}), as views. */
export function argvAt(bytes: Uint8Array, spans: readonly number[], at: number): Uint8Array[] {
  const argc = spans[at];
  const argv: Uint8Array[] = new Array(argc);
  for (let a = 0; a < argc; a++) {
    argv[a] = bytes.subarray(spans[at + 1 + 2 * a], spans[at + 2 + 2 * a]);
  }
  return argv;
}

/**
 * The commands of a batch as argv arrays whose arguments are views into `bytes` — no decoding, no
 * copy — when the batch has the usual shape ({@link commandSpans}), else null.
 */
export function argvViews(bytes: Uint8Array): Uint8Array[][] | null {
  const spans = commandSpans(bytes);
  if (spans === null) return null;
  const out: Uint8Array[][] = [];
  for (let at = 1; at < spans.length; at += 1 + 2 * spans[at]) out.push(argvAt(bytes, spans, at));
  return out;
}
