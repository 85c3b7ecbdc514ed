/**
 * RESP2/RESP3 reply writer. Replies are written into one reusable buffer and taken as one exact
 * copy per flush (one allocation per batch of replies, whatever the number of commands). A
 * native result value (null, integer, bytes, text, array) is written as its command's reply
 * {@link Shape} says: e.g. a score is a bulk string in RESP2 and a double in RESP3, HGETALL's
 * flat array is a map in RESP3.
 * @module
 */
import type { WireValue } from "../../../protocol/messages.ts";

/** How a command's native value maps to RESP. */
export const enum Shape {
  /** text → status, number → integer, bytes → bulk, array → array. */
  DEFAULT = 0,
  /** number → double (RESP3) / bulk (RESP2); text → bulk. */
  DOUBLE = 1,
  /** text (a big integer) → integer. */
  INT = 2,
  /** text → bulk string. */
  BULK = 3,
  /** flat [k, v, ...] → map in RESP3. */
  MAP = 4,
  /** array → set in RESP3. */
  SET = 5,
  /** flat [member, score, ...] → RESP3 array of [member, double] pairs; RESP2 scores as bulk. */
  SCORES = 6,
  /** array of numbers / nulls → doubles. */
  DOUBLES = 7,
  /** flat [member, score, ...] with scores as doubles in both protocols' own way (no pairing). */
  FLAT_SCORES = 8,
  /** As DEFAULT, but "no such key" is a null array (`*-1` in RESP2): LPOP/RPOP with a count, LMPOP. */
  NIL_ARRAY = 9,
  /** [rank, score]: ZRANK/ZREVRANK WITHSCORE (the score a double: bulk in RESP2). */
  RANK_SCORE = 10,
}

const enc = new TextEncoder();
const INITIAL = 16 * 1024;
/** A buffer grown past this is dropped after a flush (a huge reply does not pin its memory). */
const KEEP = 1024 * 1024;

/** Formats a double as Redis 7 does (shortest round-trip; inf/-inf/nan). */
export function formatDouble(x: number): string {
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  if (Number.isNaN(x)) return "nan";
  return String(x);
}

/** One connection's reply buffer. */
export class RespWriter {
  #buf = new Uint8Array(INITIAL);
  #len = 0;
  /** 2 or 3. */
  proto = 2;

  /** Bytes written and not yet taken. */
  get length(): number {
    return this.#len;
  }

  /** The bytes written since the last take, as a copy of their own. */
  take(): Uint8Array {
    const out = this.#buf.slice(0, this.#len);
    this.#len = 0;
    if (this.#buf.length > KEEP) this.#buf = new Uint8Array(INITIAL);
    return out;
  }

  #room(n: number): void {
    const need = this.#len + n;
    if (need <= this.#buf.length) return;
    const b = new Uint8Array(Math.max(need, 2 * this.#buf.length));
    b.set(this.#buf.subarray(0, this.#len));
    this.#buf = b;
  }

  /** Raw bytes. */
  raw(bytes: Uint8Array): void {
    this.#room(bytes.length);
    this.#buf.set(bytes, this.#len);
    this.#len += bytes.length;
  }

  #ascii(s: string): void {
    const n = s.length;
    this.#room(n);
    const b = this.#buf;
    let p = this.#len;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        // Not ASCII: UTF-8 by the book.
        this.#len = p;
        this.raw(enc.encode(s.slice(i)));
        return;
      }
      b[p++] = c;
    }
    this.#len = p;
  }

  #crlf(): void {
    this.#room(2);
    this.#buf[this.#len++] = 13;
    this.#buf[this.#len++] = 10;
  }

