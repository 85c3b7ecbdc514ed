/**
 * Encoding of Raft messages between peers: one CBOR array per message, entries flattened into
 * `[term, index, type, data, ...]` so a 500-entry AppendEntries carries no per-entry map keys.
 * Entry data (client batches) travels as CBOR byte strings: never re-encoded.
 * @module
 */
import { decodeCbor, encodeCbor } from "../../protocol/cbor.ts";
import type { Entry, EntryType, Message, MessageType, Snapshot } from "../raft/types.ts";

const TYPES: MessageType[] = [
  "app",
  "appResp",
  "vote",
  "voteResp",
  "preVote",
  "preVoteResp",
  "heartbeat",
  "heartbeatResp",
  "snap",
  "snapResp",
  "timeoutNow",
  "transferLeader",
  "readIndex",
  "readIndexResp",
];
const TYPE_NUM = new Map<MessageType, number>(TYPES.map((t, i) => [t, i]));

const VERSION = 1;

/** Encodes a message for the wire. */
export function encodePeerMessage(m: Message): Uint8Array {
  const flat: unknown[] = new Array(m.entries.length * 4);
  for (let i = 0; i < m.entries.length; i++) {
    const e = m.entries[i];
    flat[4 * i] = e.term;
    flat[4 * i + 1] = e.index;
    flat[4 * i + 2] = e.type;
    flat[4 * i + 3] = e.data;
  }
  return encodeCbor([
    ...headerNumbers(m),
    flat,
    m.snapshot ?? null,
    m.context ?? null,
  ]);
}

const isNum = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);

/** Decodes a peer message; throws on anything malformed. */
export function decodePeerMessage(bytes: Uint8Array): Message {
  const a = decodeCbor(bytes);
  if (!Array.isArray(a) || a.length !== 14 || a[0] !== VERSION) {
    throw new Error("malformed peer message");
  }
  for (let i = 1; i <= 10; i++) if (!isNum(a[i])) throw new Error("malformed peer message");
  const type = TYPES[a[1] as number];
  const flat = a[11];
  if (!type || !Array.isArray(flat) || flat.length % 4 !== 0) {
    throw new Error("malformed peer message");
  }
  const entries: Entry[] = new Array(flat.length / 4);
  for (let i = 0; i < entries.length; i++) {
    const data = flat[4 * i + 3];
    if (!(data instanceof Uint8Array)) throw new Error("malformed peer message entry");
    entries[i] = {
      term: flat[4 * i],
      index: flat[4 * i + 1],
      type: flat[4 * i + 2] as EntryType,
      data,
    };
  }
  const m: Message = {
    type,
    from: a[2],
    to: a[3],
    term: a[4],
    logTerm: a[5],
    index: a[6],
    commit: a[7],
    reject: a[8] === 1,
    rejectHint: a[9],
    entries,
  };
  if (a[10] !== 0) m.logTermHint = a[10];
  if (a[12] !== null) m.snapshot = a[12] as Snapshot;
  if (a[13] instanceof Uint8Array) m.context = a[13];
  return m;
}

// ------------------------------------------------------------------ framing without copies

/**
 * Where an encoded message goes: one flat buffer, or chunk frames laid out in one buffer (each
 * chunk's CBOR header, then its slice of the message), so a large AppendEntries is written into
 * its chunks directly — one copy of the entries' bytes per follower, none afterwards.
 */
interface Sink {
  byte(b: number): void;
  bytes(b: Uint8Array): void;
}

/** CBOR head (major type + argument); arguments ≥ 2^32 are written as float64 by the caller. */
function headSize(v: number): number {
  return v < 24 ? 1 : v < 0x100 ? 2 : v < 0x10000 ? 3 : 5;
}

function writeHead(s: Sink, major: number, v: number): void {
  const m = major << 5;
  if (v < 24) s.byte(m | v);
  else if (v < 0x100) (s.byte(m | 24), s.byte(v));
  else if (v < 0x10000) (s.byte(m | 25), s.byte(v >>> 8), s.byte(v & 0xff));
  else {
    s.byte(m | 26);
    s.byte(v >>> 24);
    s.byte((v >>> 16) & 0xff);
    s.byte((v >>> 8) & 0xff);
    s.byte(v & 0xff);
  }
}

const f64 = new DataView(new ArrayBuffer(8));

function numSize(v: number): number {
  if (Number.isInteger(v) && Math.abs(v) < 0x1_0000_0000) return headSize(v < 0 ? -1 - v : v);
  return 9;
}

function writeNum(s: Sink, v: number): void {
  if (Number.isInteger(v) && Math.abs(v) < 0x1_0000_0000) {
    if (v >= 0) writeHead(s, 0, v);
    else writeHead(s, 1, -1 - v);
    return;
  }
  s.byte(0xfb);
  f64.setFloat64(0, v);
  for (let i = 0; i < 8; i++) s.byte(f64.getUint8(i));
}

function bytesSize(b: Uint8Array): number {
  return headSize(b.length) + b.length;
}

function writeBytes(s: Sink, b: Uint8Array): void {
  writeHead(s, 2, b.length);
  s.bytes(b);
}

function headerNumbers(m: Message): number[] {
  const t = TYPE_NUM.get(m.type);
  if (t === undefined) throw new Error(`unknown raft message type ${m.type}`);
  return [
    VERSION,
    t,
    m.from,
    m.to,
    m.term,
    m.logTerm,
    m.index,
    m.commit,
    m.reject ? 1 : 0,
    m.rejectHint,
    m.logTermHint ?? 0,
  ];
}

