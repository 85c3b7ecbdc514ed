/**
 * The node's snapshot payload: the state machine's snapshot plus every plugin's replicated state
 * (e.g. the idempotency cache) and the members' addresses, so a restored replica has exactly the
 * state it would have had by applying the log.
 *
 * Layout: `"TKVS"`, u8 version (1), u32 length of the state-machine snapshot, that snapshot (copied
 * once, never re-encoded), then one CBOR map `{ plugins, members }`.
 * @module
 */
import { decodeCbor, encodeCbor } from "./cbor.ts";

const MAGIC = [0x54, 0x4b, 0x56, 0x53]; // "TKVS"
const VERSION = 1;
const HEADER = 9;

/** Decoded snapshot payload. */
export interface NodeSnapshot {
  state: Uint8Array;
  plugins: Record<string, Uint8Array>;
  /** Raft and client addresses of members known at snapshot time. */
  members: Record<number, { raft: string; client: string }>;
}

/** Encodes a node snapshot. */
export function encodeNodeSnapshot(s: NodeSnapshot): Uint8Array {
  const rest = encodeCbor({ plugins: s.plugins, members: s.members });
  const out = new Uint8Array(HEADER + s.state.length + rest.length);
  out.set(MAGIC, 0);
  out[4] = VERSION;
  new DataView(out.buffer).setUint32(5, s.state.length);
  out.set(s.state, HEADER);
  out.set(rest, HEADER + s.state.length);
  return out;
}

/** Decodes a node snapshot; throws with a clear message when it is not one. */
export function decodeNodeSnapshot(data: Uint8Array): NodeSnapshot {
  const bad = (why: string) => new Error(`snapshot payload is not a TinyKV node snapshot: ${why}`);
  if (data.length < HEADER || MAGIC.some((m, i) => data[i] !== m)) throw bad("bad magic");
  if (data[4] !== VERSION) throw bad(`unknown version ${data[4]}`);
  const len = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(5);
  if (HEADER + len > data.length) throw bad("truncated");
  let rest: { plugins?: unknown; members?: unknown };
  try {
    rest = decodeCbor(data.subarray(HEADER + len)) as typeof rest;
  } catch (err) {
    throw bad(`trailer: ${(err as Error).message}`);
  }
  if (!rest || typeof rest !== "object") throw bad("trailer is not a map");
  return {
    state: data.subarray(HEADER, HEADER + len),
    plugins: (rest.plugins ?? {}) as Record<string, Uint8Array>,
    members: (rest.members ?? {}) as NodeSnapshot["members"],
  };
}
