/**
 * The on-disk record format of the write-ahead log.
 *
 * A segment file is a sequence of records, each framed as
 * ```
 * [crc32c u32 LE][length u32 LE][body: `length` bytes]
 * ```
 * where the CRC-32C covers the length field and the body (bytes 4 .. 8+length), and the body's
 * first byte is the {@link RecordType}. Integers inside bodies (indexes, terms, node ids) are
 * stored as float64 LE: exact for every integer up to 2^53, and one DataView call each.
 *
 * | type | body after the type byte |
 * |------|--------------------------|
 * | Segment (1) | seq, baseIndex, baseTerm, term, vote, commit (f64 each), conf (see below) |
 * | Entry (2) | entryType u8, index f64, term f64, data (rest of the body) |
 * | HardState (3) | term, vote, commit (f64 each) |
 * | Conf (4) | voter count u32, learner count u32, then the ids (f64 each) |
 * | Truncate (5) | index f64, prevTerm f64: drop entries >= index; entry index-1 has term prevTerm |
 * | Install (6) | index f64, term f64: a snapshot from the leader was installed at (index, term) |
 * @module
 */
import { crc32c } from "@node-rs/crc32";
import type { ConfState, Entry, EntryType, HardState } from "../../core/raft/types.ts";

/** Kinds of WAL records. */
export const RecordType = {
  Segment: 1,
  Entry: 2,
  HardState: 3,
  Conf: 4,
  Truncate: 5,
  Install: 6,
} as const;
/** One of {@link RecordType}'s values. */
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

/** Bytes of framing before each record body (crc + length). */
export const FRAME_BYTES = 8;
/** Largest record body accepted when reading (a sanity bound against garbage lengths). */
export const MAX_BODY_BYTES = 1 << 30;

/** The header record that starts every segment: where the log stood when the segment began. */
export interface SegmentHeader {
  seq: number;
  /** Last index of the log when the segment was created (its entries follow it). */
  baseIndex: number;
  /** Term of the entry at `baseIndex`. */
  baseTerm: number;
  hardState: HardState;
  conf: ConfState;
}

/** Encodes records into a reusable, growable buffer (no allocation per record once warmed up). */
export class RecordWriter {
  #buf: Uint8Array;
  #view: DataView;
  #len = 0;

  /** Starts with `capacity` bytes (grows as needed). */
  constructor(capacity = 1 << 16) {
    this.#buf = new Uint8Array(capacity);
    this.#view = new DataView(this.#buf.buffer);
  }

  /** Bytes encoded and not yet taken. */
  get length(): number {
    return this.#len;
  }

  /** The encoded bytes (a view into the internal buffer, valid until the next write or reset). */
  bytes(): Uint8Array {
    return this.#buf.subarray(0, this.#len);
  }

  /** Forgets the encoded bytes; shrinks the buffer if one huge batch made it grow a lot. */
  reset(): void {
    this.#len = 0;
    if (this.#buf.length > 16 << 20) {
      this.#buf = new Uint8Array(1 << 16);
      this.#view = new DataView(this.#buf.buffer);
    }
  }

  /** Appends an Entry record. */
  entry(e: Entry): void {
    const n = e.data.length;
    const at = this.#begin(1 + 1 + 16 + n, RecordType.Entry);
    const v = this.#view;
    v.setUint8(at, e.type);
    v.setFloat64(at + 1, e.index, true);
    v.setFloat64(at + 9, e.term, true);
    this.#buf.set(e.data, at + 17);
    this.#end();
  }

  /**
   * The frame, type and fixed fields of an Entry record whose data is written separately, right
   * after these bytes (a large entry is never copied into the buffer). The CRC covers both.
   */
  static entryHead(e: Entry): Uint8Array {
    const head = new Uint8Array(FRAME_BYTES + 1 + 1 + 16);
    const v = new DataView(head.buffer);
    v.setUint32(4, 1 + 1 + 16 + e.data.length, true);
    head[8] = RecordType.Entry;
    v.setUint8(9, e.type);
    v.setFloat64(10, e.index, true);
    v.setFloat64(18, e.term, true);
    v.setUint32(0, crc32c(e.data, crc32c(head.subarray(4))), true);
    return head;
  }

