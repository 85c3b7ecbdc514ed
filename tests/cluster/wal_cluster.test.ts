// The wal plugin with a whole cluster of real processes (data dirs in a temp folder):
//   1. heavy batched writes, then SIGKILL of all three nodes at the same moment, restart of all
//      three from the same data dirs (under the other runtime: Bun-written WALs recovered by Deno
//      and vice versa); every acknowledged write must be on every node and the nodes must agree;
//   2. a clean restart (SIGTERM of every node, start again from disk): the same data, and the
//      cluster takes writes again.
// Small snapshot thresholds and WAL segments make recovery go through a snapshot, segment rotation
// and compaction (older segments deleted) plus the log after the snapshot.
import { afterAll, expect, test } from "bun:test";
import type { Value } from "../../mod.ts";
import { ProcessCluster, sleep, text } from "./harness.ts";
import { verifyAllNodes } from "./verify.ts";
import { connectAll, startBatchWriters, until } from "./workload.ts";

const clusters: ProcessCluster[] = [];
afterAll(async () => {
  await Promise.all(clusters.map((c) => c.close()));
});

const WAL_ARGS = [
  "--snapshot-entries",
  "100",
  "--snapshot-keep-entries",
  "20",
  "--wal-segment-bytes",
  String(256 * 1024),
];

function mapText(m: Map<string, Value>): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const [k, v] of m) out[k] = text(v);
  return out;
}

test(
  "kill -9 of every node at once under heavy writes: restart from disk keeps every acknowledged write",
  async () => {
    const cluster = await ProcessCluster.start({
      runtimes: ["bun", "deno", "bun"],
      plugins: "wal",
      args: WAL_ARGS,
      name: "tkv-walcrash",
    });
    clusters.push(cluster);
    try {
      await cluster.waitLeader();
      const writers = startBatchWriters(cluster.endpoints(), {
        clients: 4,
        sets: 200,
        incrs: 20,
        counters: 10,
        prefix: "w",
      });
      const { ledger } = writers;
      let stopping: Promise<void>;
      try {
        await until(() => ledger.okBatches >= 150, 30_000, "acknowledged batches");
        await sleep(300);
      } finally {
        // New batches stop; those in flight stay in flight across the crash and the restart.
        stopping = writers.stop();
        await cluster.killAll();
      }
      const ackedAtCrash = ledger.acked.size;
      // Restart all three on the same ports and data dirs, each under the other runtime.
      await Promise.all(
        cluster.nodes.map((n) => cluster.startNode(n.id, n.runtime === "bun" ? "deno" : "bun")),
      );
      await stopping;
      console.log(
        `wal crash: ${ackedAtCrash} SETs acknowledged before the crash, ${ledger.acked.size} in all, ` +
          `${ledger.unknown.size} unknown; failures ${
            JSON.stringify(Object.fromEntries(ledger.failures))
          }`,
      );
      expect(ackedAtCrash).toBeGreaterThan(0);
      const recovered: string[] = [];
      for (const n of cluster.nodes) {
        // Each node recovered its log from disk (and did not start empty).
        const m = /\[wal\].*: (\d+) segment\(s\), log (\d+)\.\.(\d+), snapshot at (\d+)/.exec(
          n.proc!.log(),
        );
        expect(m).not.toBeNull();
        expect(Number(m![3])).toBeGreaterThan(0);
        recovered.push(
          `node ${n.id}: ${m![1]} segments, log ${m![2]}..${m![3]}, snapshot ${m![4]}`,
        );
      }
      console.log(`wal crash: recovered ${recovered.join("; ")}`);
      await cluster.waitLeader();
      // Without the idempotency plugin a client resend may apply an INCR twice: lower bound only.
      const v = await verifyAllNodes(cluster, ledger, { incrUpperBound: false });
      expect(v.problems).toEqual([]);
    } finally {
      await cluster.close();
    }
  },
  90_000,
);

test("clean restart of the whole cluster from disk serves the same data", async () => {
  const cluster = await ProcessCluster.start({
    runtimes: ["deno", "bun", "bun"],
    plugins: "wal",
    args: WAL_ARGS,
    name: "tkv-walrestart",
  });
  clusters.push(cluster);
  try {
    await cluster.waitLeader();
    const writers = startBatchWriters(cluster.endpoints(), {
      clients: 3,
      sets: 100,
      incrs: 10,
      counters: 5,
      prefix: "r",
    });
    try {
      await until(() => writers.ledger.okBatches >= 30, 20_000, "acknowledged batches");
    } finally {
      await writers.stop();
    }
    const { ledger } = writers;
    const before = await verifyAllNodes(cluster, ledger, { incrUpperBound: false });
    expect(before.problems).toEqual([]);

    // SIGTERM every node: each stops gracefully (exit code 0).
    const codes = await Promise.all(cluster.nodes.map((n) => cluster.stopNode(n.id)));
    expect(codes).toEqual([0, 0, 0]);
    await Promise.all(cluster.nodes.map((n) => cluster.startNode(n.id)));
    await cluster.waitLeader();
    const after = await verifyAllNodes(cluster, ledger, { incrUpperBound: false });
    expect(after.problems).toEqual([]);
    expect(after.applied).toBeGreaterThanOrEqual(before.applied);
    for (const n of cluster.nodes) {
      expect(mapText(after.values.get(n.id)!)).toEqual(mapText(before.values.get(n.id)!));
    }
    // And it takes writes again.
    const c = await connectAll(cluster.endpoints());
    try {
      expect(await c.command("SET", "after-restart", "yes")).toBe("OK");
      expect(text(await c.command("GET", "after-restart"))).toBe("yes");
      expect(await c.command("INCR", ledger.counters[0])).toBe(
        Number(text(after.values.get(1)!.get(ledger.counters[0])!)) + 1,
      );
    } finally {
      await c.close();
    }
  } finally {
    await cluster.close();
  }
}, 90_000);
