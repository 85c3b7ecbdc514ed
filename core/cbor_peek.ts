/**
 * Peeks into CBOR without decoding it: the element count of a batch's commands array (so the
 * server can size a response while the commands stay encoded) and whether every command only
 * reads (so the node can serve the batch by ReadIndex). Both read heads with {@link readHead}.
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

/** The length of the definite-length CBOR array in `bytes`, or -1 if `bytes` does not start with one. */
export function cborArrayLength(bytes: Uint8Array): number {
  // 64-bit or indefinite lengths are not accepted for batches.
  if (bytes.length === 0 || bytes[0] >> 5 !== 4) return -1; // major type 4 = array
  return readHead(bytes, 0) < 0 ? -1 : headerValue;
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
