/**
 * Client wire protocol: message types and shapes. See `docs/protocol.md`.
 *
 * On TCP every message travels as a frame: a 4-byte big-endian length, then one CBOR map. On UDP
 * the transport delivers the same CBOR maps as whole messages. Field names follow DESIGN §4.
 *
 * The messages form two unions discriminated by `type`: {@link ClientMessage} (what a client
 * sends, built by `client/`) and {@link ServerMessage} (what the server sends, built by
 * `core/server/`). A message just decoded from the network is a {@link Received} one: its `type`
 * is known, its other fields are not checked yet. {@link CommandResult} and {@link BatchResults}
 * are the one shape of a command's and a batch's results, from the state machine to the client.
 * @module
 */
import type { CodeNumber } from "./codes.ts";

/** Message type numbers (the `type` field of every message). */
export const MsgType = {
  AUTH: 1,
  COMMAND: 2,
  COMMAND_BATCH: 3,
  /** Subscribe to changes of a key, prefix or range from a revision (see {@link WatchRequest}). */
  WATCH: 4,
  /** Ends a watch the client started. */
  WATCH_CANCEL: 5,
  AUTH_RESPONSE: 0x81,
  COMMAND_RESPONSE: 0x82,
  BATCH_RESPONSE: 0x83,
  /** Server-pushed events of one watch (also its creation acknowledgement). */
  WATCH_EVENTS: 0x84,
  /** The server ended a watch (or refused to start it), with a reason. */
  WATCH_CANCELED: 0x85,
  /** A connection-level error (malformed frame, too large, auth): sent before closing, or alone. */
  ERROR: 0xff,
} as const;

/**
 * Most commands in one `COMMAND_BATCH` (checked at admission, and again before apply, against the
 * commands actually present: a batch claiming more gets `TOO_LARGE`). See docs/limits.md.
 */
export const MAX_BATCH_COMMANDS = 100_000;

/**
 * Most bytes of values one batch's replies may hold (16 MiB). Replies past it get TOO_LARGE —
 * decided at apply from the state, so the same on every replica — and the commands still run: a
 * 9 KB batch of GETs on a 900 KB value used to build a 900 MB reply (and cache it for retries).
 */
export const MAX_BATCH_REPLY_BYTES = 16 * 1024 * 1024;

/** One command: an argv array (binary-safe) or the plan's space-separated string form. */
export type WireCommand = (string | Uint8Array)[] | string;

/** `AUTH`: authenticate the connection with the server password. */
export interface AuthRequest {
  type: typeof MsgType.AUTH;
  password: string | Uint8Array;
  /** Optional stable client id (used to key the idempotency cache). */
  client_id?: string;
}

/** `COMMAND`: one command, one response. Kept for backward compatibility. */
export interface CommandRequest {
  type: typeof MsgType.COMMAND;
  request_id: string;
  command: WireCommand;
  auth_key?: string | Uint8Array;
  /** Served by this node even if it follows (see {@link BatchRequest.forward}). */
  forward?: boolean;
}

/**
 * `COMMAND_BATCH`: many commands, one response with one slot per command.
 * Either `commands` (an array) or `commands_cbor` (the CBOR encoding of that array, as a byte
 * string) is set. `commands_cbor` lets the server put the bytes in the log without re-encoding.
 */
export interface BatchRequest {
  type: typeof MsgType.COMMAND_BATCH;
  batch_id: string;
  request_ids?: string[];
  commands?: WireCommand[];
  commands_cbor?: Uint8Array;
  auth_key?: string | Uint8Array;
  client_id?: string;
  /**
   * Served by the node it is sent to even if that node follows: reads by a follower ReadIndex,
   * writes forwarded to the leader, instead of a `NOT_LEADER` redirect.
   */
  forward?: boolean;
}

/** A value in a response slot. Integers are numbers; bulk values are byte strings. */
export type WireValue = null | number | Uint8Array | string | WireValue[];

/**
 * Bytes a reply value holds (byte strings and nested arrays; numbers and short texts count as 8),
 * counting no further than `limit` (a huge LRANGE is not walked to its end).
 */
