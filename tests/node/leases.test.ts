/**
 * Leases through the log, in-process nodes on loopback (ephemeral ports):
 * - a 3-node cluster: grant, keys attached, keepalives hold the keys past their ttl, and once
 *   they stop the leader's lessor expires the lease through the log, on every replica, no earlier
 *   than ttl after the last keepalive and at most ~1 s (a tick and a commit, plus test polling)
 *   later; revoke deletes the lease and its keys on every replica;
 * - the lock recipe of docs/leases.md: two clients contend, one holds, the other waits (polling
 *   GETREV) and takes the lock once the holder's lease expires;
 * - a single wal node restarted from its snapshot keeps its leases (ids, ttl, keys, next id),
 *   which get a fresh ttl from the restart (none expires early) and then expire.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join as joinPath } from "node:path";
import { parseSnapshotFileName } from "../../plugins/wal/snapshot_file.ts";
import { type Config, makeConfig } from "../../core/config/config.ts";
import { createLogger } from "../../core/config/logger.ts";
import { startNode } from "../../core/node/node.ts";
import type { TinyKVNode } from "../../core/node/types.ts";
import { Code } from "../../protocol/codes.ts";
import walPlugin from "../../plugins/wal/mod.ts";
import { TEST_CLUSTER_SECRET } from "../helpers/in_process.ts";
import { freePort, waitFor } from "../helpers/net.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { RawResp, resp, startRespNode } from "../resp/helpers.ts";

const root = mkdtempSync(joinPath(tmpdir(), "tkv-leases-"));
const running = new Set<TinyKVNode>();
const clients: RawClient[] = [];
afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all([...running].map((n) => n.stop()));
  rmSync(root, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const text = (v: unknown) => v instanceof Uint8Array ? new TextDecoder().decode(v) : v;

async function connect(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  clients.push(c);
  return c;
}

/** Runs one command; returns [code, value, error]. */
async function one(c: RawClient, ...cmd: string[]): Promise<[number, unknown, unknown]> {
  const r = await c.batch([cmd]);
  return [(r.codes as number[])[0], (r.data as unknown[])[0], (r.errors as unknown[])[0]];
}

async function okv(c: RawClient, ...cmd: string[]): Promise<unknown> {
  const [code, v, err] = await one(c, ...cmd);
  if (code !== Code.OK) throw new Error(`${cmd.join(" ")}: code ${code} ${err}`);
  return v;
}

async function cluster(): Promise<TinyKVNode[]> {
  const ports = [];
  for (let i = 0; i < 3; i++) ports.push({ raft: await freePort(), client: await freePort() });
  const peers: Record<number, string> = {};
  ports.forEach((p, i) => peers[i + 1] = `127.0.0.1:${p.raft}`);
  const nodes = await Promise.all(ports.map((p, i) =>
    startNode(
      makeConfig({
        node_id: i + 1,
        port: p.client,
        raft_port: p.raft,
        peers,
        cluster_secret: TEST_CLUSTER_SECRET,
        log_level: "error",
      }),
      { logger: createLogger("error") },
    )
  ));
  for (const n of nodes) running.add(n);
  return nodes;
}

/** Waits until every node holds `n` keys (every replica applied the same thing). */
function everyNodeHolds(nodes: TinyKVNode[], n: number): Promise<true> {
  return waitFor(
    `every node to hold ${n} keys`,
    () => nodes.every((x) => x.stats().keys === n) || undefined,
  );
}

