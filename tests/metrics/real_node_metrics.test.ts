/**
 * An in-process node with the wal and metrics plugins: the WAL's fsync and snapshot histograms,
 * the leader-changes counter, the key count and apply lag come from the real node, and the whole
 * exposition passes `promtool check metrics`.
 */
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { Code } from "../../protocol/codes.ts";
import walPlugin from "../../plugins/wal/mod.ts";
import { createMetricsPlugin } from "../../plugins/metrics/mod.ts";
import { startTestNode } from "../helpers/in_process.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { rmTempDir, tempDir } from "../wal/wal_helpers.ts";
import { parseProm } from "./fake_node.ts";

test(
  "wal fsync and snapshot histograms, leader changes, keys and apply lag from a real node",
  async () => {
    const dataDir = tempDir("metrics-node");
    const metrics = createMetricsPlugin({ sampleIntervalMs: 0 });
    const node = await startTestNode(
      { data_dir: dataDir, snapshot_entries: 20, snapshot_keep_entries: 5, metrics_port: 0 },
      [walPlugin, metrics],
    );
    try {
      const c = await RawClient.connect(node.clientPort);
      for (let i = 0; i < 40; i++) {
        const r = await c.batch([["SET", `k${i}`, `v${i}`]], `b${i}`);
        expect(r.codes).toEqual([Code.OK]);
      }
      c.close();
      // snapshots are taken off the write path: wait (bounded) for one
      let m = new Map<string, number>();
      let text = "";
      for (let i = 0; i < 200; i++) {
        text = await (await fetch(`${metrics.url}/metrics`)).text();
        m = parseProm(text);
        if ((m.get("tinykv_snapshot_save_duration_seconds_count") ?? 0) > 0) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      expect(m.get("tinykv_wal_fsync_duration_seconds_count")).toBeGreaterThanOrEqual(40);
      expect(m.get("tinykv_wal_fsync_duration_seconds_sum")).toBeGreaterThan(0);
      expect(m.get("tinykv_snapshot_save_duration_seconds_count")).toBeGreaterThanOrEqual(1);
      expect(m.get("tinykv_raft_leader_changes_total")).toBe(1);
      expect(m.get("tinykv_keys")).toBe(40);
      expect(m.get("tinykv_raft_apply_lag_entries")).toBe(0);
      const lint = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
      const findings = `${lint.stdout}${lint.stderr}`.split("\n").filter((l) => l.trim())
        .filter((l) => !/^nodejs_active_(handles|requests|resources)_total non-counter/.test(l));
      expect(findings).toEqual([]);
    } finally {
      await node.stop();
      rmTempDir(dataDir);
    }
  },
  30_000,
);
