/**
 * What a 3-node cluster answers about itself (in-process nodes on loopback, ephemeral ports):
 * - a server command (INFO) inside a batch that goes through the log gets the same deterministic
 *   error on every replica, so the idempotency cache (replicated state) holds the same result on
 *   every node — not each replica's own INFO text;
 * - with client ports that are not raft port − 1 and no `peer_clients`, GET_LEADER on every node
 *   and a follower's NOT_LEADER redirect give the leader's real client address (the leader
 *   advertises it in an address entry once elected).
 */
import { afterAll, expect, test } from "bun:test";
import { makeConfig } from "../../core/config/config.ts";
import { Code } from "../../protocol/codes.ts";
import { createLogger } from "../../core/config/logger.ts";
import { startNode } from "../../core/node/node.ts";
import type { TinyKVNode } from "../../core/node/types.ts";
import { batchKey } from "../../core/node/pending.ts";
import { createIdempotencyPlugin } from "../../plugins/idempotency/mod.ts";
import { resultOf } from "../../plugins/idempotency/cache.ts";
import { memberPorts, waitFor } from "../helpers/net.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { TEST_CLUSTER_SECRET } from "../helpers/in_process.ts";

const nodes: TinyKVNode[] = [];
const clients: RawClient[] = [];
const caches: ReturnType<typeof createIdempotencyPlugin>[] = [];

afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all(nodes.map((n) => n.stop()));
});

async function cluster(): Promise<{ leader: TinyKVNode; followers: TinyKVNode[] }> {
  // Six distinct ports: picked one by one, the same free port could come back twice.
  const { ports, peers } = await memberPorts(3);
  for (let i = 0; i < 3; i++) {
    const idem = createIdempotencyPlugin();
    caches.push(idem);
    nodes.push(
      await startNode(
        makeConfig({
          node_id: i + 1,
          port: ports[i].client,
          raft_port: ports[i].raft,
          peers,
          cluster_secret: TEST_CLUSTER_SECRET,
          log_level: "error",
        }),
        { logger: createLogger("error"), plugins: [idem] },
      ),
    );
  }
  const leader = await waitFor("a leader", () => nodes.find((n) => n.status().role === "leader"));
  return { leader, followers: nodes.filter((n) => n !== leader) };
}

test(
  "INFO in a write batch: one deterministic error on every replica; real leader address everywhere",
  async () => {
    const { leader, followers } = await cluster();
    const c = await RawClient.connect(leader.clientPort);
    clients.push(c);

    // Through the log: INFO gets the deterministic error, the write is applied.
    const w = await c.batch([["SET", "k", "v"], ["INFO"]], "w1", { client_id: "tester" });
    expect(w.codes).toEqual([Code.OK, Code.SYNTAX]);
    expect((w.errors as string[])[1]).toBe("INFO must be sent on its own or with reads only");
    // Every replica recorded the same results in its replicated idempotency cache.
    const key = batchKey("tester", "w1");
    const results = await waitFor(
      "every replica to apply the batch",
      () => {
        const r = caches.map((x) => {
          const hit = x.cache()?.get(key);
          return hit === undefined ? undefined : resultOf(hit);
        });
        return r.every((x) => x !== undefined) ? r : undefined;
      },
    );
    for (const r of results) expect(r).toEqual(results[0]);
    expect(results[0]!.errors[1]).toBe("INFO must be sent on its own or with reads only");

    // With reads only (ReadIndex, never in the log) INFO is answered by the node itself.
    const r = await c.batch([["GET", "k"], ["INFO"]], "r1");
    expect(r.codes).toEqual([Code.OK, Code.OK]);
    expect(String((r.data as unknown[])[1])).toContain(`node_id:${leader.id}`);

    // The leader advertised its real client address: every node's GET_LEADER gives it.
    const real = `127.0.0.1:${leader.clientPort}`;
    for (const n of [leader, ...followers]) {
      await waitFor(
        `node ${n.id} to learn the leader's address`,
        () => n.leaderAddress() === real || undefined,
      );
      const fc = await RawClient.connect(n.clientPort);
      clients.push(fc);
      const gl = await fc.batch([["GET_LEADER"]]);
      expect(gl.codes).toEqual([Code.OK]);
      expect(gl.data).toEqual([[leader.id, real]]);
    }
    // A follower's redirect points at the real address.
    const fc = await RawClient.connect(followers[0].clientPort);
    clients.push(fc);
    const nl = await fc.batch([["SET", "x", "1"]]);
    expect(nl.codes).toEqual([Code.NOT_LEADER]);
    expect(nl.leader).toBe(real);
  },
  60_000,
);
