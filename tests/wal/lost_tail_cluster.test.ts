/**
 * A follower that lost the tail of its WAL (issue 9 item 8), with real processes: a 3-node wal
 * cluster under steady writes; one follower is stopped, the tail of its last WAL segment is cut
 * off (dropping records it had acknowledged, as a disk that lied about fsync or `wal_fsync=batch`
 * plus a power loss would), and it is restarted. The leader must bring it back promptly (no
 * snapshot to rescue it: `--snapshot-entries` is far away) and the cluster's write throughput must
 * not collapse.
 */
import { afterAll, expect, test } from "bun:test";
import * as fs from "node:fs";
import { join } from "node:path";
import { connect } from "../../mod.ts";
import { type ClusterOptions, ProcessCluster, sleep } from "../cluster/harness.ts";

/** No snapshot can rescue the follower within the test: only the leader's repair can. */
const CLUSTER: ClusterOptions = {
  runtimes: ["bun", "deno", "bun"],
  plugins: "wal",
  args: ["--snapshot-entries", "10000000"],
  name: "tkv-losttail",
};

const clusters: ProcessCluster[] = [];
afterAll(async () => {
  await Promise.all(clusters.map((c) => c.close()));
});

/** Steady writers (batches of 20 SETs through any endpoint); counts acknowledged SETs. */
function startWriters(endpoints: string[], n: number) {
  const state = { ok: 0, stopped: false };
  const loops = Array.from({ length: n }, async (_, w) => {
    const c = await connect({ endpoints, timeoutMs: 3000 });
    try {
      for (let seq = 0; !state.stopped; seq++) {
        const cmds = Array.from({ length: 20 }, (_, i) => ["SET", `t:${w}:${seq}:${i}`, `v${seq}`]);
        try {
          const rs = await c.batch(cmds);
          state.ok += rs.filter((r) => r.ok).length;
        } catch {
          await sleep(20);
        }
      }
    } finally {
      await c.close();
    }
  });
  return {
    state,
    async stop() {
      state.stopped = true;
      await Promise.all(loops);
    },
  };
}

async function rate(state: { ok: number }, ms: number): Promise<number> {
  const a = state.ok;
  await sleep(ms);
  return ((state.ok - a) * 1000) / ms;
}

test("a restarted follower whose WAL lost acknowledged records catches up at once", async () => {
  const cluster = await ProcessCluster.start(CLUSTER);
  clusters.push(cluster);
  try {
    const leader = await cluster.waitLeader();
    const f = cluster.nodes.find((n) => n.id !== leader)!.id;
    const writers = startWriters(cluster.endpoints(), 4);
    try {
      await sleep(1000);
      const before = await rate(writers.state, 2000);
      const stoppedInfo = (await cluster.info(f))!;
      expect(await cluster.stopNode(f)).toBe(0);
      // Cut the last third of its last segment: records it acknowledged are gone.
      const dir = cluster.node(f).dataDir;
      const segs = fs.readdirSync(dir).filter((x) => /^wal-.*\.log$/.test(x)).sort();
      const seg = join(dir, segs[segs.length - 1]);
      const size = fs.statSync(seg).size;
      fs.truncateSync(seg, Math.floor(size * 0.66) + 3);
      await sleep(300);
      await cluster.startNode(f);
      const log = cluster.node(f).proc!.log();
      const m = /log (\d+)\.\.(\d+)/.exec(log);
      expect(m).not.toBeNull();
      const lastAfterCut = Number(m![2]);
      // It really lost acknowledged entries: its log now ends below what it had applied.
      expect(lastAfterCut).toBeLessThan(Number(stoppedInfo.applied_index));
      const restartedAt = Date.now();
      const target = Number((await cluster.info(leader))!.commit_index);
      const afterRate = rate(writers.state, 2000);
      // Caught up promptly: applied everything the leader had committed at the restart.
      let caughtUpMs = -1;
      while (Date.now() - restartedAt < 5000) {
        const inf = await cluster.info(f, 500);
        if (inf && Number(inf.applied_index) >= target) {
          caughtUpMs = Date.now() - restartedAt;
          break;
        }
        await sleep(50);
      }
      const after = await afterRate;
      console.log(
        `lost tail: follower ${f} restarted at index ${lastAfterCut} (had applied ${stoppedInfo.applied_index}), ` +
          `caught up to ${target} in ${caughtUpMs} ms; ${before.toFixed(0)} -> ${
            after.toFixed(0)
          } SET/s`,
      );
      expect(caughtUpMs).toBeGreaterThanOrEqual(0);
      expect(caughtUpMs).toBeLessThan(3000);
      expect(after).toBeGreaterThan(before * 0.3);
    } finally {
      await writers.stop();
    }
    await cluster.waitConverged(20_000);
    expect(cluster.errorLines()).toEqual([]);
  } finally {
    await cluster.close();
  }
}, 90_000);
