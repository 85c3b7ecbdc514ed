/**
 * `mod.ts cluster --nodes N`: starts N nodes on loopback as child processes of the same runtime
 * (ports 5210/5211, 5220/5221, ...; data in <data-dir>/node<i>, default ./data/cluster/node<i>),
 * prints where each listens, supervises them and stops them all on Ctrl-C. Every line a node logs
 * is shown prefixed with `node<i> | ` (JSON lines, which carry the node id, pass unchanged). A node
 * that dies is reported by id with its exit status and its last log lines; the others keep
 * serving; with `--restart` it is started again after a back-off (bounded). Node i serves metrics
 * (if loaded) on --metrics-port + i - 1 (default 9210, 9211, ...) and is told the others' (its
 * dashboard links every member's, `--metrics-peers`); with --redis-port B, node i's
 * RESP listener is on B + 10·(i−1). Other flags (e.g. --plugins)
 * are passed to every node. Unless a cluster secret is given (flag, environment or config file), a
 * random one is generated for this run and handed to the children in their environment (not on
 * their command line).
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { RUNTIME } from "../transports/runtime.ts";
import { ConfigError, flagName } from "../core/config/config.ts";

import {
  configFromArgs,
  EXIT_USAGE,
  loadNodeCommandLine,
  UsageError,
  usageErrorLine,
} from "./node.ts";
import { PluginLoadError } from "../core/plugin/loader.ts";
import { generateSecret } from "../core/peers/auth.ts";

/** Consecutive quick deaths after which `--restart` gives up on a node. */
export const MAX_RESTARTS = 5;
/** A node that ran this long before dying is restarted with the first back-off again. */
export const STABLE_MS = 30_000;
/** Log lines kept per node, shown when it dies. */
const TAIL_LINES = 20;

/** Back-off before restart number `k` (0-based): 1 s, doubling, at most 30 s. */
export function restartDelayMs(k: number): number {
  return Math.min(30_000, 1000 * 2 ** k);
}

const GIVE_UP = `${MAX_RESTARTS + 1} times in a row, each within ${STABLE_MS / 1000} s of start,`;

/** `mod.ts cluster --help`. */
export const CLUSTER_USAGE = `Usage: mod.ts cluster [--nodes N] [--restart] [node options]

Starts N nodes (default 3, at most 9) on loopback as child processes, supervises them, and stops
them all on Ctrl-C (exit 0 when every node stopped cleanly).

Options:
  --nodes N          number of nodes, 1..9 (default 3)
  --restart          restart a node that dies, after a back-off (1 s, doubling up to 30 s); a
                     node that dies ${GIVE_UP} is left down
  --port P           client port of node 1 (default 5210); node i listens for clients on
                     P + 10*(i-1) and for peers on the port above
  --data-dir D       node i keeps its data in D/node<i> (default ./data/cluster)
  --metrics-port M   with --plugins metrics: node i serves metrics on M + i - 1 (default 9210);
                     each node's dashboard links the others' (--metrics-peers, set for you)
  --help             this help

Every other node option (see mod.ts --help: --plugins, --log-format, --log-level, ...) is passed
to every node; --node-id, --peers, --peer-clients and --raft-port are chosen by the command. Each
line a node logs is shown prefixed with its id ("node2 | ..."). A node that dies is reported by
id, with its exit status and its last log lines; the other nodes keep serving.
`;

/**
 * The command that runs `mod.ts` under the current runtime; in a single binary
 * (`bun build --compile`, `deno compile`), where mod.ts is not a file on disk, the binary itself.
 */