/** Exact size of {@link encodePeerMessage}'s output for a message without a snapshot. */
function messageSize(m: Message, nums: readonly number[]): number {
  let n = 1; // array(14)
  for (const v of nums) n += numSize(v);
  n += headSize(4 * m.entries.length);
  for (const e of m.entries) {
    n += numSize(e.term) + numSize(e.index) + numSize(e.type) + bytesSize(e.data);
  }
  n += 1; // snapshot: null
  n += m.context ? bytesSize(m.context) : 1;
  return n;
}

function writeMessage(s: Sink, m: Message, nums: readonly number[]): void {
  s.byte(0x8e); // array(14)
  for (const v of nums) writeNum(s, v);
  writeHead(s, 4, 4 * m.entries.length);
  for (const e of m.entries) {
    writeNum(s, e.term);
    writeNum(s, e.index);
    writeNum(s, e.type);
    writeBytes(s, e.data);
  }
  s.byte(0xf6);
  if (m.context) writeBytes(s, m.context);
  else s.byte(0xf6);
}

/** Writes into `out` from offset `p` (sized exactly by the caller). */
class FlatSink implements Sink {
  constructor(readonly out: Uint8Array, public p = 0) {}
  byte(b: number): void {
    this.out[this.p++] = b;
  }
  bytes(b: Uint8Array): void {
    this.out.set(b, this.p);
    this.p += b.length;
  }
}

/** The tag of a chunk frame: `[CHUNK_TAG, id, seq, total, part]`. */
export const CHUNK_TAG = 2;

function chunkHeaderSize(id: number, seq: number, total: number, part: number): number {
  return 1 + 1 + headSize(id) + headSize(seq) + headSize(total) + headSize(part);
}

/** Writes a message of `total` bytes across chunk frames laid out in one buffer. */
class ChunkSink implements Sink {
  readonly #buf: Uint8Array;
  readonly frames: Uint8Array[] = [];
  /** Where the current chunk's part is written, and where it ends. */
  #p = 0;
  #end = 0;
  readonly #starts: number[] = [];

  constructor(id: number, total: number, chunkBytes: number) {
    const n = Math.ceil(total / chunkBytes);
    let size = 0;
    for (let seq = 0; seq < n; seq++) {
      const part = Math.min(chunkBytes, total - seq * chunkBytes);
      size += chunkHeaderSize(id, seq, total, part) + part;
    }
    this.#buf = new Uint8Array(size);
    let at = 0;
    for (let seq = 0; seq < n; seq++) {
      const part = Math.min(chunkBytes, total - seq * chunkBytes);
      const h = new FlatSink(this.#buf, at);
      h.byte(0x85);
      writeHead(h, 0, CHUNK_TAG);
      writeHead(h, 0, id);
      writeHead(h, 0, seq);
      writeHead(h, 0, total);
      writeHead(h, 2, part);
      this.#starts.push(h.p, h.p + part);
      this.frames.push(this.#buf.subarray(at, h.p + part));
      at = h.p + part;
    }
    this.#next(0);
  }

  #chunk = 0;
  #next(k: number): void {
    this.#chunk = k;
    this.#p = this.#starts[2 * k] ?? 0;
    this.#end = this.#starts[2 * k + 1] ?? 0;
  }

  byte(b: number): void {
    if (this.#p === this.#end) this.#next(this.#chunk + 1);
    this.#buf[this.#p++] = b;
  }

  bytes(b: Uint8Array): void {
    let off = 0;
    while (off < b.length) {
      if (this.#p === this.#end) this.#next(this.#chunk + 1);
      const take = Math.min(this.#end - this.#p, b.length - off);
      this.#buf.set(b.subarray(off, off + take), this.#p);
      this.#p += take;
      off += take;
    }
  }
}

/** The frames for an already encoded message: itself when it fits in `chunkBytes`, else chunks. */
export function frameBytes(
  flat: Uint8Array,
  chunkBytes: number,
  chunkId: () => number,
): Uint8Array[] {
  if (flat.length <= chunkBytes) return [new Uint8Array(flat)];
  const sink = new ChunkSink(chunkId(), flat.length, chunkBytes);
  sink.bytes(flat);
  return sink.frames;
}

/**
 * Encodes a message as the frames to send: one frame when it fits in `chunkBytes`, else chunk
 * frames `[CHUNK_TAG, id, seq, total, part]` (a view each into one buffer). The message bytes are
 * the same as {@link encodePeerMessage}'s; entry data is copied once, straight into its frames.
 */
export function encodePeerFrames(
  m: Message,
  chunkBytes: number,
  chunkId: () => number,
): Uint8Array[] {
  if (m.snapshot) {
    // A snapshot message goes through cbor-x, then into chunks (one more copy; snapshots are rare).
    return frameBytes(encodePeerMessage(m), chunkBytes, chunkId);
  }
  const nums = headerNumbers(m);
  const size = messageSize(m, nums);
  const sink = size > chunkBytes
    ? new ChunkSink(chunkId(), size, chunkBytes)
    : new FlatSink(new Uint8Array(size));
  writeMessage(sink, m, nums);
  return sink instanceof ChunkSink ? sink.frames : [sink.out];
}
