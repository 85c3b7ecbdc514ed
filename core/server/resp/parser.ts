/**
 * Incremental RESP request parser: arrays of bulk strings (what every client sends) and inline
 * commands (telnet style). Bytes stay bytes: a command is handed on as offsets into a buffer
 * (valid only during the call), never as strings. Counts are never trusted: an array count or a
 * bulk length is checked against the limits before anything is buffered for it, and the bytes
 * held for one unfinished command never exceed `maxCommandBytes`. Requests are flat (RESP
 * requests have no nesting), so a nested array is a protocol error, not recursion.
 *
 * The common case costs no copy: a chunk holding whole commands is parsed where it lies; only
 * the tail of an unfinished command is copied into the parser's own buffer.
 * @module
 */

/** Limits (from the node's config). */
export interface ParserLimits {
  /** Most bytes one command (all its framing and arguments) may take. */
  maxCommandBytes: number;
  /** Most arguments in one command. */
  maxArgs: number;
  /** Longest inline command line (Redis: 64 KiB). */
  maxInlineBytes: number;
  /** The clock `partialSince` is read from (default `Date.now`; the server passes its own). */
  now?: () => number;
}

/**
 * Receives parsed commands. `buf[starts[i]..ends[i])` is argument `i` of `n`; the views are valid
 * only during the call. Return false to pause the parser (it keeps the rest for {@link
 * RespParser.resume}).
 */
export type CommandSink = (
  buf: Uint8Array,
  starts: Int32Array,
  ends: Int32Array,
  n: number,
) => boolean;

const CR = 13;
const LF = 10;
/** Longest `*N` / `$N` header line accepted (digits plus sign). */
const MAX_HEADER_LINE = 32;

/** The parser's verdict on a chunk. */
export const enum Feed {
  /** Everything available was consumed (a command may be half-received). */
  OK = 0,
  /** The sink paused the parser. */
  PAUSED = 1,
  /** A protocol error; see {@link RespParser.error}. The connection must be closed. */
  ERROR = 2,
}

/** One connection's parser. */
export class RespParser {
  readonly #lim: ParserLimits;
  /** Bytes of the unfinished command (and, when paused, everything after it), at [0, #len). */
  #buf: Uint8Array = new Uint8Array(0);
  #len = 0;
  #starts = new Int32Array(16);
  #ends = new Int32Array(16);
  #paused = false;
  /** Why the stream was refused (after {@link Feed.ERROR}). */
  error = "";
  /** When (ms, `limits.now`) an unfinished command's first byte came; 0 when none is pending. */
  partialSince = 0;

  constructor(limits: ParserLimits) {
    this.#lim = limits;
  }

  /** Bytes held for an unfinished command (or while paused). */
  get buffered(): number {
    return this.#len;
  }

  /** True while paused by the sink. */
  get paused(): boolean {
    return this.#paused;
  }

  /** Drops everything held (the connection is gone). */
  release(): void {
    this.#buf = new Uint8Array(0);
    this.#len = 0;
  }

