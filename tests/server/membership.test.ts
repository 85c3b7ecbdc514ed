/**
 * Membership through the admin commands: a node started with `join` waits for the leader, ADD_NODE
 * brings it in (it catches up from a snapshot, since the leader compacted its log), TRANSFER_LEADER
 * moves leadership, REMOVE_NODE takes a node out. In-process nodes on loopback, ephemeral ports.
 */
import { afterAll, expect, test } from "bun:test";
import { makeConfig } from "../../core/config/config.ts";
import { Code } from "../../protocol/codes.ts";
import { createLogger } from "../../core/config/logger.ts";
import { startNode } from "../../core/node/node.ts";
import type { TinyKVNode } from "../../core/node/types.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { TEST_CLUSTER_SECRET } from "../helpers/in_process.ts";
import { freePort, waitFor } from "../helpers/net.ts";

const dec = new TextDecoder();

const started: TinyKVNode[] = [];
afterAll(async () => {
  await Promise.all(started.map((n) => n.stop()));
});

async function start(
  id: number,
  ports: { client: number; raft: number },
  peers: Record<number, string>,
  join: boolean,
) {
  const node = await startNode(
    makeConfig({
      node_id: id,
      port: ports.client,
      raft_port: ports.raft,
      // A joining node is told where the cluster is; its membership comes from the leader's log.
      peers,
      join,
      cluster_secret: TEST_CLUSTER_SECRET,
      log_level: "error",
      snapshot_entries: 10,
      snapshot_keep_entries: 0,
    }),
    { logger: createLogger("error") },
  );
  started.push(node);
  return node;
}

test("join + ADD_NODE (via snapshot), TRANSFER_LEADER, REMOVE_NODE", async () => {
  const p1 = { client: await freePort(), raft: await freePort() };
  const p2 = { client: await freePort(), raft: await freePort() };
  const n1 = await start(1, p1, {}, false);
  await waitFor("node 1 to lead", () => n1.status().role === "leader" || undefined);
  const c1 = await RawClient.connect(n1.clientPort);
  // Enough entries that node 1 snapshots and compacts: node 2 must catch up from the snapshot.
  for (let i = 0; i < 40; i++) {
    expect((await c1.batch([["SET", `m${i}`, `v${i}`]])).codes).toEqual([Code.OK]);
  }
  await waitFor("a compacted log", () => n1.stats() && n1.status().applied >= 40 || undefined);

  const n2 = await start(2, p2, {
    1: `127.0.0.1:${p1.raft}`,
    2: `127.0.0.1:${p2.raft}`,
  }, true);
  // A joining node has no membership: it neither campaigns nor leads on its own.
  await new Promise((r) => setTimeout(r, 400));
  expect(n2.status().role).not.toBe("leader");
  expect(n2.status().conf.voters).toEqual([]);

  const add = await c1.batch([[
    "ADD_NODE",
    "2",
    `127.0.0.1:${p2.raft}`,
    `127.0.0.1:${p2.client}`,
  ]]);
  expect(add.codes).toEqual([Code.OK]);
  await waitFor(
    "node 2 to catch up",
    () =>
      n2.status().applied >= n1.status().commit && n2.status().conf.voters.length === 2 ||
      undefined,
  );
  expect(n2.status().conf.voters).toEqual([1, 2]);

  const members = await c1.batch([["MEMBERS"]]);
  expect(members.codes).toEqual([Code.OK]);
  expect((members.data as unknown[][])[0].map((m) => (m as unknown[])[0])).toEqual([1, 2]);

  // Leadership moves to node 2; it serves the data written before it joined.
  const tr = await c1.batch([["TRANSFER_LEADER", "2"]]);
  expect(tr.codes).toEqual([Code.OK]);
  await waitFor("node 2 to lead", () => n2.status().role === "leader" || undefined);
  const c2 = await RawClient.connect(n2.clientPort);
  const r = await c2.batch([["GET", "m0"], ["GET", "m39"]]);
  expect(r.codes).toEqual([Code.OK, Code.OK]);
  expect((r.data as Uint8Array[]).map((d) => dec.decode(d))).toEqual(["v0", "v39"]);

  // Node 2 removes node 1; node 2 alone keeps serving writes.
  const rm = await c2.batch([["REMOVE_NODE", "1"]]);
  expect(rm.codes).toEqual([Code.OK]);
  expect(n2.status().conf.voters).toEqual([2]);
  expect((await c2.batch([["SET", "after", "x"]])).codes).toEqual([Code.OK]);
  // Bad admin input gets a clear error.
  const bad = await c2.batch([["ADD_NODE", "zero"]]);
  expect(bad.codes).toEqual([Code.SYNTAX]);
  c1.close();
  c2.close();
});
