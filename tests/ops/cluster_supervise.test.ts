// `mod.ts cluster` supervises its nodes (cli/cluster.ts): every node log line is shown prefixed
// with its id; a node killed with kill -9 is reported by id with its exit status and last log
// lines while the others keep serving; `--restart` starts it again after a back-off; data goes to
// ./data/cluster/node<i> by default; `cluster --help` prints help and starts nothing.
import { afterAll, expect, test } from "bun:test";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { modCommand, runMod } from "../helpers/node_process.ts";
import { restartDelayMs } from "../../cli/cluster.ts";
import { connectAll } from "../cluster/workload.ts";
import { portOpen } from "../cluster/harness.ts";

const dirs: string[] = [];
const procs: ChildProcess[] = [];
const nodePids = new Set<number>();

afterAll(() => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  for (const pid of nodePids) {
    try {
      if (alive(pid)) process.kill(pid, "SIGKILL");
    } catch { /* gone */ }
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function alive(pid: number): boolean {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    return s.slice(s.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** The live mod.ts children of `ppid` by node id (Linux /proc). */
function nodesOf(ppid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/stat`, "utf8");
      const rest = s.slice(s.lastIndexOf(")") + 2).split(" ");
      if (Number(rest[1]) !== ppid || rest[0] === "Z") continue;
      const argv = readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0");
      const i = argv.indexOf("--node-id");
      if (i >= 0) out.set(Number(argv[i + 1]), Number(d));
    } catch { /* gone */ }
  }
  return out;
}

/** A base port whose cluster ports (base + 10·k and one above, k < 3) are free. */
async function freeBase(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const base = 20_000 + 10 * Math.floor(Math.random() * 800);
    const ports = [0, 1, 10, 11, 20, 21].map((d) => base + d);
    if ((await Promise.all(ports.map((p) => portOpen(p)))).every((open) => !open)) return base;
  }
  throw new Error("no free base port");
}

async function until(what: string, f: () => boolean, ms: number, log: () => string) {
  const deadline = Date.now() + ms;
  while (!f()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("cluster --help prints the cluster's help and starts nothing", async () => {
  const r = await runMod("bun", ["cluster", "--help"], { timeoutMs: 15_000 });
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^Usage: mod\.ts cluster/);
  expect(r.stdout).toMatch(/--restart/);
  expect(r.stdout).not.toMatch(/started/);
  const top = await runMod("bun", ["--help"], { timeoutMs: 15_000 });
  expect(top.stdout).toMatch(/cluster --nodes/);
  expect(top.stdout).toMatch(/cluster --help/);
});

test("restart back-off doubles from 1 s and is capped", () => {
  expect([0, 1, 2, 3, 4, 5, 10].map(restartDelayMs)).toEqual([
    1000,
    2000,
    4000,
    8000,
    16_000,
    30_000,
    30_000,
  ]);
});

test("a killed node is reported by id and restarted; the others keep serving", async () => {
  const cwd = mkdtempSync(join(tmpdir(), "tkv-sup-"));
  dirs.push(cwd);
  const base = await freeBase();
  const { cmd, args } = modCommand("bun");
  const cli = spawn(cmd, [
    ...args,
    "cluster",
    "--nodes",
    "3",
    "--port",
    String(base),
    "--plugins",
    "wal",
    "--restart",
  ], { cwd, stdio: ["ignore", "pipe", "pipe"] });
  procs.push(cli);
  let out = "", err = "";
  cli.stdout!.on("data", (d) => (out += d));
  cli.stderr!.on("data", (d) => (err += d));
  const exited = new Promise<number | null>((r) => cli.on("exit", (code) => r(code)));
  const log = () => out + err;
  // Node lines only (a dead node's last lines are repeated, indented, in the supervisor's report).
  const listening = () => (err.match(/^node\d \| .*listening: clients/gm) ?? []).length;
  await until("three nodes listening", () => listening() === 3, 20_000, log);
  for (const [, pid] of nodesOf(cli.pid!)) nodePids.add(pid);

  // Every line a node logged is prefixed with its id, and carries it itself.
  const nodeLines = err.split("\n").filter((l) => l !== "" && !l.startsWith("tinykv cluster:"));
  for (const l of nodeLines) expect(l).toMatch(/^node[123] \| /);
  for (const id of [1, 2, 3]) {
    expect(err).toMatch(new RegExp(`^node${id} \\| .* node=${id} .*listening`, "m"));
  }
  // Default data dir: ./data/cluster/node<i>, not ./data/node<i>.
  expect(out).toContain(`data ./data/cluster/node2`);
  expect(existsSync(join(cwd, "data", "cluster", "node2"))).toBe(true);

  const pid2 = nodesOf(cli.pid!).get(2)!;
  expect(pid2).toBeGreaterThan(0);
  process.kill(pid2, "SIGKILL");
  await until("node 2 reported dead", () => /node 2 died/.test(err), 10_000, log);
  expect(err).toMatch(
    /tinykv cluster: node 2 died \(signal SIGKILL\); its last log lines:\n {2}node2 \| /,
  );
  expect(err).toMatch(/restarting node 2 in 1000 ms/);

  // Nodes 1 and 3 keep serving (a quorum of 3).
  const c = await connectAll([`127.0.0.1:${base}`, `127.0.0.1:${base + 20}`]);
  try {
    await c.command("SET", "after-kill", "yes");
  } finally {
    await c.close();
  }

  await until("node 2 restarted", () => listening() === 4, 20_000, log);
  const pid2b = nodesOf(cli.pid!).get(2)!;
  expect(pid2b).not.toBe(pid2);
  nodePids.add(pid2b);

  cli.kill("SIGTERM");
  const code = await Promise.race([
    exited,
    new Promise<string>((r) => setTimeout(() => r("timeout"), 15_000)),
  ]);
  expect(code).toBe(1); // a node died during the run
  for (const pid of nodePids) expect(alive(pid)).toBe(false);
}, 60_000);

test("with metrics, each node's dashboard knows every member's metrics address", async () => {
  const cwd = mkdtempSync(join(tmpdir(), "tkv-sup-"));
  dirs.push(cwd);
  const base = await freeBase();
  const metrics = base + 5; // node i serves metrics on base + 5 + i - 1
  expect(await portOpen(metrics) || await portOpen(metrics + 1)).toBe(false);
  const { cmd, args } = modCommand("bun");
  const cli = spawn(cmd, [
    ...args,
    "cluster",
    "--nodes",
    "2",
    "--port",
    String(base),
    "--plugins",
    "metrics",
    "--metrics-port",
    String(metrics),
  ], { cwd, stdio: ["ignore", "pipe", "pipe"] });
  procs.push(cli);
  let err = "";
  cli.stderr!.on("data", (d) => (err += d));
  const exited = new Promise<number | null>((r) => cli.on("exit", (code) => r(code)));
  await until(
    "two nodes listening",
    () => (err.match(/listening: clients/g) ?? []).length === 2,
    20_000,
    () => err,
  );
  for (const [, pid] of nodesOf(cli.pid!)) nodePids.add(pid);
  let members: { id: number; metricsUrl: string | null }[] = [];
  const deadline = Date.now() + 10_000;
  while (members.length < 2 && Date.now() < deadline) {
    const s = await (await fetch(`http://127.0.0.1:${metrics + 1}/api/stats`)).json();
    members = s.members;
    if (members.length < 2) await new Promise((r) => setTimeout(r, 100));
  }
  expect(members.map((m) => [m.id, m.metricsUrl])).toEqual([
    [1, `http://127.0.0.1:${metrics}`],
    [2, `http://127.0.0.1:${metrics + 1}`],
  ]);
  cli.kill("SIGTERM");
  expect(
    await Promise.race([
      exited,
      new Promise<string>((r) => setTimeout(() => r("timeout"), 15_000)),
    ]),
  ).toBe(0);
}, 60_000);
