/**
 * The data of a Normal log entry: one or more client batches coalesced into one proposal, plus the
 * leader's clock. Commands stay as the client's CBOR bytes; this envelope only adds a small binary
 * header per batch, so proposing costs one memcpy per batch and no re-encoding.
 *
 * Layout (big-endian):
 * ```
 * u8  version (1)
 * f64 nowMs               leader-decided time, used for expiry on every replica
 * u32 batchCount
 * batchCount × { u16 clientIdLen, clientId (utf8), u16 batchIdLen, batchId (utf8),
 *                u32 commandCount, u32 commandsLen, commands (CBOR array) }
 * ```
 * An empty entry (no bytes) is the leader's no-op and carries no batches.
 * @module
 */
import { batchProblem, checkBatch } from "../../protocol/cbor_peek.ts";
import type { ClientBatch } from "../plugin/plugin.ts";
import { MAX_BATCH_COMMANDS } from "../../protocol/messages.ts";

const VERSION = 1;
const enc = new TextEncoder();
const dec = new TextDecoder();

/** A batch read back from entry data. */
export interface DecodedBatch extends ClientBatch {
  /**
   * Set when the batch's commands are not a valid batch or disagree with the recorded count (a
   * log written before admission validated batches, or a corrupt one): the batch must not be
   * applied; `count` is then 1, for the one MALFORMED slot its result gets.
   */
  readonly problem?: string;
}

/** A decoded envelope. */
export interface Proposal {
  nowMs: number;
  batches: DecodedBatch[];
}

/** Smallest encoding of one batch in the envelope (two empty ids, count, length, `0x80`). */
const MIN_BATCH_BYTES = 2 + 2 + 4 + 4 + 1;

/** Encodes `batches` with the leader's time into entry data. */
export function encodeProposal(batches: readonly ClientBatch[], nowMs: number): Uint8Array {
  const ids: Uint8Array[] = [];
  let size = 1 + 8 + 4;
  for (const b of batches) {
    const c = enc.encode(b.clientId);
    const i = enc.encode(b.batchId);
    if (c.length > 0xffff || i.length > 0xffff) throw new RangeError("client or batch id too long");
    ids.push(c, i);
    size += 2 + c.length + 2 + i.length + 4 + 4 + b.commands.length;
  }
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = VERSION;
  view.setFloat64(1, nowMs);
  view.setUint32(9, batches.length);
  let p = 13;
  for (let k = 0; k < batches.length; k++) {
    const b = batches[k];
    const c = ids[2 * k], i = ids[2 * k + 1];
    view.setUint16(p, c.length);
    out.set(c, p + 2);
    p += 2 + c.length;
    view.setUint16(p, i.length);
    out.set(i, p + 2);
    p += 2 + i.length;
    view.setUint32(p, b.count);
    view.setUint32(p + 4, b.commands.length);
    out.set(b.commands, p + 8);
    p += 8 + b.commands.length;
  }
  return out;
}

/** Thrown when entry data is not a valid envelope (a corrupt log or a bug: never client input). */
export class ProposalFormatError extends Error {}

/**
 * Decodes entry data; `commands` are views into `data` (no copy). Empty data → no batches. Nothing
 * is allocated by a count read from `data`: the batch count is checked against the bytes present,
 * and every batch's commands are walked ({@link checkBatch}) so its `count` is the number of
 * commands actually there, or the batch carries a `problem` (see {@link DecodedBatch}).
 */
export function decodeProposal(data: Uint8Array): Proposal {
  if (data.length === 0) return { nowMs: 0, batches: [] };
  if (data[0] !== VERSION || data.length < 13) {
    throw new ProposalFormatError(`bad proposal header (version ${data[0]})`);
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const nowMs = view.getFloat64(1);
  const n = view.getUint32(9);
  if (n > (data.length - 13) / MIN_BATCH_BYTES) {
    throw new ProposalFormatError(`proposal claims ${n} batches in ${data.length} bytes`);
  }
  const batches: DecodedBatch[] = [];
  let p = 13;
  const need = (k: number) => {
    if (p + k > data.length) throw new ProposalFormatError("truncated proposal");
  };
  for (let k = 0; k < n; k++) {
    need(2);
    const cl = view.getUint16(p);
    need(2 + cl + 2);
    const clientId = dec.decode(data.subarray(p + 2, p + 2 + cl));
    p += 2 + cl;
    const il = view.getUint16(p);
    need(2 + il + 8);
    const batchId = dec.decode(data.subarray(p + 2, p + 2 + il));
    p += 2 + il;
    const count = view.getUint32(p);
    const len = view.getUint32(p + 4);
    p += 8;
    need(len);
    const commands = data.subarray(p, p + len);
    const actual = checkBatch(commands, MAX_BATCH_COMMANDS);
    if (actual >= 0 && actual === count) batches.push({ clientId, batchId, count, commands });
    else {
      const problem = actual < 0
        ? batchProblem()
        : `recorded count ${count} but ${actual} commands present`;
      batches.push({ clientId, batchId, count: 1, commands, problem });
    }
    p += len;
  }
  return { nowMs, batches };
}
