/**
 * Hot-path cost of the metrics hooks: one client batch of 100 commands through onBatch,
 * onPropose, onCommit and onApply (leader), and onApply alone (follower). The bound is generous
 * (shared CI machines); the measured numbers are printed.
 */
import { expect, test } from "bun:test";
import type { ClientBatch, CommittedEntry, ProposedEntry } from "../../core/plugin/plugin.ts";
import { createMetricsPlugin } from "../../plugins/metrics/mod.ts";
import { entryOf, metricsContext, resultsOf } from "./fake_node.ts";

const N = 20_000;
const BUDGET_US = 10; // per batch, all four hooks; measured ~0.5-1 µs here

function prepare(n: number) {
  const batches: ClientBatch[] = [];
  const proposed: ProposedEntry[] = [];
  const entries: CommittedEntry[] = [];
  const codes = new Array(100).fill(0);
  codes[50] = 2;
  const results = resultsOf(codes);
  for (let i = 0; i < n; i++) {
    const b: ClientBatch = {
      clientId: `client-${i % 10}`,
      batchId: `${i}`,
      commands: new Uint8Array(0),
      count: 100,
    };
    batches.push(b);
    proposed.push({ batches: [b], nowMs: 0, data: new Uint8Array(0) });
    entries.push(entryOf([b], i + 1));
  }
  return { batches, proposed, entries, results };
}

function usPerBatch(run: () => void, n: number): number {
  const t0 = performance.now();
  run();
  return ((performance.now() - t0) * 1000) / n;
}

test("leader hooks cost a few microseconds per 100-command batch at most", () => {
  const { ctx } = metricsContext();
  const p = createMetricsPlugin({ sampleIntervalMs: 0 });
  p.setup!(ctx);
  const w = prepare(2000);
  for (let i = 0; i < w.batches.length; i++) {
    p.onBatch!(w.batches[i], ctx);
    p.onPropose!(w.proposed[i], ctx);
    p.onCommit!(w.entries[i], ctx);
    p.onApply!(w.entries[i], w.results, ctx);
  }
  const d = prepare(N);
  const leader = usPerBatch(() => {
    for (let i = 0; i < N; i++) {
      p.onBatch!(d.batches[i], ctx);
      p.onPropose!(d.proposed[i], ctx);
      p.onCommit!(d.entries[i], ctx);
      p.onApply!(d.entries[i], d.results, ctx);
    }
  }, N);
  expect(p.recorder!.tracked).toEqual({ arrivals: 0, proposals: 0 });

  const f = metricsContext();
  const follower = createMetricsPlugin({ sampleIntervalMs: 0 });
  follower.setup!(f.ctx);
  const onlyApply = usPerBatch(() => {
    for (let i = 0; i < N; i++) {
      follower.onCommit!(d.entries[i], f.ctx);
      follower.onApply!(d.entries[i], d.results, f.ctx);
    }
  }, N);
  console.log(
    `metrics hooks: leader ${leader.toFixed(2)} µs/batch (4 hooks, 100 commands), ` +
      `follower ${onlyApply.toFixed(2)} µs/batch`,
  );
  expect(leader).toBeLessThan(BUDGET_US);
  expect(onlyApply).toBeLessThan(BUDGET_US);
});
