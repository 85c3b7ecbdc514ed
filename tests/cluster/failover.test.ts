// Real-process cluster: 3 nodes (Bun, Deno, Bun) with the wal and idempotency plugins on loopback.
// Under load from several clients (batches of SETs on unique keys + INCRs on shared counters, and a
// register workload of single SET/GET), the leader is killed with SIGKILL three times and restarted
// on the same ports and data directory. At the end every node must hold every acknowledged write
// (read from each node's own state machine), the nodes must agree, each counter must have been
// incremented exactly once per acknowledged INCR (plus at most the unknown-outcome ones), and the
// register history must be linearizable.
import { afterAll, expect, test } from "bun:test";
import { checkHistory, registerModel } from "../sim/linearizability.ts";
import { ProcessCluster, sleep } from "./harness.ts";
import { verifyAllNodes } from "./verify.ts";
import { startBatchWriters, startRegisterWorkers, until } from "./workload.ts";

const clusters: ProcessCluster[] = [];
afterAll(async () => {
  await Promise.all(clusters.map((c) => c.close()));
});

test(
  "kill -9 of the leader (3 times) under load: no acknowledged write lost, history linearizable",
  async () => {
    const cluster = await ProcessCluster.start({
      runtimes: ["bun", "deno", "bun"],
      plugins: "wal,idempotency",
      // A client retry must find its batch in the idempotency cache however busy the test is.
      args: ["--idempotency-max-entries", "1000000"],
      name: "tkv-failover",
    });
    clusters.push(cluster);
    try {
      await cluster.waitLeader();
      const eps = cluster.endpoints();
      const writers = startBatchWriters(eps, {
        clients: 3,
        sets: 30,
        incrs: 10,
        counters: 8,
        prefix: "f",
      });
      const regs = startRegisterWorkers(eps, { clients: 3, keys: 4, prefix: "f" });
      const { ledger } = writers;
      const killed: number[] = [];
      try {
        await until(() => ledger.okBatches >= 20, 15_000, "first acknowledged batches");
        for (let round = 0; round < 3; round++) {
          await sleep(800);
          const leader = await cluster.waitLeader();
          killed.push(leader);
          await cluster.kill9(leader);
          // The two survivors elect a leader and keep acknowledging writes.
          const before = ledger.okBatches;
          await until(
            () => ledger.okBatches >= before + 10,
            20_000,
            `writes after killing ${leader}`,
          );
          await cluster.startNode(leader);
        }
        await sleep(800);
      } finally {
        await Promise.all([writers.stop(), regs.stop()]);
      }
      const h = regs.history;
      console.log(
        `failover: killed ${killed}; ${ledger.acked.size} SETs acknowledged, ${ledger.unknown.size} unknown; ` +
          `${ledger.okBatches} batches OK; register ops ${h.completed} completed + ${h.unknownWrites} ` +
          `unknown writes; failures ${JSON.stringify(Object.fromEntries(ledger.failures))}`,
      );
      expect(ledger.acked.size).toBeGreaterThan(0);
      expect(h.completed).toBeGreaterThan(0);

      const v = await verifyAllNodes(cluster, ledger, { extraKeys: h.keys });
      expect(v.problems).toEqual([]);
      console.log(
        `failover: ${v.unknownApplied} of ${ledger.unknown.size} unknown-outcome SETs were applied`,
      );
      // Final register values agree on every node (checked above) and the history is linearizable.
      const r = checkHistory(registerModel, h.ops);
      if (!r.ok) console.log(cluster.logTails(30));
      expect(r).toEqual({ ok: true });
    } finally {
      await cluster.close();
    }
  },
  90_000,
);
