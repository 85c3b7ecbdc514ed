/**
 * Public types of the client library: options, results and the `Client` interface.
 * @module
 */
import type { CodeName } from "../protocol/codes.ts";
import type { WireValue as Value } from "../protocol/messages.ts";
import type { Transport } from "../transports/types.ts";
import type { Watcher, WatchSpec } from "./watch.ts";

export type { Value };

/** One command argument: text (sent as a CBOR text string) or raw bytes (binary-safe). */
export type Arg = string | Uint8Array;

/** Tuning of the auto-batching pipeline (see {@link ConnectOptions.autoBatch}). */
export interface AutoBatchOptions {
  /** Most commands coalesced into one `COMMAND_BATCH` frame. Default 100. */
  maxBatch?: number;
  /**
   * Longest a queued command waits for more company before its frame is sent. Default 0: the
   * frame leaves on the next event-loop turn (every `command()` issued in the current turn joins).
   */
  maxDelayMs?: number;
  /** Most auto-batch frames awaiting their response at once. Default 16. */
  maxInflightFrames?: number;
  /**
   * Most commands waiting for a free frame slot. Beyond it `command()` rejects at once with a
   * `BUSY` {@link TinyKVError} (client-side back-pressure). Default `maxBatch * maxInflightFrames * 4`.
   */
  maxQueued?: number;
}

/**
 * The client's clock and timers. Default: the runtime's (`Date.now`, `setTimeout`,
 * `setImmediate`); the seeded simulation passes virtual ones.
 */
export interface ClientTimers {
  /** Wall-clock ms. */
  now(): number;
  /** Runs `fn` after `ms`; returns a function that cancels it. */
  timeout(ms: number, fn: () => void): () => void;
  /** Runs `fn` on the next turn of the event loop; returns a function that cancels it. */
  immediate(fn: () => void): () => void;
}

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** Server host. Default `127.0.0.1` (used when `endpoints` is not given). */
  host?: string;
  /** Server client port. Default 5210. */
  port?: number;
  /** Server password; when set, every connection authenticates first (`AUTH`). */
  password?: string;
  /**
   * Transport, as the server was started with: `tcp` (default) or `udp`, or a `Transport` object
   * (`transports/types.ts`; tests and the simulation pass their own).
   */
  transport?: "tcp" | "udp" | Transport;
  /** Clock and timers (default: the runtime's). */
  timers?: ClientTimers;
  /**
   * Ask every node to serve this client's requests: a follower forwards writes to the leader and
   * serves reads itself (follower ReadIndex) instead of answering `NOT_LEADER`. Useful when the
   * client cannot reach the leader, or to spread reads. Default false (follow redirects to the
   * leader: one hop fewer for writes).
   */
  forward?: boolean;
  /**
   * Every node's client address (`host:port`). The client talks to one at a time, follows
   * `NOT_LEADER` redirects, and moves to the next one when a connection is lost. When `host`/`port`
   * are given too, that address is tried first.
   */
  endpoints?: string[];
  /** Per-request timeout in ms (covers redirects and retries). Default 5000. */
  timeoutMs?: number;
  /** Time allowed to open one connection (and authenticate) in ms. Default 2000. */
  connectTimeoutMs?: number;
  /**
   * With several endpoints: when the node a request was sent to (or is being connected to) has
   * not answered within this many ms, the client stops waiting for it alone, moves to another
   * endpoint (which answers with the leader's address) and resends the same bytes there, so a
   * frozen or cut-off leader costs about this long. Default 1000 (a few election timeouts).
   */
  attemptTimeoutMs?: number;
  /**
   * A request whose outcome is open (sent, then the connection was lost or the node did not
   * answer) is never resent later than this many ms after it was first sent; it then ends as
   * `TIMEOUT`, outcome unknown. At most (and by default) `RESEND_WINDOW_MS` = 8000, which keeps
   * every resend inside the server's deduplication window (`idempotency_max_age_ms` ≥ 10 s).
   */
  resendWindowMs?: number;
  /** Coalesce concurrent `command()` calls into `COMMAND_BATCH` frames. Default false. */
  autoBatch?: boolean | AutoBatchOptions;
  /**
   * Stable id sent with every batch and in `AUTH` (the idempotency plugin keys its cache by
   * client id + batch id). Default: a fresh hyperid per client.
   */
  clientId?: string;
  /** Most redirects / reconnections for one request before giving up (with backoff, within the timeout). Default 20. */
  maxRedirects?: number;
  /**
   * Largest `commands_cbor` payload per `COMMAND_BATCH` frame; larger batches are split into several
   * frames (sent one after the other, results concatenated in order). Must not exceed the server's
   * `batch_max_bytes`. Default 1 MiB (the server default) minus room for the envelope.
   */
  maxBatchBytes?: number;
  /** Largest response frame accepted from the server. Default 64 MiB. */
  maxResponseBytes?: number;
}

