/**
 * The plugin API: what a plugin is, the four write-path hooks and the context plugins receive.
 *
 * A plugin is a plain object `{ name, ...hooks }` made with {@link definePlugin}. Hooks run in the
 * order plugins were listed (`--plugins a,b`), with `enforce: "pre"` plugins first and
 * `enforce: "post"` plugins last (as in Vite). A hook that throws is reported with the plugin's
 * name; it can never corrupt committed state (see each hook for what happens).
 * @module
 */
import type { Registry } from "prom-client";
import type { CodeNumber } from "../../protocol/codes.ts";
import type { Config } from "../config/config.ts";
import type { Logger } from "../config/logger.ts";
import type { Entry, RaftStatus } from "../raft/types.ts";
import type { ResultSink, Value } from "../state/types.ts";
import type { Storage, StorageOptions } from "../storage/storage.ts";

/**
 * The node's Prometheus registry: prom-client's `Registry`. Register metrics on it with
 * `new Counter({ name, help, registers: [ctx.metrics] })` (import the metric classes from
 * `prom-client`).
 */
export type MetricsRegistry = Registry;

/** A client batch as it travels through the server. Commands stay encoded (CBOR array bytes). */
export interface ClientBatch {
  /** Client id (from AUTH/batch, or assigned per connection). */
  readonly clientId: string;
  /**
   * Batch id: the client's `batch_id` for a `COMMAND_BATCH`, `c:<request_id>` for a single
   * `COMMAND`. With `clientId` it identifies the batch (the idempotency plugin's cache key).
   */
  readonly batchId: string;
  /** CBOR encoding of the commands array; decoded once, when applied. */
  readonly commands: Uint8Array;
  /** Number of commands in the batch. */
  readonly count: number;
  /**
   * Set by the node when every command only reads: such a batch is served by a ReadIndex read
   * (linearizable, not written to the log) unless a plugin answers or rejects it in `onBatch`.
   * Plugins that take batches over (`{ defer: true }`) should pass read-only batches on.
   */
  readOnly?: boolean;
}

/** Results of one batch, one slot per command (columnar, as on the wire). */
export interface BatchResult extends ResultSink {}

/** What `onBatch` may decide. Returning nothing passes the batch on. */
export type BatchDecision =
  | void
  | undefined
  /** Answer the batch now with these results (it is not proposed). */
  | { respond: BatchResult }
  /** Refuse the whole batch: every command gets `code` and `message`. */
  | { reject: { code: CodeNumber; message: string } }
  /**
   * The plugin takes the batch over and will propose it later with `ctx.propose` (coalescing).
   * The client is answered when the entry carrying it is applied, as usual.
   */
  | { defer: true };

/** An entry about to be proposed: one or more client batches plus the leader's clock. */
export interface ProposedEntry {
  /** The client batches carried by the entry, in order. */
  readonly batches: readonly ClientBatch[];
  /** Leader-decided time (ms since epoch) written into the entry; used for expiry on all replicas. */
  readonly nowMs: number;
  /** The encoded entry data, exactly as it goes into the log. */
  readonly data: Uint8Array;
}

/** A committed or applied entry, decoded lazily from the log. */
export interface CommittedEntry {
  /** Raft log index of the entry. */
  readonly index: number;
  /** Raft term in which the entry was proposed. */
  readonly term: number;
  /** Leader-decided time (ms since epoch) written into the entry when it was proposed. */
  readonly nowMs: number;
  /** The client batches carried by the entry, in order. */
  readonly batches: readonly ClientBatch[];
  /** The raw Raft entry. */
  readonly raw: Entry;
}

/** Counters the core keeps whatever plugins are loaded (cheap integer adds). */
export interface NodeStats {
  /** Bytes received from clients and peers (frame payload plus the 4-byte header). */
  bytesIn: number;
  /** Bytes sent to clients and peers (frame payload plus the 4-byte header). */
  bytesOut: number;
  /** Client connections currently open. */
  connections: number;
  /** Client batches received (a single `COMMAND` counts as a batch of one). */
  batchesReceived: number;
  /** Client commands received, over all batches. */
  commandsReceived: number;
  /** Entries proposed to Raft by this node. */
  proposals: number;
  /** Client batches currently waiting for their outcome (bounded by `max_pending_batches`). */
  pendingBatches: number;
  /** Batches refused with BUSY. */
  busyRejections: number;
  /** Proposals that failed with TIMEOUT. */
  proposalTimeouts: number;
}

