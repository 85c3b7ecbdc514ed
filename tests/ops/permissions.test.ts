// Start-up failures from real permission errors (issue 12, item 6): the node runs as root without
// any capability (setpriv drops the bounding and inheritable sets: no CAP_DAC_OVERRIDE, no
// CAP_NET_BIND_SERVICE), so EACCES happens for real — the suite otherwise runs as root, for whom
// every directory is writable. (Not as the user nobody: a fresh checkout may sit in a 0700 temp
// dir that nobody cannot enter.) Files the node must not use are owned by another user (65534) or
// read-only for their owner. Each failure is one clear line (no raw errno, no stack) and exit
// code 2, on Bun and Deno. Skipped unless root with setpriv.
import { afterAll, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { modCommand, type RuntimeName } from "../helpers/node_process.ts";

const NOBODY = 65534;
const canDrop = process.getuid?.() === 0 &&
  spawnSync("setpriv", ["--version"], { stdio: "ignore" }).status === 0;

const root = mkdtempSync(join(tmpdir(), "tkv-perm-"));
chmodSync(root, 0o755);
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Runs mod.ts as root without capabilities (bounded); its exit code and stderr. */
function runUnprivileged(
  runtime: RuntimeName,
  args: string[],
): Promise<{ code: number | null; stderr: string }> {
  const { cmd, args: base } = modCommand(runtime);
  const denoDir = join(root, "deno-dir");
  mkdirSync(denoDir, { recursive: true, mode: 0o777 });
  chmodSync(denoDir, 0o777);
  return new Promise((resolve) => {
    const p = spawn(
      "setpriv",
      ["--bounding-set=-all", "--inh-caps=-all", cmd, ...base, ...args],
      {
        cwd: fileURLToPath(new URL("../..", import.meta.url)),
        env: { ...process.env, HOME: root, DENO_DIR: denoDir },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let stderr = "";
    p.stderr!.on("data", (d) => (stderr += d));
    const t = setTimeout(() => p.kill("SIGKILL"), 20_000);
    p.on("exit", (code) => {
      clearTimeout(t);
      resolve({ code, stderr });
    });
  });
}

/** The one ERROR line of a failed start (other lines are warnings such as "in memory only"). */
function errorLine(stderr: string): string {
  const errors = stderr.split("\n").filter((l) => / ERROR /.test(l) || l.startsWith("tinykv:"));
  expect(errors).toHaveLength(1);
  expect(stderr).not.toMatch(/EACCES|os error|Failed to listen|\n\s+at /);
  return errors[0];
}

const ports = ["--port", "0", "--raft-port", "0"];

test.skipIf(!canDrop)("a data dir this user cannot write: one line, exit 2", async () => {
  const ro = join(root, "ro");
  mkdirSync(ro);
  chmodSync(ro, 0o555);
  const used = join(root, "used"); // a node's data dir written by another user
  mkdirSync(used);
  writeFileSync(join(used, "LOCK"), "");
  chownSync(join(used, "LOCK"), NOBODY, NOBODY);
  chownSync(used, NOBODY, NOBODY);
  chmodSync(used, 0o755);
  for (const runtime of ["bun", "deno"] as const) {
    for (
      const [dir, want] of [
        [ro, `data dir ${ro}:`],
        [join(ro, "sub"), `data dir ${join(ro, "sub")}:`],
        [used, `data dir ${used}:`],
      ]
    ) {
      const r = await runUnprivileged(runtime, [...ports, "--plugins", "wal", "--data-dir", dir]);
      expect(r.code).toBe(2);
      const line = errorLine(r.stderr);
      expect(line).toContain(`cannot start: ${want}`);
      expect(line).toMatch(/permission denied \(it must be writable by this user\)$/);
      expect(line).not.toContain(`${dir}: ${dir}:`); // the path is not said twice
    }
  }
}, 60_000);

test.skipIf(!canDrop)("ports below 1024 and unreadable files: one line, exit 2", async () => {
  for (const runtime of ["bun", "deno"] as const) {
    const cases: [string[], string][] = [
      [["--port", "80", "--raft-port", "0"], "cannot listen for clients on 127.0.0.1:80"],
      [["--port", "0", "--raft-port", "81"], "cannot listen for peers on 127.0.0.1:81"],
      [[...ports, "--plugins", "metrics", "--metrics-port", "82"], "127.0.0.1:82"],
    ];
    for (const [args, want] of cases) {
      const r = await runUnprivileged(runtime, args);
      expect(r.code).toBe(2);
      const line = errorLine(r.stderr);
      expect(line).toContain(want);
      expect(line).toMatch(
        /: permission denied \(ports below 1024 need root or CAP_NET_BIND_SERVICE\)$/,
      );
    }
  }
  const cfg = join(root, "c.json");
  writeFileSync(cfg, "{}", { mode: 0o600 });
  chownSync(cfg, NOBODY, NOBODY); // readable by its owner only: not this (capability-less) root
  const secret = join(root, "secret");
  writeFileSync(secret, "a-test-secret-of-enough-length\n", { mode: 0o600 });
  chownSync(secret, NOBODY, NOBODY);
  const c = await runUnprivileged("bun", ["--config", cfg]);
  expect(c.code).toBe(2);
  expect(errorLine(c.stderr)).toBe(`tinykv: config file ${cfg}: cannot read (permission denied)`);
  const s = await runUnprivileged("bun", [
    ...ports,
    "--peers",
    "1=127.0.0.1:1,2=127.0.0.1:2",
    "--cluster-secret-file",
    secret,
  ]);
  expect(s.code).toBe(2);
  expect(errorLine(s.stderr)).toBe(
    `tinykv: cluster_secret_file=${JSON.stringify(secret)}: cannot read (permission denied)`,
  );
}, 60_000);
