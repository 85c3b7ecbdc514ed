/**
 * The plugin API: what a plugin is, the four write-path hooks and the context plugins receive.
 *
 * A plugin is a plain object `{ name, ...hooks }` made with {@link definePlugin}. Hooks run in the
 * order plugins were listed (`--plugins a,b`), with `enforce: "pre"` plugins first and
 * `enforce: "post"` plugins last (as in Vite). A hook that throws is reported with the plugin's
 * name; it can never corrupt committed state (see each hook for what happens).
 *
 * A plugin declares its options with their type, default, range and help; they are set like core
 * options (flag, environment, config file), validated, listed in `--help`, and reach every hook,
 * parsed and typed, as `ctx.options`:
 * ```ts
 * export default definePlugin({
 *   name: "audit",
 *   options: {
 *     path: { type: "string", default: "audit.log", help: "file the lines go to" },
 *     max_mb: { type: "int", default: 64, min: 1, max: 4096, help: "rotate after this many MiB" },
 *   },
 *   setup(ctx) {
 *     ctx.options.path; // string: --audit-path, TINYKV_AUDIT_PATH, "audit_path" in a config file
 *     ctx.options.max_mb; // number, already checked to be within 1..4096
 *   },
 * });
 * ```
 * @module
 */
import type { Registry } from "prom-client";
import type { LoopBlockStats } from "../env/loop_monitor.ts";
import type { CodeNumber } from "../../protocol/codes.ts";
import {
  type Config,
  envName,
  OPTIONS,
  type OptionSpec,
  parseOptionValue,
} from "../config/config.ts";
import type { Logger } from "../config/logger.ts";
import type { FileSystem } from "../env/fs.ts";
import type { Clock, Scheduler } from "../env/time.ts";
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
  /** Times this node saw a new leader (a change to leader 0, "no leader", is not counted). */
  leaderChanges?: number;
  /** Keys in the state machine (set when `stats()` is read). */
  keys?: number;
  /** What the event-loop block detector has seen (`core/env/loop_monitor.ts`). */
  loopBlocks?: LoopBlockStats;
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

/** What every declared option has, whatever its type. */
export interface PluginOptionBase {
  /** One line for `--help`. */
  help: string;
  /** Environment variable, when not `TINYKV_<PLUGIN>_<NAME>` (e.g. to keep an older name). */
  env?: string;
}

/**
 * One option a plugin declares, by the type of its value. Integers need a range (every count is
 * bounded); values outside it are refused at start with the key, the value and the range.
 */
export type PluginOption =
  | PluginOptionBase & { type: "int"; default: number; min: number; max: number }
  | PluginOptionBase & { type: "string"; default: string }
  | PluginOptionBase & { type: "bool"; default: boolean }
  | PluginOptionBase & { type: "enum"; choices: readonly string[]; default: string }
  | PluginOptionBase & { type: "list"; default: readonly string[] };

/**
 * A plugin's options: short name (snake_case) → declaration. The full name is
 * `<plugin>_<name>`: option `fsync` of plugin `wal` is `wal_fsync` in a config file, `--wal-fsync`
 * on the command line and `TINYKV_WAL_FSYNC` in the environment (a `-` in the plugin's name
 * becomes `_`).
 */
export type PluginOptions = { readonly [name: string]: PluginOption };

/** The parsed value of one declared option: `int` → number, `enum` → one of its choices, ... */
export type OptionValue<D extends PluginOption> = D extends { type: "int" } ? number
  : D extends { type: "string" } ? string
  : D extends { type: "bool" } ? boolean
  : D extends { type: "enum"; choices: readonly (infer C)[] } ? C
  : D extends { type: "list" } ? string[]
  : never;

/** `ctx.options`: every declared option by its short name, parsed (defaults filled in). */
export type OptionValues<O extends PluginOptions> = { readonly [K in keyof O]: OptionValue<O[K]> };

