/** The plugin's HTTP server (node:http) under both runtimes, each in its own process. */
import { describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseProm } from "./fake_node.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const FIXTURE = join(ROOT, "tests", "metrics", "fixtures", "serve_fake_node.ts");
const BIN = join(ROOT, "node_modules", ".bin");

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
        const metrics = parseProm(await (await fetch(`${url}/metrics`)).text());
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
