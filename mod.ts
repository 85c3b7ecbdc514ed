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

export { definePlugin } from "./core/plugin.ts";
export type {
  BatchDecision,
  BatchResult,
  ClientBatch,
  CommittedEntry,
  NodeStats,
  NodeView,
  Plugin,
  PluginContext,
  ProposedEntry,
} from "./core/plugin.ts";
export { Code, codeName, isSuccess, TinyKVError } from "./core/errors.ts";
export type { CodeName, CodeNumber } from "./core/errors.ts";
export { defaultConfig, makeConfig, resolveConfig } from "./core/config.ts";
export type { Config } from "./core/config.ts";
export { startNode } from "./core/node.ts";
export type { StartOptions, TinyKVNode } from "./core/node.ts";
export { loadPlugin, loadPlugins } from "./core/plugin_loader.ts";
export type { Logger } from "./core/logger.ts";
export type { Storage, StorageOptions } from "./core/storage.ts";
export type { Value } from "./core/state/types.ts";
export { connect } from "./client/client.ts";
export type { BatchItemResult, Client, ConnectOptions } from "./client/client.ts";

if (import.meta.main) {
  const argv = process.argv.slice(2);
  let code: number;
  if (argv[0] === "client") {
    const { runClientCli } = await import("./client/cli.ts");
    code = await runClientCli(argv.slice(1));
  } else if (argv[0] === "cluster") {
    const { runClusterCli } = await import("./core/cluster_cli.ts");
    code = await runClusterCli(argv.slice(1));
  } else {
    const { runNodeCli } = await import("./core/node_cli.ts");
    code = await runNodeCli(argv);
  }
  process.exit(code);
}
