/**
 * Turns a command as it arrives on the wire (an argv array of strings/bytes, or the plan's
 * space-separated string form) into binary-safe argv for the state machine.
 * @module
 */
import { SlabPool } from "../state/bytes.ts";
import type { Argv } from "../state/types.ts";

const enc = new TextEncoder();

/** Splits the string form `set k "a b"` into words; double quotes group, `\"` escapes. */
export function splitCommandString(line: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  const n = line.length;
  while (i < n) {
    while (i < n && /\s/.test(line[i])) i++;
    if (i >= n) break;
    let word = "";
    if (line[i] === '"') {
      i++;
      let closed = false;
      while (i < n) {
        const ch = line[i];
        if (ch === "\\" && i + 1 < n) {
          word += line[i + 1];
          i += 2;
        } else if (ch === '"') {
          i++;
          closed = true;
          break;
        } else {
          word += ch;
          i++;
        }
      }
      if (!closed) return null;
    } else {
      while (i < n && !/\s/.test(line[i])) word += line[i++];
    }
    out.push(word);
  }
  return out;
}

// Text arguments become bytes here. Most are short ASCII (names, keys, small values): copying
// them by hand into a transient slab avoids a TextEncoder call per argument, which on Deno is a
// native op (measured: ~22% of the server's CPU at batch 100). The state machine copies what it
// keeps (`own()` in core/state/bytes.ts), so these views never pin stored data.
const ARG_FAST_MAX = 256;
const args = new SlabPool(64 * 1024);

function textBytes(s: string): Uint8Array {
  const n = s.length;
  if (n > ARG_FAST_MAX) return enc.encode(s);
  const out = args.take(n);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return enc.encode(s); // non-ASCII: UTF-8 by the book
    out[i] = c;
  }
  return out;
}

/**
 * Normalises one wire command to argv. Returns a string describing the problem when the command
 * is not an array of strings/byte strings or a string.
 */
export function toArgv(cmd: unknown): Argv | string {
  if (typeof cmd === "string") {
    const words = splitCommandString(cmd);
    if (words === null) return "unbalanced quotes in command string";
    if (words.length === 0) return "empty command";
    return words.map(textBytes);
  }
  if (!Array.isArray(cmd)) return "command must be an array of strings/byte strings or a string";
  if (cmd.length === 0) return "empty command";
  const argv: Argv = new Array(cmd.length);
  for (let i = 0; i < cmd.length; i++) {
    const a = cmd[i];
    if (a instanceof Uint8Array) argv[i] = a;
    else if (typeof a === "string") argv[i] = textBytes(a);
    else if (typeof a === "number" && Number.isFinite(a)) argv[i] = enc.encode(String(a));
    else return `argument ${i} must be a string or byte string`;
  }
  return argv;
}

/** Upper-case ASCII name of argv[0] (short names only; used off the hot path). */
export function commandName(argv: Argv): string {
  const a = argv[0];
  let s = "";
  for (let i = 0; i < a.length && i < 32; i++) s += String.fromCharCode(a[i]);
  return s.toUpperCase();
}
