/** The plugin's HTTP server (node:http) under both runtimes, each in its own process. */
import { describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseProm } from "./fake_node.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const FIXTURE = join(ROOT, "tests", "metrics", "fixtures", "serve_fake_node.ts");
const BIN = join(ROOT, "node_modules", ".bin");
const VERSION = (JSON.parse(readFileSync(join(ROOT, "deno.json"), "utf8")) as { version: string })
  .version;

function runtimeVersion(runtime: "deno" | "bun"): string {
  const [cmd, args] = runtime === "deno"
    ? [join(BIN, "deno"), ["eval", "console.log(Deno.version.deno)"]]
    : [join(BIN, "bun"), ["--version"]];
  return spawnSync(cmd, args, { encoding: "utf8" }).stdout.trim();
}

const commands = {
  deno: [join(BIN, "deno"), ["run", "-A", FIXTURE]],
  bun: [join(BIN, "bun"), [FIXTURE]],
} as const;

for (const runtime of ["deno", "bun"] as const) {
  describe(`metrics server under ${runtime}`, () => {
    test("serves /metrics, /health and /dashboard, and stops on SIGTERM", async () => {
      const [cmd, args] = commands[runtime];
      const child = spawn(cmd, [...args], {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, CBOR_NATIVE_ACCELERATION_DISABLED: "true", NO_COLOR: "1" },
      });
      const exited = new Promise<number | null>((r) => child.on("close", (c) => r(c)));
      let out = "";
      let err = "";
      child.stderr!.on("data", (c: Uint8Array) => (err += new TextDecoder().decode(c)));
      try {
        const port = await new Promise<number>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no PORT line; stderr: ${err}`)), 20_000);
          child.stdout!.on("data", (c: Uint8Array) => {
            out += new TextDecoder().decode(c);
            const m = /PORT (\d+)/.exec(out);
            if (m) {
              clearTimeout(timer);
              resolve(Number(m[1]));
            }
          });
          child.on("close", () => reject(new Error(`exited early; stderr: ${err}`)));
        });
        const url = `http://127.0.0.1:${port}`;
        const text = await (await fetch(`${url}/metrics`)).text();
        const metrics = parseProm(text);
        // prom-client's default metrics work here: process_* and nodejs_* families, with values
        const families = [...text.matchAll(/^# TYPE ((?:process|nodejs)_\w+) /gm)].map((x) => x[1]);
        expect(families.length).toBeGreaterThanOrEqual(25);
        for (
          const f of [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_start_time_seconds",
            "nodejs_heap_size_used_bytes",
            "nodejs_eventloop_lag_seconds",
          ]
        ) expect(families).toContain(f);
        expect(metrics.get("process_resident_memory_bytes")).toBeGreaterThan(0);
        expect(metrics.get(
          `tinykv_build_info{version="${VERSION}",runtime="${runtime}",` +
            `runtime_version="${runtimeVersion(runtime)}"}`,
        )).toBe(1);
        // Prometheus' own linter accepts the exposition (names, units, _total, help); the only
        // findings allowed are prom-client's three `nodejs_active_*_total` gauges (its names)
        const lint = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
        const findings = `${lint.stdout}${lint.stderr}`.split("\n").filter((l) => l.trim())
          .filter((l) => !/^nodejs_active_(handles|requests|resources)_total non-counter/.test(l));
        expect(findings).toEqual([]);
        expect(metrics.get("tinykv_commands_total")).toBe(500);
        expect(metrics.get("tinykv_batch_size_count")).toBe(20);
        expect(metrics.get("tinykv_raft_term")).toBe(2);
        const health = await fetch(`${url}/health`);
        expect(health.status).toBe(200);
        expect(await health.json()).toMatchObject({ ok: true, commit: 20 });
        const page = await fetch(`${url}/dashboard`);
        expect(await page.text()).toContain('id="throughput"');
      } finally {
        child.kill("SIGTERM");
      }
      expect(await exited).toBe(0);
    }, 40_000);
  });
}
