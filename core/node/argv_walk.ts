/**
 * The commands of a batch as argv, read straight from the batch's CBOR bytes: each argument is a
 * view into the entry (byte and text strings alike: a CBOR text string's bytes are its UTF-8,
 * which is what a text argument becomes anyway), with no intermediate JS strings or arrays from a
 * generic decoder. Only the shapes clients send are handled — an array of commands, each an array
 * of byte strings, text strings or integers; anything else (a command in the string form, a float,
 * a tag) returns null and the applier decodes the batch the general way (cbor-x + `toArgv`), with
 * the same results. The state machine copies whatever it keeps, so the views never pin an entry.
 * @module
 */
import type { Argv } from "../state/types.ts";

const enc = new TextEncoder();

/** Reads a CBOR head at `p`: [major, value, next offset], or null past `end` or for info 28..31. */
function head(b: Uint8Array, p: number, end: number): [number, number, number] | null {
  if (p >= end) return null;
  const ib = b[p];
  const major = ib >> 5;
  const info = ib & 31;
  if (info < 24) return [major, info, p + 1];
  if (info === 24) return p + 2 <= end ? [major, b[p + 1], p + 2] : null;
  if (info === 25) return p + 3 <= end ? [major, (b[p + 1] << 8) | b[p + 2], p + 3] : null;
  if (info === 26) {
    if (p + 5 > end) return null;
    const v = ((b[p + 1] << 24) >>> 0) + (b[p + 2] << 16) + (b[p + 3] << 8) + b[p + 4];
    return [major, v, p + 5];
  }
  if (info === 27) {
    if (p + 9 > end) return null;
    let v = 0;
    for (let i = 1; i <= 8; i++) v = v * 256 + b[p + i];
    return Number.isSafeInteger(v) ? [major, v, p + 9] : null;
  }
  return null; // indefinite lengths and reserved infos: the general path
}

/** The batch's commands as argv, or null when a shape needs the general decoder. */
export function walkCommands(b: Uint8Array): Argv[] | null {
  const end = b.length;
  const top = head(b, 0, end);
  if (top === null || top[0] !== 4) return null;
  const [, n] = top;
  let p = top[2];
  const out: Argv[] = new Array(n);
  for (let c = 0; c < n; c++) {
    const h = head(b, p, end);
    if (h === null || h[0] !== 4 || h[1] === 0) return null;
    const argc = h[1];
    p = h[2];
    const argv: Argv = new Array(argc);
    for (let i = 0; i < argc; i++) {
      const a = head(b, p, end);
      if (a === null) return null;
      const [major, v, q] = a;
      if (major === 2 || major === 3) {
        if (q + v > end) return null;
        argv[i] = b.subarray(q, q + v);
        p = q + v;
      } else if (major === 0) {
        argv[i] = enc.encode(String(v));
        p = q;
      } else if (major === 1) {
        argv[i] = enc.encode(String(-1 - v));
        p = q;
      } else return null;
    }
    out[c] = argv;
  }
  return p === end ? out : null;
}
