import { afterEach, describe, expect, test } from "bun:test";
import { createServer } from "node:net";
import { Code } from "../../protocol/codes.ts";
import { HookBus } from "../../core/plugin/hooks.ts";
import { definePlugin } from "../../core/plugin/plugin.ts";
import { loadPlugin } from "../../core/plugin/loader.ts";
import createDefault, {
  createMetricsPlugin,
  type MetricsPlugin,
} from "../../plugins/metrics/mod.ts";
import type { DashboardStats, HealthReport } from "../../plugins/metrics/mod.ts";
import { NUMERIC_FIELD_IDS } from "../../plugins/metrics/dashboard_page.ts";
import { batch, entryOf, metricsContext, resultsOf, scrape } from "./fake_node.ts";

const running: { p: MetricsPlugin; ctx: ReturnType<typeof metricsContext>["ctx"] }[] = [];

afterEach(async () => {
  for (const { p, ctx } of running.splice(0)) await p.stop!(ctx);
});

/** A started plugin on an ephemeral port, with a clock the test moves. */
async function started(overrides = {}) {
  const clock = { t: 1_000 };
  const m = metricsContext(overrides);
  const p = createMetricsPlugin({ now: () => clock.t, sampleIntervalMs: 0 });
  await p.setup!(m.ctx);
  await p.start!(m.ctx);
  running.push({ p, ctx: m.ctx });
  return { ...m, p, clock, url: p.url! };
}

