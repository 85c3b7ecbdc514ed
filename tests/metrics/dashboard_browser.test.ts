/**
 * The live dashboard in headless Chromium: while a fake leader's counters advance, the page
 * polls /api/stats and renders numbers (not placeholders) in every field.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Code } from "../../protocol/codes.ts";
import { NUMERIC_FIELD_IDS } from "../../plugins/metrics/dashboard_page.ts";
import { createMetricsPlugin } from "../../plugins/metrics/mod.ts";
import { dumpDom, findChromium, renderedNumber, textById } from "./chromium.ts";
import { batch, entryOf, metricsContext, resultsOf } from "./fake_node.ts";

const clock = { t: 0 };
const m = metricsContext();
const plugin = createMetricsPlugin({ now: () => clock.t, sampleIntervalMs: 0 });
let driver: ReturnType<typeof setInterval> | undefined;
let index = 0;

/** One simulated second of leader traffic: 5 batches of 100 commands, 1 error per batch. */
async function simulatedSecond(): Promise<void> {
  const { ctx, stats, raft } = m;
  for (let i = 0; i < 5; i++) {
    const b = batch(100);
    plugin.onBatch!(b, ctx);
    stats.batchesReceived++;
    stats.commandsReceived += 100;
    stats.bytesIn += 1300;
    plugin.onPropose!({ batches: [b], nowMs: clock.t, data: new Uint8Array(1) }, ctx);
    clock.t += 2;
    plugin.onCommit!(entryOf([b], ++index), ctx);
    clock.t += 1;
    const codes = new Array(100).fill(Code.OK);
    codes[7] = Code.WRONG_TYPE;
    plugin.onApply!(entryOf([b], index), resultsOf(codes), ctx);
    stats.bytesOut += 400;
    Object.assign(raft, { commit: index, applied: index, lastIndex: index + 1 });
    raft.progress![2].match = index - 1;
    raft.progress![3].match = index;
  }
  clock.t += 1000 - 15;
  await plugin.sample();
}

beforeAll(async () => {
  findChromium(); // fail early with the install hint
  Object.assign(m.raft, { term: 4 });
  Object.assign(m.stats, { connections: 10, pendingBatches: 3, proposalTimeouts: 1, keys: 1234 });
  await plugin.setup!(m.ctx);
  await plugin.start!(m.ctx);
  for (let i = 0; i < 5; i++) await simulatedSecond();
  driver = setInterval(() => void simulatedSecond(), 50);
});

afterAll(async () => {
  if (driver) clearInterval(driver);
  await plugin.stop!(m.ctx);
});

test("the dashboard renders live numbers in every field", async () => {
  const before = m.stats.commandsReceived;
  const html = await dumpDom(`${plugin.url}/dashboard`, {
    virtualTimeBudgetMs: 3000,
    timeoutMs: 40_000,
  });
  const updates = Number(/data-updates="(\d+)"/.exec(html)?.[1] ?? 0);
  expect(updates).toBeGreaterThanOrEqual(1);
  const bad: string[] = [];
  for (const id of NUMERIC_FIELD_IDS) {
    const text = textById(html, id);
    if (!Number.isFinite(renderedNumber(text))) bad.push(`${id}=${JSON.stringify(text)}`);
  }
  expect(bad).toEqual([]);
  expect(textById(html, "role")).toBe("leader");
  expect(renderedNumber(textById(html, "term"))).toBe(4);
  expect(renderedNumber(textById(html, "leader"))).toBe(1);
  expect(renderedNumber(textById(html, "throughput"))).toBe(500);
  expect(renderedNumber(textById(html, "avg-batch-size"))).toBe(100);
  expect(renderedNumber(textById(html, "error-rate"))).toBeGreaterThan(0.9);
  expect(renderedNumber(textById(html, "error-rate"))).toBeLessThan(1.1);
  expect(renderedNumber(textById(html, "lat-p99"))).toBeGreaterThan(2.5);
  expect(renderedNumber(textById(html, "lat-p99"))).toBeLessThanOrEqual(5);
  expect(renderedNumber(textById(html, "commands-total"))).toBeGreaterThanOrEqual(before);
  expect(renderedNumber(textById(html, "connections"))).toBe(10);
  // the members table (#12 item 3): this node leads; follower 2 is one entry behind
  expect(html).toMatch(
    /<tr data-id="1" class="self"><td class="node">1 \(this node\)<\/td><td class="role">leader<\/td>/,
  );
  expect(html).toMatch(
    /<tr data-id="2"><td class="node">2<\/td><td class="role">follower<\/td><td class="state">replicate<\/td><td class="lag">\d+<\/td><td class="health">\u2013<\/td><\/tr>/,
  );
  // keys and memory (#12 item 3)
  expect(renderedNumber(textById(html, "keys"))).toBe(1234);
  expect(renderedNumber(textById(html, "apply-lag"))).toBe(0);
  expect(renderedNumber(textById(html, "rss"))).toBeGreaterThan(1);
  expect(renderedNumber(textById(html, "heap-used"))).toBeGreaterThan(0);
  // sparkline drawn, replication lag table filled, error types listed
  const points = /id="spark" points="([^"]*)"/.exec(html)?.[1] ?? "";
  expect(points.split(" ").length).toBeGreaterThanOrEqual(5);
  expect(html).toMatch(/<dt>2<\/dt><dd>\d+<\/dd>/);
  expect(html).toContain("<dt>WRONG_TYPE</dt>");
  expect(textById(html, "status")).toMatch(/^updated /);
}, 60_000);

test("when /api/stats fails the page says so and keeps placeholders", async () => {
  const p = createMetricsPlugin({ sampleIntervalMs: 0 });
  const c = metricsContext();
  const ctx = {
    ...c.ctx,
    node: {
      ...c.ctx.node,
      stats: () => {
        throw new Error("node counters unavailable");
      },
    },
  };
  p.setup!(ctx);
  await p.start!(ctx); // the first sample fails and is logged; the server is up
  try {
    const html = await dumpDom(`${p.url}/dashboard`, {
      virtualTimeBudgetMs: 1500,
      timeoutMs: 30_000,
    });
    expect(textById(html, "status")).toBe("disconnected: HTTP 500");
    expect(textById(html, "throughput")).toBe("\u2013");
    expect(/data-updates="(\d+)"/.exec(html)?.[1]).toBe("0");
  } finally {
    await p.stop!(ctx);
  }
}, 60_000);
