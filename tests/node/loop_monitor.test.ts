/**
 * The event-loop block detector (#11): a blocked loop shows up as the longest block, in the
 * histogram buckets, in INFO and as `tinykv_event_loop_block_seconds` on /metrics.
 */
import { expect, test } from "bun:test";
import process from "node:process";
import { LOOP_BLOCK_BUCKETS_MS, LoopMonitor } from "../../core/env/loop_monitor.ts";
import { jsThreadTimes, parseSchedstat, type ThreadSample } from "../../core/env/thread_times.ts";
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

test("a block is split into the JS thread's own time and its wait for a CPU", async () => {
  const s = new FakeScheduler();
  const t: ThreadSample = { runMs: 0, waitMs: 0 };
  const m = new LoopMonitor(fakeClock(s), s, { sample: () => ({ ...t }) });
  m.start();
  await s.run(200);
  t.waitMs += 3; // a little waiting in healthy samples counts in the total only
  await s.run(20);
  s.now += 120; // a block of ~120 ms, 90 of it waiting for a CPU (the kernel ran others)
  t.runMs += 30;
  t.waitMs += 90;
  await s.run(20);
  expect(m.stats.maxMs).toBeGreaterThanOrEqual(100);
  expect(m.stats.maxWaitMs).toBe(90);
  expect(m.stats.waitMs).toBe(93);
  s.now += 60; // a shorter block, all of it the node's own work: the longest block's split stays
  t.runMs += 80;
  await s.run(20);
  expect(m.stats.maxWaitMs).toBe(90);
  s.now += 200; // a longer one: more wait than lateness is capped at the block
  t.waitMs += 500;
  await s.run(20);
  expect(m.stats.maxMs).toBeGreaterThanOrEqual(180);
  expect(m.stats.maxWaitMs).toBe(m.stats.maxMs);
  m.stop();
});

test("schedstat lines parse; anything else reads as unknown", () => {
  expect(parseSchedstat("1500000 2500000 7\n")).toEqual({ runMs: 1.5, waitMs: 2.5 });
  expect(parseSchedstat("")).toBe(null);
  expect(parseSchedstat("1 2\n")).toBe(null);
  expect(parseSchedstat("a b c\n")).toBe(null);
});

test("on Linux the JS thread's times are read from schedstat and move with its work", () => {
  expect(process.platform).toBe("linux"); // the suite runs on Linux: the source must be there
  const t = jsThreadTimes();
  expect(t).not.toBe(null);
  expect(jsThreadTimes()).toBe(t); // one descriptor per thread
  const a = t!.sample()!;
  const t0 = performance.now();
  while (performance.now() - t0 < 60) { /* run */ }
  const b = t!.sample()!;
  expect(b.runMs - a.runMs).toBeGreaterThan(20);
  expect(b.waitMs).toBeGreaterThanOrEqual(a.waitMs);
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
    // ...and what of it was waiting for a CPU (a busy loop runs: a little at most)
    const wait = Number(/loop_block_max_cpu_wait_ms:(\d+)/.exec(info)?.[1]);
    expect(wait).toBeGreaterThanOrEqual(0);
    expect(wait).toBeLessThan(Number(/loop_block_max_ms:(\d+)/.exec(info)?.[1]));
    expect(/loop_cpu_wait_ms:\d+/.test(info)).toBe(true);
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
    Object.assign(m.stats, {
      loopBlocks: { counts, samples: 42, sumMs: 300, maxMs: 180, maxWaitMs: 120, waitMs: 1500 },
    });
    const got = await scrape(p.url!);
    expect(got.get("tinykv_event_loop_block_seconds_count")).toBe(42);
    expect(got.get('tinykv_event_loop_block_seconds_bucket{le="0.1"}')).toBe(40);
    expect(got.get('tinykv_event_loop_block_seconds_bucket{le="0.25"}')).toBe(42);
    expect(got.get("tinykv_event_loop_block_max_seconds")).toBe(0.18);
    expect(got.get("tinykv_event_loop_block_max_cpu_wait_seconds")).toBe(0.12);
    expect(got.get("tinykv_event_loop_cpu_wait_seconds_total")).toBe(1.5);
    counts[0] += 10; // a later scrape adds only the new samples
    m.stats.loopBlocks!.waitMs = 2000;
    const again = await scrape(p.url!);
    expect(again.get("tinykv_event_loop_block_seconds_count")).toBe(52);
    expect(again.get("tinykv_event_loop_cpu_wait_seconds_total")).toBe(2);
  } finally {
    await p.stop!(m.ctx);
  }
});
