// A 3-node cluster of real processes (Bun, Deno, Bun) with `--transport udp` whose Raft traffic
// crosses lossy proxies (5% loss each way, 10% of datagrams held back 3 ms): one proxy in front of
// each node's raft port, and `--peers` lists the proxies, so every peer link is lossy in both
// directions (a node's outbound peer connection goes through the receiver's proxy, which sends the
// replies back through the upstream socket it keeps per sender). Clients also reach each node
// through a lossy proxy (`--peer-clients` lists those, so NOT_LEADER redirects name them).
// Under client writes: a leader is elected, writes are acknowledged, and at the end every
// acknowledged write is present on every node (read with leadership moved to that node).
//
// The proxies start before the nodes with no target (they drop until `setTarget`), so all ports
// stay ephemeral: no reserved port can be taken by someone else in between.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Client, connect, type Value } from "../../mod.ts";
import { type NodeProcess, type RuntimeName, startNodeProcess } from "../helpers/node_process.ts";
import { type LossyProxy, startLossyProxy } from "../../tools/lossy_proxy.ts";

const HOST = "127.0.0.1";
const RUNTIMES: RuntimeName[] = ["bun", "deno", "bun"];
/** Batches per writer. */
const BATCHES = 80;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const text = (v: Value): string | null =>
  v === null || v === undefined
    ? null
    : v instanceof Uint8Array
    ? new TextDecoder().decode(v)
    : String(v);

const started = new Set<NodeProcess>();
afterAll(async () => {
  await Promise.all([...started].map((p) => p.kill9()));
});