describe("3-node cluster", () => {
  let nodes: TinyKVNode[];
  let c: RawClient;

  test("expiry through the log: kept alive past its ttl, then gone on every replica", async () => {
    nodes = await cluster();
    const leader = await waitFor("a leader", () => nodes.find((n) => n.status().role === "leader"));
    c = await connect(leader.clientPort);
    const id = String(await okv(c, "LEASE", "GRANT", "1"));
    await okv(c, "SET", "a", "1", "LEASE", id);
    await okv(c, "SET", "b", "2", "LEASE", id);
    await okv(c, "SET", "free", "3");
    await everyNodeHolds(nodes, 3);
    // Keepalives every 300 ms for 2 s: the lease (ttl 1 s) must not expire.
    let lastAck = 0;
    for (let i = 0; i < 7; i++) {
      expect(await okv(c, "LEASE", "KEEPALIVE", id)).toBe(1);
      lastAck = Date.now();
      await sleep(300);
      expect(text(await okv(c, "GET", "a"))).toBe("1");
    }
    expect(await okv(c, "LEASE", "TTL", id)).toEqual([1, 1]);
    // Stop: the lease expires no earlier than 1 s after the last keepalive's ack, and soon after.
    let goneAt = 0;
    for (let i = 0; i < 300 && goneAt === 0; i++) {
      const [code] = await one(c, "GET", "a");
      if (code === Code.NOT_FOUND) goneAt = Date.now();
      else await sleep(10);
    }
    expect(goneAt).toBeGreaterThan(0);
    expect(goneAt - lastAck).toBeGreaterThanOrEqual(1000);
    expect(goneAt - lastAck).toBeLessThan(2000);
    await everyNodeHolds(nodes, 1);
    const [code, , err] = await one(c, "LEASE", "TTL", id);
    expect([code, err]).toEqual([Code.SYNTAX, "lease not found"]);
    expect(await okv(c, "LEASE", "LIST")).toEqual([]);
  });

  test("revoke deletes the lease and its keys on every replica, in one entry", async () => {
    const id = String(await okv(c, "LEASE", "GRANT", "60"));
    expect(Number(id)).toBe(2); // ids come from a replicated counter
    const r = await c.batch([
      ["SET", "x", "1", "LEASE", id],
      ["SET", "y", "1", "LEASE", id],
      ["SET", "z", "1", "LEASE", id],
    ]);
    expect(r.codes).toEqual([Code.OK, Code.OK, Code.OK]);
    await everyNodeHolds(nodes, 4);
    expect(await okv(c, "LEASE", "TTL", id, "KEYS")).toEqual([60, 60, ["x", "y", "z"].map(bytes)]);
    expect(await okv(c, "LEASE", "REVOKE", id)).toBe(3);
    await everyNodeHolds(nodes, 1);
  });

  test("lock recipe: two clients contend, one holds, its lease's expiry frees the lock", async () => {
    const leader = nodes.find((n) => n.status().role === "leader")!;
    const alice = await connect(leader.clientPort);
    const bob = await connect(leader.clientPort);
    const la = String(await okv(alice, "LEASE", "GRANT", "1"));
    const lb = String(await okv(bob, "LEASE", "GRANT", "5"));
    /** acquire = [IFREV lock 0, SET lock me LEASE id]: applies only while the lock is free. */
    const acquire = async (c: RawClient, me: string, lease: string) =>
      (await c.batch([["IFREV", "lock", "0"], ["SET", "lock", me, "LEASE", lease]]))
        .codes as number[];
    const [ra, rb] = await Promise.all([acquire(alice, "alice", la), acquire(bob, "bob", lb)]);
    // Exactly one holds it.
    const won = [Code.OK, Code.OK];
    const lost = [Code.ABORTED, Code.ABORTED];
    expect([ra, rb]).toContainEqual(won);
    expect([ra, rb]).toContainEqual(lost);
    const aliceHolds = JSON.stringify(ra) === JSON.stringify([Code.OK, Code.OK]);
    // Make alice the holder with the short lease (if bob won, he releases, alice acquires).
    if (!aliceHolds) {
      const rev = (await okv(bob, "GETREV", "lock") as unknown[])[2];
      const rel = await bob.batch([["IFREV", "lock", String(rev)], ["DEL", "lock"]]);
      expect(rel.codes).toEqual([Code.OK, Code.OK]);
      expect(await acquire(alice, "alice", la)).toEqual([Code.OK, Code.OK]);
    }
    expect(await acquire(bob, "bob", lb)).toEqual([Code.ABORTED, Code.ABORTED]);
    // Alice "crashes" (stops keeping her lease alive). Bob waits: polls GETREV until nil, retries.
    const t0 = Date.now();
    let got = false;
    for (let i = 0; i < 300 && !got; i++) {
      const [code] = await one(bob, "GETREV", "lock");
      if (code === Code.NOT_FOUND) got = (await acquire(bob, "bob", lb))[0] === Code.OK;
      else await sleep(20);
    }
    expect(got).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900); // not before alice's ttl (1 s) passed
    expect(text((await okv(bob, "GETREV", "lock") as unknown[])[0])).toBe("bob");
    // Release by revoking the lease: the lock key goes with it.
    expect(await okv(bob, "LEASE", "REVOKE", lb)).toBe(1);
    const [code] = await one(bob, "GET", "lock");
    expect(code).toBe(Code.NOT_FOUND);
  });
});

