/**
 * The pipeline benchmark (DESIGN §9, plan §5.2): `bun bench/pipeline.ts` or
 * `deno run -A bench/pipeline.ts`. By default it starts what it measures (a 3-node loopback
 * cluster: `mod.ts` child processes), runs every scenario for `--duration` seconds, prints a
 * progress line, a markdown table at the end, and writes JSON to `bench/results/<timestamp>.json`.
 * `--host/--port` (or `--endpoints`) targets a running node instead. `--help` lists the flags;
 * docs/benchmarks.md explains scenarios, metrics and how to reproduce the README figures.
 * @module
 */
import os from "node:os";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startLossyProxy } from "../tools/lossy_proxy.ts";
import type { LossyProxy } from "../tools/lossy_proxy.ts";
import { type RunningCluster, startCluster } from "./lib/cluster.ts";
import { createFailover, type FailoverReport } from "./lib/failover.ts";
import { createWatchFanout, watchTable } from "./lib/watch.ts";
import { counterDelta, findLeader, NodeProbe, readCounters } from "./lib/info.ts";
import {
  coalesceTable,
  failoverTable,
  markdownTable,
  printNote,
  ProgressLine,
  writeJson,
} from "./lib/report.ts";
import { runScenario, type ScenarioResult, type Target } from "./lib/runner.ts";
import { type Scenario, SCENARIOS, selectScenarios } from "./lib/scenarios.ts";
import { SoakSampler, soakTable } from "./lib/soak.ts";

const RUNTIME: "deno" | "bun" = (globalThis as { Bun?: unknown }).Bun !== undefined
  ? "bun"
  : "deno";

/**
 * Longest wait for the first acknowledgement from a new leader after the kill. Above the UDP
 * transport's 30 s idle timeout, so a UDP run measures when its clients actually recover.
 */
const FAILOVER_CAP_MS = 40_000;

/** Scenarios of at least this many seconds get the soak report (10 s windows; see lib/soak.ts). */
const SOAK_MIN_S = 30;

const HELP = `TinyKV pipeline benchmark

Usage: bun bench/pipeline.ts [options]     (or: deno run -A bench/pipeline.ts [options])

Starts a 3-node loopback cluster (child processes of mod.ts on 127.0.0.1), runs the scenarios,
prints a markdown table and writes JSON to bench/results/. See docs/benchmarks.md.

Options:
  --duration S         seconds per scenario (default 5); from 30 s on, each scenario also prints a
                       soak report: per 10 s window ops/s, failed ops, leader changes, the
                       longest event-loop block of any node (and its wait for a CPU), the
                       largest node RSS and the keys
  --scenario LIST      comma-separated names or prefixes, or "all" (default: all = every scenario
                       but failover; add it with --scenario all,failover)
  --nodes N            nodes to start (default 3: a loopback cluster; 1 = a single node)
  --runtime R          deno | bun: runtime of the started nodes (default: this one)
  --plugins LIST       plugins for the started nodes (default: wal, as DESIGN §9; "none" for
                       in-memory nodes), e.g. wal,metrics,idempotency,coalesce
  --compare-coalesce   run everything twice on fresh clusters, --plugins without and with
                       coalesce, and print both plus an off/on comparison table
  --runs N             repeat every configuration N times on fresh clusters and report, per
                       scenario, the run with the median ops/s (failover: median unavailable ms)
                       (default 1; the README uses 3)
  --transport T        tcp | udp, for the nodes and the bench clients (default tcp)
  --loss P             put a lossy UDP proxy (drops fraction P of datagrams each way, e.g. 0.02)
                       between the bench clients and every node; implies --transport udp.
                       Only client<->node traffic is proxied; Raft traffic between nodes is not
  --timeout MS         client per-request timeout (default 10000)
  --value-size N       bytes per SET value (default 64)
  --node-arg A         extra flag for every started node, repeatable (e.g. --node-arg=--batch-size=200)
  --host H --port P    measure a running node instead of starting one
  --endpoints LIST     measure a running cluster (comma-separated host:port)
  --password P         server password
  --seed N             workload (and loss) seed (default 1)
  --out DIR            JSON output folder (default bench/results)
  --help               this help

Scenarios: ${SCENARIOS.map((s) => s.name).join(", ")}
  failover: batch-100 x 10 clients; a third of the way in, the leader (found with GET_LEADER) is
  killed with SIGKILL and the load continues. Reports "unavailable ms" = time from the kill to the
  first acknowledged batch answered by the new leader, and the longest gap between consecutive
  acknowledgements around the kill. Needs a started cluster of 3+ nodes.
  watch-fanout: batch-100 x 10 clients while 100 watchers (spread over the nodes) follow the
  prefix they write; reports events delivered per second and per watcher, and the drain time.
`;

