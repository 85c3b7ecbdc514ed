/**
 * The pipeline benchmark (DESIGN §9, plan §5.2): `bun bench/pipeline.ts` or
 * `deno run -A bench/pipeline.ts`. By default it starts what it measures (nodes as child
 * processes of `mod.ts`), runs every scenario for `--duration` seconds, prints a progress line,
 * a markdown table at the end, and writes JSON to `bench/results/<timestamp>.json`.
 * `--host/--port` (or `--endpoints`) targets a running node instead. `--help` lists the flags.
 * @module
 */
import os from "node:os";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type RunningCluster, startCluster } from "./lib/cluster.ts";
import { markdownTable, ProgressLine, writeJson } from "./lib/report.ts";
import { runScenario, type ScenarioResult, type Target } from "./lib/runner.ts";
import { SCENARIOS, selectScenarios } from "./lib/scenarios.ts";

const RUNTIME: "deno" | "bun" = (globalThis as { Bun?: unknown }).Bun !== undefined
  ? "bun"
  : "deno";

const HELP = `TinyKV pipeline benchmark

Usage: bun bench/pipeline.ts [options]     (or: deno run -A bench/pipeline.ts [options])

Options:
  --duration S       seconds per scenario (default 5)
  --scenario LIST    comma-separated scenario names or prefixes (default: all)
  --transport T      tcp | udp (default tcp)
  --value-size N     bytes per SET value (default 64)
  --nodes N          nodes to start (default 1; N > 1 starts a cluster with --peers)
  --runtime R        deno | bun: runtime of the started nodes (default: this one)
  --plugins LIST     plugins for the started nodes, e.g. wal,idempotency (default: none)
  --node-arg A       extra flag for every started node, repeatable (e.g. --node-arg=--batch-size=200)
  --host H --port P  measure a running node instead of starting one
  --endpoints LIST   measure a running cluster (comma-separated host:port)
  --password P       server password
  --seed N           workload seed (default 1)
  --out DIR          JSON output folder (default bench/results)
  --help             this help

Scenarios: ${SCENARIOS.map((s) => s.name).join(", ")}
`;

function fail(msg: string): never {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(2);
}

function intFlag(name: string, v: string | undefined, dflt: number, min: number, max: number) {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) fail(`--${name} ${v}: expected ${min}..${max}`);
  return n;
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
  const durationS = intFlag("duration", values.duration, 5, 0.1, 3600);
  const valueSize = intFlag("value-size", values["value-size"], 64, 1, 512 * 1024);
  const nodes = intFlag("nodes", values.nodes, 1, 1, 9);
  const seed = intFlag("seed", values.seed, 1, 0, 2 ** 31);
  const transport = values.transport ?? "tcp";
  if (transport !== "tcp" && transport !== "udp") fail(`--transport ${transport}: tcp or udp`);
  const runtime = values.runtime ?? RUNTIME;
  if (runtime !== "deno" && runtime !== "bun") fail(`--runtime ${runtime}: deno or bun`);
  const scenarios = selectScenarios(values.scenario);
  if (scenarios.length === 0) fail(`--scenario ${values.scenario}: matches no scenario`);

  let cluster: RunningCluster | null = null;
  let endpoints: string[];
  const external = values.host !== undefined || values.port !== undefined ||
    values.endpoints !== undefined;
  if (external) {
    endpoints = values.endpoints
      ? values.endpoints.split(",").map((s) => s.trim()).filter((s) => s)
      : [`${values.host ?? "127.0.0.1"}:${intFlag("port", values.port, 5210, 1, 65535)}`];
  } else {
    process.stdout.write(
      `starting ${nodes} node(s) under ${runtime} (plugins: ${values.plugins || "none"}, ` +
        `transport ${transport})...\n`,
    );
    cluster = await startCluster({
      nodes,
      runtime,
      plugins: values.plugins ?? "",
      transport,
      ...(values.password ? { password: values.password } : {}),
      extraArgs: values["node-arg"] ?? [],
      readyTimeoutMs: 30_000,
    });
    endpoints = cluster.endpoints;
  }
  const target: Target = {
    endpoints,
    transport,
    ...(values.password ? { password: values.password } : {}),
  };
  const results: ScenarioResult[] = [];
  try {
    process.stdout.write(
      `bench runtime ${RUNTIME}; target ${endpoints.join(", ")}; ${durationS}s per scenario; ` +
        `values ${valueSize} B\n`,
    );
    for (const s of scenarios) {
      const line = new ProgressLine(s.name, durationS * 1000);
      const r = await runScenario(s, target, {
        durationMs: durationS * 1000,
        valueSize,
        seed,
        onProgress: (p, ms) => line.update(p, ms),
      });
      line.done();
      if (r.firstError) process.stdout.write(`  first error: ${r.firstError}\n`);
      results.push(r);
    }
  } finally {
    await cluster?.stop();
  }
  const table = markdownTable(results);
  process.stdout.write(`\n${table}\n\n`);
  const outDir = values.out ?? fileURLToPath(new URL("./results/", import.meta.url));
  const file = writeJson(outDir, {
    startedAt: new Date().toISOString(),
    benchRuntime: RUNTIME,
    server: external ? { external: true, endpoints } : {
      external: false,
      nodes,
      runtime,
      plugins: values.plugins ?? "",
      nodeArgs: values["node-arg"] ?? [],
    },
    transport,
    valueSize,
    durationS,
    seed,
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? "", platform: os.platform() },
    scenarios: results,
    markdown: table,
  });
  process.stdout.write(`results written to ${file}\n`);
  return results.some((r) => r.ops === 0) ? 1 : 0;
}

main().then((code) => process.exit(code), (err) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