  /** Appends a HardState record. */
  hardState(hs: HardState): void {
    const at = this.#begin(1 + 24, RecordType.HardState);
    this.#putHardState(at, hs);
    this.#end();
  }

  /** Appends a Conf record. */
  conf(cs: ConfState): void {
    const at = this.#begin(1 + confBytes(cs), RecordType.Conf);
    this.#putConf(at, cs);
    this.#end();
  }

  /** Appends a Segment header record. */
  segment(h: SegmentHeader): void {
    const at = this.#begin(1 + 24 + 24 + confBytes(h.conf), RecordType.Segment);
    const v = this.#view;
    v.setFloat64(at, h.seq, true);
    v.setFloat64(at + 8, h.baseIndex, true);
    v.setFloat64(at + 16, h.baseTerm, true);
    this.#putHardState(at + 24, h.hardState);
    this.#putConf(at + 48, h.conf);
    this.#end();
  }

  /** Appends a Truncate record: entries from `index` on are discarded; `prevTerm` = term(index-1). */
  truncate(index: number, prevTerm: number): void {
    this.#pair(RecordType.Truncate, index, prevTerm);
  }

  /** Appends an Install record: a leader's snapshot at (index, term) was installed. */
  install(index: number, term: number): void {
    this.#pair(RecordType.Install, index, term);
  }

  #pair(type: RecordType, a: number, b: number): void {
    const at = this.#begin(1 + 16, type);
    this.#view.setFloat64(at, a, true);
    this.#view.setFloat64(at + 8, b, true);
    this.#end();
  }

  #putHardState(at: number, hs: HardState): void {
    const v = this.#view;
    v.setFloat64(at, hs.term, true);
    v.setFloat64(at + 8, hs.vote, true);
    v.setFloat64(at + 16, hs.commit, true);
  }

  #putConf(at: number, cs: ConfState): void {
    const v = this.#view;
    v.setUint32(at, cs.voters.length, true);
    v.setUint32(at + 4, cs.learners.length, true);
    let p = at + 8;
    for (const id of cs.voters) (v.setFloat64(p, id, true), p += 8);
    for (const id of cs.learners) (v.setFloat64(p, id, true), p += 8);
  }

  #recStart = 0;

  /** Reserves a record with a body of `bodyLen` bytes; returns where the body after the type goes. */
  #begin(bodyLen: number, type: RecordType): number {
    const need = this.#len + FRAME_BYTES + bodyLen;
    if (need > this.#buf.length) this.#grow(need);
    const start = this.#len;
    this.#recStart = start;
    this.#view.setUint32(start + 4, bodyLen, true);
    this.#buf[start + 8] = type;
    this.#len = need;
    return start + 9;
  }

  #end(): void {
    const s = this.#recStart;
    this.#view.setUint32(s, crc32c(this.#buf.subarray(s + 4, this.#len)), true);
  }

  #grow(need: number): void {
    let cap = this.#buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }
}

function confBytes(cs: ConfState): number {
  return 8 + 8 * (cs.voters.length + cs.learners.length);
}

/** A decoded record (bodies are views into the segment's bytes; entry data is not copied). */
export type WalRecord =
  | { type: typeof RecordType.Segment; header: SegmentHeader }
  | { type: typeof RecordType.Entry; entry: Entry }
  | { type: typeof RecordType.HardState; hardState: HardState }
  | { type: typeof RecordType.Conf; conf: ConfState }
  | { type: typeof RecordType.Truncate; index: number; prevTerm: number }
  | { type: typeof RecordType.Install; index: number; term: number };

/** Where scanning a segment stopped. */
export interface ScanResult {
  /** Offset just past the last valid record. */
  validEnd: number;
  /** Set when the bytes at `validEnd` are not a valid record (torn, garbage or corrupt). */
  bad?: { offset: number; reason: string };
}

/** Thrown for a record whose CRC is valid but whose body cannot be decoded. */
export class WalFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WalFormatError";
  }
}

/**
 * Checks the record framed at `off`: returns the body length when the frame is complete and its
 * CRC matches, otherwise a reason string.
 */