/** What every hook and lifecycle function receives. */
export interface PluginContext<O extends PluginOptions = PluginOptions> {
  /** This plugin's options (declared in `options`), parsed and validated: `ctx.options.fsync`. */
  readonly options: OptionValues<O>;
  /** The node's resolved configuration (core options; plugin options under their full names). */
  readonly config: Readonly<Config>;
  /** Logger prefixed with the plugin's name. */
  readonly logger: Logger;
  /** Prometheus registry shared by the node; the metrics plugin serves it. */
  readonly metrics: MetricsRegistry;
  /** Read-only view of the node (id, Raft status, counters, leader). */
  readonly node: NodeView;
  /**
   * The node's clocks. Read time through these, not `Date.now()`/`performance.now()`, so the
   * plugin runs the same under the seeded simulation's virtual clock.
   */
  readonly clock: Clock;
  /** The node's timers (use instead of `setTimeout`/`setInterval`, for the same reason). */
  readonly scheduler: Scheduler;
  /** The node's files (storage plugins keep their files through this; the simulation's disk in tests). */
  readonly fs: FileSystem;
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
export interface Plugin<O extends PluginOptions = PluginOptions> {
  /** Unique name; used in logs and error messages, and as the prefix of its options' names. */
  name: string;
  /** The options this plugin takes (see {@link PluginOptions}); hooks read them as `ctx.options`. */
  options?: O;
  /** Ordering among plugins: "pre" runs before normal ones, "post" after (e.g. coalesce). */
  enforce?: "pre" | "post";

  /** Called once at load, before the node starts. May validate config and throw. */
  setup?(ctx: PluginContext<O>): void | Promise<void>;
  /** The node is running (listeners open). */
  start?(ctx: PluginContext<O>): void | Promise<void>;
  /** The node is stopping; release resources. */
  stop?(ctx: PluginContext<O>): void | Promise<void>;

  /**
   * A client batch arrived on the leader, before proposal. May answer, reject or defer it.
   * If it throws, the batch is answered with INTERNAL naming the plugin and is not proposed.
   */
  onBatch?(batch: ClientBatch, ctx: PluginContext<O>): BatchDecision | Promise<BatchDecision>;
  /** An entry is about to be proposed (leader only). Throwing fails the entry's batches with INTERNAL. */
  onPropose?(entry: ProposedEntry, ctx: PluginContext<O>): void;
  /** A quorum holds the entry (every replica, in log order). Errors are logged, never fatal. */
  onCommit?(entry: CommittedEntry, ctx: PluginContext<O>): void;
  /**
   * Called for each batch of an entry before it is applied, on every replica, in log order. Returning
   * results skips applying that batch and answers it with them (exactly-once deduplication). Must be
   * deterministic: it runs on every replica and must decide the same everywhere.
   */
  beforeApply?(
    batch: ClientBatch,
    entry: CommittedEntry,
    ctx: PluginContext<O>,
  ): BatchResult | undefined;
  /**
   * The entry was applied; `results[i]` belongs to `entry.batches[i]`. Runs on every replica in log
   * order, so state kept here is replicated state (include it in `snapshot`/`restore`). Errors are
   * logged with the plugin's name and never undo the apply.
   */
  onApply?(entry: CommittedEntry, results: readonly BatchResult[], ctx: PluginContext<O>): void;

  /** Replicated plugin state to include in snapshots (state built in onApply/beforeApply). */
  snapshot?(ctx: PluginContext<O>): Uint8Array;
  /**
   * For large replicated state, instead of `snapshot` (used when both exist): the state as it is
   * now, captured quickly, then encoded a slice per `step` across event-loop turns while entries
   * keep being applied (the job must not see them). Its bytes go to `restore` like `snapshot()`'s.
   */
  snapshotInSteps?(ctx: PluginContext<O>): PluginSnapshotJob;
  /** Restore replicated plugin state from `snapshot()` output. */
  restore?(data: Uint8Array, ctx: PluginContext<O>): void;

