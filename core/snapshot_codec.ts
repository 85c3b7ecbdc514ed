/**
 * The node's snapshot payload: the state machine's snapshot plus every plugin's replicated state
 * (e.g. the idempotency cache), so a restored replica has exactly the state it would have had by
 * applying the log.
 * @module
 */
import { decodeCbor, encodeCbor } from "./cbor.ts";

/** Decoded snapshot payload. */
export interface NodeSnapshot {
  state: Uint8Array;
  plugins: Record<string, Uint8Array>;
  /** Client addresses of members known at snapshot time (id → host:port) and raft addresses. */
  members: Record<number, { raft: string; client: string }>;
}

/** Encodes a node snapshot. */
export function encodeNodeSnapshot(s: NodeSnapshot): Uint8Array {
  return encodeCbor({ v: 1, state: s.state, plugins: s.plugins, members: s.members }).slice();
}

/** Decodes a node snapshot; throws with a clear message when it is not one. */
export function decodeNodeSnapshot(data: Uint8Array): NodeSnapshot {
  const x = decodeCbor(data) as Record<string, unknown>;
  if (!x || x.v !== 1 || !(x.state instanceof Uint8Array) || typeof x.plugins !== "object") {
    throw new Error("snapshot payload is not a TinyKV node snapshot (version 1)");
  }
  return {
    state: x.state,
    plugins: (x.plugins ?? {}) as Record<string, Uint8Array>,
    members: (x.members ?? {}) as NodeSnapshot["members"],
  };
}
