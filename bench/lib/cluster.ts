/**
 * Starts the nodes the benchmark measures as child processes (`mod.ts` under Deno or Bun, so server
 * and benchmark never share an event loop), waits until a write succeeds, and stops them again.
 * Children are killed on stop, on process exit, and on SIGINT/SIGTERM.
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { connect } from "../../client/client.ts";

/** What to start. */
export interface ClusterOptions {
  nodes: number;
  runtime: "deno" | "bun";
  plugins: string;
  transport: "tcp" | "udp";
  password?: string;
  /** Extra flags for every node (e.g. `--batch-size 200`). */
  extraArgs: string[];
  /** Longest wait for the cluster to accept writes. */
  readyTimeoutMs: number;
}

/** A started cluster. */
export interface RunningCluster {
  /** Client addresses, node 1 first. */
  endpoints: string[];
  /** Process ids (for the report). */
  pids: number[];
  stop(): Promise<void>;
}

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const live = new Set<ChildProcess>();
let hooksInstalled = false;

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", () => {
    for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  });
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.on(sig, () => {
      for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
      process.exit(130);
    });
  }
}

/** A free loopback port (bound then released; the node binds it right after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function runtimeCommand(runtime: "deno" | "bun"): { cmd: string; args: string[] } {
  const isCurrent = runtime === "bun"
    ? (globalThis as { Bun?: unknown }).Bun !== undefined
    : (globalThis as { Deno?: unknown }).Deno !== undefined;
  const cmd = isCurrent ? process.execPath : path.join(ROOT, "node_modules", ".bin", runtime);
  const mod = path.join(ROOT, "mod.ts");
  return runtime === "deno" ? { cmd, args: ["run", "-A", mod] } : { cmd, args: [mod] };
}

/** Starts `opts.nodes` nodes on loopback and waits until the cluster accepts a write. */
export async function startCluster(opts: ClusterOptions): Promise<RunningCluster> {
  installExitHooks();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "tinykv-bench-"));
  const nodes: { id: number; port: number; raftPort: number }[] = [];
  for (let i = 1; i <= opts.nodes; i++) {
    nodes.push({ id: i, port: await freePort(), raftPort: await freePort() });
  }
  const peers = nodes.map((n) => `${n.id}=127.0.0.1:${n.raftPort}`).join(",");
  const peerClients = nodes.map((n) => `${n.id}=127.0.0.1:${n.port}`).join(",");
  const { cmd, args } = runtimeCommand(opts.runtime);
  const children: ChildProcess[] = [];
  const stderrTail: string[][] = [];
  let died: string | null = null;
  let stopping = false;
  for (const n of nodes) {
    const flags = [
      "--node-id",
      String(n.id),
      "--host",
      "127.0.0.1",
      "--port",
      String(n.port),
      "--raft-port",
      String(n.raftPort),
      "--data-dir",
      path.join(dataDir, `node${n.id}`),
      "--transport",
      opts.transport,
      "--log-level",
      "warn",
    ];
    if (opts.nodes > 1) flags.push("--peers", peers, "--peer-clients", peerClients);
    if (opts.plugins) flags.push("--plugins", opts.plugins);
    if (opts.password) flags.push("--password", opts.password);
    const child = spawn(cmd, [...args, ...flags, ...opts.extraArgs], {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "pipe"],
    });
    const tail: string[] = [];
    stderrTail.push(tail);
    child.stderr!.on("data", (d: Buffer) => {
      for (const line of d.toString("utf8").split("\n")) {
        if (line.trim() === "") continue;
        tail.push(line);
        if (tail.length > 20) tail.shift();
      }
    });
    child.on("exit", (code, signal) => {
      live.delete(child);
      if (died === null && !stopping) {
        died = `node ${n.id} exited (${signal ?? code}): ${tail.slice(-5).join(" | ")}`;
      }
    });
    live.add(child);
    children.push(child);
  }
  const stop = async () => {
    stopping = true;
    const exits = children.map((c) =>
      c.exitCode !== null || c.signalCode !== null
        ? Promise.resolve()
        : new Promise<void>((r) => c.once("exit", () => r()))
    );
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGTERM");
    const timer = setTimeout(() => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    }, 3000);
    await Promise.all(exits);
    clearTimeout(timer);
    rmSync(dataDir, { recursive: true, force: true });
  };
  const endpoints = nodes.map((n) => `127.0.0.1:${n.port}`);
  const deadline = Date.now() + opts.readyTimeoutMs;
  let last = "";
  try {
    while (true) {
      if (died !== null) throw new Error(died);
      if (Date.now() > deadline) {
        throw new Error(`cluster not ready after ${opts.readyTimeoutMs} ms: ${last}`);
      }
      try {
        const c = await connect({
          endpoints,
          transport: opts.transport,
          timeoutMs: 2000,
          connectTimeoutMs: 500,
          ...(opts.password ? { password: opts.password } : {}),
        });
        try {
          const [r] = await c.batch([["SET", "bench:ready", "1"]]);
          if (r.ok) break;
          last = `${r.code} ${r.error}`;
        } finally {
          await c.close();
        }
      } catch (err) {
        last = (err as Error).message;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { endpoints, pids: children.map((c) => c.pid ?? 0), stop };
}
