/**
 * The event-loop block detector (#11): a blocked loop shows up as the longest block, in the
 * histogram buckets, in INFO and as `tinykv_event_loop_block_seconds` on /metrics.
 */
import { expect, test } from "bun:test";
import { LOOP_BLOCK_BUCKETS_MS, LoopMonitor } from "../../core/env/loop_monitor.ts";
import { fakeClock, FakeScheduler } from "../helpers/fake_env.ts";
import { startTestNode } from "../helpers/in_process.ts";
import { RawClient } from "../helpers/raw_client.ts";
import createMetricsPlugin from "../../plugins/metrics/mod.ts";
import { metricsContext, scrape } from "../metrics/fake_node.ts";

test("a block of the loop is measured to within the sample period", async () => {
  const s = new FakeScheduler();
  const m = new LoopMonitor(fakeClock(s), s);
  m.start();
  await s.run(1_000); // a healthy loop: every sample on time
  expect(m.stats.samples).toBeGreaterThanOrEqual(45);
  expect(m.stats.maxMs).toBe(0);
  s.now += 300; // the loop is stuck for 300 ms: no timer runs meanwhile
  await s.run(100);
  expect(m.stats.maxMs).toBeGreaterThan(250);
  expect(m.stats.maxMs).toBeLessThanOrEqual(300);
  const over250 = LOOP_BLOCK_BUCKETS_MS.indexOf(250) + 1;
  expect(m.stats.counts[over250]).toBe(1);
  m.stop();
  const n = m.stats.samples;
  await s.run(1_000);
  expect(m.stats.samples).toBe(n);
});

test("a real node reports its longest block in INFO", async () => {
  const node = await startTestNode();
  try {
    await new Promise((r) => setTimeout(r, 100));
    const t0 = performance.now();
    while (performance.now() - t0 < 120) { /* block the loop */ }
    await new Promise((r) => setTimeout(r, 100));
    const c = await RawClient.connect(node.clientPort);
    const r = await c.batch([["INFO"]]);
    c.close();
    const v = (r.data as unknown[])[0];
    const info = typeof v === "string" ? v : new TextDecoder().decode(v as Uint8Array);
    expect(Number(/loop_block_max_ms:(\d+)/.exec(info)?.[1])).toBeGreaterThanOrEqual(90);
    expect(Number(/loop_blocks_over_50ms:(\d+)/.exec(info)?.[1])).toBeGreaterThanOrEqual(1);
  } finally {
    await node.stop();
  }
});

test("/metrics exports the detector as a histogram and a max gauge", async () => {
  const m = metricsContext();
  const p = createMetricsPlugin({ sampleIntervalMs: 0 });
  await p.setup!(m.ctx);
  await p.start!(m.ctx);
  try {
    const counts = new Array(LOOP_BLOCK_BUCKETS_MS.length + 1).fill(0);
    counts[0] = 40; // on time
    counts[LOOP_BLOCK_BUCKETS_MS.indexOf(250)] = 2; // two blocks in (100, 250] ms
    Object.assign(m.stats, { loopBlocks: { counts, samples: 42, sumMs: 300, maxMs: 180 } });
    const got = await scrape(p.url!);
    expect(got.get("tinykv_event_loop_block_seconds_count")).toBe(42);
    expect(got.get('tinykv_event_loop_block_seconds_bucket{le="0.1"}')).toBe(40);
    expect(got.get('tinykv_event_loop_block_seconds_bucket{le="0.25"}')).toBe(42);
    expect(got.get("tinykv_event_loop_block_max_seconds")).toBe(0.18);
    counts[0] += 10; // a later scrape adds only the new samples
    expect((await scrape(p.url!)).get("tinykv_event_loop_block_seconds_count")).toBe(52);
  } finally {
    await p.stop!(m.ctx);
  }
});
