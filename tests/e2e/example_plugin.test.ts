// The third-party example plugin (examples/audit-log-plugin.ts) loaded by path into a real node
// process, exactly as its docs say: `--plugins ./examples/audit-log-plugin.ts`, configured through
// the options it declares (a flag on Deno, the environment on Bun).
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "../../mod.ts";
import { runMod, type RuntimeName, startNodeProcess } from "../helpers/node_process.ts";

const dir = mkdtempSync(join(tmpdir(), "tinykv-audit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PLUGIN = "./examples/audit-log-plugin.ts";

for (const runtime of ["deno", "bun"] as RuntimeName[]) {
  test(`audit-log example plugin by path on ${runtime}: one JSON line per applied batch`, async () => {
    const file = join(dir, `${runtime}.log`);
    const base = ["--port", "0", "--raft-port", "0", "--log-level", "info", "--plugins", PLUGIN];
    // Deno gets the option as a flag, Bun through its environment variable: both declared by the
    // plugin, neither read from process.env by the plugin itself.
    const node = runtime === "deno"
      ? await startNodeProcess(runtime, [...base, "--audit-path", file, "--audit-flush-ms", "50"])
      : await startNodeProcess(runtime, base, {
        env: { TINYKV_AUDIT_PATH: file, TINYKV_AUDIT_FLUSH_MS: "50" },
      });
    try {
      expect(node.log()).toContain(`writing audit lines to ${file} every 50 ms`);
      const c = await connect({ host: "127.0.0.1", port: node.clientPort });
      await c.batch([["SET", "a", "1"], ["INCR", "a"], ["LPUSH", "a", "x"]]);
      await c.batch([["SET", "b", "2"]]);
      await c.close();
    } finally {
      expect(await node.stop()).toBe(0); // stop() flushes the buffered lines
    }
    const lines = readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    const batches = lines.filter((l) => l.commands === 3 || l.commands === 1);
    expect(batches.map((l) => [l.commands, l.failed])).toEqual([[3, 1], [1, 0]]);
    expect(batches[0].index).toBeLessThan(batches[1].index);
    expect(typeof batches[0].client).toBe("string");
  });
}

describe("the example plugin's declared options on the command line", () => {
  test("--help with --plugins lists them with default, env name and range", async () => {
    const r = await runMod("bun", ["--help", "--plugins", PLUGIN]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Options of the audit plugin (--plugins audit):`);
    expect(r.stdout).toMatch(/--audit-path +file the audit lines are appended to/);
    expect(r.stdout).toContain("default: 100; env TINYKV_AUDIT_FLUSH_MS; allowed 10..60000");
    // Built-in plugins' options are listed too.
    expect(r.stdout).toContain("--wal-fsync");
  });

  test("a value out of range, or the flag without the plugin: one line, exit 2", async () => {
    const bad = await runMod("bun", ["--plugins", PLUGIN, "--audit-flush-ms", "5"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe(
      'tinykv: flag audit_flush_ms="5": out of range (allowed 10..60000)',
    );
    const alone = await runMod("bun", ["--audit-path", "x.log"]);
    expect(alone.code).toBe(2);
    expect(alone.stderr.trim()).toBe(
      "tinykv: unknown flag --audit-path (see --help; a plugin's flags need it in --plugins)",
    );
  });
});
