/**
 * Start-up checks of peer authentication and what the metrics port reveals, with real node
 * processes (bun, loopback, ephemeral ports): a multi-node or joining node without a cluster
 * secret exits 2 with one clear line; the secret file is read with its trailing newline trimmed;
 * the cluster id is written to the data dir at the first start and a later start with another id
 * refuses; /health says only ok/503 by default and the detailed endpoints answer loopback only.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../../core/config/config.ts";
import { configFromArgs, parseNodeArgs } from "../../cli/node.ts";
import { type NodeProcess, runMod, startNodeProcess } from "../helpers/node_process.ts";

const dirs: string[] = [];
const procs: NodeProcess[] = [];
afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "tkv-peers-startup-"));
  dirs.push(d);
  return d;
}

const NO_SECRET = { TINYKV_CLUSTER_SECRET: "", TINYKV_CLUSTER_SECRET_FILE: "" };

test("a cluster member without a secret exits 2 with one line saying how to set it", async () => {
  for (
    const extra of [
      ["--peers", "1=127.0.0.1:1,2=127.0.0.1:2,3=127.0.0.1:3"],
      ["--join"],
      ["--peers", "1=127.0.0.1:1,2=127.0.0.1:2", "--cluster-secret", "short"],
    ]
  ) {
    const r = await runMod("bun", ["--node-id", "1", "--port", "0", "--raft-port", "0", ...extra], {
      timeoutMs: 8000,
      env: NO_SECRET,
    });
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split("\n");
    expect(lines.length).toBe(1);
    expect(lines[0]).toMatch(/^tinykv: .*(cluster secret.*--cluster-secret|too short)/);
  }
  // A single node needs none.
  const p = await startNodeProcess("bun", ["--port", "0", "--raft-port", "0"], {
    timeoutMs: 15_000,
    env: NO_SECRET,
  });
  procs.push(p);
  expect(p.clientPort).toBeGreaterThan(0);
}, 60_000);

test("mod.ts cluster checks a given secret (and generates one otherwise: tests/cluster/cluster_cli.test.ts)", async () => {
  const r = await runMod("bun", ["cluster", "--nodes", "2", "--cluster-secret", "short"], {
    timeoutMs: 8000,
  });
  expect(r.code).toBe(2);
  expect(r.stderr.trim().split("\n")).toEqual([
    expect.stringMatching(/^tinykv cluster: cluster_secret: the secret is too short/),
  ]);
});

test("the secret file is read with its trailing newline trimmed; unreadable is a clear error", () => {
  const d = tempDir();
  const f = join(d, "secret");
  writeFileSync(f, "0123456789abcdef-file\n");
  const peers = ["--node-id", "1", "--peers", "1=127.0.0.1:1,2=127.0.0.1:2"];
  const c = configFromArgs(parseNodeArgs([...peers, "--cluster-secret-file", f]), {});
  expect(c.cluster_secret).toBe("0123456789abcdef-file");
  expect(() =>
    configFromArgs(parseNodeArgs([...peers, "--cluster-secret-file", join(d, "none")]), {})
  ).toThrow(ConfigError);
  expect(() =>
    configFromArgs(
      parseNodeArgs([...peers, "--cluster-secret-file", f]),
      { TINYKV_CLUSTER_SECRET: "0123456789abcdef-env" },
    )
  ).toThrow(/give only one of them/);
  expect(() => configFromArgs(parseNodeArgs(["--cluster-id", "bad id!"]), {})).toThrow(
    /cluster_id="bad id!"/,
  );
});

test("the cluster id is fixed at formation: a restart with another id refuses", async () => {
  const d = tempDir();
  const args = ["--port", "0", "--raft-port", "0", "--plugins", "wal", "--data-dir", d];
  const p = await startNodeProcess("bun", [...args, "--cluster-id", "alpha"], {
    timeoutMs: 15_000,
  });
  await p.stop();
  expect(readFileSync(join(d, "CLUSTER_ID"), "utf8")).toBe("alpha\n");
  for (const other of [["--cluster-id", "beta"], []]) {
    const r = await runMod("bun", [...args, ...other], { timeoutMs: 15_000 });
    expect(r.code).not.toBe(0);
    const lines = r.stderr.split("\n").filter((l) => /cluster/i.test(l));
    expect(lines.length).toBe(1);
    expect(lines[0]).toMatch(
      /belongs to cluster "alpha", not "(beta|tinykv)": start with --cluster-id alpha/,
    );
  }
  const again = await startNodeProcess("bun", [...args, "--cluster-id", "alpha"], {
    timeoutMs: 15_000,
  });
  await again.stop();
}, 60_000);

test(
  "a data dir belongs to one node id: a restart with another --node-id refuses with one line",
  async () => {
    const d = tempDir();
    const args = ["--port", "0", "--raft-port", "0", "--plugins", "wal", "--data-dir", d];
    const p = await startNodeProcess("bun", [...args, "--node-id", "3"], { timeoutMs: 15_000 });
    await p.stop();
    expect(readFileSync(join(d, "NODE_ID"), "utf8")).toBe("3\n");
    const r = await runMod("bun", [...args, "--node-id", "2"], { timeoutMs: 15_000 });
    expect(r.code).not.toBe(0);
    const lines = r.stderr.split("\n").filter((l) => /belongs to node/.test(l));
    expect(lines.length).toBe(1);
    expect(lines[0]).toMatch(/belongs to node 3, not 2: start it with --node-id 3/);
    const again = await startNodeProcess("bun", [...args, "--node-id", "3"], { timeoutMs: 15_000 });
    await again.stop();
  },
  60_000,
);

/** The metrics port a node logged. */
function metricsPort(p: NodeProcess): number {
  const m = /serving http:\/\/[^/]+:(\d+)\/metrics/.exec(p.log());
  if (!m) throw new Error(`no metrics port in the log:\n${p.log()}`);
  return Number(m[1]);
}

