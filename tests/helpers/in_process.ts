/** Starts an in-process single node on ephemeral ports for server-level tests. */
import { makeConfig } from "../../core/config/config.ts";
import type { Config } from "../../core/config/config.ts";
import { createLogger } from "../../core/config/logger.ts";
import { startNode } from "../../core/node/node.ts";
import type { TinyKVNode } from "../../core/node/types.ts";
import type { Plugin } from "../../core/plugin/plugin.ts";

/** A cluster secret for in-process multi-node tests (peers must share one). */
export const TEST_CLUSTER_SECRET = "tinykv-test-cluster-secret";

export async function startTestNode(
  overrides: Partial<Config> = {},
  plugins: Plugin[] = [],
): Promise<TinyKVNode> {
  const config = makeConfig({ port: 0, raft_port: 0, log_level: "error", ...overrides });
  const node = await startNode(config, { plugins, logger: createLogger(config.log_level) });
  // a single voter elects itself at once; wait (bounded) for it
  const end = Date.now() + 5000;
  while (node.status().role !== "leader") {
    if (Date.now() > end) throw new Error("single node did not become leader");
    await new Promise((r) => setTimeout(r, 5));
  }
  return node;
}