export function runtimeCommand(): { cmd: string; args: string[] } {
  const mod = fileURLToPath(new URL("../mod.ts", import.meta.url));
  if (!existsSync(mod)) return { cmd: process.execPath, args: [] };
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
  if (argv.includes("--help")) {
    process.stdout.write(CLUSTER_USAGE);
    return 0;
  }
  let n: number;
  let passthrough: string[];
  let host: string;
  let base: number;
  let dataDir: string;
  let metricsBase: number;
  let redisBase: number | null;
  let withMetrics: boolean;
  const restart = argv.includes("--restart");
  const childEnv: Record<string, string | undefined> = { ...process.env };
  try {
    const cl = await loadNodeCommandLine(argv, process.env, process.cwd(), {
      nodes: { type: "string" },
      restart: { type: "boolean" },
    });
    const args = cl.args;
    const at = argv.findIndex((a) => a === "--nodes" || a.startsWith("--nodes="));
    const nodesArg = at < 0
      ? "3"
      : argv[at].startsWith("--nodes=")
      ? argv[at].slice(8)
      : argv[at + 1];
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
    dataDir = args.flags.data_dir ?? "./data/cluster";
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
      process.stderr.write(usageErrorLine(err.message, argv, process.env, "tinykv cluster") + "\n");
      return EXIT_USAGE;
    }
    throw err;
  }
  const { nodes, peers, peerClients } = clusterLayout(n, host, base);
  // Every node's dashboard links the others' (unless --metrics-peers was given).
  const ownMetricsPeers = passthrough.includes("--metrics-peers");
  const metricsPeers = nodes.map((x) => `${x.id}=${host}:${metricsBase + x.id - 1}`).join(",");
  const { cmd, args } = runtimeCommand();
  let stopping = false;
  const running = new Map<number, ChildProcess>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let failed = false;
  let done!: () => void;
  const allDone = new Promise<void>((r) => (done = r));
  const checkDone = () => {
    if (running.size === 0 && timers.size === 0) done();
  };

  const start = (x: (typeof nodes)[number], attempt: number) => {
    const startedAt = Date.now();
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
      ...(withMetrics && !ownMetricsPeers ? ["--metrics-peers", metricsPeers] : []),
      ...(redisBase !== null ? ["--redis-port", String(redisBase + 10 * (x.id - 1))] : []),
      ...passthrough,
    ], { stdio: ["ignore", "pipe", "pipe"], env: childEnv });
    running.set(x.id, child);
    const tail: string[] = [];
    const relay = (from: NodeJS.ReadableStream, to: NodeJS.WritableStream) => {
      let partial = "";
      from.on("data", (d: Buffer) => {
        const parts = (partial + d.toString()).split("\n");
        partial = parts.pop()!;
        for (const line of parts) {
          tail.push(line);
          if (tail.length > TAIL_LINES) tail.shift();
          // JSON lines carry the node id themselves and stay one JSON object per line.
          to.write(line.startsWith("{") ? line + "\n" : `node${x.id} | ${line}\n`);
        }
      });
      from.on("end", () => {
        if (partial !== "") to.write(`node${x.id} | ${partial}\n`);
      });
    };
    relay(child.stdout!, process.stdout);
    relay(child.stderr!, process.stderr);
    child.on("exit", (code, signal) => {
      running.delete(x.id);
      // A child that ends by the SIGTERM we sent it stopped cleanly: Deno's node:child_process
      // reports such a child as killed by the signal (code null) even when it handled it and
      // exited 0.
      if (stopping && (code === 0 || (code === null && signal === "SIGTERM"))) return checkDone();
      if (stopping) {
        failed = true;
        return checkDone();
      }
      failed = true;
      const status = code !== null ? `exit code ${code}` : `signal ${signal}`;
      const lines = tail.map((l) => `  node${x.id} | ${l}\n`).join("");
      process.stderr.write(
        `tinykv cluster: node ${x.id} died (${status}); its last log lines:\n${lines}`,
      );
      const quick = Date.now() - startedAt < STABLE_MS;
      const next = quick ? attempt + 1 : 1;
      if (restart && next <= MAX_RESTARTS) {
        const delay = restartDelayMs(next - 1);
        process.stderr.write(
          `tinykv cluster: restarting node ${x.id} in ${delay} ms (restart ${next} of at most ` +
            `${MAX_RESTARTS} in a row)\n`,
        );
        const t = setTimeout(() => {
          timers.delete(t);
          if (stopping) return checkDone();
          start(x, next);
        }, delay);
        timers.add(t);
      } else {
        const why = restart ? `it died ${MAX_RESTARTS + 1} times in a row; ` : "";
        const alive = [...running.keys()].sort((a, b) => a - b);
        process.stderr.write(
          `tinykv cluster: node ${x.id} stays down (${why}` +
            (alive.length > 0 ? `nodes ${alive.join(", ")} keep serving` : "no node is left") +
            (restart ? "" : "; --restart restarts dead nodes") + "; Ctrl-C stops the cluster)\n",
        );
      }
      checkDone();
    });
  };

  for (const x of nodes) {
    start(x, 0);
    process.stdout.write(
      `node ${x.id}: clients ${host}:${x.port}  raft ${host}:${x.raftPort}` +
        (redisBase !== null ? `  redis ${host}:${redisBase + 10 * (x.id - 1)}` : "") +
        `  data ${dataDir}/node${x.id}` +
        (withMetrics ? `  metrics http://${host}:${metricsBase + x.id - 1}/dashboard` : "") + "\n",
    );
  }
  process.stdout.write(
    `cluster of ${n} started${
      restart ? " (dead nodes are restarted)" : ""
    }; Ctrl-C stops all nodes\n`,
  );
  const stopAll = () => {
    stopping = true;
    for (const t of timers) clearTimeout(t);
    timers.clear();
    for (const c of running.values()) if (c.exitCode === null) c.kill("SIGTERM");
    checkDone();
  };
  process.on("SIGINT", stopAll);
  process.on("SIGTERM", stopAll);
  await allDone;
  return failed ? 1 : 0;
}
