/**
 * Kill -9 under a Redis client (issue 10, tests): a 3-node cluster of real node processes (wal
 * plugin, `--redis-port` on every node), ioredis connected to a FOLLOWER's RESP port.
 *
 * 1. The client writes `SET k<i> v<i>` in loops (an `INCR` every 10th step; four loops share the
 *    connection so that several commands are in flight); in the middle the
 *    leader is killed with SIGKILL. The client keeps going: a SET that fails is retried, the same
 *    command, after a short pause (SET is idempotent); a failed INCR is not retried (its outcome
 *    is unknown). The follower must keep serving (writes forwarded to the new leader) and, at the
 *    end, every acknowledged SET must be present with its value, read through both survivors (the
 *    new leader, and a follower by ReadIndex), and the counter must lie between the acknowledged
 *    INCRs and the acknowledged plus unknown ones.
 * 2. The follower the client talks to is killed instead: the client gets a connection error (not
 *    a wrong answer, not a hang), and every write it saw acknowledged is on the survivors.
 *
 * Only processes started here are signalled (the harness's own handles); loops and waits are
 * bounded.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Redis } from "ioredis";
import { HOST, ProcessCluster, sleep } from "../cluster/harness.ts";

let cluster: ProcessCluster;

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    runtimes: ["bun", "deno", "bun"],
    plugins: "wal",
    redis: true,
    name: "tkv-resp-failover",
  });
  await cluster.waitLeader();
}, 60_000);

afterAll(async () => {
  await cluster?.close();
});

/** ioredis bound to one node's RESP port; `reconnect: false` surfaces a closed connection. */
function io(port: number, reconnect: boolean): Redis {
  const r = new Redis({
    host: HOST,
    port,
    lazyConnect: true,
    // Never resend a command by itself: the loop below decides what is retried.
    maxRetriesPerRequest: 0,
    retryStrategy: reconnect ? () => 100 : () => null,
    commandTimeout: 8000,
    connectTimeout: 2000,
  });
  r.on("error", () => {}); // reported through the commands' rejections
  return r;
}

/** Waits (bounded) until `cond` holds. */
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** GETs `keys` through one node's RESP port, in pipelines of 500. */
async function readAll(port: number, keys: string[]): Promise<Map<string, string | null>> {
  const r = io(port, false);
  await r.connect();
  try {
    const out = new Map<string, string | null>();
    for (let i = 0; i < keys.length; i += 500) {
      const chunk = keys.slice(i, i + 500);
      const p = r.pipeline();
      for (const k of chunk) p.get(k);
      const rs = (await p.exec())!;
      rs.forEach(([err, v], j) => {
        if (err) throw new Error(`GET ${chunk[j]} via port ${port}: ${err.message}`);
        out.set(chunk[j], v as string | null);
      });
    }
    return out;
  } finally {
    r.disconnect();
  }
}

/** The writes a client loop saw acknowledged, and what went wrong on the way. */
interface Ledger {
  acked: number[];
  incrAcked: number;
  incrUnknown: number;
  incrReplies: number[];
  errors: string[];
  wrong: string[];
  steps: number;
}

const newLedger = (): Ledger => ({
  acked: [],
  incrAcked: 0,
  incrUnknown: 0,
  incrReplies: [],
  errors: [],
  wrong: [],
  steps: 0,
});

