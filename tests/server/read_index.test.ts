/**
 * Linearizable reads: read-only batches are served through ReadIndex (no log entry), batches with
 * any write go through the log, and a leader cut off from its quorum never answers a read with
 * stale data. Three in-process nodes on loopback with ephemeral ports.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { encodeCbor } from "../../protocol/cbor.ts";
import { isReadOnlyBatch } from "../../protocol/cbor_peek.ts";
import { makeConfig } from "../../core/config/config.ts";
import { Code } from "../../protocol/codes.ts";
import { createLogger } from "../../core/config/logger.ts";
import { startNode } from "../../core/node/node.ts";
import type { TinyKVNode } from "../../core/node/types.ts";
import { createStateMachine } from "../../core/state/state_machine.ts";
import { TEST_CLUSTER_SECRET } from "../helpers/in_process.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { memberPorts, waitFor } from "../helpers/net.ts";

const dec = new TextDecoder();
const enc = new TextEncoder();

let nodes: TinyKVNode[] = [];

function leader(among = nodes): TinyKVNode | undefined {
  return among.find((n) => n.status().role === "leader");
}

/** Starts three in-process nodes on ephemeral loopback ports (new ports if one was taken). */
async function startCluster(extra: Record<string, unknown> = {}): Promise<TinyKVNode[]> {
  for (let attempt = 1;; attempt++) {
    const { ports, peers, peerClients } = await memberPorts(3);
    const rs = await Promise.allSettled(ports.map((p, i) => {
      const config = makeConfig({
        node_id: i + 1,
        port: p.client,
        raft_port: p.raft,
        peers,
        peer_clients: peerClients,
        cluster_secret: TEST_CLUSTER_SECRET,
        log_level: "error",
        raft_submit_timeout_ms: 1500,
        ...extra,
      });
      return startNode(config, { logger: createLogger("error") });
    }));
    const started = rs.flatMap((r) => r.status === "fulfilled" ? [r.value] : []);
    const failed = rs.find((r) => r.status === "rejected") as PromiseRejectedResult | undefined;
    if (!failed) {
      await waitFor("a leader", () => leader(started));
      return started;
    }
    await Promise.all(started.map((n) => n.stop()));
    if (attempt >= 3 || !/already in use/.test(String(failed.reason))) throw failed.reason;
  }
}

beforeAll(async () => {
  nodes = await startCluster();
});

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
});

test("isReadOnlyBatch walks the encoding: all reads → true; any write or odd shape → false", () => {
  const sm = createStateMachine();
  const isRead = (n: Uint8Array) => sm.isReadOnly(n);
  const bytes = (v: unknown) => encodeCbor(v).slice();
  expect(isReadOnlyBatch(bytes([["GET", "a"], ["MGET", "a", "b"]]), isRead)).toBe(true);
  expect(isReadOnlyBatch(bytes([[enc.encode("get"), enc.encode("k")]]), isRead)).toBe(true);
  expect(isReadOnlyBatch(bytes([["GET", "a"], ["SET", "a", "1"]]), isRead)).toBe(false);
  expect(isReadOnlyBatch(bytes([["NOSUCH", "a"]]), isRead)).toBe(false);
  expect(isReadOnlyBatch(bytes(["GET a"]), isRead)).toBe(false); // string form: via the log
  expect(isReadOnlyBatch(bytes([]), isRead)).toBe(false);
  expect(isReadOnlyBatch(bytes([[]]), isRead)).toBe(false);
  expect(isReadOnlyBatch(bytes([["GET", 1]]), isRead)).toBe(false);
  const many = bytes(Array.from({ length: 300 }, (_, i) => ["GET", "k".repeat(i % 40)]));
  expect(isReadOnlyBatch(many, isRead)).toBe(true);
  // Truncated or with trailing garbage: false, never a throw.
  for (let cut = 0; cut < many.length; cut += 97) {
    expect(isReadOnlyBatch(many.subarray(0, cut), isRead)).toBe(false);
  }
  expect(isReadOnlyBatch(new Uint8Array([...many, 0]), isRead)).toBe(false);
});

test("read-only batches are answered without growing the log; writes and mixed batches use it", async () => {
  const l = leader()!;
  const c = await RawClient.connect(l.clientPort);
  try {
    const w = await c.batch([["SET", "ri:k", "v1"]]);
    expect(w.codes).toEqual([Code.OK]);
    const before = l.status().lastIndex;
    for (let i = 0; i < 50; i++) {
      const r = await c.batch([["GET", "ri:k"], ["EXISTS", "ri:k", "nope"], ["GET", "nope"]]);
      expect(r.codes).toEqual([Code.OK, Code.OK, Code.NOT_FOUND]);
      expect(dec.decode((r.data as Uint8Array[])[0])).toBe("v1");
      expect((r.data as unknown[])[1]).toBe(1);
    }
    expect(l.status().lastIndex).toBe(before);
    // A read right after a write sees it (the read index covers the write's commit).
    for (let i = 0; i < 20; i++) {
      expect((await c.batch([["SET", "ri:k", `v${i}`]])).codes).toEqual([Code.OK]);
      const r = await c.batch([["GET", "ri:k"]]);
      expect(dec.decode((r.data as Uint8Array[])[0])).toBe(`v${i}`);
    }
    const mid = l.status().lastIndex;
    const mixed = await c.batch([["GET", "ri:k"], ["SET", "ri:k", "mixed"]]);
    expect(mixed.codes).toEqual([Code.OK, Code.OK]);
    expect(l.status().lastIndex).toBe(mid + 1);
  } finally {
    c.close();
  }
});

