/**
 * docs/monitoring: the alert rules pass `promtool check rules` and their unit tests, and the rules
 * and the Grafana dashboard only use metrics the plugin exports.
 */
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createMetricsPlugin } from "../../plugins/metrics/mod.ts";
import { metricsContext } from "./fake_node.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const docs = join(root, "docs", "monitoring");
const RULES = join(docs, "tinykv-alerts.yml");
const RULE_TESTS = join(docs, "tinykv-alerts.test.yml");
const GRAFANA = join(docs, "grafana-dashboard.json");

function promtool(): string {
  for (const p of ["/usr/bin/promtool", "/usr/local/bin/promtool"]) if (existsSync(p)) return p;
  const which = spawnSync("sh", ["-c", "command -v promtool"], { encoding: "utf8" });
  const found = which.stdout.trim();
  if (which.status === 0 && found) return found;
  throw new Error(
    "promtool not found: install the `prometheus` Debian package (apt-get install -y prometheus)",
  );
}

function run(args: string[], cwd: string): { code: number | null; out: string } {
  const r = spawnSync(promtool(), args, { cwd, encoding: "utf8", timeout: 30_000 });
  return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
}

/** Every metric family the plugin registers, with the series names histograms add. */
async function exportedSeriesNames(): Promise<Set<string>> {
  const m = metricsContext();
  const p = createMetricsPlugin({ sampleIntervalMs: 0 });
  p.setup!(m.ctx);
  const names = new Set<string>();
  for (const metric of await m.ctx.metrics.getMetricsAsJSON()) {
    if (!metric.name.startsWith("tinykv_")) continue;
    names.add(metric.name);
    if (String(metric.type) === "histogram") {
      for (const s of ["_bucket", "_sum", "_count"]) names.add(metric.name + s);
    }
  }
  return names;
}

function referencedMetrics(text: string): Set<string> {
  return new Set(text.match(/tinykv_[a-z0-9_]+/g) ?? []);
}

describe("monitoring docs", () => {
  test("promtool check rules passes on tinykv-alerts.yml", () => {
    const r = run(["check", "rules", RULES], root);
    expect(r.out).toContain("SUCCESS: 3 rules found");
    expect(r.code).toBe(0);
  });

  test("promtool check rules fails on a broken rule (the check can fail)", () => {
    const broken = readFileSync(RULES, "utf8").replace("tinykv_error_rate > 0.01", "rate(( > 0.01");
    expect(broken).not.toBe(readFileSync(RULES, "utf8"));
    const dir = mkdtempSync(join(tmpdir(), "tinykv-rules-"));
    try {
      const path = join(dir, "broken.yml");
      writeFileSync(path, broken);
      const r = run(["check", "rules", path], dir);
      expect(r.code).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the alerts fire (and stay quiet) as intended: promtool test rules", () => {
    const r = run(["test", "rules", RULE_TESTS], docs);
    expect(r.out).toContain("SUCCESS");
    expect(r.code).toBe(0);
  });

  test("the plan's three alerts with their severities and durations", () => {
    const text = readFileSync(RULES, "utf8");
    for (
      const [name, dur, sev] of [
        ["HighBatchLatency", "5m", "warning"],
        ["LowThroughput", "10m", "critical"],
        ["HighErrorRate", "2m", "critical"],
      ]
    ) {
      const block = text.slice(text.indexOf(`alert: ${name}`)).split("- alert:")[0];
      expect(block).toContain(`for: ${dur}`);
      expect(block).toContain(`severity: ${sev}`);
    }
  });

  test("rules and Grafana dashboard reference only metrics the plugin exports", async () => {
    const exported = await exportedSeriesNames();
    for (
      const m of [
        "tinykv_batch_size",
        "tinykv_batch_latency_seconds",
        "tinykv_raft_commit_latency_seconds",
        "tinykv_network_bytes_total",
        "tinykv_errors_total",
        "tinykv_error_rate",
        "tinykv_throughput",
        "tinykv_commands_total",
        "tinykv_batch_timeouts_total",
        "tinykv_raft_term",
        "tinykv_raft_commit_index",
        "tinykv_raft_applied_index",
        "tinykv_raft_is_leader",
        "tinykv_raft_leader_id",
        "tinykv_raft_replication_lag_entries",
        "tinykv_connections",
        "tinykv_pending_batches",
      ]
    ) expect(exported.has(m)).toBe(true);

    const dashboard = JSON.parse(readFileSync(GRAFANA, "utf8")) as {
      title: string;
      panels: { type: string; title: string; targets?: { expr: string }[] }[];
    };
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    expect(exprs.length).toBeGreaterThan(10);
    const used = new Set<string>();
    for (const e of exprs) for (const m of referencedMetrics(e)) used.add(m);
    for (const m of referencedMetrics(readFileSync(RULES, "utf8"))) used.add(m);
    const unknown = [...used].filter((m) => !exported.has(m));
    expect(unknown).toEqual([]);
    // the panels the brief asks for
    const titles = dashboard.panels.map((p) => p.title.toLowerCase()).join("|");
    for (
      const w of [
        "throughput",
        "batch size",
        "batch latency",
        "commit latency",
        "errors",
        "raft state",
        "replication lag",
      ]
    ) expect(titles).toContain(w);
    for (
      const m of [
        "tinykv_throughput",
        "tinykv_batch_size_bucket",
        "tinykv_batch_latency_seconds_bucket",
        "tinykv_raft_commit_latency_seconds_bucket",
        "tinykv_errors_total",
        "tinykv_raft_term",
        "tinykv_raft_replication_lag_entries",
      ]
    ) expect(used.has(m)).toBe(true);
  });
});