/** A non-loopback IPv4 address of this machine, if it has one. */
function lanAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return undefined;
}

test(
  "/health reveals nothing by default; details only from loopback or with --metrics-details",
  async () => {
    const lan = lanAddress();
    const p = await startNodeProcess("bun", [
      "--host",
      lan ? "0.0.0.0" : "127.0.0.1",
      "--port",
      "0",
      "--raft-port",
      "0",
      "--plugins",
      "metrics",
      "--metrics-port",
      "0",
    ], { timeoutMs: 15_000 });
    procs.push(p);
    const port = metricsPort(p);
    let r = await fetch(`http://127.0.0.1:${port}/health`);
    // A single node elects itself at once; retry briefly until it knows the leader.
    for (let i = 0; i < 50 && r.status !== 200; i++) {
      await r.body?.cancel();
      await new Promise((res) => setTimeout(res, 50));
      r = await fetch(`http://127.0.0.1:${port}/health`);
    }
    expect(r.status).toBe(200);
    const body = await r.text();
    expect(body).toBe("ok\n");
    // Loopback clients (the operator on the machine) still get the details.
    r = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(r.status).toBe(200);
    expect(await r.text()).toContain("tinykv_raft_term");
    if (lan) {
      for (const path of ["/metrics", "/api/stats", "/dashboard"]) {
        r = await fetch(`http://${lan}:${port}${path}`);
        expect(r.status).toBe(403);
        const text = await r.text();
        expect(text).toContain("--metrics-details");
        expect(text).not.toMatch(/term|commit|leader/);
      }
      r = await fetch(`http://${lan}:${port}/health`);
      expect(await r.text()).toBe("ok\n");
    }

    const q = await startNodeProcess("bun", [
      "--port",
      "0",
      "--raft-port",
      "0",
      "--plugins",
      "metrics",
      "--metrics-port",
      "0",
      "--metrics-details",
    ], { timeoutMs: 15_000 });
    procs.push(q);
    const detailed = await fetch(`http://127.0.0.1:${metricsPort(q)}/health`);
    expect(await detailed.json()).toMatchObject({ nodeId: 1, leader: expect.any(Number) });
  },
  60_000,
);
