/**
 * The Redis-protocol benchmark: `bun bench/redis.ts` (or `deno run -A bench/redis.ts`). The same C
 * client (`redis-benchmark`, Debian `redis-tools`) measures, in the same run, SET and GET at `-P 1`
 * and `-P 100`, `-c 10`, 64-byte values:
 * - a 3-node TinyKV cluster with the wal plugin (child processes of mod.ts), through the leader's
 *   RESP port and through a follower's (writes forwarded to the leader, reads by follower
 *   ReadIndex);
 * - `redis-server --appendonly yes --appendfsync always` started here on an ephemeral port, when
 *   installed;
 * and prints a markdown table with follower / leader and TinyKV / Redis ratios, and the load
 * average before and after (the machine may be shared). `--help` lists the flags.
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";
import { freePort } from "../tools/net.ts";
import { startCluster } from "./lib/cluster.ts";

const RUNTIME: "deno" | "bun" = (globalThis as { Bun?: unknown }).Bun !== undefined
  ? "bun"
  : "deno";

const HELP = `TinyKV Redis-protocol benchmark (redis-benchmark against TinyKV and redis-server)

Usage: bun bench/redis.ts [options]     (or: deno run -A bench/redis.ts [options])

Options:
  --requests-p1 N     requests per test at -P 1 (default 20000)
  --requests-p100 N   requests per test at -P 100 (default 300000)
  --clients N         redis-benchmark -c (default 10)
  --size N            value size in bytes, -d (default 64)
  --runtime R         deno | bun: runtime of the TinyKV nodes (default: this one)
  --plugins LIST      plugins of the TinyKV nodes (default wal)
  --no-redis          do not start redis-server
  --help
`;

interface Row {
  target: string;
  test: "SET" | "GET";
  pipeline: number;
  rps: number | null;
  p50: number | null;
  note: string;
}

/** The 1/5/15-minute load averages, for the report. */
function loadavg(): string {
  return os.loadavg().map((x) => x.toFixed(2)).join(" ");
}

function have(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
}

