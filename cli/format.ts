/**
 * Prints results the way redis-cli does: `"bulk"` strings quoted, `(integer) n`, `(nil)`,
 * `(error) CODE message`, arrays numbered (nested arrays indented), and a `--raw` mode for scripts.
 * @module
 */
import type { WireValue as Value } from "../protocol/messages.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true });
const lossy = new TextDecoder();

/** A byte string as a quoted, escaped literal (`"a\nb"`, invalid UTF-8 as `\xHH`). */
export function quoteBytes(bytes: Uint8Array): string {
  let text: string | null;
  try {
    text = utf8.decode(bytes);
  } catch {
    text = null;
  }
  let out = '"';
  if (text !== null) {
    for (const ch of text) out += escapeChar(ch);
  } else {
    for (const b of bytes) {
      out += b >= 0x20 && b < 0x7f ? escapeChar(String.fromCharCode(b)) : hex(b);
    }
  }
  return out + '"';
}

function hex(b: number): string {
  return "\\x" + b.toString(16).padStart(2, "0");
}

function escapeChar(ch: string): string {
  switch (ch) {
    case '"':
      return '\\"';
    case "\\":
      return "\\\\";
    case "\n":
      return "\\n";
    case "\r":
      return "\\r";
    case "\t":
      return "\\t";
    default: {
      const c = ch.codePointAt(0)!;
      return c < 0x20 || c === 0x7f ? hex(c) : ch;
    }
  }
}

/** Formats a value redis-cli style (TTY mode). `indent` is used for nested arrays. */
export function formatValue(v: Value, indent = 0): string {
  if (v === null) return "(nil)";
  if (typeof v === "number") return `(integer) ${v}`;
  if (typeof v === "string") return v;
  if (v instanceof Uint8Array) return quoteBytes(v);
  if (v.length === 0) return "(empty array)";
  const width = String(v.length).length;
  const lines: string[] = [];
  for (let i = 0; i < v.length; i++) {
    const label = `${String(i + 1).padStart(width)}) `;
    const pad = i === 0 ? "" : " ".repeat(indent);
    lines.push(pad + label + formatValue(v[i], indent + label.length));
  }
  return lines.join("\n");
}

/** Formats a value for scripts: raw bytes, plain numbers, empty line for nil, one item a line. */
export function formatRaw(v: Value): string {
  if (v === null) return "";
  if (typeof v === "number") return String(v);
  if (typeof v === "string") return v;
  if (v instanceof Uint8Array) return lossy.decode(v);
  return v.map(formatRaw).join("\n");
}

/** Formats an error reply: `(error) CODE message` (raw mode: `CODE message`). */
export function formatError(codeName: string, message: string, raw: boolean): string {
  return raw ? `${codeName} ${message}` : `(error) ${codeName} ${message}`;
}