export function checkFrame(buf: Uint8Array, view: DataView, off: number): number | string {
  if (off + FRAME_BYTES > buf.length) return "incomplete record header";
  const len = view.getUint32(off + 4, true);
  if (len === 0 || len > MAX_BODY_BYTES) return `invalid record length ${len}`;
  if (off + FRAME_BYTES + len > buf.length) return "incomplete record";
  const crc = view.getUint32(off, true);
  if (crc32c(buf.subarray(off + 4, off + FRAME_BYTES + len)) !== crc) return "CRC mismatch";
  return len;
}

/**
 * Reads the records of one segment in order, calling `onRecord` for each valid one, and stops at
 * the first invalid frame. `onRecord` may throw to abort (e.g. on a replay inconsistency).
 */
export function scanRecords(
  buf: Uint8Array,
  onRecord: (rec: WalRecord, offset: number) => void,
): ScanResult {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = 0;
  while (off < buf.length) {
    const r = checkFrame(buf, view, off);
    if (typeof r === "string") return { validEnd: off, bad: { offset: off, reason: r } };
    onRecord(decodeBody(buf, view, off + FRAME_BYTES, r, off), off);
    off += FRAME_BYTES + r;
  }
  return { validEnd: off };
}

/** True when some valid record frame starts anywhere in `buf` after `from` (used to tell a torn tail from corruption). */
export function hasValidFrameAfter(buf: Uint8Array, from: number): boolean {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let off = from + 1; off + FRAME_BYTES < buf.length; off++) {
    const r = checkFrame(buf, view, off);
    if (typeof r === "number") {
      const t = buf[off + FRAME_BYTES];
      if (t >= RecordType.Segment && t <= RecordType.Install) return true;
    }
  }
  return false;
}

function decodeBody(
  buf: Uint8Array,
  v: DataView,
  at: number,
  len: number,
  recOff: number,
): WalRecord {
  const type = buf[at];
  const p = at + 1;
  const end = at + len;
  const need = (n: number) => {
    if (p + n > end) {
      throw new WalFormatError(`record at offset ${recOff}: body too short for type ${type}`);
    }
  };
  switch (type) {
    case RecordType.Entry: {
      need(17);
      const entryType = buf[p];
      if (entryType > 1) {
        throw new WalFormatError(`record at offset ${recOff}: unknown entry type ${entryType}`);
      }
      return {
        type,
        entry: {
          type: entryType as EntryType,
          index: v.getFloat64(p + 1, true),
          term: v.getFloat64(p + 9, true),
          data: buf.subarray(p + 17, end),
        },
      };
    }
    case RecordType.HardState:
      need(24);
      return { type, hardState: readHardState(v, p) };
    case RecordType.Conf:
      return { type, conf: readConf(v, p, end, recOff) };
    case RecordType.Segment:
      need(48);
      return {
        type,
        header: {
          seq: v.getFloat64(p, true),
          baseIndex: v.getFloat64(p + 8, true),
          baseTerm: v.getFloat64(p + 16, true),
          hardState: readHardState(v, p + 24),
          conf: readConf(v, p + 48, end, recOff),
        },
      };
    case RecordType.Truncate:
      need(16);
      return { type, index: v.getFloat64(p, true), prevTerm: v.getFloat64(p + 8, true) };
    case RecordType.Install:
      need(16);
      return { type, index: v.getFloat64(p, true), term: v.getFloat64(p + 8, true) };
    default:
      throw new WalFormatError(`record at offset ${recOff}: unknown record type ${type}`);
  }
}

function readHardState(v: DataView, p: number): HardState {
  return {
    term: v.getFloat64(p, true),
    vote: v.getFloat64(p + 8, true),
    commit: v.getFloat64(p + 16, true),
  };
}

function readConf(v: DataView, p: number, end: number, recOff: number): ConfState {
  if (p + 8 > end) throw new WalFormatError(`record at offset ${recOff}: truncated conf state`);
  const nv = v.getUint32(p, true);
  const nl = v.getUint32(p + 4, true);
  if (p + 8 + 8 * (nv + nl) > end) {
    throw new WalFormatError(`record at offset ${recOff}: truncated conf state`);
  }
  const voters: number[] = [];
  const learners: number[] = [];
  let q = p + 8;
  for (let i = 0; i < nv; i++, q += 8) voters.push(v.getFloat64(q, true));
  for (let i = 0; i < nl; i++, q += 8) learners.push(v.getFloat64(q, true));
  return { voters, learners };
}
