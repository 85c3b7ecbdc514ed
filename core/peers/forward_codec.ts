/**
 * Forwarded client batches between members: a follower hands a client's write batch to the
 * leader over the (authenticated) peer connection and relays the leader's answer, as etcd
 * followers forward proposals. Two messages, each one CBOR array whose first element is
 * {@link FORWARD_VERSION} (Raft messages start with 1, so the two never mix):
 *
 * - batch: `[2, 0, from, to, id, clientId, batchId, commands]` — `commands` is the client's CBOR
 *   commands array, unchanged (bytes stay bytes);
 * - reply: `[2, 1, from, to, id, codes, data, errors, code, message, leader]` — a batch result
 *   (`codes`/`data`/`errors`, one slot per command) or a whole-batch refusal (`code`, `message`,
 *   `leader`).
 *
 * Every field is checked on decode; the leader re-validates the commands like any client batch.
 * @module
 */
import { decodeCbor, encodeCbor } from "../../protocol/cbor.ts";
import { type BatchResults, MAX_BATCH_COMMANDS, type WireValue } from "../../protocol/messages.ts";
import type { NodeId } from "../raft/types.ts";

/** First element of a forward message. */
export const FORWARD_VERSION = 2;

/** Longest client id / batch id a forwarded batch may carry (the client server's own limits). */
const MAX_ID_CHARS = 256;

/** A batch forwarded to the leader. */
export interface ForwardedBatch {
  kind: "batch";
  from: NodeId;
  to: NodeId;
  /** The forwarding node's id for this request (echoed in the reply). */
  id: number;
  clientId: string;
  batchId: string;
  /** CBOR of the commands array, as the client sent it. */
  commands: Uint8Array;
}

/** The leader's answer to a forwarded batch. */
export interface ForwardReply {
  kind: "reply";
  from: NodeId;
  to: NodeId;
  id: number;
  /** The batch's results (one slot per command), when it ran. */
  result?: BatchResults;
  /** Otherwise the whole batch's refusal. */
  refusal?: { code: number; message: string; leader?: string };
}

/** A forward message. */
export type ForwardMessage = ForwardedBatch | ForwardReply;

/** Encodes a forward message (one flat buffer; the network chunks it when large). */
export function encodeForward(m: ForwardMessage): Uint8Array {
  if (m.kind === "batch") {
    return encodeCbor([FORWARD_VERSION, 0, m.from, m.to, m.id, m.clientId, m.batchId, m.commands]);
  }
  const r = m.result;
  const f = m.refusal;
  return encodeCbor([
    FORWARD_VERSION,
    1,
    m.from,
    m.to,
    m.id,
    r ? r.codes : null,
    r ? r.data : null,
    r ? r.errors : null,
    f ? f.code : 0,
    f ? f.message : "",
    f?.leader ?? null,
  ]);
}

/** True if `bytes` (a whole peer message) is a forward message rather than a Raft message. */
export function isForward(bytes: Uint8Array): boolean {
  // A definite array of 8 or 11 elements whose first element is the small integer 2.
  return bytes.length > 1 && (bytes[0] === 0x88 || bytes[0] === 0x8b) &&
    bytes[1] === FORWARD_VERSION;
}

const isId = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
const isText = (x: unknown, max: number): x is string =>
  typeof x === "string" && x.length > 0 && x.length <= max;

/** Decodes a forward message; throws on anything malformed. */
export function decodeForward(bytes: Uint8Array): ForwardMessage {
  const a = decodeCbor(bytes);
  const bad = (why: string) => new Error(`malformed forward message: ${why}`);
  if (!Array.isArray(a) || a[0] !== FORWARD_VERSION) throw bad("not a forward message");
  if (!isId(a[2]) || !isId(a[3]) || !isId(a[4])) throw bad("bad ids");
  if (a[1] === 0) {
    if (a.length !== 8) throw bad("batch length");
    if (!isText(a[5], MAX_ID_CHARS) || !isText(a[6], MAX_ID_CHARS)) {
      throw bad("bad client/batch id");
    }
    if (!(a[7] instanceof Uint8Array)) throw bad("commands must be bytes");
    return {
      kind: "batch",
      from: a[2],
      to: a[3],
      id: a[4],
      clientId: a[5],
      batchId: a[6],
      commands: a[7],
    };
  }
  if (a[1] !== 1 || a.length !== 11) throw bad("unknown kind");
  const m: ForwardReply = { kind: "reply", from: a[2], to: a[3], id: a[4] };
  const [codes, data, errors] = [a[5], a[6], a[7]];
  if (codes !== null) {
    if (
      !Array.isArray(codes) || codes.length > MAX_BATCH_COMMANDS || !Array.isArray(data) ||
      !Array.isArray(errors) || data.length !== codes.length || errors.length !== codes.length ||
      !codes.every(isId) || !errors.every((e) => e === null || typeof e === "string")
    ) {
      throw bad("bad result");
    }
    m.result = { codes, data: data as WireValue[], errors };
  } else {
    if (!isId(a[8]) || typeof a[9] !== "string") throw bad("bad refusal");
    m.refusal = { code: a[8], message: a[9] };
    if (typeof a[10] === "string") m.refusal.leader = a[10];
  }
  return m;
}