function parseInfo(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of s.split("\n")) {
    const i = line.indexOf(":");
    if (i > 0 && !line.startsWith("#")) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

interface UdpClusterNode {
  id: number;
  proc: NodeProcess;
  raftProxy: LossyProxy;
  clientProxy: LossyProxy;
}

/** A client bound to one node's real client port: no redirects. */
function direct(n: UdpClusterNode, timeoutMs = 3000): Promise<Client> {
  return connect({
    host: HOST,
    port: n.proc.clientPort,
    transport: "udp",
    maxRedirects: 0,
    timeoutMs,
    connectTimeoutMs: 2000,
  });
}

async function info(n: UdpClusterNode): Promise<Record<string, string> | null> {
  let c: Client | null = null;
  try {
    c = await direct(n);
    return parseInfo(String(await c.command("INFO")));
  } catch {
    return null;
  } finally {
    await c?.close();
  }
}

/** Waits (bounded) for a leader that every node agrees on; returns its id. */
async function waitLeader(nodes: UdpClusterNode[], timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown[] = [];
  while (Date.now() < deadline) {
    const infos = await Promise.all(nodes.map(info));
    last = infos.map((i) => i && [i.role, i.term, i.leader]);
    const leader = infos.find((i) => i?.role === "leader");
    if (
      leader && infos.every((i) => i && i.leader === leader.node_id && i.term === leader.term)
    ) return Number(leader.node_id);
    await sleep(50);
  }
  throw new Error(`no agreed leader within ${timeoutMs} ms: ${JSON.stringify(last)}`);
}

/** Waits (bounded) until all nodes report the same commit/applied/last index twice in a row. */
async function waitConverged(nodes: UdpClusterNode[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let prev = "";
  let sig: (string | null)[] = [];
  while (Date.now() < deadline) {
    const infos = await Promise.all(nodes.map(info));
    sig = infos.map((i) => i && `${i.commit_index}/${i.applied_index}/${i.last_index}/${i.keys}`);
    const same = sig.every((s) => s !== null && s === sig[0]) &&
      infos.every((i) => i!.applied_index === i!.commit_index);
    if (same && sig[0] === prev) return;
    prev = same ? sig[0]! : "";
    await sleep(100);
  }
  throw new Error(`nodes did not converge within ${timeoutMs} ms: ${JSON.stringify(sig)}`);
}

/** Reads `keys` from node `n`'s own state machine: leadership is moved there first (bounded). */
async function readFrom(
  nodes: UdpClusterNode[],
  n: UdpClusterNode,
  keys: string[],
  timeoutMs: number,
): Promise<Map<string, string | null>> {
  const deadline = Date.now() + timeoutMs;
  let lastErr = "";
  while (Date.now() < deadline) {
    const leader = await waitLeader(nodes, Math.max(1, deadline - Date.now()));
    if (leader !== n.id) {
      const lc = await direct(nodes[leader - 1]).catch(() => null);
      await lc?.command("TRANSFER_LEADER", String(n.id)).catch(() => {});
      await lc?.close();
      const until = Math.min(deadline, Date.now() + 3000);
      while (Date.now() < until && (await info(n))?.role !== "leader") await sleep(30);
      continue;
    }
    const c = await direct(n, 5000).catch(() => null);
    if (!c) continue;
    try {
      const out = new Map<string, string | null>();
      const rs = await c.batch(keys.map((k) => ["GET", k]));
      const bad = rs.find((r) => !r.ok);
      if (!bad) {
        keys.forEach((k, i) => out.set(k, text(rs[i].value)));
        return out;
      }
      lastErr = `${bad.code}: ${bad.error}`;
    } catch (err) {
      lastErr = (err as Error).message;
    } finally {
      await c.close();
    }
  }
  throw new Error(`could not read from node ${n.id} within ${timeoutMs} ms: ${lastErr}`);
}

test(
  "3-node UDP cluster, lossy peer links: transfer, restarts, leader failover, writes on every node",
  async () => {
    const root = mkdtempSync(join(tmpdir(), "tkv-udp-cluster-"));
    const proxies: LossyProxy[] = [];
    const nodes: UdpClusterNode[] = [];
    const clients: Client[] = [];
    const logs = () =>
      nodes.map((n) =>
        `== node ${n.id} (${RUNTIMES[n.id - 1]})\n` +
        n.proc.log().trim().split("\n").slice(-12).join("\n")
      ).join("\n");
    const withLogs = <T>(p: Promise<T>): Promise<T> =>
      p.catch((err) => {
        throw new Error(`${(err as Error).message}\n${logs()}`);
      });
    try {
      const mk = async (seed: number) => {
        const p = await startLossyProxy({
          target: null,
          dropRate: 0.05,
          reorderRate: 0.1,
          reorderDelayMs: 3,
          seed,
        });
        proxies.push(p);
        return p;
      };
      const raftProxies = await Promise.all(RUNTIMES.map((_, i) => mk(100 + i)));
      const clientProxies = await Promise.all(RUNTIMES.map((_, i) => mk(200 + i)));
      const peers = raftProxies.map((p, i) => `${i + 1}=${HOST}:${p.port}`).join(",");
      const peerClients = clientProxies.map((p, i) => `${i + 1}=${HOST}:${p.port}`).join(",");
      const start = async (i: number, port = 0, raftPort = 0) => {
        const p = await startNodeProcess(RUNTIMES[i], [
          "--node-id",
          String(i + 1),
          "--transport",
          "udp",
          "--host",
          HOST,
          "--port",
          String(port),
          "--raft-port",
          String(raftPort),
          "--peers",
          peers,
          "--peer-clients",
          peerClients,
          "--log-level",
          "info",
          // The restarted follower must keep its log (an in-memory node restarts empty, and a
          // leader that already counted it as matching never resends what it lost). The WAL is
          // written before acknowledging either way; fsync is not needed for a process kill.
          "--plugins",
          "wal",
          "--wal-fsync",
          "off",
          "--data-dir",
          join(root, `node${i + 1}`),
        ], { timeoutMs: 20_000, env: { TINYKV_CLUSTER_SECRET: "udp-cluster-e2e-secret" } });
        started.add(p);
        p.exited.then(() => started.delete(p));
        // The node is up: let its proxies forward to the ports it bound.
        raftProxies[i].setTarget({ host: HOST, port: p.raftPort });
        clientProxies[i].setTarget({ host: HOST, port: p.clientPort });
        return p;
      };
      const procs = await Promise.all(RUNTIMES.map((_, i) => start(i)));
      procs.forEach((proc, i) =>
        nodes.push({ id: i + 1, proc, raftProxy: raftProxies[i], clientProxy: clientProxies[i] })
      );
      for (const n of nodes) expect(n.proc.log()).toMatch(/raft 127\.0\.0\.1:\d+ \(udp\)/);

      const leader = await withLogs(waitLeader(nodes, 15_000));

      // Writers: a client each, with every node's (proxied) client address, so they follow
      // NOT_LEADER redirects; batches of 20 SETs on unique keys plus one INCR.
      const acked = new Map<string, string>();
      const unknown = new Map<string, string>();
      let incrAcked = 0, incrUnknown = 0, batchesDone = 0;
      const endpoints = clientProxies.map((p) => `${HOST}:${p.port}`);
      const writer = async (phase: string, w: number, batches: number) => {
        const c = await connect({
          // Writer w starts at node w: two of them begin with a NOT_LEADER redirect.
          endpoints: [...endpoints.slice(w - 1), ...endpoints.slice(0, w - 1)],
          transport: "udp",
          timeoutMs: 5000,
          connectTimeoutMs: 2000,
          maxRedirects: 30,
        });
        clients.push(c);
        for (let b = 0; b < batches; b++) {
          const cmds = Array.from({ length: 20 }, (_, i) => {
            const k = `${phase}:${w}:${b}:${i}`;
            return ["SET", k, `v-${k}`];
          });
          cmds.push(["INCR", "counter"]);
          try {
            const rs = await c.batch(cmds);
            batchesDone++;
            rs.forEach((r, i) => {
              const [, k, v] = cmds[i];
              if (k === "counter") r.ok ? incrAcked++ : incrUnknown++;
              else if (r.ok && r.code === "OK") acked.set(k, v);
              else unknown.set(k, v);
            });
          } catch {
            for (const [, k, v] of cmds) k === "counter" ? incrUnknown++ : unknown.set(k, v);
          }
        }
      };

      // Phase 1: writes; after a third of them, leadership moves to another node over the lossy
      // peer links. Raft drops a transfer whose target does not catch up within an election
      // timeout, so it is retried (bounded) until the target leads.
      const target = (leader % 3) + 1;
      let transferred = false;
      const transfer = async () => {
        const until = Date.now() + 20_000;
        while (batchesDone < BATCHES && Date.now() < until) await sleep(5);
        while (!transferred && Date.now() < until) {
          const cur = await waitLeader(nodes, Math.max(1, until - Date.now()));
          if (cur === target) {
            transferred = true;
            break;
          }
          const lc = await direct(nodes[cur - 1]).catch(() => null);
          await lc?.command("TRANSFER_LEADER", String(target)).catch(() => {});
          await lc?.close();
          const wait = Math.min(until, Date.now() + 2000);
          while (Date.now() < wait && (await info(nodes[target - 1]))?.role !== "leader") {
            await sleep(20);
          }
        }
      };
      await Promise.all([1, 2, 3].map((w) => writer("p1", w, BATCHES)).concat(transfer()));
      expect(transferred).toBe(true);

      // Phase 2: kill -9 a follower; writes go on with two nodes; it restarts (from its WAL)
      // on the same ports while writes continue. Its peers' connections to the dead process are
      // reset by the new one (stateless reset), so it catches up in well under the 30 s idle
      // timeout that bounded this before the fix in transports/udp (see lifecycle.test.ts).
      const now = await withLogs(waitLeader(nodes, 15_000));
      const victim = nodes.find((n) => n.id !== now)!;
      await victim.proc.kill9();
      await Promise.all([1, 2, 3].map((w) => writer("p2", w, BATCHES / 4)));
      const restart = start(victim.id - 1, victim.proc.clientPort, victim.proc.raftPort).then(
        (p) => {
          victim.proc = p;
        },
      );
      await Promise.all([1, 2, 3].map((w) => writer("p3", w, BATCHES / 4)).concat(restart));

      // Phase 3: kill -9 the leader, and take its proxies down too, so its addresses answer
      // with ICMP port unreachable as a dead process's would (phase 2 kept them up: ICMP
      // filtered). A client connected to it (through its proxy) learns from the ICMP errors
      // that the server is gone and fails over to another node: before the fix it kept writing
      // into the dead connection until the 30 s idle timeout, every request a TIMEOUT.
      const oldLeader = nodes[(await withLogs(waitLeader(nodes, 15_000))) - 1];
      const fc = await connect({
        endpoints: [oldLeader.id - 1, oldLeader.id % 3, (oldLeader.id + 1) % 3].map((i) =>
          endpoints[i]
        ),
        transport: "udp",
        timeoutMs: 2000,
        connectTimeoutMs: 1000,
        maxRedirects: 30,
      });
      clients.push(fc);
      const p4 = async (i: number): Promise<boolean> => {
        const k = `p4:${i}`;
        try {
          const ok = (await fc.command("SET", k, `v-${k}`)) === "OK";
          (ok ? acked : unknown).set(k, `v-${k}`);
          return ok;
        } catch {
          unknown.set(k, `v-${k}`);
          return false;
        }
      };
      expect(await p4(0)).toBe(true);
      expect(fc.endpoint).toBe(endpoints[oldLeader.id - 1]);
      await Promise.all([
        oldLeader.proc.kill9(),
        oldLeader.raftProxy.setDown(true),
        oldLeader.clientProxy.setDown(true),
      ]);
      const killedAt = performance.now();
      let i = 1;
      while (!(await p4(i++)) && performance.now() - killedAt < 20_000);
      const failoverMs = performance.now() - killedAt;
      expect(failoverMs).toBeLessThan(10_000); // liveness bound: the idle timeout is 30 s
      for (let j = 0; j < 50; j++) await p4(i++);
      // It comes back (from its WAL) on the same ports and catches up.
      await Promise.all([oldLeader.raftProxy.setDown(false), oldLeader.clientProxy.setDown(false)]);
      oldLeader.proc = await start(
        oldLeader.id - 1,
        oldLeader.proc.clientPort,
        oldLeader.proc.raftPort,
      );

      const total = 3 * (BATCHES + 2 * (BATCHES / 4)) * 20 + i;
      expect(acked.size + unknown.size).toBe(total);
      // Loss on every link costs no acknowledgement (the transport absorbs it); the leader change
      // and the restart may leave a few batches with unknown outcome (TIMEOUT), not many.
      expect(acked.size).toBeGreaterThanOrEqual(0.8 * total);

      await withLogs(waitConverged(nodes, 15_000));
      const keys = [...acked.keys(), ...unknown.keys(), "counter"];
      const values: Map<string, string | null>[] = [];
      // Without the idempotency plugin a batch resent after a lost connection may apply twice.
      const resends = clients.reduce((a, c) => a + c.stats().retries + c.stats().reconnects, 0);
      for (const n of nodes) {
        const got = await withLogs(readFrom(nodes, n, keys, 30_000));
        values.push(got);
        const missing = [...acked].filter(([k, v]) => got.get(k) !== v).map(([k]) => k);
        expect({ node: n.id, missing: missing.slice(0, 10), count: missing.length }).toEqual({
          node: n.id,
          missing: [],
          count: 0,
        });
        const counter = Number(got.get("counter"));
        expect(counter).toBeGreaterThanOrEqual(incrAcked);
        expect(counter).toBeLessThanOrEqual(incrAcked + incrUnknown + resends);
      }
      // Every node holds the same values (also for outcome-unknown keys).
      const differ = keys.filter((k) => values.some((v) => v.get(k) !== values[0].get(k)));
      expect(differ).toEqual([]);
      // The peer links really were lossy and reordering.
      for (const p of raftProxies) {
        expect(p.stats.dropped).toBeGreaterThan(0);
        expect(p.stats.reordered).toBeGreaterThan(0);
      }
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      const codes = await Promise.all(nodes.map((n) => n.proc.stop()));
      for (const p of proxies) p.close();
      rmSync(root, { recursive: true, force: true });
      expect(codes).toEqual(nodes.map(() => 0));
    }
  },
  58_000,
);
