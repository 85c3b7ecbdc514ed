// Packaging: `bun build --compile mod.ts` makes a single binary that works on its own. Built into
// a temp dir, it is run from that dir (not from the repository), loads built-in plugins (wal,
// metrics: plugins/builtin.ts imports them statically, so the bundle carries them) and answers
// PING/SET/GET through the client library; then it is killed.
import { afterAll, expect, test } from "bun:test";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { connect } from "../../mod.ts";

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
