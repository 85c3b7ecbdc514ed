/**
 * Starts the nodes the benchmark measures as child processes (`mod.ts` under Deno or Bun, so server
 * and benchmark never share an event loop), waits until a write succeeds, and stops them again.
 * Every node listens on 127.0.0.1 only. Children are killed on stop, on process exit, and on
 * SIGINT/SIGTERM; the failover scenario kills one of them on purpose ({@link RunningCluster.kill}).
 * Nothing but these children is ever signalled.
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { connect } from "../../client/client.ts";
import { generateSecret } from "../../core/peers/auth.ts";
import { freePort } from "../../tools/net.ts";

/** What to start. */
export interface ClusterOptions {
  nodes: number;
  runtime: "deno" | "bun";
  plugins: string;
  transport: "tcp" | "udp";
  password?: string;
  /** Extra flags for every node (e.g. `--batch-size 200`). */
  extraArgs: string[];
  /** Extra flags for node `id` alone (e.g. its own `--redis-port`). */
  nodeArgs?: (id: number) => string[];
  /** Longest wait for the cluster to accept writes. */
  readyTimeoutMs: number;
  /**
   * Called once per node, before any node starts, with its id and client port; returns the client
   * address the node advertises to its peers (`--peer-clients`, used in `NOT_LEADER` redirects).
   * Default: the node's own address. The lossy-proxy mode returns the proxy in front of the node,
   * so redirected clients stay behind the proxy.
   */
  advertise?: (node: { id: number; port: number }) => Promise<string>;
}

/** One started node. */
export interface ClusterNode {
  id: number;
  /** Its real client address (`127.0.0.1:port`). */
  endpoint: string;
  /** The client address advertised to peers (the real one unless `advertise` changed it). */
  advertised: string;
  pid: number;
}

/** A started cluster. */
export interface RunningCluster {
  /** Client addresses, node 1 first. */
  endpoints: string[];
  /** Process ids (for the report). */
  pids: number[];
  /** Every node, node 1 first. */
  nodes: ClusterNode[];
  /** True while node `id`'s process runs. */
  alive(id: number): boolean;
  /**
   * Sends `signal` (default SIGKILL) to node `id`'s process — one of our own children — and
   * resolves when it has exited.
   */
  kill(id: number, signal?: "SIGKILL" | "SIGTERM"): Promise<void>;
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

function runtimeCommand(runtime: "deno" | "bun"): { cmd: string; args: string[] } {
  const isCurrent = runtime === "bun"
    ? (globalThis as { Bun?: unknown }).Bun !== undefined
    : (globalThis as { Deno?: unknown }).Deno !== undefined;
  const cmd = isCurrent ? process.execPath : path.join(ROOT, "node_modules", ".bin", runtime);
  const mod = path.join(ROOT, "mod.ts");
  const rf = (process.env.BENCH_RT_FLAGS ?? "").split(" ").filter(Boolean);
  return runtime === "deno"
    ? { cmd, args: ["run", "-A", ...rf, mod] }
    : { cmd, args: [...rf, mod] };
}

/** Starts `opts.nodes` nodes on loopback and waits until the cluster accepts a write. */
export async function startCluster(opts: ClusterOptions): Promise<RunningCluster> {
  installExitHooks();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "tinykv-bench-"));
  const nodes: { id: number; port: number; raftPort: number }[] = [];
  for (let i = 1; i <= opts.nodes; i++) {
    nodes.push({ id: i, port: await freePort(), raftPort: await freePort() });
  }
  const advertised: string[] = [];
  for (const n of nodes) {
    advertised.push(
      opts.advertise ? await opts.advertise({ id: n.id, port: n.port }) : `127.0.0.1:${n.port}`,
    );
  }
  const peers = nodes.map((n) => `${n.id}=127.0.0.1:${n.raftPort}`).join(",");
  const peerClients = nodes.map((n, i) => `${n.id}=${advertised[i]}`).join(",");
  // Peers authenticate with a cluster secret (in the environment, not on the command line).
  const env = { ...process.env, TINYKV_CLUSTER_SECRET: generateSecret() };
  const { cmd, args } = runtimeCommand(opts.runtime);
  // BENCH_NODE_LOG_DIR=DIR keeps every node's stderr in DIR/node<id>.log (for a run's post-mortem).
  const logDir = process.env.BENCH_NODE_LOG_DIR || null;
  if (logDir) mkdirSync(logDir, { recursive: true });
  const children: ChildProcess[] = [];
  const stderrTail: string[][] = [];
  let died: string | null = null;
  let stopping = false;
  let ready = false;
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
    // Each node its own metrics port (the default 9210 would collide on one machine).
    if (/(^|,)metrics(,|$)/.test(opts.plugins)) {
      flags.push("--metrics-port", String(await freePort()));
    }
    if (opts.password) flags.push("--password", opts.password);
    const own = opts.nodeArgs?.(n.id) ?? [];
    const child = spawn(cmd, [
      ...args.map((a) => a.replace("{N}", String(n.id))),
      ...flags,
      ...opts.extraArgs,
      ...own,
    ], {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "pipe"],
      env,
    });
    const tail: string[] = [];
    stderrTail.push(tail);
    const logFile = logDir ? path.join(logDir, `node${n.id}.log`) : null;
    child.stderr!.on("data", (d: Buffer) => {
      if (logFile) appendFileSync(logFile, d);
      for (const line of d.toString("utf8").split("\n")) {
        if (line.trim() === "") continue;
        tail.push(line);
        if (tail.length > 20) tail.shift();
      }
    });
    child.on("exit", (code, signal) => {
      live.delete(child);
      if (died === null && !stopping && !ready) {
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
  ready = true;
  const running = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;
  const childOf = (id: number) => {
    const c = children[id - 1];
    if (!c) throw new Error(`no node ${id}`);
    return c;
  };
  return {
    endpoints,
    pids: children.map((c) => c.pid ?? 0),
    nodes: nodes.map((n, i) => ({
      id: n.id,
      endpoint: endpoints[i],
      advertised: advertised[i],
      pid: children[i].pid ?? 0,
    })),
    alive: (id) => running(childOf(id)),
    kill: (id, signal = "SIGKILL") => {
      const c = childOf(id);
      if (!running(c)) return Promise.resolve();
      const exited = new Promise<void>((r) => c.once("exit", () => r()));
      c.kill(signal);
      return exited;
    },
    stop,
  };
}