export function valueBytes(v: WireValue, limit: number): number {
  if (v instanceof Uint8Array) return v.length;
  if (typeof v === "string") return 2 * v.length;
  if (!Array.isArray(v)) return 8;
  let n = 8 * v.length;
  for (let i = 0; i < v.length && n <= limit; i++) {
    const x = v[i];
    if (x !== null && typeof x === "object") n += valueBytes(x, limit - n);
    else if (typeof x === "string") n += 2 * x.length;
  }
  return n;
}

/** One command's result: its code, its value (null when none or on error), its error message (null on success). */
export interface CommandResult {
  /** The result code. */
  code: CodeNumber;
  /** The value (null when there is none or on error). */
  value: WireValue;
  /** The error message, or null on success. */
  error: string | null;
  /** With `NOT_LEADER`: the leader's client address (the client follows it). */
  leader?: string;
}

/**
 * A batch's results in columnar form: slot `i` is command `i`'s code, value and error message
 * (null on success). Columnar so the server sends them as `BATCH_RESPONSE`'s arrays as they are.
 */
export interface BatchResults {
  /** Result code of each command (a `Code` value; a client reads an unknown number as `INTERNAL`). */
  codes: number[];
  /** Value of each command (null when there is none or on error). */
  data: WireValue[];
  /** Error message of each command, or null on success. */
  errors: (string | null)[];
}

/** Response to `AUTH`. */
export interface AuthResponse {
  type: typeof MsgType.AUTH_RESPONSE;
  code: number;
  error?: string;
}

/** Response to `COMMAND`. */
export interface CommandResponse {
  type: typeof MsgType.COMMAND_RESPONSE;
  request_id: string;
  code: number;
  data: WireValue;
  /** The error message; absent (or, for a server command, null) on success. */
  error?: string | null;
  /** With `NOT_LEADER`: the leader's client address. */
  leader?: string;
}

/** Response to `COMMAND_BATCH`: `codes`, `data` and `errors` have one slot per command. */
export interface BatchResponse extends BatchResults {
  type: typeof MsgType.BATCH_RESPONSE;
  batch_id: string;
  /** With `NOT_LEADER` (whole batch refused): the leader's client address. */
  leader?: string;
}

/** A connection-level error. */
export interface ErrorMessage {
  type: typeof MsgType.ERROR;
  code: number;
  error: string;
  /** Echoed when the error concerns one identifiable request. */
  batch_id?: string;
  request_id?: string;
  leader?: string;
}

/** Largest `watch_id` (ids are integers 1..MAX_WATCH_ID chosen by the client, unique per connection). */
export const MAX_WATCH_ID = 2 ** 31 - 1;

/**
 * `WATCH`: subscribe on this connection to changes of one `key`, every key starting with `prefix`,
 * or the keys in [`start`, `end`) (byte order; empty or absent `end` = no upper bound) — exactly
 * one of `key`, `prefix`, `start` — from revision `from_rev` (absent or 0: from the next
 * revision). The server answers with `WATCH_EVENTS` (`created: true`) or `WATCH_CANCELED`.
 */
export interface WatchRequest {
  type: typeof MsgType.WATCH;
  watch_id: number;
  key?: string | Uint8Array;
  prefix?: string | Uint8Array;
  start?: string | Uint8Array;
  end?: string | Uint8Array;
  from_rev?: number;
  auth_key?: string | Uint8Array;
}

/** `WATCH_CANCEL`: the client ends one of its watches (answered with `WATCH_CANCELED`, reason CANCELED). */
export interface WatchCancelRequest {
  type: typeof MsgType.WATCH_CANCEL;
  watch_id: number;
}

/**
 * One event on the wire: `[type, key, value, create_rev, mod_rev, version, rev]` with type 0 =
 * put, 1 = delete; `value` is null for a delete and for a key that does not hold a string.
 */
export type WireWatchEvent = [
  type: number,
  key: Uint8Array,
  value: Uint8Array | null,
  create_rev: number,
  mod_rev: number,
  version: number,
  rev: number,
];

/**
 * `WATCH_EVENTS`: events of one watch in revision order (several may share a revision), never a
 * gap or a repeat; `rev` is the revision up to which the watch is complete (every event up to and
 * including it was sent): a client resumes from `rev + 1`. `events` may be empty (a creation
 * acknowledgement, `created: true`, or a progress notice).
 */