/** Options of {@link Client.batch}. */
export interface BatchOptions {
  /**
   * The batch id. Give the same id when you resend the same batch (e.g. after a `TIMEOUT`) so the
   * idempotency plugin can answer it from its cache. Default: a fresh hyperid.
   */
  batchId?: string;
  /** Timeout for this batch (each frame, when split). Default: the client's `timeoutMs`. */
  timeoutMs?: number;
}

/** The outcome of one command of a batch. */
export interface BatchItemResult {
  /** True for `OK` and `NOT_FOUND`. */
  ok: boolean;
  /** Result code name, e.g. `"OK"`, `"WRONG_TYPE"`. */
  code: CodeName;
  /** The value (null when there is none or on error). */
  value: Value;
  /** The error message, or null on success. */
  error: string | null;
}

/** Counters of one client (bytes are payload plus the 4-byte frame header). */
export interface ClientStats {
  /** Bytes sent to servers. */
  bytesSent: number;
  /** Bytes received from servers. */
  bytesReceived: number;
  /** Frames sent. */
  framesSent: number;
  /** Frames received. */
  framesReceived: number;
  /** Connections opened after the first one. */
  reconnects: number;
  /** Requests resent after `NOT_LEADER` / `UNAVAILABLE` / a lost connection. */
  retries: number;
}

/** A queued set of commands sent as one batch by {@link Pipeline.exec}. */
export interface Pipeline {
  /** Queues one command; returns the pipeline for chaining. */
  command(...args: Arg[]): Pipeline;
  /** Number of queued commands. */
  readonly length: number;
  /** Sends the queued commands as one batch (split if too large) and empties the queue. */
  exec(opts?: BatchOptions): Promise<BatchItemResult[]>;
}

/** A connected TinyKV client. */
export interface Client {
  /** This client's id (sent with every batch). */
  readonly clientId: string;
  /** The address currently talked to (`host:port`). */
  readonly endpoint: string;
  /**
   * Runs one command. Resolves to its value (`null` for `NOT_FOUND`), or rejects with a
   * `TinyKVError` carrying the code. Arguments are sent as they are (a string with spaces stays one
   * argument).
   */
  command(...args: Arg[]): Promise<Value>;
  /** Runs many commands as one `COMMAND_BATCH`; one result per command, in order. */
  batch(commands: Arg[][], opts?: BatchOptions): Promise<BatchItemResult[]>;
  /** A pipeline that queues commands and sends them as one batch on `exec()`. */
  pipeline(): Pipeline;
  /** Counters (bytes on the wire, frames, retries). */
  stats(): ClientStats;
  /**
   * Watches a key, a prefix or a range from a revision: an async iterator of every change, in
   * revision order, resumed across reconnects on any endpoint (see docs/watch.md).
   */
  watch(spec: WatchSpec): Watcher;
  /** Closes every connection; pending requests reject. */
  close(): Promise<void>;
}
