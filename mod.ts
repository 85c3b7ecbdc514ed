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
 * Plugin authors: `definePlugin({ name, onBatch, onPropose, onCommit, onApply, ... })`.
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
  Plugin,
  PluginContext,
  ProposedEntry,
} from "./core/plugin/plugin.ts";
export { Code, codeName, isSuccess, TinyKVError } from "./protocol/codes.ts";
export type { CodeName, CodeNumber } from "./protocol/codes.ts";
export { defaultConfig, makeConfig, resolveConfig } from "./core/config/config.ts";
export type {
  Config,
  ConfigSources,
  FsyncPolicy,
  LogLevel,
  TransportName,
} from "./core/config/config.ts";
export { startNode } from "./core/node/node.ts";
export type { StartOptions, TinyKVNode } from "./core/node/types.ts";
export type { Cancel, Clock, Random, Scheduler } from "./core/node/env.ts";
export { loadPlugin, loadPlugins } from "./core/plugin/loader.ts";
export type { Logger } from "./core/config/logger.ts";
export type { Storage, StorageOptions } from "./core/storage/storage.ts";
export type { ResultSink, Value } from "./core/state/types.ts";
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
export { connect } from "./client/client.ts";
export type {
  Arg,
  AutoBatchOptions,
  BatchItemResult,
  BatchOptions,
  Client,
  ClientStats,
  ConnectOptions,
  Pipeline,
} from "./client/client.ts";

/** The command line: `client ...`, `cluster ...`, or a node. */
async function main(argv: string[]): Promise<number> {
  if (argv[0] === "client") {
    const { runClientCli } = await import("./cli/client.ts");
    return await runClientCli(argv.slice(1));
  }
  if (argv[0] === "cluster") {
    const { runClusterCli } = await import("./cli/cluster.ts");
    return await runClusterCli(argv.slice(1));
  }
  const { runNodeCli } = await import("./cli/node.ts");
  return await runNodeCli(argv);
}

// No top-level await: a plugin loaded by path may import this module (for definePlugin) while
// the node is starting, and a module still awaiting at top level would deadlock that import.
if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