/** Read-only view of the node for plugins. */
export interface NodeView {
  /** This node's id (`node_id`). */
  readonly id: number;
  /** Raft status (term, commit, applied, role, leader, per-follower progress on the leader). */
  raftStatus(): RaftStatus;
  /** The node's counters. */
  stats(): Readonly<NodeStats>;
  /** Client address (`host:port`) of the current leader, if known. */
  leaderAddress(): string | undefined;
  /** Whether storage survives a crash. */
  readonly durable: boolean;
}

/** What every hook and lifecycle function receives. */
export interface PluginContext {
  /** The node's resolved configuration. */
  readonly config: Readonly<Config>;
  /** Logger prefixed with the plugin's name. */
  readonly logger: Logger;
  /** Prometheus registry shared by the node; the metrics plugin serves it. */
  readonly metrics: MetricsRegistry;
  /** Read-only view of the node (id, Raft status, counters, leader). */
  readonly node: NodeView;
  /**
   * Propose one entry carrying `batches` (used by plugins that returned `{ defer: true }`).
   * Batches that cannot be proposed (not leader, busy, shutting down) are answered with an error.
   */
  propose(batches: ClientBatch[]): void;
  /**
   * Answer a deferred batch without proposing it (e.g. a coalescing queue that is full).
   */
  answer(batch: ClientBatch, result: BatchResult | { code: CodeNumber; message: string }): void;
}

/** A TinyKV plugin. Every member except `name` is optional. */
export interface Plugin {
  /** Unique name; used in logs and error messages. */
  name: string;
  /** Ordering among plugins: "pre" runs before normal ones, "post" after (e.g. coalesce). */
  enforce?: "pre" | "post";

  /** Called once at load, before the node starts. May validate config and throw. */
  setup?(ctx: PluginContext): void | Promise<void>;
  /** The node is running (listeners open). */
  start?(ctx: PluginContext): void | Promise<void>;
  /** The node is stopping; release resources. */
  stop?(ctx: PluginContext): void | Promise<void>;

  /**
   * A client batch arrived on the leader, before proposal. May answer, reject or defer it.
   * If it throws, the batch is answered with INTERNAL naming the plugin and is not proposed.
   */
  onBatch?(batch: ClientBatch, ctx: PluginContext): BatchDecision | Promise<BatchDecision>;
  /** An entry is about to be proposed (leader only). Throwing fails the entry's batches with INTERNAL. */
  onPropose?(entry: ProposedEntry, ctx: PluginContext): void;
  /** A quorum holds the entry (every replica, in log order). Errors are logged, never fatal. */
  onCommit?(entry: CommittedEntry, ctx: PluginContext): void;
  /**
   * Called for each batch of an entry before it is applied, on every replica, in log order. Returning
   * results skips applying that batch and answers it with them (exactly-once deduplication). Must be
   * deterministic: it runs on every replica and must decide the same everywhere.
   */
  beforeApply?(
    batch: ClientBatch,
    entry: CommittedEntry,
    ctx: PluginContext,
  ): BatchResult | undefined;
  /**
   * The entry was applied; `results[i]` belongs to `entry.batches[i]`. Runs on every replica in log
   * order, so state kept here is replicated state (include it in `snapshot`/`restore`). Errors are
   * logged with the plugin's name and never undo the apply.
   */
  onApply?(entry: CommittedEntry, results: readonly BatchResult[], ctx: PluginContext): void;

  /** Replicated plugin state to include in snapshots (state built in onApply/beforeApply). */
  snapshot?(ctx: PluginContext): Uint8Array;
  /** Restore replicated plugin state from `snapshot()` output. */
  restore?(data: Uint8Array, ctx: PluginContext): void;

  /** Provide the node's storage (at most one plugin may; the wal plugin does). */
  storage?(opts: StorageOptions, ctx: PluginContext): Storage | Promise<Storage>;
}

/**
 * Defines a plugin. Identity function that gives plugin authors type checking:
 * ```ts
 * export default definePlugin({ name: "audit", onApply(entry) { ... } });
 * ```
 */
export function definePlugin<P extends Plugin>(plugin: P): P {
  if (!plugin || typeof plugin.name !== "string" || plugin.name === "") {
    throw new TypeError("definePlugin: a plugin needs a non-empty name");
  }
  return plugin;
}

/** Results value type re-exported for plugin authors. */
export type { Value };
