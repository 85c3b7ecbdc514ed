/**
 * `mod.ts cluster --nodes N`: starts N nodes on loopback as child processes of the same runtime
 * (ports 5210/5211, 5220/5221, ...; data in <data-dir>/node<i>), prints where each listens, and
 * stops them all on Ctrl-C. Node i serves metrics (if loaded) on --metrics-port + i - 1 (default
 * 9210, 9211, ...); with --redis-port B, node i's RESP listener is on B + 10·(i−1). Other flags (e.g. --plugins) are passed to every node. Unless a cluster secret
 * is given (flag, environment or config file), a random one is generated for this run and handed
 * to the children in their environment (not on their command line).
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { RUNTIME } from "../transports/runtime.ts";
import { ConfigError, flagName } from "../core/config/config.ts";

import { configFromArgs, EXIT_USAGE, loadNodeCommandLine, UsageError } from "./node.ts";
import { PluginLoadError } from "../core/plugin/loader.ts";
import { generateSecret } from "../core/peers/auth.ts";

/** The command that runs `mod.ts` under the current runtime. */
export function runtimeCommand(): { cmd: string; args: string[] } {
  const mod = fileURLToPath(new URL("../mod.ts", import.meta.url));
  if (RUNTIME === "deno") return { cmd: process.execPath, args: ["run", "-A", mod] };
  return { cmd: process.execPath, args: [mod] };
}

/** Ports and peers for node `i` (1-based) of an N-node local cluster based at `basePort`. */
export function clusterLayout(n: number, host: string, basePort: number) {
  const nodes = [];
  for (let i = 1; i <= n; i++) {
    nodes.push({ id: i, port: basePort + 10 * (i - 1), raftPort: basePort + 10 * (i - 1) + 1 });
  }
  const peers = nodes.map((x) => `${x.id}=${host}:${x.raftPort}`).join(",");
  const peerClients = nodes.map((x) => `${x.id}=${host}:${x.port}`).join(",");
  return { nodes, peers, peerClients };
}

/** Runs the cluster command; resolves to the exit code after every node stopped. */
export async function runClusterCli(argv: string[]): Promise<number> {
  let n: number;
  let passthrough: string[];
  let host: string;
  let base: number;
  let dataDir: string;
  let metricsBase: number;
  let redisBase: number | null;
  let withMetrics: boolean;
  const childEnv: Record<string, string | undefined> = { ...process.env };
  try {
    const cl = await loadNodeCommandLine(argv, process.env, process.cwd(), {
      nodes: { type: "string" },
    });
    const args = cl.args;
    const nodesArg = argv.indexOf("--nodes") >= 0 ? argv[argv.indexOf("--nodes") + 1] : "3";
    n = Number(nodesArg);
    if (!Number.isInteger(n) || n < 1 || n > 9) {
      throw new UsageError(`--nodes ${nodesArg}: expected an integer 1..9`);
    }
    for (const k of ["node_id", "peers", "peer_clients", "raft_port"]) {
      if (k in args.flags) {
        throw new UsageError(`${flagName(k)} is chosen by the cluster command; do not pass it`);
      }
    }
    host = args.flags.host ?? "127.0.0.1";
    base = args.flags.port ? Number(args.flags.port) : 5210;
    if (!Number.isInteger(base) || base < 1 || base > 65000) {
      throw new UsageError(`--port ${args.flags.port}: expected 1..65000`);
    }
    dataDir = args.flags.data_dir ?? "./data";
    metricsBase = args.flags.metrics_port ? Number(args.flags.metrics_port) : 9210;
    redisBase = args.flags.redis_port !== undefined ? Number(args.flags.redis_port) : null;
    if (
      redisBase !== null && (!Number.isInteger(redisBase) || redisBase < 1 || redisBase > 65000)
    ) {
      throw new UsageError(`--redis-port ${args.flags.redis_port}: expected 1..65000`);
    }
    withMetrics = cl.plugins.some((p) => p.name === "metrics");
    passthrough = [];
    for (const [k, v] of Object.entries(args.flags)) {
      if (k !== "port" && k !== "data_dir" && k !== "metrics_port" && k !== "redis_port") {
        passthrough.push(flagName(k), v);
      }
    }
    if (args.configPath) passthrough.push("--config", args.configPath);
    // Was a secret given (flag, environment, config file)? Only the secret flags are resolved
    // here: the others are checked by each node (the cluster command chooses some of them).
    const secretFlags = Object.fromEntries(
      Object.entries(args.flags).filter(([k]) => k.startsWith("cluster_")),
    );
    const resolved = configFromArgs({ ...args, flags: secretFlags }, process.env, cl.pluginOptions);
    if (resolved.cluster_secret === "") childEnv.TINYKV_CLUSTER_SECRET = generateSecret();
  } catch (err) {
    if (
      err instanceof UsageError || err instanceof ConfigError || err instanceof PluginLoadError
    ) {
      process.stderr.write(`tinykv cluster: ${err.message}\n`);
      return EXIT_USAGE;
    }
    throw err;
  }
  const { nodes, peers, peerClients } = clusterLayout(n, host, base);
  const { cmd, args } = runtimeCommand();
  const children: ChildProcess[] = [];
  let stopping = false;
  const exited: Promise<number>[] = [];
  for (const x of nodes) {
    const child = spawn(cmd, [
      ...args,
      "--node-id",
      String(x.id),
      "--port",
      String(x.port),
      "--raft-port",
      String(x.raftPort),
      "--peers",
      peers,
      "--peer-clients",
      peerClients,
      "--data-dir",
      `${dataDir}/node${x.id}`,
      ...(withMetrics ? ["--metrics-port", String(metricsBase + x.id - 1)] : []),
      ...(redisBase !== null ? ["--redis-port", String(redisBase + 10 * (x.id - 1))] : []),
      ...passthrough,
    ], { stdio: ["ignore", "inherit", "inherit"], env: childEnv });
    children.push(child);
    // A child that ends by the SIGTERM we sent it stopped cleanly: Deno's node:child_process reports
    // such a child as killed by the signal (code null) even when it handled it and exited 0.
    exited.push(
      new Promise((r) =>
        child.on("exit", (code, signal) => r(code ?? (stopping && signal === "SIGTERM" ? 0 : 1)))
      ),
    );
    process.stdout.write(
      `node ${x.id}: clients ${host}:${x.port}  raft ${host}:${x.raftPort}` +
        (redisBase !== null ? `  redis ${host}:${redisBase + 10 * (x.id - 1)}` : "") +
        `  data ${dataDir}/node${x.id}` +
        (withMetrics ? `  metrics http://${host}:${metricsBase + x.id - 1}/dashboard` : "") + "\n",
    );
  }
  process.stdout.write(`cluster of ${n} started; Ctrl-C stops all nodes\n`);
  const stopAll = () => {
    stopping = true;
    for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  };
  process.on("SIGINT", stopAll);
  process.on("SIGTERM", stopAll);
  const codes = await Promise.all(exited.map((p) => p.then((c) => (stopAll(), c))));
  return codes.every((c) => c === 0) ? 0 : 1;
}
