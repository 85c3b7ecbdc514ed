/**
 * Encoding of a {@link ConfChange} inside a ConfChange log entry: one CBOR map
 * `{ type, nodeId, context? }` (so `decodeCbor(entry.data)` yields the ConfChange object), and the
 * pure membership arithmetic applied when such an entry is applied.
 * @module
 */
import { decodeCbor, encodeCborCopy } from "../../protocol/cbor.ts";
import type { ConfChange, ConfState, NodeId } from "./types.ts";

const TYPES = new Set(["addVoter", "addLearner", "removeNode"]);

/** Encodes a conf change as entry data (a fresh buffer, safe to keep). */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  const obj: Record<string, unknown> = { type: cc.type, nodeId: cc.nodeId };
  if (cc.context !== undefined) obj.context = cc.context;
  return encodeCborCopy(obj);
}

/** Decodes and validates conf change entry data; throws a clear error if malformed. */
export function decodeConfChange(data: Uint8Array): ConfChange {
  const v = decodeCbor(data) as Record<string, unknown> | null;
  if (v === null || typeof v !== "object") throw new Error("conf change: not a map");
  const { type, nodeId, context } = v;
  if (typeof type !== "string" || !TYPES.has(type)) {
    throw new Error(`conf change: bad type ${String(type)}`);
  }
  if (typeof nodeId !== "number" || !Number.isSafeInteger(nodeId) || nodeId <= 0) {
    throw new Error(`conf change: bad node id ${String(nodeId)}`);
  }
  if (context !== undefined && !(context instanceof Uint8Array)) {
    throw new Error("conf change: context must be bytes");
  }
  const cc: ConfChange = { type: type as ConfChange["type"], nodeId };
  if (context !== undefined) cc.context = context;
  return cc;
}

/** The membership after applying `cc` to `cs` (idempotent; voters and learners kept sorted). */
export function applyToConfState(cs: ConfState, cc: ConfChange): ConfState {
  const voters = new Set<NodeId>(cs.voters);
  const learners = new Set<NodeId>(cs.learners);
  switch (cc.type) {
    case "addVoter":
      learners.delete(cc.nodeId);
      voters.add(cc.nodeId);
      break;
    case "addLearner":
      // Demoting a voter to learner is allowed (one node at a time).
      voters.delete(cc.nodeId);
      learners.add(cc.nodeId);
      break;
    case "removeNode":
      voters.delete(cc.nodeId);
      learners.delete(cc.nodeId);
      break;
  }
  const sort = (s: Set<NodeId>) => [...s].sort((a, b) => a - b);
  return { voters: sort(voters), learners: sort(learners) };
}