  /** Parses `chunk` (valid only during the call), handing each whole command to `sink`. */
  feed(chunk: Uint8Array, sink: CommandSink): Feed {
    if (this.#len === 0 && !this.#paused) return this.#run(chunk, chunk.length, sink, true);
    if (this.#paused && this.#len + chunk.length > this.#bound()) {
      this.error = "too much input while the connection waits (a failed AUTH is delayed)";
      return Feed.ERROR;
    }
    // Held bytes stay within the bound plus one chunk (the runtime's read size).
    this.#append(chunk);
    if (this.#paused) return Feed.PAUSED;
    return this.#run(this.#buf, this.#len, sink, false);
  }

  /** Continues after a pause with the bytes held. */
  resume(sink: CommandSink): Feed {
    this.#paused = false;
    if (this.#len === 0) return Feed.OK;
    return this.#run(this.#buf, this.#len, sink, false);
  }

  #bound(): number {
    return this.#lim.maxCommandBytes + MAX_HEADER_LINE * 2;
  }

  #append(chunk: Uint8Array): void {
    const need = this.#len + chunk.length;
    if (need > this.#buf.length) {
      const grown = new Uint8Array(
        Math.max(need, Math.min(Math.max(2 * this.#buf.length, 1024), this.#bound())),
      );
      grown.set(this.#buf.subarray(0, this.#len));
      this.#buf = grown;
    }
    this.#buf.set(chunk, this.#len);
    this.#len = need;
  }

  /** Keeps `src[from, end)` as the held bytes (src may be the parser's own buffer). */
  #keep(src: Uint8Array, from: number, end: number, external: boolean): void {
    const n = end - from;
    if (n === 0) {
      this.#len = 0;
      if (this.#buf.length > 64 * 1024) this.#buf = new Uint8Array(0);
      return;
    }
    if (external) {
      this.#len = 0;
      this.#append(src.subarray(from, end));
    } else if (from > 0) {
      this.#buf.copyWithin(0, from, end);
      this.#len = n;
    }
  }

  #run(src: Uint8Array, end: number, sink: CommandSink, external: boolean): Feed {
    let p = 0;
    while (p < end) {
      const q = src[p] === 42 /* '*' */ ? this.#multibulk(src, p, end) : this.#inline(src, p, end);
      if (q === -2) return Feed.ERROR;
      if (q === -1) break; // incomplete
      if (q === -3) {
        p = this.#skip;
        continue; // empty line or empty array: nothing to run
      }
      p = q;
      if (!sink(this.#cmdBuf, this.#starts, this.#ends, this.#argc)) {
        this.#inlineBuf = null;
        this.#keep(src, p, end, external);
        this.#paused = true;
        this.partialSince = 0;
        return Feed.PAUSED;
      }
      this.#inlineBuf = null;
    }
    this.#keep(src, p, end, external);
    if (this.#len === 0) this.partialSince = 0;
    else if (this.partialSince === 0) this.partialSince = this.#lim.now?.() ?? Date.now();
    if (this.#len > this.#bound()) {
      this.error = `command exceeds ${this.#lim.maxCommandBytes} bytes (batch_max_bytes)`;
      return Feed.ERROR;
    }
    return Feed.OK;
  }

  // Results of the last parse step (fields, not objects: nothing allocated per command).
  #argc = 0;
  #cmdBuf: Uint8Array = new Uint8Array(0);
  #inlineBuf: Uint8Array | null = null;
  #skip = 0;
  #num = 0;

  #fail(why: string): number {
    this.error = `Protocol error: ${why}`;
    return -2;
  }

  /** Reads a decimal header line at p (after the type byte); sets #num; offset after CRLF, -1, or -2. */
  #header(src: Uint8Array, p: number, end: number, what: string): number {
    let i = p;
    let neg = false;
    if (i < end && src[i] === 45 /* '-' */) {
      neg = true;
      i++;
    }
    let v = 0;
    let digits = 0;
    while (i < end) {
      const c = src[i];
      if (c >= 48 && c <= 57) {
        v = v * 10 + (c - 48);
        if (++digits > 18) return this.#fail(`invalid ${what} length`);
        i++;
      } else break;
    }
    if (i >= end) return i - p > MAX_HEADER_LINE ? this.#fail(`too big ${what} count string`) : -1;
    if (src[i] !== CR) return this.#fail(`invalid ${what} length`);
    if (i + 1 >= end) return -1;
    if (src[i + 1] !== LF || digits === 0) return this.#fail(`invalid ${what} length`);
    this.#num = neg ? -v : v;
    return i + 2;
  }

  #grow(n: number): void {
    if (n <= this.#starts.length) return;
    let cap = this.#starts.length;
    while (cap < n) cap *= 2;
    const s = new Int32Array(cap);
    s.set(this.#starts);
    const e = new Int32Array(cap);
    e.set(this.#ends);
    this.#starts = s;
    this.#ends = e;
  }

  /** `*N\r\n` then N bulk strings. Offset after the command, -1 (incomplete), -2 (error), -3 (empty). */
  #multibulk(src: Uint8Array, p0: number, end: number): number {
    let p = this.#header(src, p0 + 1, end, "multibulk");
    if (p < 0) return p;
    const n = this.#num;
    if (n <= 0 || n > this.#lim.maxArgs) {
      if (n === 0 || n === -1) {
        this.#skip = p; // Redis ignores *0 and *-1
        return -3;
      }
      return this.#fail("invalid multibulk length");
    }
    const max = this.#lim.maxCommandBytes;
    for (let i = 0; i < n; i++) {
      if (p >= end) return this.#incomplete(p0, p, end);
      if (src[p] !== 36 /* '$' */) {
        const c = src[p];
        return this.#fail(
          `expected '$', got '${c >= 32 && c < 127 ? String.fromCharCode(c) : "?"}'`,
        );
      }
      const q = this.#header(src, p + 1, end, "bulk");
      if (q === -2) return q;
      if (q === -1) return this.#incomplete(p0, p, end);
      const len = this.#num;
      if (len < 0 || len > max) return this.#fail("invalid bulk length");
      if (q + len + 2 > end) {
        // Refuse at once what can never fit, before waiting for its bytes.
        if (q + len + 2 - p0 > this.#bound()) {
          this.error = `command exceeds ${max} bytes (batch_max_bytes)`;
          return -2;
        }
        return -1;
      }
      if (src[q + len] !== CR || src[q + len + 1] !== LF) {
        return this.#fail("expected CRLF after bulk");
      }
      if (i >= this.#starts.length) this.#grow(i + 1);
      this.#starts[i] = q;
      this.#ends[i] = q + len;
      p = q + len + 2;
    }
    this.#argc = n;
    this.#cmdBuf = src;
    return p;
  }

  #incomplete(p0: number, p: number, _end: number): number {
    if (p - p0 > this.#bound()) {
      this.error = `command exceeds ${this.#lim.maxCommandBytes} bytes (batch_max_bytes)`;
      return -2;
    }
    return -1;
  }

  /** An inline command line (space-separated, Redis quoting). */
  #inline(src: Uint8Array, p: number, end: number): number {
    const limit = Math.min(end, p + this.#lim.maxInlineBytes + 2);
    let nl = -1;
    for (let i = p; i < limit; i++) {
      if (src[i] === LF) {
        nl = i;
        break;
      }
    }
    if (nl < 0) {
      if (end - p > this.#lim.maxInlineBytes) return this.#fail("too big inline request");
      return -1;
    }
    const lineEnd = nl > p && src[nl - 1] === CR ? nl - 1 : nl;
    const words = splitInline(src, p, lineEnd);
    if (words === null) return this.#fail("unbalanced quotes in request");
    if (words.length === 0) {
      this.#skip = nl + 1;
      return -3;
    }
    if (words.length > this.#lim.maxArgs) return this.#fail("invalid multibulk length");
    // Inline commands are rare (telnet, health checks): their words are copied into one buffer.
    let total = 0;
    for (const w of words) total += w.length;
    const buf = new Uint8Array(total);
    this.#grow(words.length);
    let o = 0;
    for (let i = 0; i < words.length; i++) {
      buf.set(words[i], o);
      this.#starts[i] = o;
      o += words[i].length;
      this.#ends[i] = o;
    }
    this.#inlineBuf = buf;
    this.#cmdBuf = buf;
    this.#argc = words.length;
    return nl + 1;
  }
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  c |= 0x20;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/**
 * Splits an inline line as Redis's sdssplitargs does: spaces separate; "double quotes" with
 * \n \r \t \b \a \\ \" \xHH escapes; 'single quotes' with \' ; a closing quote must be followed
 * by a space or the end. Null when quotes are unbalanced.
 */
export function splitInline(src: Uint8Array, p: number, end: number): Uint8Array[] | null {
  const out: Uint8Array[] = [];
  let i = p;
  const isSpace = (c: number) =>
    c === 32 || c === 9 || c === 10 || c === 13 || c === 11 || c === 12;
  while (true) {
    while (i < end && isSpace(src[i])) i++;
    if (i >= end) return out;
    const cur: number[] = [];
    const q = src[i];
    if (q === 34 /* " */ || q === 39 /* ' */) {
      i++;
      let closed = false;
      while (i < end) {
        const c = src[i];
        if (q === 34 && c === 92 /* \ */ && i + 1 < end) {
          const e = src[i + 1];
          if (
            e === 120 /* x */ && i + 3 < end && hexVal(src[i + 2]) >= 0 && hexVal(src[i + 3]) >= 0
          ) {
            cur.push(hexVal(src[i + 2]) * 16 + hexVal(src[i + 3]));
            i += 4;
            continue;
          }
          cur.push(
            e === 110 ? 10 : e === 114 ? 13 : e === 116 ? 9 : e === 98 ? 8 : e === 97 ? 7 : e,
          );
          i += 2;
        } else if (q === 39 && c === 92 && i + 1 < end && src[i + 1] === 39) {
          cur.push(39);
          i += 2;
        } else if (c === q) {
          i++;
          if (i < end && !isSpace(src[i])) return null;
          closed = true;
          break;
        } else {
          cur.push(c);
          i++;
        }
      }
      if (!closed) return null;
    } else {
      while (i < end && !isSpace(src[i])) cur.push(src[i++]);
    }
    out.push(Uint8Array.from(cur));
  }
}
