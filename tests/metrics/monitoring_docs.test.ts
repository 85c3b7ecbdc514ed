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
import { walObservers } from "../../plugins/wal/mod.ts";
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
  walObservers(m.ctx); // the wal plugin's fsync and snapshot histograms, in the same registry
  const names = new Set<string>();
  for (const metric of await m.ctx.metrics.getMetricsAsJSON()) {
    if (!/^(tinykv|process|nodejs)_/.test(metric.name)) continue;
    names.add(metric.name);
    if (String(metric.type) === "histogram") {
      for (const s of ["_bucket", "_sum", "_count"]) names.add(metric.name + s);
    }
  }
  return names;
}

function referencedMetrics(text: string): Set<string> {
  return new Set(text.match(/\b(?:tinykv|process|nodejs)_[a-z0-9_]+/g) ?? []);
}

/** The alert names of the rules file, in order. */
function alertNames(text: string): string[] {
  return [...text.matchAll(/^\s*- alert: (\w+)/gm)].map((m) => m[1]);
}

interface Dashboard {
  title: string;
  panels: { type: string; title: string; targets?: { expr: string }[] }[];
}

const dashboard = (): Dashboard => JSON.parse(readFileSync(GRAFANA, "utf8")) as Dashboard;

describe("monitoring docs", () => {
  test("promtool check rules passes on tinykv-alerts.yml", () => {
    const r = run(["check", "rules", RULES], root);
    expect(r.out).toContain("SUCCESS: 7 rules found");
    expect(r.code).toBe(0);
  });

  test("promtool check rules fails on a broken rule (the check can fail)", () => {
    const broken = readFileSync(RULES, "utf8").replace(
      "tinykv_raft_leader_id == 0",
      "rate(( > 0.01",
    );
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

  test("the alerts an SRE expects, with their severities and durations", () => {
    const text = readFileSync(RULES, "utf8");
    const expected = [
      ["TinyKVMemberDown", "1m", "critical"],
      ["TinyKVNoLeader", "1m", "critical"],
      ["TinyKVFrequentLeaderChanges", "5m", "warning"],
      ["TinyKVSlowFsync", "10m", "warning"],
      ["TinyKVApplyLagGrowing", "5m", "warning"],
      ["HighBatchLatency", "5m", "warning"],
      ["HighServerErrorRate", "5m", "critical"],
    ];
    expect(alertNames(text)).toEqual(expected.map((e) => e[0]));
    for (const [name, dur, sev] of expected) {
      const block = text.slice(text.indexOf(`alert: ${name}`)).split("- alert:")[0];
      expect(block).toContain(`for: ${dur}`);
      expect(block).toContain(`severity: ${sev}`);
    }
    // the server-side error rate leaves client mistakes out
    const err = text.slice(text.indexOf("alert: HighServerErrorRate"));
    expect(err).not.toContain("UNKNOWN_COMMAND|");
    expect(err).toContain('error_type=~"INTERNAL|TIMEOUT|BUSY|UNAVAILABLE"');
  });

  test('"an idle healthy cluster fires nothing" checks every alert of the rules file', () => {
    const tests = readFileSync(RULE_TESTS, "utf8");
    const start = tests.indexOf("# An idle, healthy");
    expect(start).toBeGreaterThan(0);
    const own = tests.indexOf("  - interval:", start);
    const idle = tests.slice(start, tests.indexOf("\n  - interval:", own + 1));
    for (const name of alertNames(readFileSync(RULES, "utf8"))) {
      expect(idle).toContain(`alertname: ${name}\n        exp_alerts: []`);
    }
  });

  test("every Grafana panel query is valid PromQL (promtool checks it as a recording rule)", () => {
    const exprs = dashboard().panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    const rules = exprs.map((e, i) => {
      const q = e.replaceAll("$__rate_interval", "1m").replaceAll("$job", ".*")
        .replaceAll("$instance", ".*");
      return `      - record: dashboard:query_${i}\n        expr: ${JSON.stringify(q)}\n`;
    });
    const dir = mkdtempSync(join(tmpdir(), "tinykv-grafana-"));
    try {
      const path = join(dir, "queries.yml");
      writeFileSync(path, `groups:\n  - name: grafana\n    rules:\n${rules.join("")}`);
      const r = run(["check", "rules", path], dir);
      expect(r.out).toContain(`SUCCESS: ${exprs.length} rules found`);
      expect(r.code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
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
        "tinykv_commands_total",
        "tinykv_proposals_failed_total",
        "tinykv_raft_leader_changes_total",
        "tinykv_raft_apply_lag_entries",
        "tinykv_keys",
        "tinykv_build_info",
        "tinykv_wal_fsync_duration_seconds",
        "tinykv_snapshot_save_duration_seconds",
        "process_resident_memory_bytes",
        "nodejs_heap_size_used_bytes",
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

    // the node-computed rates are gone (rate() over the counters replaces them)
    expect(exported.has("tinykv_throughput")).toBe(false);
    expect(exported.has("tinykv_error_rate")).toBe(false);
    const d = dashboard();
    const exprs = d.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    expect(exprs.length).toBeGreaterThan(10);
    const used = new Set<string>();
    for (const e of exprs) for (const m of referencedMetrics(e)) used.add(m);
    for (const m of referencedMetrics(readFileSync(RULES, "utf8"))) used.add(m);
    const unknown = [...used].filter((m) => !exported.has(m));
    expect(unknown).toEqual([]);
    // the panels the brief asks for
    const titles = d.panels.map((p) => p.title.toLowerCase()).join("|");
    for (
      const w of [
        "throughput",
        "batch size",
        "batch latency",
        "commit latency",
        "errors",
        "raft state",
        "replication lag",
        "wal fsync",
        "snapshot",
        "apply lag",
        "memory",
        "keys",
        "leader changes",
      ]
    ) expect(titles).toContain(w);
    for (
      const m of [
        "tinykv_commands_total",
        "tinykv_wal_fsync_duration_seconds_bucket",
        "tinykv_raft_apply_lag_entries",
        "tinykv_raft_leader_changes_total",
        "process_resident_memory_bytes",
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
