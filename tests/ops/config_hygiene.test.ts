// Configuration hygiene and logs (issue 12, items 2 and 6): a TINYKV_* variable nothing reads is
// warned about by name with the closest known name; `--batch-size -1` reaches the range check;
// start-up failures (data dir that is a file, port in use) are one line and exit 2; a node that
// cannot reach a quorum says so, naming the peers it waits for; `--log-format json` writes one
// JSON object per line carrying the node id and component; text lines carry `node=N`.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, unknownEnvVars } from "../../core/config/config.ts";
import { createLogger } from "../../core/config/logger.ts";
import { configFromArgs, envWarnings, parseNodeArgs } from "../../cli/node.ts";
import { type NodeProcess, runMod, startNodeProcess } from "../helpers/node_process.ts";

const dirs: string[] = [];
const procs: NodeProcess[] = [];
afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test("unknown TINYKV_* variables are named, with the closest known name", async () => {
  const env = {
    TINYKV_BATCH_SIZ: "3",
    TINYKV_PORT: "1",
    TINYKV_CONFIG: "x.json",
    TINYKV_WAL_FSYNC: "off",
    TINYKV_ZZZ_TOP: "1",
    HOME: "/root",
  };
  expect(unknownEnvVars(env)).toEqual([
    { name: "TINYKV_BATCH_SIZ", suggestion: "TINYKV_BATCH_SIZE" },
    { name: "TINYKV_WAL_FSYNC" },
    { name: "TINYKV_ZZZ_TOP" },
  ]);
  expect(await envWarnings(env, [])).toEqual([
    "environment TINYKV_BATCH_SIZ is not a TinyKV setting and is ignored (did you mean TINYKV_BATCH_SIZE?)",
    "environment TINYKV_WAL_FSYNC is ignored: it needs --plugins wal",
    "environment TINYKV_ZZZ_TOP is not a TinyKV setting and is ignored",
  ]);
});

test("a negative number after a space reaches the range check", () => {
  for (const argv of [["--batch-size", "-1"], ["--batch-size=-1"]]) {
    const args = parseNodeArgs(argv);
    expect(() => configFromArgs(args, {})).toThrow(ConfigError);
    expect(() => configFromArgs(args, {})).toThrow(/batch_size="-1": out of range \(allowed 1/);
  }
});

test("logs: text lines carry node=N and the component; JSON is one object per line", () => {
  const lines: string[] = [];
  const text = createLogger("info", "", (l) => lines.push(l), { nodeId: 3 });
  text.child("wal").info("opened", { segments: 2 });
  text.debug("dropped");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^\S+ INFO {2}node=3 \[wal\] opened \{"segments":2\}$/);

  lines.length = 0;
  const json = createLogger("debug", "", (l) => lines.push(l), { format: "json", nodeId: 3 });
  json.child("peers").child("auth").warn("refused", { addr: "10.0.0.9:1", msg: "x" }, "extra");
  json.error("failed", new Error("boom"));
  expect(lines).toHaveLength(2);
  const a = JSON.parse(lines[0]);
  expect(a).toMatchObject({
    level: "warn",
    node: 3,
    component: "peers.auth",
    msg: "refused",
    addr: "10.0.0.9:1",
    field_msg: "x",
    args: ["extra"],
  });
  expect(Number.isNaN(Date.parse(a.time))).toBe(false);
  const b = JSON.parse(lines[1]);
  expect(b).toMatchObject({ level: "error", node: 3, msg: "failed" });
  expect(b.error).toMatch(/boom/);
  expect(b.component).toBeUndefined();
  // A field that does not serialise keeps the line.
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  json.info("odd", cyclic);
  expect(JSON.parse(lines[2]).msg).toBe("odd");
});

test("a node started with --log-format json writes only JSON lines with its id", async () => {
  const p = await startNodeProcess("bun", [
    "--node-id",
    "1",
    "--port",
    "0",
    "--raft-port",
    "0",
    "--log-format",
    "json",
  ], { timeoutMs: 15_000 });
  procs.push(p);
  await p.stop();
  const lines = p.log().trim().split("\n");
  expect(lines.length).toBeGreaterThanOrEqual(2); // at least the start-up lines (how many shutdown lines are flushed before exit varies)
  for (const l of lines) {
    const o = JSON.parse(l);
    expect(o.node).toBe(1);
    expect(typeof o.msg).toBe("string");
    expect(["debug", "info", "warn", "error"]).toContain(o.level);
  }
  expect(lines.some((l) => JSON.parse(l).msg.includes("listening"))).toBe(true);
}, 30_000);

test("start-up failures: one clear line, exit code 2", async () => {
  const d = mkdtempSync(join(tmpdir(), "tkv-hygiene-"));
  dirs.push(d);
  const file = join(d, "a-file");
  writeFileSync(file, "x");
  const base = ["--port", "0", "--raft-port", "0", "--plugins", "wal"];
  for (
    const [dir, want] of [
      [file, `${file} is a file, not a directory`],
      [join(file, "sub"), `part of ${join(file, "sub")} is a file`],
    ]
  ) {
    const r = await runMod("bun", [...base, "--data-dir", dir], { timeoutMs: 15_000 });
    expect(r.code).toBe(2);
    const errors = r.stderr.split("\n").filter((l) => / ERROR /.test(l));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(`cannot start: data dir ${dir}: ${want}`);
    expect(r.stderr).not.toMatch(/EEXIST|ENOTDIR/);
  }
  // A port another node listens on (this exited 1 before).
  const first = await startNodeProcess("bun", ["--port", "0", "--raft-port", "0"], {
    timeoutMs: 15_000,
  });
  procs.push(first);
  const port = first.clientPort;
  for (const runtime of ["bun", "deno"] as const) {
    const r = await runMod(runtime, ["--port", String(port), "--raft-port", "0"], {
      timeoutMs: 15_000,
    });
    expect(r.code).toBe(2);
    const errors = r.stderr.split("\n").filter((l) => / ERROR /.test(l));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(`cannot listen for clients on 127.0.0.1:${port}`);
  }
  const bad = await runMod("bun", ["--batch-size", "-1"], { timeoutMs: 15_000 });
  expect(bad.code).toBe(2);
  expect(bad.stderr.trim()).toBe('tinykv: flag batch_size="-1": out of range (allowed 1..100000)');
}, 60_000);

test("a node that cannot reach a quorum says so, naming the peers it waits for", async () => {
  const p = await startNodeProcess("bun", [
    "--node-id",
    "1",
    "--port",
    "0",
    "--raft-port",
    "0",
    "--peers",
    "1=127.0.0.1:1,2=127.0.0.1:2,3=127.0.0.1:3",
    "--cluster-secret",
    "a-test-secret-of-enough-length",
  ], { timeoutMs: 15_000 });
  procs.push(p);
  const deadline = Date.now() + 15_000;
  while (!/no leader for/.test(p.log()) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(p.log()).toMatch(
    /WARN {2}node=1 no leader for \d+ s: a quorum is 2 of voters 1, 2, 3; waiting for node 2 \(127\.0\.0\.1:2\), node 3 \(127\.0\.0\.1:3\)/,
  );
  // Rate-limited: one line so far (the next comes 10 s later).
  expect(p.log().match(/no leader for/g)).toHaveLength(1);
}, 30_000);
