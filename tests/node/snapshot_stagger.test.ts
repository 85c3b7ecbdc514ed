/**
 * Replicas take their snapshots at different indexes (#11): the due rule's thresholds are stretched
 * by a per-node factor, so the three nodes of a cluster never all encode a snapshot at once.
 */
import { expect, test } from "bun:test";
import { makeConfig } from "../../core/config/config.ts";
import { Snapshots, snapshotStagger } from "../../core/node/snapshots.ts";
import type { SnapshotsDeps } from "../../core/node/snapshots.ts";

function firstDue(nodeId: number): number {
  const state = { applied: 0 };
  const deps = {
    config: makeConfig({ node_id: nodeId, snapshot_entries: 1000 }),
    state,
  } as unknown as SnapshotsDeps;
  const s = new Snapshots(deps);
  for (let i = 1; i <= 3000; i++) {
    state.applied = i;
    if (s.due()) return i;
  }
  return -1;
}

test("nodes 1..3 of a cluster come due at different indexes, all within 1.5x the setting", () => {
  const due = [1, 2, 3].map(firstDue);
  expect(new Set(due).size).toBe(3);
  for (const d of due) {
    expect(d).toBeGreaterThanOrEqual(1000);
    expect(d).toBeLessThan(1500);
  }
  // Spread: any two of the first five ids differ by at least 5 % of the setting.
  const f = [1, 2, 3, 4, 5].map(snapshotStagger).sort();
  for (let i = 1; i < f.length; i++) expect(f[i] - f[i - 1]).toBeGreaterThan(0.05);
});
