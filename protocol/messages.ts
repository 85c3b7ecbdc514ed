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
  AUTH_RESPONSE: 0x81,
  COMMAND_RESPONSE: 0x82,
  BATCH_RESPONSE: 0x83,
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

/** Every client→server message. */
export type ClientMessage = AuthRequest | CommandRequest | BatchRequest;
/** Every server→client message. */
export type ServerMessage = AuthResponse | CommandResponse | BatchResponse | ErrorMessage;

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
  | Received<BatchRequest>;

/** `m` (a decoded CBOR map) as a client message when its `type` is one, else null. */
export function asClientMessage(m: Record<string, unknown>): ReceivedClientMessage | null {
  const t = m.type;
  return t === MsgType.AUTH || t === MsgType.COMMAND || t === MsgType.COMMAND_BATCH
    ? m as ReceivedClientMessage
    : null;
}

/** A server→client message as decoded, narrowed by its `type`. */
export type ReceivedServerMessage =
  | Received<AuthResponse>
  | Received<CommandResponse>
  | Received<BatchResponse>
  | Received<ErrorMessage>;

/** `m` (a decoded CBOR map) as a server message when its `type` is one, else null. */
export function asServerMessage(m: Record<string, unknown>): ReceivedServerMessage | null {
  const t = m.type;
  return t === MsgType.AUTH_RESPONSE || t === MsgType.COMMAND_RESPONSE ||
      t === MsgType.BATCH_RESPONSE || t === MsgType.ERROR
    ? m as ReceivedServerMessage
    : null;
}
