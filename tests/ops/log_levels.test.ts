// Logging (issue 12, item 2, and item 6's usage errors): `--log-level` per component
// (`info,wal=debug,peers=warn`), the same syntax as a flag, in TINYKV_LOG_LEVEL and in the config
// file, with a clear error for a bad level or an unknown component; and usage errors written as
// JSON lines under `--log-format json`.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, makeConfig, resolveConfig } from "../../core/config/config.ts";
import { createLogger, parseLogLevels } from "../../core/config/logger.ts";
import { usageErrorLine } from "../../cli/node.ts";
import { runMod, startNodeProcess } from "../helpers/node_process.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test("parseLogLevels: a default level and component=level pairs", () => {
  expect(parseLogLevels("info")).toEqual({ default: "info", components: {} });
  expect(parseLogLevels("warn, wal=debug ,peers.auth=ERROR")).toEqual({
    default: "warn",
    components: { wal: "debug", "peers.auth": "error" },
  });
  expect(parseLogLevels("wal=debug")).toEqual({ default: "info", components: { wal: "debug" } });
  expect(() => parseLogLevels("loud")).toThrow(
    'unknown level "loud" (allowed: debug, info, warn, error, silent)',
  );
  expect(() => parseLogLevels("info,wal=loud")).toThrow('unknown level "loud" for wal');
  expect(() => parseLogLevels("info,warn")).toThrow("default level given twice");
  expect(() => parseLogLevels("wal=debug,wal=info")).toThrow("component wal given twice");
  expect(() => parseLogLevels("info,=debug")).toThrow('bad component ""');
  expect(() => parseLogLevels("info,w a l=debug")).toThrow('bad component "w a l"');
  expect(() => parseLogLevels(" , ")).toThrow("empty");
});

test("each component logs at its own level; nested components inherit; node = no component", () => {
  const lines: string[] = [];
  const log = createLogger("warn,wal=debug,peers.auth=error,node=info", "", (l) => lines.push(l));
  log.info("root info");
  log.debug("root debug");
  const wal = log.child("wal");
  wal.debug("wal debug");
  wal.child("segments").debug("wal.segments debug");
  const peers = log.child("peers");
  peers.info("peers info");
  peers.warn("peers warn");
  peers.child("auth").warn("auth warn");
  peers.child("auth").error("auth error");
  log.child("resp").info("resp info");
  const msgs = lines.map((l) => l.replace(/^\S+ \S+ +/, ""));
  expect(msgs).toEqual([
    "root info",
    "[wal] wal debug",
    "[wal] [segments] wal.segments debug",
    "[peers] peers warn",
    "[peers] [auth] auth error",
  ]);
  expect(log.level).toBe("info");
  expect(wal.level).toBe("debug");
  expect(peers.level).toBe("warn");
});

test("flag, TINYKV_LOG_LEVEL and the config file take the same syntax, errors name the source", () => {
  const spec = "warn,wal=debug";
  expect(resolveConfig({ flags: { log_level: spec } }).log_level).toBe(spec);
  expect(resolveConfig({ env: { TINYKV_LOG_LEVEL: "WARN, wal=DEBUG" } }).log_level).toBe(spec);
  expect(resolveConfig({ file: { path: "t.json", data: { log_level: spec } } }).log_level).toBe(
    spec,
  );
  expect(() => resolveConfig({ env: { TINYKV_LOG_LEVEL: "info,wal=loud" } })).toThrow(
    'environment log_level="info,wal=loud": unknown level "loud" for wal',
  );
  expect(() => resolveConfig({ file: { path: "t.json", data: { log_level: 3 } } })).toThrow(
    ConfigError,
  );
  expect(() => makeConfig({ log_level: "chatty" })).toThrow(/log_level="chatty": unknown level/);
});

test(
  "a node: an unknown component is one line and exit 2; levels apply per component",
  async () => {
    const bad = await runMod("bun", ["--log-level", "info,wall=debug", "--plugins", "wal"], {
      timeoutMs: 15_000,
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe(
      'tinykv: log_level "info,wall=debug": unknown component "wall" (did you mean wal?) — ' +
        "components: node, peers, server, resp, idempotency, wal, metrics, coalesce",
    );
    const d = mkdtempSync(join(tmpdir(), "tkv-loglevel-"));
    dirs.push(d);
    // The node's own lines at info, the wal's (its start-up line is info) at error only: by flag,
    // then the same setting by environment.
    const base = ["--port", "0", "--raft-port", "0", "--plugins", "wal", "--data-dir", d];
    for (
      const [args, env] of [
        [["--log-level", "error,node=info"], {}],
        [[], { TINYKV_LOG_LEVEL: "info,wal=error" }],
      ] as const
    ) {
      const p = await startNodeProcess("bun", [...base, ...args], { timeoutMs: 15_000, env });
      await p.stop();
      expect(p.log()).toContain("listening");
      expect(p.log()).not.toContain("[wal]");
    }
  },
  60_000,
);

test("usage errors under --log-format json are JSON lines (flag, env or config file)", async () => {
  const r = await runMod("bun", ["--log-format", "json", "--node-id", "4", "--batch-size", "-1"], {
    timeoutMs: 15_000,
  });
  expect(r.code).toBe(2);
  const lines = r.stderr.trim().split("\n");
  expect(lines).toHaveLength(1);
  const o = JSON.parse(lines[0]);
  expect(o).toMatchObject({
    level: "error",
    node: 4,
    component: "cli",
    msg: 'flag batch_size="-1": out of range (allowed 1..100000)',
    exit_code: 2,
  });
  expect(Number.isNaN(Date.parse(o.time))).toBe(false);
  const e = await runMod("bun", ["--bogus"], {
    timeoutMs: 15_000,
    env: { TINYKV_LOG_FORMAT: "json" },
  });
  expect(e.code).toBe(2);
  expect(JSON.parse(e.stderr.trim()).msg).toMatch(/^unknown flag --bogus/);
  // Unit: the config file's log_format counts; text stays as it was.
  const d = mkdtempSync(join(tmpdir(), "tkv-usage-"));
  dirs.push(d);
  const cfg = join(d, "c.json");
  writeFileSync(cfg, JSON.stringify({ log_format: "json" }));
  expect(JSON.parse(usageErrorLine("x", ["--config", cfg], {})).msg).toBe("x");
  expect(usageErrorLine("x", ["--log-format=text", "--config", cfg], {})).toBe("tinykv: x");
  expect(usageErrorLine("x", [], {})).toBe("tinykv: x");
}, 60_000);

test("mod.ts cluster's usage errors follow --log-format too", async () => {
  const r = await runMod("bun", ["cluster", "--nodes", "12", "--log-format", "json"], {
    timeoutMs: 15_000,
  });
  expect(r.code).toBe(2);
  expect(JSON.parse(r.stderr.trim())).toMatchObject({
    level: "error",
    component: "cli",
    msg: "--nodes 12: expected an integer 1..9",
  });
  const t = await runMod("bun", ["cluster", "--nodes", "12"], { timeoutMs: 15_000 });
  expect(t.stderr.trim()).toBe("tinykv cluster: --nodes 12: expected an integer 1..9");
});
