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
import type { ClientBatch } from "./plugin.ts";

const VERSION = 1;
const enc = new TextEncoder();
const dec = new TextDecoder();

/** A decoded envelope. */
export interface Proposal {
  nowMs: number;
  batches: ClientBatch[];
}

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

/** Decodes entry data; `commands` are views into `data` (no copy). Empty data → no batches. */
export function decodeProposal(data: Uint8Array): Proposal {
  if (data.length === 0) return { nowMs: 0, batches: [] };
  if (data[0] !== VERSION || data.length < 13) {
    throw new ProposalFormatError(`bad proposal header (version ${data[0]})`);
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const nowMs = view.getFloat64(1);
  const n = view.getUint32(9);
  const batches: ClientBatch[] = [];
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
    batches.push({ clientId, batchId, count, commands: data.subarray(p, p + len) });
    p += len;
  }
  return { nowMs, batches };
}
