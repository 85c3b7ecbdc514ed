/**
 * TinyKV: a Raft-replicated, Redis-like key-value store with a pipelined, batched write path,
 * running natively on Deno and Bun.
 *
 * As a program: `deno run -A mod.ts --plugins wal,metrics` starts a node (`--help` lists every
 * flag); `mod.ts cluster --nodes 3` starts a local cluster; `mod.ts client SET k v` is the CLI client.
 *
 * As a library:
 * ```ts
 * import { connect } from "./mod.ts";
 * const c = await connect({ host: "127.0.0.1", port: 5210 });
 * await c.command("SET", "k", "v");
 * const results = await c.batch([["SET", "a", "1"], ["GET", "a"]]);
 * await c.close();
 * ```
 * Plugin authors: `definePlugin({ name, options, setup, onBatch, onPropose, onCommit, onApply, ... })`
 * (options are declared with type, default, range and help, and read typed as `ctx.options`);
 * storage plugin authors: `testing.ts` runs the storage conformance suite on yours.
 * @module
 */
import process from "node:process";

export { definePlugin } from "./core/plugin/plugin.ts";
export type {
  BatchDecision,
  BatchResult,
  ClientBatch,
  CommittedEntry,
  MetricsRegistry,
  NodeStats,
  NodeView,
  OptionValue,
  OptionValues,
  Plugin,
  PluginContext,
  PluginOption,
  PluginOptionBase,
  PluginOptions,
  PluginSnapshotJob,
  ProposedEntry,
} from "./core/plugin/plugin.ts";
export { Code, codeName, isSuccess, TinyKVError } from "./protocol/codes.ts";
export type { CodeName, CodeNumber } from "./protocol/codes.ts";
export { defaultConfig, makeConfig, resolveConfig } from "./core/config/config.ts";
export type {
  Config,
  ConfigSources,
  FsyncPolicy,
  LogFormat,
  LogLevel,
  OptionKind,
  OptionSpec,
  TransportName,
} from "./core/config/config.ts";
export { startNode } from "./core/node/node.ts";
export type { StartOptions, TinyKVNode } from "./core/node/types.ts";
export type { Cancel, Clock, Random, Scheduler } from "./core/env/time.ts";
export type { ThreadSample, ThreadTimes } from "./core/env/thread_times.ts";
export type { LoopBlockStats } from "./core/env/loop_monitor.ts";
export { type DirLock, type FileSystem, nodeFileSystem, type OpenMode } from "./core/env/fs.ts";
export { loadPlugin, loadPlugins } from "./core/plugin/loader.ts";
export type { Logger, LoggerOptions } from "./core/config/logger.ts";
export type { Storage, StorageOptions } from "./core/storage/storage.ts";
export type { ResultSink, Value } from "./core/state/types.ts";
export type { BatchResults, CommandResult, WireValue } from "./protocol/messages.ts";
export type {
  ConfState,
  Entry,
  EntryType,
  HardState,
  NodeId,
  RaftStatus,
  RaftStorageView,
  Role,
  Snapshot,
  SnapshotMeta,
} from "./core/raft/types.ts";
export { connect, WatchError } from "./client/client.ts";
export type {
  Arg,
  AutoBatchOptions,
  BatchItemResult,
  BatchOptions,
  Client,
  ClientStats,
  ClientTimers,
  ConnectOptions,
  Pipeline,
  Watcher,
  WatchEvent,
  WatchReasonName,
  WatchSpec,
} from "./client/client.ts";
export { AtomicOperation, Kv, KvListIterator, KvU64, openKv } from "./client/kv.ts";
export type {
  AtomicCheck,
  KvCommitError,
  KvCommitResult,
  KvConsistencyLevel,
  KvEntry,
  KvEntryMaybe,
  KvKey,
  KvKeyPart,
  KvListOptions,
  KvListSelector,
  KvMutation,
  OpenKvOptions,
} from "./client/kv.ts";

// The command line lives in main.ts. No top-level await here: a plugin loaded by path may import
// this module (for definePlugin) while the node is starting, and a module still awaiting at top
// level would deadlock that import. The CLI is loaded only when mod.ts is the program.
if (import.meta.main) {
  import("./main.ts").then(
    (m) => m.runMain(),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}

/** The transport interface (runtime adapters for TCP and UDP implement it; tests pass their own). */
export type {
  Connection,
  ConnectionHandler,
  Listener,
  Transport,
  TransportErrorKind,
  TransportOptions,
} from "./transports/types.ts";
