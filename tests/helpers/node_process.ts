/**
 * Starts TinyKV nodes as real OS processes (`deno run -A mod.ts` or `bun mod.ts`) on loopback with
 * ephemeral ports, learns the bound ports from the start-up log, and stops or kill -9s only the
 * processes it started.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BIN = join(ROOT, "node_modules", ".bin");

export type RuntimeName = "deno" | "bun";

export interface NodeProcess {
  proc: ChildProcess;
  clientPort: number;
  raftPort: number;
  /** Everything the process wrote to stderr so far. */
  log(): string;
  /** SIGTERM and wait for exit (bounded). */
  stop(): Promise<number | null>;
  /** SIGKILL (kill -9) and wait for exit. */
  kill9(): Promise<void>;
  exited: Promise<number | null>;
}

/** The command line that runs mod.ts under `runtime`. */
export function modCommand(runtime: RuntimeName): { cmd: string; args: string[] } {
  return runtime === "deno"
    ? { cmd: join(BIN, "deno"), args: ["run", "-A", join(ROOT, "mod.ts")] }
    : { cmd: join(BIN, "bun"), args: [join(ROOT, "mod.ts")] };
}

/** Runs mod.ts with `args` to completion (for CLI tests); bounded by `timeoutMs`. */
export function runMod(
  runtime: RuntimeName,
  args: string[],
  opts: { timeoutMs?: number; env?: Record<string, string>; input?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { cmd, args: base } = modCommand(runtime);
  return new Promise((resolve) => {
    const p = spawn(cmd, [...base, ...args], { cwd: ROOT, env: { ...process.env, ...opts.env } });
    let stdout = "", stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    if (opts.input !== undefined) p.stdin.end(opts.input);
    else p.stdin.end();
    const t = setTimeout(() => p.kill("SIGKILL"), opts.timeoutMs ?? 30_000);
    p.on("exit", (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts a node process and waits (bounded) until it reports its listening ports. */
export function startNodeProcess(
  runtime: RuntimeName,
  args: string[],
  opts: { timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<NodeProcess> {
  const { cmd, args: base } = modCommand(runtime);
  const proc = spawn(cmd, [...base, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  const exited = new Promise<number | null>((r) => proc.on("exit", (code) => r(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`node did not start within ${opts.timeoutMs ?? 30_000} ms:\n${err}`));
    }, opts.timeoutMs ?? 30_000);
    const onData = (d: Buffer) => {
      err += d.toString();
      const m = /listening: clients [^\s]+:(\d+), raft [^\s]+:(\d+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        proc.stderr!.off("data", onData);
        proc.stderr!.on("data", (x: Buffer) => (err += x.toString()));
        resolve({
          proc,
          clientPort: Number(m[1]),
          raftPort: Number(m[2]),
          log: () => err,
          exited,
          async stop() {
            if (proc.exitCode !== null) return proc.exitCode;
            proc.kill("SIGTERM");
            const t = setTimeout(() => proc.kill("SIGKILL"), 10_000);
            const code = await exited;
            clearTimeout(t);
            return code;
          },
          async kill9() {
            if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
            await exited;
          },
        });
      }
    };
    proc.stderr!.on("data", onData);
    proc.stdout!.on("data", () => {});
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`node exited with ${code} before listening:\n${err}`));
    });
  });
}