function bytes(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

test("a wal node restarted from its snapshot keeps its leases; a fresh ttl from the restart", async () => {
  const ports = { client: await freePort(), raft: await freePort() };
  const config: Partial<Config> = {
    node_id: 1,
    port: ports.client,
    raft_port: ports.raft,
    data_dir: joinPath(root, "n1"),
    wal_fsync: "off",
    log_level: "error",
    snapshot_entries: 10,
    snapshot_keep_entries: 0,
  };
  const start = async () => {
    const n = await startNode(makeConfig(config), {
      plugins: [walPlugin],
      logger: createLogger("error"),
    });
    running.add(n);
    await waitFor("the node to lead", () => n.status().role === "leader" || undefined);
    return n;
  };
  let n = await start();
  let c = await connect(ports.client);
  expect(await okv(c, "LEASE", "GRANT", "2")).toBe(1);
  expect(await okv(c, "LEASE", "GRANT", "3600")).toBe(2);
  await okv(c, "SET", "short", "v", "LEASE", "1");
  await okv(c, "SET", "long", "v", "LEASE", "2");
  // Enough writes for a snapshot that holds the leases (the log before it is compacted away).
  for (let i = 0; i < 30; i++) await okv(c, "SET", `k${i}`, "v");
  const dir = joinPath(root, "n1");
  await waitFor(
    "a snapshot past the leases",
    () =>
      readdirSync(dir, { recursive: true }).some((f) => parseSnapshotFileName(basename(String(f))))
        ? true
        : undefined,
  );
  // Keep lease 1 alive right before stopping, so that without a fresh ttl it would be due soon.
  await okv(c, "LEASE", "KEEPALIVE", "1");
  await n.stop();
  running.delete(n);
  c.close();
  await sleep(1_200);
  n = await start();
  const restartedAt = Date.now();
  c = await connect(ports.client);
  expect(await okv(c, "LEASE", "LIST")).toEqual([1, 2]);
  expect((await okv(c, "LEASE", "TTL", "2", "KEYS") as unknown[])[2]).toEqual([bytes("long")]);
  expect(text(await okv(c, "GET", "short"))).toBe("v"); // 1.2 s + start-up after its keepalive
  let goneAt = 0;
  for (let i = 0; i < 400 && goneAt === 0; i++) {
    const [code] = await one(c, "GET", "short");
    if (code === Code.NOT_FOUND) goneAt = Date.now();
    else await sleep(10);
  }
  expect(goneAt - restartedAt).toBeGreaterThanOrEqual(1_900); // a fresh 2 s ttl from the restart
  expect(goneAt - restartedAt).toBeLessThan(3_500);
  expect(await okv(c, "LEASE", "LIST")).toEqual([2]);
  expect(await okv(c, "LEASE", "GRANT", "5")).toBe(3); // the next id survived too
});

test("the Redis port: LEASE replies and errors as RESP; COMMAND INFO names no key", async () => {
  const n = await startRespNode();
  running.add(n);
  const r = await RawResp.connect(n.redisPort);
  try {
    const ask = async (...args: string[]) => {
      r.clear();
      await r.write(resp(...args));
      return await r.until((t) => t.endsWith("\r\n"));
    };
    expect(await ask("LEASE", "GRANT", "30")).toBe(":1\r\n");
    expect(await ask("SET", "k", "v", "LEASE", "1")).toBe("+OK\r\n");
    expect(await ask("LEASE", "TTL", "1", "KEYS")).toBe("*3\r\n:30\r\n:30\r\n*1\r\n$1\r\nk\r\n");
    expect(await ask("LEASE", "KEEPALIVE", "9")).toBe("-ERR lease not found\r\n");
    expect(await ask("LEASE", "GRANT", "0")).toContain("-ERR invalid lease ttl");
    expect(await ask("LEASE", "LIST")).toBe("*1\r\n:1\r\n");
    expect(await ask("LEASE", "REVOKE", "1")).toBe(":1\r\n");
    expect(await ask("GET", "k")).toBe("$-1\r\n");
    // LEASE takes no key (its first argument is a subcommand): first/last key and step are 0.
    r.clear();
    await r.write(resp("COMMAND", "INFO", "LEASE"));
    const info = await r.until((t) => /:0\r\n:0\r\n:0\r\n/.test(t) || /:1\r\n:1\r\n:1\r\n/.test(t));
    expect(info).toMatch(/lease\r\n:-2\r\n\*\d+\r\n(\+\w+\r\n)*:0\r\n:0\r\n:0\r\n/);
  } finally {
    r.close();
  }
});
