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

export { definePlugin } from "./core/plugin.ts";
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
  ProposedEntry,
} from "./core/plugin.ts";
export { Code, codeName, isSuccess, TinyKVError } from "./core/errors.ts";
export type { CodeName, CodeNumber } from "./core/errors.ts";
export { defaultConfig, makeConfig, resolveConfig } from "./core/config.ts";
export type {
  Config,
  ConfigSources,
  FsyncPolicy,
  LogLevel,
  OptionKind,
  OptionSpec,
  TransportName,
} from "./core/config.ts";
export { startNode } from "./core/node.ts";
export type { Cancel, Clock, Random, Scheduler, StartOptions, TinyKVNode } from "./core/node.ts";
export { loadPlugin, loadPlugins } from "./core/plugin_loader.ts";
export type { Logger } from "./core/logger.ts";
export type { Storage, StorageOptions } from "./core/storage.ts";
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
    const { runClientCli } = await import("./client/cli.ts");
    return await runClientCli(argv.slice(1));
  }
  if (argv[0] === "cluster") {
    const { runClusterCli } = await import("./core/cluster_cli.ts");
    return await runClusterCli(argv.slice(1));
  }
  const { runNodeCli } = await import("./core/node_cli.ts");
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