/** Runs one redis-benchmark test; requests per second and p50 (ms), or the reason it failed. */
function bench(
  port: number,
  test: "set" | "get",
  pipeline: number,
  requests: number,
  clients: number,
  size: number,
): Promise<{ rps: number; p50: number } | string> {
  return new Promise((resolve) => {
    const args = [
      "-h",
      "127.0.0.1",
      "-p",
      String(port),
      "-t",
      test,
      "-n",
      String(requests),
      "-P",
      String(pipeline),
      "-c",
      String(clients),
      "-d",
      String(size),
      "-r",
      "100000",
      "--csv",
    ];
    const p = spawn("redis-benchmark", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    p.stdout.on("data", (d) => out += d);
    p.stderr.on("data", (d) => err += d);
    const timer = setTimeout(() => p.kill("SIGKILL"), 300_000);
    p.on("close", () => {
      clearTimeout(timer);
      // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",...
      const line = out.split("\n").find((l) => l.startsWith(`"${test.toUpperCase()}"`));
      if (!line) return resolve(`no result: ${(err || out).trim().slice(0, 200)}`);
      const f = line.split(",").map((x) => x.replace(/"/g, ""));
      resolve({ rps: Number(f[1]), p50: Number(f[4]) });
    });
  });
}

/** The first reply line of `redis-cli -p port args...`. */
function cli(port: number, ...args: string[]): string {
  const r = spawnSync("redis-cli", ["-p", String(port), ...args], { encoding: "utf8" });
  return (r.stdout ?? "").trim();
}

async function startRedis(dir: string): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn("redis-server", [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--dir",
    dir,
    "--appendonly",
    "yes",
    "--appendfsync",
    "always",
    "--save",
    "",
  ], { stdio: "ignore" });
  const end = Date.now() + 10_000;
  while (cli(port, "PING") !== "PONG") {
    if (Date.now() > end) throw new Error("redis-server did not start");
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port, child };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      "requests-p1": { type: "string", default: "20000" },
      "requests-p100": { type: "string", default: "300000" },
      clients: { type: "string", default: "10" },
      size: { type: "string", default: "64" },
      runtime: { type: "string", default: RUNTIME },
      plugins: { type: "string", default: "wal" },
      "no-redis": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (!have("redis-benchmark")) {
    process.stderr.write(
      "redis-benchmark is not installed (Debian: apt-get install redis-tools)\n",
    );
    return 1;
  }
  const n1 = Number(values["requests-p1"]), n100 = Number(values["requests-p100"]);
  const clients = Number(values.clients), size = Number(values.size);
  const runtime = values.runtime === "bun" ? "bun" : "deno";
  const rows: Row[] = [];
  const load0 = loadavg();
  const run = async (target: string, port: number, tests: ("set" | "get")[]) => {
    for (const pipeline of [1, 100]) {
      for (const t of tests) {
        const r = await bench(port, t, pipeline, pipeline === 1 ? n1 : n100, clients, size);
        const row: Row = typeof r === "string"
          ? { target, test: t === "set" ? "SET" : "GET", pipeline, rps: null, p50: null, note: r }
          : { target, test: t === "set" ? "SET" : "GET", pipeline, ...r, note: "" };
        rows.push(row);
        process.stdout.write(
          `${target} ${row.test} -P ${pipeline}: ${row.rps ?? "-"} req/s p50 ${
            row.p50 ?? "-"
          } ms ${row.note}\n`,
        );
      }
    }
  };

  // TinyKV: 3 nodes, wal, each with its own RESP port.
  const redisPorts = [await freePort(), await freePort(), await freePort()];
  const cluster = await startCluster({
    nodes: 3,
    runtime,
    plugins: values.plugins === "none" ? "" : values.plugins,
    transport: "tcp",
    extraArgs: [],
    nodeArgs: (id) => ["--redis-port", String(redisPorts[id - 1])],
    readyTimeoutMs: 30_000,
  });
  try {
    const leaderPort = redisPorts.find((p) =>
      cli(p, "INFO", "replication").includes("role:master")
    );
    if (leaderPort === undefined) throw new Error("no leader found over RESP");
    const followerPort = redisPorts.find((p) => p !== leaderPort)!;
    await run("tinykv leader", leaderPort, ["set", "get"]);
    // A follower serves Redis clients too: writes forwarded to the leader over the peer
    // connection, reads by follower ReadIndex (issue 10 item 4). Probe first, so that a build
    // whose followers refuse gets a row that says so rather than redis-benchmark's error.
    const probe = cli(followerPort, "SET", "bench:probe", "x");
    if (probe !== "OK") {
      for (const pipeline of [1, 100]) {
        for (const test of ["SET", "GET"] as const) {
          rows.push({
            target: "tinykv follower",
            test,
            pipeline,
            rps: null,
            p50: null,
            note: `refused: ${probe.slice(0, 80)}`,
          });
        }
      }
    } else await run("tinykv follower", followerPort, ["set", "get"]);
    if (!cli(leaderPort, "INFO", "replication").includes("role:master")) {
      process.stdout.write("note: leadership moved during the run; rows may mix leader/follower\n");
    }
  } finally {
    await cluster.stop();
  }

  if (!values["no-redis"] && !have("redis-server")) {
    process.stdout.write(
      "note: redis-server is not installed (Debian: apt-get install redis-server): no Redis rows, no ratios\n",
    );
  }
  if (!values["no-redis"] && have("redis-server")) {
    const dir = mkdtempSync(path.join(os.tmpdir(), "tinykv-bench-redis-"));
    const redis = await startRedis(dir);
    try {
      await run("redis appendfsync always", redis.port, ["set", "get"]);
    } finally {
      const exited = new Promise<void>((r) => redis.child.once("exit", () => r()));
      redis.child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  }

  const redisOf = (r: Row) =>
    rows.find((x) =>
      x.target === "redis appendfsync always" && x.test === r.test && x.pipeline === r.pipeline
    );
  process.stdout.write(
    `\nredis-benchmark -c ${clients} -d ${size}, ${os.cpus().length} cores, nodes on ${runtime}, plugins ${values.plugins}, load average ${load0} before / ${loadavg()} after\n\n`,
  );
  const leaderOf = (r: Row) =>
    rows.find((x) =>
      x.target === "tinykv leader" && x.test === r.test && x.pipeline === r.pipeline
    );
  const pct = (a: number | null, b: number | null | undefined) =>
    a !== null && b ? `${Math.round((100 * a) / b)} %` : "";
  process.stdout.write(
    "| target | test | -P | req/s | p50 ms | vs leader | vs redis |\n|---|---|---|---|---|---|---|\n",
  );
  for (const r of rows) {
    const vsLeader = r.target === "tinykv follower" ? pct(r.rps, leaderOf(r)?.rps) : "";
    process.stdout.write(
      `| ${r.target} | ${r.test} | ${r.pipeline} | ${
        r.rps === null ? r.note : Math.round(r.rps)
      } | ${r.p50 ?? ""} | ${vsLeader} | ${pct(r.rps, redisOf(r)?.rps)} |\n`,
    );
  }
  return 0;
}

main().then((code) => process.exit(code), (err) => {
  process.stderr.write(`bench/redis: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
