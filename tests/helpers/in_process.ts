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

/**
 * Starts an in-process cluster of `size` voters on loopback (ephemeral client ports, free raft
 * ports, TEST_CLUSTER_SECRET) and waits (bounded) for a leader.
 */
export async function startTestCluster(
  size: number,
  plugins: () => Plugin[] = () => [],
  overrides: Partial<Config> = {},
): Promise<TinyKVNode[]> {
  const { freePort } = await import("./net.ts");
  const ports: number[] = [];
  for (let i = 0; i < size; i++) ports.push(await freePort());
  const peers: Record<number, string> = {};
  ports.forEach((p, i) => peers[i + 1] = `127.0.0.1:${p}`);
  const shared: Partial<Config> = {
    port: 0,
    peers,
    cluster_secret: TEST_CLUSTER_SECRET,
    log_level: "error",
    ...overrides,
  };
  const out: TinyKVNode[] = [];
  for (const [i, raft_port] of ports.entries()) {
    const config = makeConfig({ ...shared, node_id: i + 1, raft_port });
    out.push(await startNode(config, { logger: createLogger("error"), plugins: plugins() }));
  }
  const end = Date.now() + 10_000;
  while (!out.some((n) => n.status().role === "leader")) {
    if (Date.now() > end) {
      await Promise.all(out.map((n) => n.stop().catch(() => {})));
      throw new Error("no leader elected");
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return out;
}