export interface WatchEventsMessage {
  type: typeof MsgType.WATCH_EVENTS;
  watch_id: number;
  rev: number;
  events: WireWatchEvent[];
  created?: boolean;
}

/** Why a watch ended (`WATCH_CANCELED.reason`). */
export const WatchReason = {
  /** The client cancelled it (`WATCH_CANCEL`). */
  CANCELED: 1,
  /** Its start revision is older than the history kept: `compact_rev` is the oldest available. */
  COMPACTED: 2,
  /** Its connection did not read fast enough (more than `watch_max_pending_bytes` unread). */
  SLOW: 3,
  /** The keyspace was flushed (FLUSHALL/FLUSHDB) at revision `rev`; watch again from `rev + 1`. */
  FLUSHED: 4,
  /** Too many watches (`watch_max_per_connection` / `watch_max_total`). */
  TOO_MANY: 5,
  /** The request was invalid (`error` says why). */
  INVALID: 6,
  /** The server is shutting down (watch again elsewhere from `rev + 1`). */
  SHUTDOWN: 7,
  /** Authentication required or failed. */
  DENIED: 8,
  /** This node keeps no watch history (`watch_history_revisions` = 0). */
  DISABLED: 9,
  /**
   * This node has had no leader for a while (cut off from the cluster: its history stopped); watch
   * again elsewhere from `rev + 1`.
   */
  NO_LEADER: 10,
} as const;
/** A watch cancel reason number. */
export type WatchReasonNumber = (typeof WatchReason)[keyof typeof WatchReason];

/** `WATCH_CANCELED`: the watch is over (no further events for `watch_id`). */
export interface WatchCanceledMessage {
  type: typeof MsgType.WATCH_CANCELED;
  watch_id: number;
  reason: number;
  error: string;
  /** With COMPACTED: the oldest revision this node can still serve. */
  compact_rev?: number;
  /** The revision up to which the watch was complete (with FLUSHED: the flush's revision). */
  rev?: number;
}

/** Every client→server message. */
export type ClientMessage =
  | AuthRequest
  | CommandRequest
  | BatchRequest
  | WatchRequest
  | WatchCancelRequest;
/** Every server→client message. */
export type ServerMessage =
  | AuthResponse
  | CommandResponse
  | BatchResponse
  | ErrorMessage
  | WatchEventsMessage
  | WatchCanceledMessage;

/**
 * A message as decoded from the network, before its fields are checked: `type` says which message
 * it claims to be, every other field is present or not, of any type.
 */
export type Received<M extends { type: number }> =
  & { readonly type: M["type"] }
  & { readonly [K in Exclude<keyof M, "type">]?: unknown };

/** A client→server message as decoded, narrowed by its `type`. */
export type ReceivedClientMessage =
  | Received<AuthRequest>
  | Received<CommandRequest>
  | Received<BatchRequest>
  | Received<WatchRequest>
  | Received<WatchCancelRequest>;

/** `m` (a decoded CBOR map) as a client message when its `type` is one, else null. */
export function asClientMessage(m: Record<string, unknown>): ReceivedClientMessage | null {
  const t = m.type;
  return t === MsgType.AUTH || t === MsgType.COMMAND || t === MsgType.COMMAND_BATCH ||
      t === MsgType.WATCH || t === MsgType.WATCH_CANCEL
    ? m as ReceivedClientMessage
    : null;
}

/** A server→client message as decoded, narrowed by its `type`. */
export type ReceivedServerMessage =
  | Received<AuthResponse>
  | Received<CommandResponse>
  | Received<BatchResponse>
  | Received<ErrorMessage>
  | Received<WatchEventsMessage>
  | Received<WatchCanceledMessage>;

/** `m` (a decoded CBOR map) as a server message when its `type` is one, else null. */
export function asServerMessage(m: Record<string, unknown>): ReceivedServerMessage | null {
  const t = m.type;
  return t === MsgType.AUTH_RESPONSE || t === MsgType.COMMAND_RESPONSE ||
      t === MsgType.BATCH_RESPONSE || t === MsgType.ERROR || t === MsgType.WATCH_EVENTS ||
      t === MsgType.WATCH_CANCELED
    ? m as ReceivedServerMessage
    : null;
}
