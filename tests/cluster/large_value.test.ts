// Issue 9 item 9: a large write within --batch-max-bytes must not answer TIMEOUT on a healthy
// 3-node wal cluster (it used to time out after ~800 ms although it was applied).
import { afterAll, expect, test } from "bun:test";
import { connect } from "../../mod.ts";
import { ProcessCluster } from "./harness.ts";

const clusters: ProcessCluster[] = [];
afterAll(async () => {
  await Promise.all(clusters.map((c) => c.close()));
});

const MiB = 1024 * 1024;

test("a 60 MB SET on a 3-node wal cluster is acknowledged OK, not TIMEOUT", async () => {
  const cluster = await ProcessCluster.start({
    runtimes: ["bun", "bun", "bun"],
    plugins: "wal",
    args: ["--batch-max-bytes", String(64 * MiB)],
    name: "tkv-large",
  });
  clusters.push(cluster);
  try {
    await cluster.waitLeader();
    const c = await connect({
      endpoints: cluster.endpoints(),
      maxBatchBytes: 64 * MiB,
      timeoutMs: 60_000,
    });
    try {
      const value = new Uint8Array(60 * MiB).fill(0x61);
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        const rs = await c.batch([["SET", `big${i}`, value]]);
        const ms = performance.now() - t0;
        console.log(cluster.logTails(60));
        expect({ i, code: rs[0].code, error: rs[0].error }).toEqual({ i, code: "OK", error: null });
        console.log(`60 MB SET #${i}: ${Math.round(ms)} ms`);
      }
      const rs = await c.batch([["STRLEN", "big2"]]);
      expect(rs[0].value).toBe(60 * MiB);
    } finally {
      await c.close();
    }
  } finally {
    await cluster.close();
  }
}, 120_000);