describe("metrics plugin over HTTP", () => {
  test("serves every metric with the values the hooks and node counters produced", async () => {
    const { p, ctx, clock, url, stats, raft } = await started();
    expect(p.port).toBeGreaterThan(0);
    expect(url).toBe(`http://127.0.0.1:${p.port}`);

    const b1 = batch(10);
    const b2 = batch(4, "c2");
    p.onBatch!(b1, ctx); // t = 1000
    clock.t += 1;
    p.onBatch!(b2, ctx); // t = 1001
    const proposed = { batches: [b1, b2], nowMs: 0, data: new Uint8Array(1) };
    p.onPropose!(proposed, ctx); // t = 1001
    clock.t += 3;
    p.onCommit!(entryOf([b1, b2]), ctx); // t = 1004: commit latency 3 ms
    clock.t += 4;
    const codes1 = [Code.OK, Code.NOT_FOUND, Code.WRONG_TYPE, Code.OK, 0, 0, 0, 0, 0, Code.SYNTAX];
    p.onApply!(entryOf([b1, b2]), resultsOf(codes1, [0, 0, Code.WRONG_TYPE, 0]), ctx); // t = 1008

    Object.assign(stats, {
      bytesIn: 1234,
      bytesOut: 567,
      connections: 3,
      pendingBatches: 2,
      proposalTimeouts: 2,
      busyRejections: 1,
    });
    Object.assign(raft, { term: 7, commit: 41, applied: 40, lastIndex: 45 });
    raft.progress![2].match = 40;
    raft.progress![3].match = 45;

    const m = await scrape(url);
    expect(m.get("tinykv_batch_size_count")).toBe(2);
    expect(m.get("tinykv_batch_size_sum")).toBe(14);
    expect(m.get('tinykv_batch_size_bucket{le="5"}')).toBe(1);
    expect(m.get('tinykv_batch_size_bucket{le="10"}')).toBe(2);
    expect(m.get("tinykv_batch_latency_seconds_count")).toBe(2);
    expect(m.get("tinykv_batch_latency_seconds_sum")).toBeCloseTo(0.008 + 0.007, 9);
    expect(m.get("tinykv_raft_commit_latency_seconds_count")).toBe(1);
    expect(m.get("tinykv_raft_commit_latency_seconds_sum")).toBeCloseTo(0.003, 9);
    expect(m.get("tinykv_commands_total")).toBe(14);
    expect(m.get('tinykv_errors_total{error_type="WRONG_TYPE"}')).toBe(2);
    expect(m.get('tinykv_errors_total{error_type="SYNTAX"}')).toBe(1);
    expect(m.get('tinykv_errors_total{error_type="TIMEOUT"}')).toBe(2);
    expect(m.get('tinykv_errors_total{error_type="BUSY"}')).toBe(1);
    expect(m.get('tinykv_errors_total{error_type="MALFORMED"}')).toBe(0);
    expect(m.has('tinykv_errors_total{error_type="NOT_FOUND"}')).toBe(false);
    expect(m.get("tinykv_batch_timeouts_total")).toBe(2);
    expect(m.get('tinykv_network_bytes_total{direction="in"}')).toBe(1234);
    expect(m.get('tinykv_network_bytes_total{direction="out"}')).toBe(567);
    expect(m.get("tinykv_connections")).toBe(3);
    expect(m.get("tinykv_pending_batches")).toBe(2);
    expect(m.get("tinykv_raft_term")).toBe(7);
    expect(m.get("tinykv_raft_commit_index")).toBe(41);
    expect(m.get("tinykv_raft_applied_index")).toBe(40);
    expect(m.get("tinykv_raft_last_index")).toBe(45);
    expect(m.get("tinykv_raft_is_leader")).toBe(1);
    expect(m.get("tinykv_raft_leader_id")).toBe(1);
    expect(m.get('tinykv_raft_replication_lag_entries{follower="2"}')).toBe(5);
    expect(m.get('tinykv_raft_replication_lag_entries{follower="3"}')).toBe(0);
    expect(m.has('tinykv_raft_replication_lag_entries{follower="1"}')).toBe(false);
    expect(m.get('tinykv_proposals_failed_total{reason="timeout"}')).toBe(2);
    expect(m.get('tinykv_proposals_failed_total{reason="busy"}')).toBe(1);
    expect(m.get("tinykv_raft_apply_lag_entries")).toBe(1);
    // the node-computed rates are gone: rate() over the counters replaces them
    expect(m.has("tinykv_error_rate")).toBe(false);
    expect(m.has("tinykv_throughput")).toBe(false);
    // 3 command errors + 3 refused batches over 14 commands + 3 refused batches (dashboard JSON)
    const s = (await (await fetch(`${url}/api/stats`)).json()) as DashboardStats;
    expect(s.errorRate).toBeCloseTo(6 / 17, 6);
    expect(p.recorder!.tracked).toEqual({ arrivals: 0, proposals: 0 });
  });

  test("scrape-time counters are not double counted and keep growing with the node's counters", async () => {
    const { p, ctx, url, stats } = await started();
    p.onApply!(entryOf([batch(3)]), resultsOf([0, Code.NOT_INTEGER, 0]), ctx);
    stats.bytesIn = 100;
    const a = await scrape(url);
    const b = await scrape(url);
    expect(b.get("tinykv_commands_total")).toBe(3);
    expect(b.get('tinykv_errors_total{error_type="NOT_INTEGER"}')).toBe(1);
    expect(b.get('tinykv_network_bytes_total{direction="in"}')).toBe(100);
    // the tinykv_ series are the same on a second scrape (process_* and nodejs_* move on their own)
    const ours = (m: Map<string, number>) => [...m].filter(([k]) => k.startsWith("tinykv_"));
    expect(ours(a)).toEqual(ours(b));
    p.onApply!(entryOf([batch(2)]), resultsOf([0, Code.NOT_INTEGER]), ctx);
    stats.bytesIn = 250;
    const c = await scrape(url);
    expect(c.get("tinykv_commands_total")).toBe(5);
    expect(c.get('tinykv_errors_total{error_type="NOT_INTEGER"}')).toBe(2);
    expect(c.get('tinykv_network_bytes_total{direction="in"}')).toBe(250);
  });

  test("a follower counts applied commands but tracks no latencies and reports no lag", async () => {
    const { p, ctx, url, raft } = await started();
    Object.assign(raft, { role: "follower", leader: 2 });
    delete raft.progress;
    p.onCommit!(entryOf([batch(5)]), ctx);
    p.onApply!(entryOf([batch(5)]), resultsOf([0, 0, 0, 0, 0]), ctx);
    const m = await scrape(url);
    expect(m.get("tinykv_commands_total")).toBe(5);
    expect(m.get("tinykv_batch_latency_seconds_count")).toBe(0);
    expect(m.get("tinykv_raft_commit_latency_seconds_count")).toBe(0);
    expect(m.get("tinykv_raft_is_leader")).toBe(0);
    expect(m.get("tinykv_raft_leader_id")).toBe(2);
    expect([...m.keys()].some((k) => k.startsWith("tinykv_raft_replication_lag_entries{"))).toBe(
      false,
    );
  });

  test("/health is 200 with a leader and 503 without one", async () => {
    const { url, raft } = await started({ metrics_details: true });
    Object.assign(raft, { term: 3, commit: 9, applied: 8 });
    let r = await fetch(`${url}/health`);
    expect(r.status).toBe(200);
    const h = (await r.json()) as HealthReport;
    expect(h).toMatchObject({
      ok: true,
      nodeId: 1,
      role: "leader",
      leader: 1,
      leaderAddress: "127.0.0.1:5210",
      term: 3,
      commit: 9,
      applied: 8,
    });
    Object.assign(raft, { role: "candidate", leader: 0 });
    r = await fetch(`${url}/health`);
    expect(r.status).toBe(503);
    expect(await r.json()).toMatchObject({ ok: false, role: "candidate", leader: 0 });
  });

  test("/dashboard, /api/stats, unknown routes and methods", async () => {
    const { p, ctx, url, clock } = await started();
    let r = await fetch(`${url}/dashboard`);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toContain("text/html");
    const page = await r.text();
    for (const id of NUMERIC_FIELD_IDS) expect(page).toContain(`id="${id}"`);
    expect(page).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\//);

    const b = batch(50);
    p.onBatch!(b, ctx);
    clock.t += 2;
    p.onApply!(entryOf([b]), resultsOf(new Array(50).fill(0)), ctx);
    r = await fetch(`${url}/api/stats`);
    expect(r.status).toBe(200);
    const s = (await r.json()) as DashboardStats;
    expect(s.commandsTotal).toBe(50);
    expect(s.batchSize.p50).toBeGreaterThan(20);
    expect(s.batchSize.p50).toBeLessThanOrEqual(50);
    expect(s.batchLatencyMs.p50).toBeGreaterThan(1);
    expect(s.batchLatencyMs.p50).toBeLessThanOrEqual(2.5);
    expect(s.commitLatencyMs.p99).toBeNull();
    expect(s.health.ok).toBe(true);
    expect(s.replicationLag).toEqual({ "2": 0, "3": 0 });

    r = await fetch(`${url}/nope`);
    expect(r.status).toBe(404);
    await r.body?.cancel();
    r = await fetch(`${url}/metrics`, { method: "POST", body: "x" });
    expect(r.status).toBe(405);
    await r.body?.cancel();
    r = await fetch(`${url}/metrics`, { method: "HEAD" });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe("");
    r = await fetch(`${url}/`);
    expect(await r.text()).toContain("url=dashboard");
  });

  test("stop closes the server; port is 0 before start and after stop", async () => {
    const m = metricsContext();
    const p = createMetricsPlugin({ sampleIntervalMs: 0 });
    expect(p.port).toBe(0);
    expect(p.url).toBeUndefined();
    p.setup!(m.ctx);
    await p.start!(m.ctx);
    const url = p.url!;
    expect((await fetch(`${url}/health`)).status).toBe(200);
    expect(m.logs.some((l) => l.includes(`${url}/metrics`))).toBe(true);
    await p.stop!(m.ctx);
    expect(p.port).toBe(0);
    let failed = false;
    try {
      await fetch(`${url}/health`);
    } catch {
      failed = true;
    }
    expect(failed).toBe(true);
  });

  test("a taken port fails start with a message naming the address", async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      const m = metricsContext({ metrics_port: port });
      const p = createMetricsPlugin({ sampleIntervalMs: 0 });
      p.setup!(m.ctx);
      let msg = "";
      try {
        await p.start!(m.ctx);
      } catch (err) {
        msg = (err as Error).message;
      }
      expect(msg).toContain(`cannot listen on 127.0.0.1:${port}`);
      expect(p.port).toBe(0);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});

describe("windows and bounds", () => {
  test("throughput and error rate follow their windows", async () => {
    const { p, ctx, url, clock } = await started();
    // 1000 commands, 10 errors, spread over 10 s
    for (let s = 0; s < 10; s++) {
      const codes = new Array(100).fill(0);
      codes[0] = Code.WRONG_TYPE;
      p.onApply!(entryOf([batch(100)]), resultsOf(codes), ctx);
      clock.t += 1000;
      await p.sample();
    }
    let s = (await (await fetch(`${url}/api/stats`)).json()) as DashboardStats;
    expect(s.throughput).toBeCloseTo(100, 6);
    expect(s.errorRate).toBeCloseTo(0.01, 6);
    // idle for 70 s: both windows empty
    for (let s = 0; s < 70; s++) {
      clock.t += 1000;
      await p.sample();
    }
    const m = await scrape(url);
    expect(m.get("tinykv_commands_total")).toBe(1000);
    s = (await (await fetch(`${url}/api/stats`)).json()) as DashboardStats;
    expect(s.throughput).toBe(0);
    expect(s.errorRate).toBe(0);
    expect(s.throughputSeries.length).toBeGreaterThanOrEqual(60);
    expect(s.throughputSeries.every((x) => x === 0)).toBe(true);
  });

  test("dashboard series and percentiles cover recent samples only", async () => {
    const { p, ctx, url, clock } = await started();
    for (let s = 0; s < 5; s++) {
      const b = batch(100);
      p.onBatch!(b, ctx);
      clock.t += 200; // slow batches: 200 ms
      p.onApply!(entryOf([b]), resultsOf(new Array(100).fill(0)), ctx);
      clock.t += 800;
      await p.sample();
    }
    for (let s = 0; s < 12; s++) {
      const b = batch(10);
      p.onBatch!(b, ctx);
      clock.t += 1; // fast batches: 1 ms
      p.onApply!(entryOf([b]), resultsOf(new Array(10).fill(0)), ctx);
      clock.t += 999;
      await p.sample();
    }
    const s = (await (await fetch(`${url}/api/stats`)).json()) as DashboardStats;
    expect(s.batchLatencyMs.p99).toBeLessThanOrEqual(1);
    expect(s.batchSize.p99).toBeLessThanOrEqual(10);
    expect(s.throughput).toBeCloseTo(10, 6);
    // one rate per interval since the sample taken at start
    expect(s.throughputSeries).toEqual([...new Array(5).fill(100), ...new Array(12).fill(10)]);
  });

  test("batches that never apply are forgotten: bounded map, then swept by age", async () => {
    const { p, ctx, clock } = await started({ max_pending_batches: 100 });
    for (let i = 0; i < 5000; i++) {
      const b = batch(1);
      p.onBatch!(b, ctx);
      p.onPropose!({ batches: [b], nowMs: 0, data: new Uint8Array(0) }, ctx);
    }
    const t = p.recorder!.tracked;
    expect(t.arrivals).toBe(1124);
    expect(t.proposals).toBe(1124);
    clock.t += 10_000;
    await p.sample();
    expect(p.recorder!.tracked).toEqual({ arrivals: 0, proposals: 0 });
  });
});

describe("loading", () => {
  test("the default export is the factory; the loader gives each node its own instance", async () => {
    expect(createDefault).toBe(createMetricsPlugin);
    const a = await loadPlugin("metrics", process.cwd());
    const b = await loadPlugin("metrics", process.cwd());
    expect(a.name).toBe("metrics");
    expect(a.enforce).toBe("pre");
    expect(a).not.toBe(b);
    expect((a as MetricsPlugin).port).toBe(0);
  });

  test("one instance cannot be set up twice", () => {
    const p = createMetricsPlugin({ sampleIntervalMs: 0 });
    p.setup!(metricsContext().ctx);
    expect(() => p.setup!(metricsContext().ctx)).toThrow("already set up");
  });
});

test("through the core's hook bus it runs first and passes every batch on", async () => {
  const m = metricsContext();
  const metrics = createMetricsPlugin({ sampleIntervalMs: 0 });
  const seen: string[] = [];
  const gate = definePlugin({
    name: "gate",
    onBatch(b) {
      seen.push(b.batchId);
      return b.count > 50 ? { reject: { code: Code.TOO_LARGE, message: "too big" } } : undefined;
    },
  });
  const bus = new HookBus([gate, metrics], () => m.ctx, m.ctx.logger);
  expect(bus.plugins.map((p) => p.name)).toEqual(["metrics", "gate"]);
  expect(bus.wantsCommit && bus.wantsApply).toBe(true);
  metrics.setup!(m.ctx);
  expect(bus.onBatch(batch(10))).toBeUndefined();
  expect(bus.onBatch(batch(100))).toEqual({ reject: { code: Code.TOO_LARGE, message: "too big" } });
  expect(seen.length).toBe(2);
  const hist = await metrics.recorder!.batchSize.get();
  expect(hist.values.find((v) => v.metricName === "tinykv_batch_size_count")?.value).toBe(2);
});

describe("SRE metrics (#12 item 3)", () => {
  test("build info, default runtime metrics, leader changes, keys and apply lag", async () => {
    const { url, stats, raft } = await started();
    Object.assign(stats, { leaderChanges: 3, keys: 42 });
    Object.assign(raft, { commit: 100, applied: 93 });
    const text = await (await fetch(`${url}/metrics`)).text();
    const m = await scrape(url);
    const build = [...m.keys()].find((k) => k.startsWith("tinykv_build_info{"));
    expect(build).toMatch(/version="\d+\.\d+\.\d+"/);
    expect(build).toMatch(/runtime="(bun|deno|node)"/);
    expect(m.get(build!)).toBe(1);
    expect(m.get("tinykv_raft_leader_changes_total")).toBe(3);
    expect(m.get("tinykv_keys")).toBe(42);
    expect(m.get("tinykv_raft_apply_lag_entries")).toBe(7);
    const s = (await (await fetch(`${url}/api/stats`)).json()) as DashboardStats;
    expect(s.keys).toBe(42);
    expect(s.applyLag).toBe(7);
    expect(s.memory.rssBytes).toBeGreaterThan(1 << 20);
    expect(s.memory.heapUsedBytes).toBeGreaterThan(0);
    for (
      const family of [
        "process_cpu_user_seconds_total",
        "process_resident_memory_bytes",
        "nodejs_heap_size_used_bytes",
        "nodejs_eventloop_lag_seconds",
      ]
    ) expect(text).toContain(`# TYPE ${family} `);
    stats.leaderChanges = 4;
    expect((await scrape(url)).get("tinykv_raft_leader_changes_total")).toBe(4);
  });

  test("/api/stats lists every member: the leader's view has state and lag, a follower's role only", async () => {
    const { url, raft } = await started();
    Object.assign(raft, { lastIndex: 50, conf: { voters: [1, 2, 3], learners: [4] } });
    raft.progress![2] = { match: 45, next: 46, state: "replicate" };
    raft.progress![3] = { match: 10, next: 11, state: "snapshot" };
    raft.progress![4] = { match: 50, next: 51, state: "probe" };
    let s = (await (await fetch(`${url}/api/stats`)).json()) as DashboardStats;
    const self = url; // no metrics_peers: only this node's own metrics address is known
    expect(s.members).toEqual([
      { id: 1, role: "leader", self: true, state: "leader", lag: 0, metricsUrl: self },
      { id: 2, role: "follower", self: false, state: "replicate", lag: 5, metricsUrl: null },
      { id: 3, role: "follower", self: false, state: "snapshot", lag: 40, metricsUrl: null },
      { id: 4, role: "learner", self: false, state: "probe", lag: 0, metricsUrl: null },
    ]);
    Object.assign(raft, { id: 2, role: "follower", leader: 3, progress: undefined });
    s = (await (await fetch(`${url}/api/stats`)).json()) as DashboardStats;
    expect(s.members.map((m) => [m.id, m.role, m.self, m.state, m.lag])).toEqual([
      [1, "follower", false, null, null],
      [2, "follower", true, null, null],
      [3, "leader", false, null, null],
      [4, "learner", false, null, null],
    ]);
  });

  test("nodes in one process share one set of default metrics (one GC observer, one loop monitor)", () => {
    const a = metricsContext();
    const b = metricsContext();
    createMetricsPlugin({ sampleIntervalMs: 0 }).setup(a.ctx);
    createMetricsPlugin({ sampleIntervalMs: 0 }).setup(b.ctx);
    for (const name of ["process_cpu_user_seconds_total", "nodejs_gc_duration_seconds"]) {
      const ma = a.ctx.metrics.getSingleMetric(name);
      expect(ma).toBeDefined();
      expect(b.ctx.metrics.getSingleMetric(name)).toBe(ma!);
    }
  });

  test("a constant batch size reports its value as p50 and p99 (no interpolation to 75)", async () => {
    const { p, ctx, url, clock } = await started();
    for (let i = 0; i < 20; i++) {
      const b = batch(100);
      p.onBatch!(b, ctx);
      clock.t += 1;
      p.onApply!(entryOf([b]), resultsOf(new Array(100).fill(0)), ctx);
    }
    const s = (await (await fetch(`${url}/api/stats`)).json()) as DashboardStats;
    expect(s.batchSize).toEqual({ p50: 100, p99: 100 });
    // every batch took 1 ms: p50 is 1 ms, not interpolated inside the (0.5, 1] ms bucket
    expect(s.batchLatencyMs.p50).toBe(1);
  });
});