  #num(prefix: number, v: number): void {
    this.#room(24);
    const b = this.#buf;
    b[this.#len++] = prefix;
    if (Number.isSafeInteger(v) && v >= 0 && v < 1e15) {
      // Digits by hand: the hot path (array lengths, bulk lengths, integer replies).
      if (v === 0) b[this.#len++] = 48;
      else {
        let digits = 0;
        for (let t = v; t > 0; t = Math.floor(t / 10)) digits++;
        let p = this.#len + digits;
        this.#len = p;
        for (let t = v; t > 0; t = Math.floor(t / 10)) b[--p] = 48 + (t % 10);
      }
    } else this.#ascii(String(Math.trunc(v)));
    this.#crlf();
  }

  /** `+text` (CR/LF in the text become spaces). */
  status(s: string): void {
    this.#room(1);
    this.#buf[this.#len++] = 43;
    this.#ascii(s.indexOf("\n") >= 0 || s.indexOf("\r") >= 0 ? s.replace(/[\r\n]/g, " ") : s);
    this.#crlf();
  }

  /** `-PREFIX text` (CR/LF in the text become spaces). */
  error(s: string): void {
    this.#room(1);
    this.#buf[this.#len++] = 45;
    this.#ascii(s.indexOf("\n") >= 0 || s.indexOf("\r") >= 0 ? s.replace(/[\r\n]/g, " ") : s);
    this.#crlf();
  }

  /** `:n` */
  int(v: number): void {
    this.#num(58, v);
  }

  /** `:n` from the decimal text of a big integer. */
  intText(s: string): void {
    this.#room(1);
    this.#buf[this.#len++] = 58;
    this.#ascii(s);
    this.#crlf();
  }

  /** `$len` bytes. */
  bulk(b: Uint8Array): void {
    this.#num(36, b.length);
    this.raw(b);
    this.#crlf();
  }

  /** A text as a bulk string (UTF-8). */
  bulkText(s: string): void {
    let ascii = true;
    for (let i = 0; i < s.length; i++) {
      if (s.charCodeAt(i) >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (!ascii) return this.bulk(enc.encode(s));
    this.#num(36, s.length);
    this.#ascii(s);
    this.#crlf();
  }

  /** RESP3 verbatim string (`=len txt:...`); RESP2 a bulk string. */
  verbatim(s: string): void {
    if (this.proto < 3) return this.bulkText(s);
    const b = enc.encode(s);
    this.#num(61, b.length + 4);
    this.#ascii("txt:");
    this.raw(b);
    this.#crlf();
  }

  /** Null: `$-1` (RESP2) or `_` (RESP3). */
  nil(): void {
    if (this.proto >= 3) this.#ascii("_\r\n");
    else this.#ascii("$-1\r\n");
  }

  /** Null array: `*-1` (RESP2) or `_` (RESP3). */
  nilArray(): void {
    if (this.proto >= 3) this.#ascii("_\r\n");
    else this.#ascii("*-1\r\n");
  }

  /** `*n` */
  array(n: number): void {
    this.#num(42, n);
  }

  /** `%n` (RESP3) or `*2n` (RESP2). */
  map(n: number): void {
    if (this.proto >= 3) this.#num(37, n);
    else this.#num(42, 2 * n);
  }

  /** `~n` (RESP3) or `*n`. */
  set(n: number): void {
    this.#num(this.proto >= 3 ? 126 : 42, n);
  }

  /** `,x` (RESP3) or a bulk string. */
  double(x: number): void {
    const s = formatDouble(x);
    if (this.proto >= 3) {
      this.#room(1);
      this.#buf[this.#len++] = 44;
      this.#ascii(s);
      this.#crlf();
    } else this.bulkText(s);
  }

  /** `#t`/`#f` (RESP3) or `:1`/`:0`. */
  bool(b: boolean): void {
    if (this.proto >= 3) this.#ascii(b ? "#t\r\n" : "#f\r\n");
    else this.int(b ? 1 : 0);
  }

  /** Writes a native value as `shape` says. */
  value(v: WireValue, shape: Shape): void {
    if (v === null) return this.nil();
    if (v instanceof Uint8Array) return this.bulk(v);
    if (typeof v === "number") {
      if (shape === Shape.DOUBLE) return this.double(v);
      if (Number.isInteger(v)) return this.int(v);
      return this.double(v);
    }
    if (typeof v === "string") {
      if (shape === Shape.INT) return this.intText(v);
      if (shape === Shape.DEFAULT) return this.status(v);
      return this.bulkText(v);
    }
    // An array.
    const n = v.length;
    switch (shape) {
      case Shape.MAP:
        if (n % 2 === 0) {
          this.map(n / 2);
          for (let i = 0; i < n; i++) this.value(v[i], Shape.BULK);
          return;
        }
        break;
      case Shape.SET:
        this.set(n);
        for (let i = 0; i < n; i++) this.value(v[i], Shape.BULK);
        return;
      case Shape.SCORES:
        if (n % 2 === 0) {
          if (this.proto >= 3) {
            this.array(n / 2);
            for (let i = 0; i < n; i += 2) {
              this.array(2);
              this.value(v[i], Shape.BULK);
              this.value(v[i + 1], Shape.DOUBLE);
            }
          } else {
            this.array(n);
            for (let i = 0; i < n; i++) this.value(v[i], i % 2 === 1 ? Shape.DOUBLE : Shape.BULK);
          }
          return;
        }
        break;
      case Shape.FLAT_SCORES:
        this.array(n);
        for (let i = 0; i < n; i++) this.value(v[i], i % 2 === 1 ? Shape.DOUBLE : Shape.BULK);
        return;
      case Shape.RANK_SCORE:
        if (n === 2) {
          this.array(2);
          this.value(v[0], Shape.DEFAULT);
          this.value(v[1], Shape.DOUBLE);
          return;
        }
        break;
      case Shape.DOUBLES:
        this.array(n);
        for (let i = 0; i < n; i++) this.value(v[i], Shape.DOUBLE);
        return;
    }
    this.array(n);
    for (let i = 0; i < n; i++) {
      const x = v[i];
      // Nested text is data (e.g. a member), except in a default-shaped reply's own arrays.
      this.value(
        x,
        shape === Shape.DEFAULT && typeof x === "string"
          ? Shape.BULK
          : shape === Shape.INT
          ? Shape.INT
          : Shape.DEFAULT,
      );
    }
  }
}
