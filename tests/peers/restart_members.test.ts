/**
 * Only known peers may connect, so a restarted member must know the members its snapshot names,
 * not just its `--peers`: node 1 starts alone (wal), node 2 joins with ADD_NODE, node 1 snapshots
 * with both members, and restarts from disk with no `--peers`. It must reach node 2 (and accept
 * it) to have a quorum again. In-process nodes on loopback, ephemeral ports.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join as joinPath } from "node:path";
import { type Config, makeConfig } from "../../core/config/config.ts";
import { Code } from "../../protocol/codes.ts";
import { createLogger } from "../../core/config/logger.ts";
import { startNode } from "../../core/node/node.ts";
import type { TinyKVNode } from "../../core/node/types.ts";
import walPlugin from "../../plugins/wal/mod.ts";
import { TEST_CLUSTER_SECRET } from "../helpers/in_process.ts";
import { freePort, waitFor } from "../helpers/net.ts";
import { RawClient } from "../helpers/raw_client.ts";

const root = mkdtempSync(joinPath(tmpdir(), "tkv-peers-restart-"));
const running = new Set<TinyKVNode>();
const clients: RawClient[] = [];
afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all([...running].map((n) => n.stop()));
  rmSync(root, { recursive: true, force: true });
});

/** What both nodes share: durable, snapshots every 10 entries, the cluster secret. */
const COMMON: Partial<Config> = {
  cluster_secret: TEST_CLUSTER_SECRET,
  wal_fsync: "off",
  log_level: "error",
  snapshot_entries: 10,
  snapshot_keep_entries: 0,
};

async function start(
  id: number,
  ports: { client: number; raft: number },
  over: Partial<Config>,
): Promise<TinyKVNode> {
  const dir = joinPath(root, `n${id}`);
  const config = makeConfig({
    ...COMMON,
    ...over,
    node_id: id,
    port: ports.client,
    raft_port: ports.raft,
    data_dir: dir,
  });
  const node = await startNode(config, { plugins: [walPlugin], logger: createLogger("error") });
  running.add(node);
  return node;
}

async function connect(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  clients.push(c);
  return c;
}

test("a member restarted from its snapshot knows (and accepts) the members it names", async () => {
  const p1 = { client: await freePort(), raft: await freePort() };
  const p2 = { client: await freePort(), raft: await freePort() };
  let n1 = await start(1, p1, {});
  await waitFor("node 1 to lead", () => n1.status().role === "leader" || undefined);
  const n2 = await start(2, p2, {
    peers: { 1: `127.0.0.1:${p1.raft}`, 2: `127.0.0.1:${p2.raft}` },
    join: true,
  });
  const c1 = await connect(p1.client);
  const add = await c1.batch([["ADD_NODE", "2", `127.0.0.1:${p2.raft}`, `127.0.0.1:${p2.client}`]]);
  expect(add.codes).toEqual([Code.OK]);
  // Enough writes that node 1 snapshots with both members in it (and compacts the ADD_NODE).
  for (let i = 0; i < 30; i++) {
    expect((await c1.batch([["SET", `k${i}`, `v${i}`]])).codes).toEqual([Code.OK]);
  }
  await waitFor(
    "node 2 caught up",
    () => n2.status().applied >= n1.status().commit && n1.status().commit > 30 || undefined,
  );
  c1.close();
  await n1.stop();
  running.delete(n1);

  // Restart node 1 from disk with no --peers: its membership (1, 2) comes from the snapshot.
  n1 = await start(1, p1, {});
  await waitFor(
    "a leader again",
    () => [n1, n2].some((n) => n.status().role === "leader") || undefined,
    10_000,
  );
  const leader = [n1, n2].find((n) => n.status().role === "leader")!;
  const c = await connect(leader.clientPort);
  expect((await c.batch([["SET", "after", "restart"]])).codes).toEqual([Code.OK]);
  const r = await c.batch([["GET", "k29"]]);
  expect(new TextDecoder().decode((r.data as Uint8Array[])[0])).toBe("v29");
}, 30_000);