test(
  "kill -9 of the leader under ioredis writing through a follower: every acknowledged write is present",
  async () => {
    const leader = await cluster.waitLeader();
    const follower = cluster.nodes.find((n) => n.id !== leader)!;
    const other = cluster.nodes.find((n) => n.id !== leader && n.id !== follower.id)!;
    const r = io(follower.redisPort, true);
    await r.connect();
    const L = newLedger();
    let stop = false;
    // Four loops on the one connection, so that several commands are in flight (ioredis pipelines
    // them) when the leader dies; loop w writes k<i> for i ≡ w (mod 4).
    const LOOPS = 4, MAX_STEPS = 5_000;
    const loop = async (w: number) => {
      for (let j = 0; j < MAX_STEPS && !stop; j++) {
        const i = LOOPS * j + w;
        L.steps++;
        if (j % 10 === 0) {
          try {
            const v = await r.incr("ctr");
            L.incrAcked++;
            L.incrReplies.push(v);
          } catch (e) {
            L.incrUnknown++;
            L.errors.push(`INCR @${i}: ${(e as Error).message}`);
            await sleep(50);
          }
        }
        // SET k<i> v<i>, the same command again after a short pause until it is acknowledged.
        while (!stop) {
          try {
            const v = await r.set(`k${i}`, `v${i}`);
            if (v === "OK") L.acked.push(i);
            else L.wrong.push(`SET k${i} answered ${JSON.stringify(v)}`);
            break;
          } catch (e) {
            L.errors.push(`SET k${i}: ${(e as Error).message}`);
            await sleep(50);
          }
        }
      }
    };
    const writer = Promise.all(Array.from({ length: LOOPS }, (_, w) => loop(w)));
    let killedAt = -1;
    try {
      await until(() => L.acked.length >= 300, 15_000, "300 acknowledged SETs before the kill");
      const t0 = Date.now();
      await cluster.kill9(leader);
      killedAt = L.acked.length;
      // The follower keeps serving: its writes go to the new leader (bounded: a hang fails here).
      await until(
        () => L.acked.length >= killedAt + 300,
        20_000,
        `300 more acknowledged SETs after killing leader ${leader} (errors: ${
          L.errors.slice(-5).join(" | ")
        })`,
      );
      console.log(
        `resp failover: leader ${leader} killed after ${killedAt} acks; client on node ${follower.id}; ` +
          `${L.acked.length - killedAt} more acks within ${Date.now() - t0} ms; ` +
          `${L.errors.length} errors: ${
            [...new Set(L.errors.map((e) => e.replace(/^\S+ \S+: /, "")))].join(" | ")
          }`,
      );
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${cluster.logTails(30)}`);
    } finally {
      stop = true;
      await writer;
      r.disconnect();
    }
    expect(L.wrong).toEqual([]);
    // The follower forwards (no READONLY) and never leaves a command unanswered (no client-side
    // timeout): a failure is a clear server error, an unknown outcome or no leader yet.
    for (const e of L.errors) {
      expect(e).toMatch(/: (ERR timeout: .*outcome unknown|CLUSTERDOWN |BUSY )/);
    }
    // Every acknowledged INCR got a value of its own.
    expect(new Set(L.incrReplies).size).toBe(L.incrReplies.length);
    const newLeader = await cluster.waitLeader(15_000, [follower.id, other.id]);
    await cluster.waitConverged(20_000, [follower.id, other.id]);
    const keys = L.acked.map((i) => `k${i}`);
    for (const n of [cluster.node(newLeader), newLeader === follower.id ? other : follower]) {
      const got = await readAll(n.redisPort, [...keys, "ctr"]);
      const missing = L.acked.filter((i) => got.get(`k${i}`) !== `v${i}`);
      expect({ node: n.id, missing: missing.slice(0, 20), count: missing.length }).toEqual({
        node: n.id,
        missing: [],
        count: 0,
      });
      const ctr = Number(got.get("ctr"));
      expect(ctr).toBeGreaterThanOrEqual(L.incrAcked);
      expect(ctr).toBeLessThanOrEqual(L.incrAcked + L.incrUnknown);
    }
  },
  60_000,
);

test(
  "kill -9 of the follower the client talks to: a connection error, never a wrong answer",
  async () => {
    // Bring back whatever the previous test killed, so that two nodes survive the kill below.
    for (const n of cluster.nodes) if (!n.proc) await cluster.startNode(n.id);
    const leader = await cluster.waitLeader();
    await cluster.waitConverged();
    const follower = cluster.nodes.find((n) => n.id !== leader)!;
    const r = io(follower.redisPort, false);
    await r.connect();
    const acked: number[] = [];
    const wrong: string[] = [];
    const errors: string[] = [];
    let afterKill = 0;
    let killed = false;
    const writer = (async () => {
      for (let i = 0; i < 20_000 && errors.length < 3; i++) {
        try {
          const v = await r.set(`f${i}`, `w${i}`);
          if (v !== "OK") wrong.push(`SET f${i} answered ${JSON.stringify(v)}`);
          else {
            acked.push(i);
            if (killed) afterKill++;
          }
        } catch (e) {
          errors.push((e as Error).message);
        }
      }
    })();
    try {
      await until(() => acked.length >= 200, 15_000, "200 acknowledged SETs before the kill");
      await cluster.kill9(follower.id);
      killed = true;
      const t0 = Date.now();
      await until(() => errors.length >= 1, 10_000, "an error after the follower was killed");
      console.log(
        `resp follower kill: node ${follower.id} killed after ${acked.length} acks; ` +
          `error after ${Date.now() - t0} ms: ${errors[0]}`,
      );
    } finally {
      killed = true;
      await Promise.race([writer, sleep(10_000)]);
      r.disconnect();
    }
    await writer;
    expect(wrong).toEqual([]);
    // A closed connection, said so: not a timeout, not a Redis error reply.
    for (const e of errors) expect(e).toMatch(/Connection is closed|ECONNRESET|ECONNREFUSED|EPIPE/);
    // At most the reply already on its way when the kill landed.
    expect(afterKill).toBeLessThanOrEqual(1);
    const survivor = cluster.nodes.find((n) => n.proc !== null)!;
    await cluster.waitLeader(15_000, cluster.liveIds());
    const got = await readAll(survivor.redisPort, acked.map((i) => `f${i}`));
    const missing = acked.filter((i) => got.get(`f${i}`) !== `w${i}`);
    expect({ missing: missing.slice(0, 20), count: missing.length }).toEqual({
      missing: [],
      count: 0,
    });
  },
  60_000,
);