  /** Provide the node's storage (at most one plugin may; the wal plugin does). */
  storage?(opts: StorageOptions, ctx: PluginContext<O>): Storage | Promise<Storage>;
}

/** An incremental plugin snapshot (see {@link Plugin.snapshotInSteps}). */
export interface PluginSnapshotJob {
  /** Encodes up to `budget` more items (the plugin's unit: rows, keys); true once done. */
  step(budget: number): boolean;
  /** The snapshot bytes (after `step` returned true). */
  finish(): Uint8Array;
}

/**
 * Defines a plugin: checks its name and option declarations and gives plugin authors type checking,
 * with `ctx.options` typed from `options` (members beyond the plugin's, e.g. accessors for tests,
 * are kept in the returned type):
 * ```ts
 * export default definePlugin({ name: "audit", onApply(entry) { ... } });
 * ```
 */
export function definePlugin<
  const O extends PluginOptions = Record<never, never>,
  Extra extends object = Record<never, never>,
>(plugin: Plugin<O> & Extra): Plugin<O> & Extra {
  if (!plugin || typeof plugin.name !== "string" || plugin.name === "") {
    throw new TypeError("definePlugin: a plugin needs a non-empty name");
  }
  pluginOptionSpecs(plugin); // throws TypeError on a bad declaration
  return plugin;
}

const OPTION_NAME = /^[a-z][a-z0-9_]*$/;
const PLUGIN_PREFIX = /^[a-z][a-z0-9_-]*$/;
const CORE_KEYS = new Set(OPTIONS.map((o) => o.key));

/** `wal` → `wal`, `audit-log` → `audit_log`: what a plugin's option names start with. */
export function optionPrefix(pluginName: string): string {
  return pluginName.replaceAll("-", "_");
}

/**
 * The option specs (full names) a plugin declares, in declaration order: what `--help`, the
 * command line and {@link resolveConfig} use. Throws TypeError on a bad declaration.
 */
export function pluginOptionSpecs(plugin: Pick<Plugin, "name" | "options">): OptionSpec[] {
  const decls = plugin.options;
  if (decls === undefined) return [];
  const bad = (what: string) => new TypeError(`plugin "${plugin.name}": ${what}`);
  if (typeof decls !== "object" || decls === null || Array.isArray(decls)) {
    throw bad("options must be an object of name → { type, default, help, ... }");
  }
  if (!PLUGIN_PREFIX.test(plugin.name)) {
    throw bad("a plugin with options needs a name of lowercase letters, digits, - and _");
  }
  const out: OptionSpec[] = [];
  for (const [name, d] of Object.entries(decls)) {
    if (!OPTION_NAME.test(name)) throw bad(`option "${name}": use snake_case (e.g. max_bytes)`);
    const key = `${optionPrefix(plugin.name)}_${name}`;
    if (CORE_KEYS.has(key)) throw bad(`option "${name}": ${key} is a core option`);
    const kinds = ["int", "string", "bool", "enum", "list"];
    if (!d || !kinds.includes(d.type)) {
      throw bad(`option "${name}": type must be one of ${kinds.join(", ")}`);
    }
    if (typeof d.help !== "string" || d.help === "") throw bad(`option "${name}": needs help`);
    const spec: OptionSpec = {
      key,
      kind: d.type,
      help: d.help,
      default: d.default,
      env: d.env ?? envName(key),
      plugin: plugin.name,
    };
    if (d.type === "int") {
      if (!Number.isSafeInteger(d.min) || !Number.isSafeInteger(d.max) || d.min > d.max) {
        throw bad(`option "${name}": an int needs integer min <= max`);
      }
      spec.min = d.min;
      spec.max = d.max;
    }
    if (d.type === "enum") {
      if (!Array.isArray(d.choices) || d.choices.length === 0) {
        throw bad(`option "${name}": an enum needs choices`);
      }
      spec.choices = d.choices;
    }
    try {
      parseOptionValue(spec, d.default, `plugin "${plugin.name}": default of`);
    } catch (err) {
      throw new TypeError((err as Error).message);
    }
    out.push(spec);
  }
  return out;
}

/**
 * What `ctx.options` holds for `plugin`: each declared option from `config` (under its full name)
 * or its default, parsed and checked by the same code as the command line. Throws
 * `ConfigError` naming the key, the value and what is allowed.
 */
export function pluginOptionValues<O extends PluginOptions>(
  plugin: Plugin<O>,
  config: Readonly<Config>,
): OptionValues<O> {
  const out: Record<string, unknown> = {};
  for (const spec of pluginOptionSpecs(plugin)) {
    const name = spec.key.slice(optionPrefix(plugin.name).length + 1);
    const given = config[spec.key];
    out[name] = given === undefined
      ? structuredClone(spec.default)
      : parseOptionValue(spec, given, "config");
  }
  return Object.freeze(out) as OptionValues<O>;
}

/** Results value type re-exported for plugin authors. */
export type { Value };
