/**
 * The node's snapshot payload: the state machine's snapshot plus every plugin's replicated state
 * (e.g. the idempotency cache) and the members' addresses, so a restored replica has exactly the
 * state it would have had by applying the log.
 *
 * Layout: `"TKVN"`, u8 version (1), u32 length `n` of the metadata, `n` bytes of CBOR
 * `{ plugins, members }`, then the state machine's snapshot up to the end. The state machine
 * writes its snapshot straight after this envelope, into the same buffer, so the (large) state is
 * never copied again.
 * @module
 */
import { setImmediate } from "node:timers";
import { decodeCbor, encodeCbor } from "../../protocol/cbor.ts";
import type { PluginSnapshotJob } from "../plugin/plugin.ts";
import type { StateMachine } from "../state/types.ts";

const MAGIC = [0x54, 0x4b, 0x56, 0x4e]; // "TKVN"
const VERSION = 1;
const HEADER = 9;

/** Decoded snapshot payload. */
export interface NodeSnapshot {
  state: Uint8Array;
  plugins: Record<string, Uint8Array>;
  /** Raft and client addresses of members known at snapshot time. */
  members: Record<number, { raft: string; client: string }>;
}

function envelope(meta: Omit<NodeSnapshot, "state">): Uint8Array {
  const rest = encodeCbor({ plugins: meta.plugins, members: meta.members });
  const head = new Uint8Array(HEADER + rest.length);
  head.set(MAGIC, 0);
  head[4] = VERSION;
  new DataView(head.buffer).setUint32(5, rest.length);
  head.set(rest, HEADER);
  return head;
}

/** What a node snapshot is made of before encoding: plugin states may still be jobs. */
export interface NodeSnapshotParts extends Omit<NodeSnapshot, "state" | "plugins"> {
  plugins: Record<string, Uint8Array | PluginSnapshotJob>;
}

/**
 * Encodes a node snapshot: the envelope and metadata, then `sm`'s snapshot of the state as it is
 * now, written in place `keysPerStep` keys per event-loop turn (commands applied meanwhile do not
 * change the result; see `StateMachine.beginSnapshot`). Plugin states given as jobs (captured
 * with the state, at the same applied index) are stepped first, `keysPerStep` items per turn;
 * the state's capture is taken here, before any turn passes. `sizeHint` (the expected size)
 * presizes the buffer; `nextTurn` waits for the next turn (default: `setImmediate`).
 */
export async function encodeNodeSnapshotInSteps(
  sm: StateMachine,
  parts: NodeSnapshotParts,
  sizeHint: number,
  keysPerStep: number,
  nextTurn: () => Promise<void> = () => new Promise<void>((r) => setImmediate(r)),
): Promise<Uint8Array> {
  const job = sm.beginSnapshot(undefined, sizeHint);
  try {
    const plugins: Record<string, Uint8Array> = {};
    for (const [name, p] of Object.entries(parts.plugins)) {
      if (p instanceof Uint8Array) {
        plugins[name] = p;
        continue;
      }
      while (!p.step(keysPerStep)) await nextTurn();
      plugins[name] = p.finish();
    }
    job.prefix(envelope({ plugins, members: parts.members }));
    while (!job.step(keysPerStep)) await nextTurn();
  } catch (err) {
    job.abort();
    throw err;
  }
  return job.finish();
}

/**
 * The same snapshot with its members' addresses replaced (a backup restored into a new cluster:
 * the old cluster's addresses must not override the new members' configuration).
 */
export function withMembers(
  data: Uint8Array,
  members: NodeSnapshot["members"],
): Uint8Array {
  const s = decodeNodeSnapshot(data);
  const head = envelope({ plugins: s.plugins, members });
  const out = new Uint8Array(head.length + s.state.length);
  out.set(head, 0);
  out.set(s.state, head.length);
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
    rest = decodeCbor(data.subarray(HEADER, HEADER + len)) as typeof rest;
  } catch (err) {
    throw bad(`metadata: ${(err as Error).message}`);
  }
  if (!rest || typeof rest !== "object") throw bad("metadata is not a map");
  return {
    state: data.subarray(HEADER + len),
    plugins: (rest.plugins ?? {}) as Record<string, Uint8Array>,
    members: (rest.members ?? {}) as NodeSnapshot["members"],
  };
}
