/**
 * Turns a list of commands into `COMMAND_BATCH` frames no larger than the server accepts. The
 * commands array is CBOR-encoded once and sent as `commands_cbor` (the server logs those bytes
 * as they are). A batch over the limit is split, in order, into several frames with ids
 * `<batchId>/0`, `<batchId>/1`, ... (deterministic, so a resent batch reuses the same ids).
 * @module
 */
import { encodeCbor } from "../protocol/cbor.ts";
import { type BatchRequest, MsgType } from "../protocol/messages.ts";
import type { Arg } from "./types.ts";

/** Room kept for the envelope around `commands_cbor` (type, ids, byte-string header). */
export const ENVELOPE_BYTES = 1024;

/** One frame of a (possibly split) batch. */
export interface BatchFrame {
  /** The frame's batch id. */
  batchId: string;
  /** Indices (into the original command list) of the commands it carries, in order. */
  indices: number[];
  /** The encoded `COMMAND_BATCH` message. */
  bytes: Uint8Array;
}

/** The frames of one batch, plus commands too large to send at all (index → encoded size). */
export interface BatchPlan {
  frames: BatchFrame[];
  oversized: Map<number, number>;
}

/** Encodes one `COMMAND_BATCH` message around already-encoded commands. */
export function encodeBatchMessage(
  batchId: string,
  clientId: string,
  commandsCbor: Uint8Array,
  forward = false,
): Uint8Array {
  const msg: BatchRequest = {
    type: MsgType.COMMAND_BATCH,
    batch_id: batchId,
    client_id: clientId,
    commands_cbor: commandsCbor,
  };
  if (forward) msg.forward = true;
  return encodeCbor(msg);
}

/**
 * Plans the frames for `commands`. `maxBytes` bounds each frame's `commands_cbor` plus
 * {@link ENVELOPE_BYTES}.
 */
export function planBatch(
  commands: Arg[][],
  batchId: string,
  clientId: string,
  maxBytes: number,
  forward = false,
): BatchPlan {
  const limit = maxBytes - ENVELOPE_BYTES;
  const whole = encodeCbor(commands);
  const oversized = new Map<number, number>();
  if (whole.length <= limit) {
    const indices = new Array<number>(commands.length);
    for (let i = 0; i < indices.length; i++) indices[i] = i;
    return {
      frames: [{ batchId, indices, bytes: encodeBatchMessage(batchId, clientId, whole, forward) }],
      oversized,
    };
  }
  // Split: greedy by each command's encoded size (+9 for the worst-case array header).
  const frames: BatchFrame[] = [];
  let current: Arg[][] = [];
  let currentIdx: number[] = [];
  let size = 9;
  const close = () => {
    if (current.length === 0) return;
    const id = `${batchId}/${frames.length}`;
    frames.push({
      batchId: id,
      indices: currentIdx,
      bytes: encodeBatchMessage(id, clientId, encodeCbor(current), forward),
    });
    current = [];
    currentIdx = [];
    size = 9;
  };
  for (let i = 0; i < commands.length; i++) {
    const n = encodeCbor(commands[i]).length;
    if (n + 9 > limit) {
      oversized.set(i, n);
      continue;
    }
    if (size + n > limit) close();
    current.push(commands[i]);
    currentIdx.push(i);
    size += n;
  }
  close();
  return { frames, oversized };
}

/** A conservative upper bound of a command's encoded size, without encoding it. */
export function estimateCommandBytes(args: Arg[]): number {
  let n = 9;
  for (const a of args) n += 9 + (typeof a === "string" ? a.length * 3 : a.length);
  return n;
}
