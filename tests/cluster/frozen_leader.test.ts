// A frozen leader must not stop the clients (issue 9 item 5), with real processes: 3 nodes with
// `--plugins wal`; several library clients given every endpoint INCR one counter in a loop. The
// leader is frozen with SIGSTOP for 5 s (its sockets stay open, so no connection drops); the
// followers elect a new leader within ~0.5 s. Every client must succeed on the new leader within
// 2 s of the stop (the client gives a node `attemptTimeoutMs` = 1 s by default, then asks another
// node, which names the new leader) and keep succeeding while the old leader stays frozen. After
// SIGCONT, the counter must still count every acknowledged INCR exactly once (the requests left on
// the frozen node were resent with the same ids). Before the fix the clients made no progress at
// all until the leader was resumed.
import { afterAll, expect, test } from "bun:test";
import process from "node:process";
import type { Client } from "../../mod.ts";
import { ProcessCluster, sleep } from "./harness.ts";
import { connectAll, until } from "./workload.ts";

const clusters: ProcessCluster[] = [];
afterAll(async () => {
  await Promise.all(clusters.map((c) => c.close()));
});

const CLIENTS = 4;
const FREEZE_MS = 5000;
const BOUND_MS = 2000;

test(
  "SIGSTOP of the leader: every client succeeds on the new leader within 2 s",
  async () => {
    const cluster = await ProcessCluster.start({
      runtimes: ["deno", "bun", "bun"],
      plugins: "wal",
      name: "tkv-frozen",
    });
    clusters.push(cluster);
    let frozen = 0;
    const clients: Client[] = [];
    let stop = false;
    // Per client: times (ms since epoch) of acknowledged INCRs.
    const okAt: number[][] = Array.from({ length: CLIENTS }, () => []);
    let acked = 0;
    let unknown = 0;
    try {
      await cluster.waitLeader();
      const eps = cluster.endpoints();
      for (let w = 0; w < CLIENTS; w++) {
        // Redirects take every client to the leader before the freeze; the request timeout is far
        // above the attempt timeout, so only failing over can make progress while it is frozen.
        clients.push(await connectAll(eps, { timeoutMs: 10_000, clientId: `frozen-${w}` }));
      }
      const running = clients.map(async (c, w) => {
        while (!stop) {
          try {
            await c.command("INCR", "fz:ctr");
            okAt[w].push(Date.now());
            acked++;
          } catch {
            unknown++;
            await sleep(20);
          }
        }
      });
      try {
        await until(() => okAt.every((t) => t.length >= 20), 15_000, "first INCRs");
        frozen = await cluster.waitLeader();
        const stoppedAt = Date.now();
        cluster.freeze(frozen, true);
        await sleep(FREEZE_MS);
        const resumedAt = Date.now();
        cluster.freeze(frozen, false);
        frozen = 0;
        await sleep(500);
        const firsts = okAt.map((t) => (t.find((x) => x > stoppedAt) ?? Infinity) - stoppedAt);
        const during = okAt.map((t) => t.filter((x) => x > stoppedAt && x < resumedAt).length);
        const why = `first success after the stop (ms) per client: ${firsts.join(", ")}; ` +
          `successes while frozen: ${during.join(", ")}\n${cluster.logTails(8)}`;
        if (process.env.TKV_TEST_VERBOSE) console.log(why.split("\n")[0]);
        for (const f of firsts) expect(f, why).toBeLessThan(BOUND_MS);
        // And they keep going on the new leader (not one lucky request).
        for (const n of during) expect(n, why).toBeGreaterThan(50);
      } finally {
        stop = true;
        await Promise.allSettled(running);
      }
      const reader = await connectAll(eps, { timeoutMs: 5000 });
      const final = Number(await reader.command("GET", "fz:ctr"));
      await reader.close();
      expect(final).toBeGreaterThanOrEqual(acked);
      expect(final).toBeLessThanOrEqual(acked + unknown);
    } finally {
      if (frozen) cluster.freeze(frozen, false);
      stop = true;
      await Promise.all(clients.map((c) => c.close()));
      await cluster.close();
    }
  },
  45_000,
);