test("a follower refuses reads with NOT_LEADER and the leader's address", async () => {
  const l = leader()!;
  const f = nodes.find((n) => n !== l)!;
  const c = await RawClient.connect(f.clientPort);
  try {
    const r = await c.batch([["GET", "ri:k"]]);
    expect(r.codes).toEqual([Code.NOT_LEADER]);
    expect(r.leader).toBe(`127.0.0.1:${l.clientPort}`);
  } finally {
    c.close();
  }
});

test("a leader cut off from its quorum never serves a stale read", async () => {
  const old = leader()!;
  const others = nodes.filter((n) => n !== old);
  const oc = await RawClient.connect(old.clientPort);
  try {
    expect((await oc.batch([["SET", "ri:p", "before"]])).codes).toEqual([Code.OK]);
    await waitFor(
      "followers to apply",
      () => others.every((n) => n.status().applied >= old.status().commit) ? true : undefined,
    );
    // Partition the leader from both followers (both directions).
    old.partition(others.map((n) => n.id));
    for (const n of others) n.partition([old.id]);
    const fresh = await waitFor("a new leader", () => leader(others));
    const fc = await RawClient.connect(fresh.clientPort);
    try {
      expect((await fc.batch([["SET", "ri:p", "after"]])).codes).toEqual([Code.OK]);
    } finally {
      fc.close();
    }
    // The old leader may still think it leads (until check-quorum); its reads must not succeed.
    for (let i = 0; i < 5; i++) {
      const r = await oc.batch([["GET", "ri:p"]]);
      const code = (r.codes as number[])[0];
      expect([Code.NOT_LEADER, Code.UNAVAILABLE, Code.TIMEOUT]).toContain(code);
    }
  } finally {
    oc.close();
    for (const n of nodes) n.partition([]);
  }
  // Healed: the cluster converges and the read through the leader sees the new value.
  const l = await waitFor("leader after heal", () => leader());
  const c = await RawClient.connect(l.clientPort);
  try {
    const r = await c.batch([["GET", "ri:p"]]);
    expect(dec.decode((r.data as Uint8Array[])[0])).toBe("after");
  } finally {
    c.close();
  }
});

test(
  "lease reads (--lease-read) through a partition: the old leader never returns a value a newer leader overwrote",
  async () => {
    const lease = await startCluster({ lease_read: true, raft_submit_timeout_ms: 800 });
    const ROUNDS = 12;
    let stale = 0;
    let servedBefore = 0;
    const report: string[] = [];
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const old = await waitFor("a leader", () => leader(lease));
        const others = lease.filter((n) => n !== old);
        const before = `before-${round}`;
        const after = `after-${round}`;
        const oc = await RawClient.connect(old.clientPort);
        const reads: Promise<void>[] = [];
        let ackedAt = Infinity;
        try {
          expect((await oc.batch([["SET", "lease:k", before]])).codes).toEqual([Code.OK]);
          await waitFor(
            "followers to apply",
            () => others.every((n) => n.status().applied >= old.status().commit) ? true : undefined,
          );
          // Reads stream into the old leader (concurrently, every 2 ms) across the partition.
          let reading = true;
          const reader = (async () => {
            while (reading) {
              const invokedAt = performance.now();
              reads.push(
                oc.batch([["GET", "lease:k"]]).then((r) => {
                  const code = (r.codes as number[])[0];
                  if (code !== Code.OK) return;
                  const v = dec.decode((r.data as Uint8Array[])[0]);
                  if (v === before && invokedAt < ackedAt) servedBefore++;
                  if (v === before && invokedAt > ackedAt) {
                    stale++;
                    report.push(
                      `round ${round}: read invoked ${
                        (invokedAt - ackedAt).toFixed(1)
                      } ms after the new leader's ack returned ${v}`,
                    );
                  }
                }, () => {}),
              );
              await new Promise((r) => setTimeout(r, 2));
            }
          })();
          await new Promise((r) => setTimeout(r, 20));
          old.partition(others.map((n) => n.id));
          for (const n of others) n.partition([old.id]);
          const fresh = await waitFor("a new leader", () => leader(others));
          const fc = await RawClient.connect(fresh.clientPort);
          try {
            // Retry until a write is acknowledged by the new side (it may still be settling).
            for (let i = 0; i < 50 && ackedAt === Infinity; i++) {
              const w = await fc.batch([["SET", "lease:k", after]]);
              if ((w.codes as number[])[0] === Code.OK) ackedAt = performance.now();
              else await new Promise((r) => setTimeout(r, 10));
            }
          } finally {
            fc.close();
          }
          expect(ackedAt).toBeLessThan(Infinity);
          // Keep reading the old leader until it has stepped down (plus a little).
          await waitFor(
            "the old leader to step down",
            () => old.status().role !== "leader" ? true : undefined,
            5000,
          );
          await new Promise((r) => setTimeout(r, 30));
          reading = false;
          await reader;
          await Promise.all(reads);
        } finally {
          oc.close();
          for (const n of lease) n.partition([]);
        }
        await waitFor("a leader after heal", () => leader(lease));
      }
    } finally {
      await Promise.all(lease.map((n) => n.stop()));
    }
    expect(report).toEqual([]);
    expect(stale).toBe(0);
    // The lease was in use: the old leader answered reads at once before the partition.
    expect(servedBefore).toBeGreaterThan(0);
  },
  120_000,
);