function fail(msg: string): never {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(2);
}

function numFlag(name: string, v: string | undefined, dflt: number, min: number, max: number) {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) fail(`--${name} ${v}: expected ${min}..${max}`);
  return n;
}

function intFlag(name: string, v: string | undefined, dflt: number, min: number, max: number) {
  const n = numFlag(name, v, dflt, min, max);
  if (!Number.isInteger(n)) fail(`--${name} ${v}: expected an integer`);
  return n;
}

/** One configuration of the nodes (the coalesce comparison has two). */
interface Variant {
  label: string | undefined;
  plugins: string;
}

/** Plugins of the started nodes unless --plugins says otherwise (DESIGN §9: a cluster with wal). */
const DEFAULT_PLUGINS = "wal";

function pluginList(text: string): string[] {
  return text.split(",").map((s) => s.trim()).filter((s) => s !== "" && s !== "none");
}

function median<T>(items: T[], key: (t: T) => number): T {
  const sorted = [...items].sort((a, b) => key(a) - key(b));
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

async function main(): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: process.argv.slice(2),
      options: {
        duration: { type: "string" },
        scenario: { type: "string" },
        transport: { type: "string" },
        "value-size": { type: "string" },
        nodes: { type: "string" },
        runtime: { type: "string" },
        plugins: { type: "string" },
        "compare-coalesce": { type: "boolean" },
        runs: { type: "string" },
        loss: { type: "string" },
        timeout: { type: "string" },
        "node-arg": { type: "string", multiple: true },
        host: { type: "string" },
        port: { type: "string" },
        endpoints: { type: "string" },
        password: { type: "string" },
        seed: { type: "string" },
        out: { type: "string" },
        help: { type: "boolean" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    fail((err as Error).message.split("\n")[0]);
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const durationS = numFlag("duration", values.duration, 5, 0.1, 3600);
  const valueSize = intFlag("value-size", values["value-size"], 64, 1, 512 * 1024);
  const nodes = intFlag("nodes", values.nodes, 3, 1, 9);
  const seed = intFlag("seed", values.seed, 1, 0, 2 ** 31);
  const runs = intFlag("runs", values.runs, 1, 1, 99);
  const timeoutMs = intFlag("timeout", values.timeout, 10_000, 100, 600_000);
  const loss = numFlag("loss", values.loss, 0, 0, 0.5);
  const lossy = values.loss !== undefined;
  const transport = values.transport ?? (lossy ? "udp" : "tcp");
  if (transport !== "tcp" && transport !== "udp") fail(`--transport ${transport}: tcp or udp`);
  if (lossy && transport !== "udp") {
    fail("--loss needs --transport udp (the proxy drops UDP datagrams; TCP would resend them)");
  }
  const runtime = values.runtime ?? RUNTIME;
  if (runtime !== "deno" && runtime !== "bun") fail(`--runtime ${runtime}: deno or bun`);
  const scenarios = selectScenarios(values.scenario);
  if (scenarios.length === 0) fail(`--scenario ${values.scenario}: matches no scenario`);
  const wantsFailover = scenarios.some((s) => s.failover);
  const external = values.host !== undefined || values.port !== undefined ||
    values.endpoints !== undefined;
  if (external) {
    if (wantsFailover) fail("the failover scenario needs started nodes (not --host/--endpoints)");
    if (lossy) fail("--loss needs started nodes (not --host/--endpoints)");
    if (values["compare-coalesce"]) fail("--compare-coalesce needs started nodes");
    if (runs > 1) fail("--runs needs started nodes (each run starts a fresh cluster)");
  }
  if (wantsFailover && nodes < 3) fail("the failover scenario needs --nodes 3 or more");

  const basePlugins = pluginList(values.plugins ?? DEFAULT_PLUGINS);
  const variants: Variant[] = values["compare-coalesce"]
    ? [
      { label: "coalesce off", plugins: basePlugins.filter((p) => p !== "coalesce").join(",") },
      {
        label: "coalesce on",
        plugins: [...basePlugins.filter((p) => p !== "coalesce"), "coalesce"].join(","),
      },
    ]
    : [{ label: undefined, plugins: basePlugins.join(",") }];

  const allRuns: ScenarioResult[][] = []; // [variant × run] -> results
  const proxyTotals = { forwarded: 0, dropped: 0 };
  let lastEndpoints: string[] = [];
  let lastPids: number[] = [];
  for (const variant of variants) {
    for (let run = 1; run <= runs; run++) {
      const tag = [variant.label, runs > 1 ? `run ${run}/${runs}` : undefined]
        .filter((x) => x !== undefined).join(", ");
      const out = await runConfiguration({
        variant,
        tag,
        scenarios,
        external: external
          ? (values.endpoints
            ? values.endpoints.split(",").map((s) => s.trim()).filter((s) => s)
            : [`${values.host ?? "127.0.0.1"}:${intFlag("port", values.port, 5210, 1, 65535)}`])
          : null,
        nodes,
        runtime,
        transport,
        loss: lossy ? loss : null,
        password: values.password,
        nodeArgs: values["node-arg"] ?? [],
        durationS,
        valueSize,
        seed,
        timeoutMs,
      });
      allRuns.push(out.results);
      proxyTotals.forwarded += out.proxy.forwarded;
      proxyTotals.dropped += out.proxy.dropped;
      lastEndpoints = out.endpoints;
      lastPids = out.pids;
    }
  }

  // Per variant and scenario: the median run (by ops/s; failover: by unavailable ms).
  const results: ScenarioResult[] = [];
  for (let v = 0; v < variants.length; v++) {
    const mine = allRuns.slice(v * runs, (v + 1) * runs);
    for (const s of scenarios) {
      const rows = mine.map((rs) => rs.find((r) => r.name === s.name)).filter((r) =>
        r !== undefined
      );
      if (rows.length === 0) continue;
      results.push(
        s.failover
          ? median(rows, (r) => (r.failover as FailoverReport).unavailableMs ?? Infinity)
          : median(rows, (r) => r.opsPerSec),
      );
    }
  }

  const table = markdownTable(results);
  const fTable = failoverTable(results);
  const cTable = coalesceTable(results);
  const wTable = watchTable(results);
  const medianNote = runs > 1
    ? `median of ${runs} runs per scenario (by ops/s; failover by unavailable ms)\n\n`
    : "";
  process.stdout.write(`\n${medianNote}${table}\n\n`);
  if (fTable) process.stdout.write(`failover (times in ms after the SIGKILL):\n\n${fTable}\n\n`);
  if (cTable) process.stdout.write(`coalescing off vs on:\n\n${cTable}\n\n`);
  if (wTable) process.stdout.write(`watch fan-out:\n\n${wTable}\n\n`);
  if (lossy) {
    const total = proxyTotals.forwarded + proxyTotals.dropped;
    process.stdout.write(
      `lossy proxy: dropped ${proxyTotals.dropped.toLocaleString("en-US")} of ` +
        `${total.toLocaleString("en-US")} datagrams (${
          total > 0 ? ((proxyTotals.dropped / total) * 100).toFixed(2) : "0"
        }%; client<->node traffic only)\n`,
    );
  }
  const outDir = values.out ?? fileURLToPath(new URL("./results/", import.meta.url));
  const file = writeJson(outDir, {
    startedAt: new Date().toISOString(),
    benchRuntime: RUNTIME,
    server: external ? { external: true, endpoints: lastEndpoints } : {
      external: false,
      nodes,
      runtime,
      plugins: values.plugins ?? DEFAULT_PLUGINS,
      nodeArgs: values["node-arg"] ?? [],
      pids: lastPids,
    },
    variants: variants.map((v) => ({ label: v.label ?? null, plugins: v.plugins })),
    runs,
    transport,
    loss: lossy ? { rate: loss, proxied: "client<->node only", seed, ...proxyTotals } : null,
    valueSize,
    durationS,
    timeoutMs,
    seed,
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? "", platform: os.platform() },
    scenarios: results,
    ...(runs > 1 ? { allRuns: allRuns.flat() } : {}),
    markdown: [medianNote + table, fTable, cTable, wTable].filter((t) => t).join("\n\n"),
  });
  process.stdout.write(`results written to ${file}\n`);
  const failoverFailed = results.some((r) =>
    r.failover !== undefined && (r.failover as FailoverReport).unavailableMs === null
  );
  return results.some((r) => r.ops === 0) || failoverFailed ? 1 : 0;
}

interface ConfigurationOptions {
  variant: Variant;
  /** "" or e.g. "coalesce on, run 2/3" (progress lines). */
  tag: string;
  scenarios: Scenario[];
  /** Endpoints of a running cluster, or null to start one. */
  external: string[] | null;
  nodes: number;
  runtime: "deno" | "bun";
  transport: "tcp" | "udp";
  /** Drop rate of the lossy proxy, or null for no proxy. */
  loss: number | null;
  password: string | undefined;
  nodeArgs: string[];
  durationS: number;
  valueSize: number;
  seed: number;
  timeoutMs: number;
}

/** Starts (or targets) one configuration, runs every scenario on it, stops what it started. */
async function runConfiguration(o: ConfigurationOptions): Promise<{
  results: ScenarioResult[];
  endpoints: string[];
  pids: number[];
  proxy: { forwarded: number; dropped: number };
}> {
  const proxies: LossyProxy[] = [];
  let cluster: RunningCluster | null = null;
  let probes: NodeProbe[] = [];
  // Where the bench clients connect, by node id (proxies in the loss mode).
  const clientEndpoint = new Map<number, string>();
  const results: ScenarioResult[] = [];
  try {
    if (o.external) {
      o.external.forEach((e, i) => clientEndpoint.set(i + 1, e));
    } else {
      const loss = o.loss;
      process.stdout.write(
        `${o.tag ? `[${o.tag}] ` : ""}starting ${o.nodes} node(s) under ${o.runtime} ` +
          `(plugins: ${o.variant.plugins || "none"}, transport ${o.transport}` +
          `${
            loss !== null ? `, ${(loss * 100).toFixed(1)}% loss on client<->node datagrams` : ""
          })` +
          `...\n`,
      );
      cluster = await startCluster({
        nodes: o.nodes,
        runtime: o.runtime,
        plugins: o.variant.plugins,
        transport: o.transport,
        ...(o.password ? { password: o.password } : {}),
        extraArgs: o.nodeArgs,
        readyTimeoutMs: 30_000,
        ...(loss !== null
          ? {
            advertise: async (n: { id: number; port: number }) => {
              const p = await startLossyProxy({
                target: { host: "127.0.0.1", port: n.port },
                dropRate: loss,
                seed: o.seed * 1000 + n.id,
              });
              proxies.push(p);
              return `${p.host}:${p.port}`;
            },
          }
          : {}),
      });
      for (const n of cluster.nodes) clientEndpoint.set(n.id, n.advertised);
    }
    // Control connections go straight to the nodes (never through the proxy).
    const direct = cluster ? cluster.nodes.map((n) => n.endpoint) : o.external!;
    probes = (await Promise.all(
      direct.map((e, i) =>
        NodeProbe.open(i + 1, e, o.transport, o.password).catch((err: Error) => {
          printNote(`  (no INFO counters from ${e}: ${err.message})`);
          return null;
        })
      ),
    )).filter((p): p is NodeProbe => p !== null);
    const endpoints = [...clientEndpoint.values()];
    printNote(
      `bench runtime ${RUNTIME}; target ${endpoints.join(", ")}` +
        `${o.loss !== null ? ` (lossy proxies in front of ${direct.join(", ")})` : ""}; ` +
        `${o.durationS}s per scenario; values ${o.valueSize} B`,
    );
    for (const s of o.scenarios) {
      // Clients start at the leader (no redirect per connection; cleaner batch counters).
      const leader = probes.length > 0 ? await findLeader(probes, 5000) : null;
      const first = leader ? clientEndpoint.get(leader.id) : undefined;
      const target: Target = {
        endpoints: first ? [first, ...endpoints.filter((e) => e !== first)] : endpoints,
        transport: o.transport,
        timeoutMs: o.timeoutMs,
        ...(o.password ? { password: o.password } : {}),
      };
      const name = o.tag ? `${o.tag}: ${s.name}` : s.name;
      const line = new ProgressLine(name, o.durationS * 1000);
      const failover = s.failover && cluster
        ? createFailover({
          cluster,
          probes,
          durationMs: o.durationS * 1000,
          capMs: FAILOVER_CAP_MS,
          note: (text) => printNote(`  ${text}`),
        })
        : null;
      const soak = o.durationS >= SOAK_MIN_S && !s.failover
        ? new SoakSampler(probes, cluster?.pids ?? [])
        : null;
      await soak?.start();
      const fanout = s.watchers
        ? createWatchFanout({
          ...target,
          watchers: s.watchers,
          prefix: `bench:${o.seed}:`,
          note: (text) => printNote(`  ${text}`),
        })
        : null;
      await fanout?.start();
      const before = await readCounters(probes);
      const r = await runScenario(s, target, {
        durationMs: o.durationS * 1000,
        valueSize: o.valueSize,
        seed: o.seed,
        onProgress: (p, ms) => {
          line.update(p, ms);
          soak?.update(p);
        },
        ...(failover
          ? {
            onAck: failover.onAck,
            driver: failover.driver,
            maxDurationMs: o.durationS * 2000 + FAILOVER_CAP_MS + 5000,
          }
          : fanout
          ? { driver: fanout.driver }
          : {}),
      });
      line.done();
      if (soak) {
        r.soak = await soak.stop();
        process.stdout.write(`\n${soakTable(name, r.soak)}\n\n`);
      }
      if (fanout) r.watch = await fanout.finish(r);
      r.server = probes.length > 0 ? counterDelta(before, await readCounters(probes)) : null;
      if (o.variant.label !== undefined) r.variant = o.variant.label;
      if (failover) r.failover = failover.report(r);
      if (r.firstError) printNote(`  first error: ${r.firstError}`);
      results.push(r);
    }
    return {
      results,
      endpoints,
      pids: cluster?.pids ?? [],
      proxy: {
        forwarded: proxies.reduce((a, p) => a + p.stats.forwarded, 0),
        dropped: proxies.reduce((a, p) => a + p.stats.dropped, 0),
      },
    };
  } finally {
    await Promise.all(probes.map((p) => p.close()));
    await cluster?.stop();
    for (const p of proxies) p.close();
  }
}

main().then((code) => process.exit(code), (err) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
