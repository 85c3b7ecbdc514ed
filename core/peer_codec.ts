/**
 * Encoding of Raft messages between peers: one CBOR array per message, entries flattened into
 * `[term, index, type, data, ...]` so a 500-entry AppendEntries carries no per-entry map keys.
 * Entry data (client batches) travels as CBOR byte strings: never re-encoded.
 * @module
 */
import { decodeCbor, encodeCbor } from "./cbor.ts";
import type { Entry, EntryType, Message, MessageType, Snapshot } from "./raft/types.ts";

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
  const t = TYPE_NUM.get(m.type);
  if (t === undefined) throw new Error(`unknown raft message type ${m.type}`);
  return encodeCbor([
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
