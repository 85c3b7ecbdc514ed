// Packaging: `bun build --compile mod.ts` makes a single binary that works on its own. Built into
// a temp dir, it is run from that dir (not from the repository), loads built-in plugins (wal,
// metrics: plugins/builtin.ts imports them statically, so the bundle carries them) and answers
// PING/SET/GET through the client library; then it is killed. `deno publish --dry-run` passes (it
// needs no network), and the package metadata names files that exist.
import { afterAll, expect, test } from "bun:test";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { connect } from "../../mod.ts";
import { VERSION } from "../../core/config/version.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BUN = join(ROOT, "node_modules", ".bin", "bun");
const dir = mkdtempSync(join(tmpdir(), "tinykv-compile-"));
let proc: ChildProcess | undefined;

afterAll(() => {
  if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

test("bun build --compile mod.ts: the binary starts with built-in plugins and serves", async () => {
  const bin = join(dir, "tinykv");
  const build = spawnSync(BUN, ["build", "--compile", join(ROOT, "mod.ts"), "--outfile", bin], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 60_000,
  });
  expect(build.stderr + build.stdout).not.toMatch(/error/i);
  expect(build.status).toBe(0);

  const args = ["--port", "0", "--raft-port", "0", "--metrics-port", "0", "--data-dir"];
  const child = spawn(bin, [...args, join(dir, "data"), "--plugins", "wal,metrics"], {
    cwd: dir,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, CBOR_NATIVE_ACCELERATION_DISABLED: "true" },
  });
  proc = child;
  let log = "";
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`binary did not start:\n${log}`)), 15_000);
    const onData = (d: Buffer) => {
      log += d.toString();
      const m = /listening: clients [^\s]+:(\d+)/.exec(log);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    };
    child.stderr!.on("data", onData);
    child.stdout!.on("data", onData);
    child.on("exit", (code) => {
      clearTimeout(t);
      reject(new Error(`binary exited with ${code}:\n${log}`));
    });
  });
  expect(log).toMatch(/\[wal\] data in/);
  expect(log).toMatch(/\[metrics\] serving/);
  const c = await connect({ host: "127.0.0.1", port });
  try {
    const pong = await c.command("PING");
    expect(typeof pong === "string" ? pong : new TextDecoder().decode(pong as Uint8Array))
      .toBe("PONG");
    await c.command("SET", "k", "v");
    expect(new TextDecoder().decode(await c.command("GET", "k") as Uint8Array)).toBe("v");
  } finally {
    await c.close();
    child.kill("SIGKILL");
  }
}, 60_000);

test("deno publish --dry-run passes (JSR: name, version, exports; no network needed)", () => {
  const r = spawnSync(join(ROOT, "node_modules", ".bin", "deno"), [
    "publish",
    "--dry-run",
    "--allow-dirty",
  ], { cwd: ROOT, encoding: "utf8", timeout: 90_000, env: { ...process.env, NO_COLOR: "1" } });
  expect(r.stdout + r.stderr).toContain("Dry run complete");
  expect(r.status).toBe(0);
}, 100_000);

test("package.json exports and bin name files that exist; LICENSE and CHANGELOG exist", () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
  const deno = JSON.parse(readFileSync(join(ROOT, "deno.json"), "utf8"));
  const targets = [
    ...Object.values(pkg.exports as Record<string, string>),
    ...Object.values(pkg.bin as Record<string, string>),
    ...Object.values(deno.exports as Record<string, string>),
  ];
  for (const t of targets) expect(existsSync(join(ROOT, t))).toBe(true);
  expect(deno.version).toBe(pkg.version);
  expect(VERSION).toBe(pkg.version); // core/config/version.ts (--version, tinykv_build_info)
  expect(readFileSync(join(ROOT, pkg.bin.tinykv), "utf8")).toMatch(/^#!\/usr\/bin\/env bun\n/);
  expect(readFileSync(join(ROOT, "LICENSE"), "utf8")).toMatch(/MIT License[\s\S]*TinyKV authors/);
  expect(existsSync(join(ROOT, "CHANGELOG.md"))).toBe(true);
});
