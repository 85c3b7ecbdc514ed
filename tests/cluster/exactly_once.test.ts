// Exactly-once by default (issue 9 item 3), with real processes and the README's cluster setup:
// 3 nodes with `--plugins wal` (idempotency not listed). Several library clients (all endpoints
// given) INCR one counter — half through single COMMANDs, half through COMMAND_BATCHes — and APPEND
// unique tokens to one key, while the leader is killed with SIGKILL twice (and restarted), then the
// whole cluster is killed at once and restarted from its wal data dirs. The client resends after
// each lost connection; the server must never apply a resend twice:
// - the counter equals the acknowledged INCRs plus at most the unknown-outcome ones, no value was
//   returned twice, and the INCR history (with a final read) passes the linearizability checker;
// - every acknowledged APPEND token appears exactly once, no token twice, nothing foreign.
// Before the fix (no idempotency without `--plugins idempotency`) resends were applied twice.
import { afterAll, expect, test } from "bun:test";
import { performance } from "node:perf_hooks";
import { type Client, TinyKVError } from "../../mod.ts";
import { checkHistory, type Model, type Operation } from "../sim/linearizability.ts";
import { ProcessCluster, sleep, text } from "./harness.ts";
import { connectAll, until } from "./workload.ts";

const clusters: ProcessCluster[] = [];
afterAll(async () => {
  await Promise.all(clusters.map((c) => c.close()));
});

const COUNTER = "eo:ctr";
const LOG = "eo:log";

type CounterInput = { kind: "incr" } | { kind: "get" };

/** One counter: INCR returns the new value; GET returns the value. */
const counterModel: Model<number, CounterInput, number> = {
  init: () => 0,
  step(state, input, output, unknown) {
    if (input.kind === "incr") return { ok: unknown || output === state + 1, state: state + 1 };
    return { ok: unknown || output === state, state };
  },
  hash: (s) => String(s),
};

interface Ledger {
  ops: Operation<CounterInput, number>[];
  incrAcked: number;
  incrUnknown: number;
  incrValues: number[];
  tokensAcked: Set<string>;
  tokensUnknown: Set<string>;
  ok: number;
  failures: Map<string, number>;
}

function failure(l: Ledger, err: unknown): void {
  const k = err instanceof TinyKVError ? err.codeName : String((err as Error).message);
  l.failures.set(k, (l.failures.get(k) ?? 0) + 1);
}

async function worker(c: Client, w: number, l: Ledger, stopped: () => boolean): Promise<void> {
  const viaBatch = w % 2 === 1;
  for (let n = 0; !stopped(); n++) {
    // INCR
    const call = performance.now();
    try {
      let v: unknown;
      if (viaBatch) {
        const [r] = await c.batch([["INCR", COUNTER]]);
        if (!r.ok) throw new Error(r.code);
        v = r.value;
      } else v = await c.command("INCR", COUNTER);
      l.ops.push({
        key: COUNTER,
        input: { kind: "incr" },
        output: v as number,
        call,
        ret: performance.now(),
      });
      l.incrAcked++;
      l.incrValues.push(v as number);
      l.ok++;
    } catch (err) {
      l.ops.push({ key: COUNTER, input: { kind: "incr" }, output: undefined, call, ret: Infinity });
      l.incrUnknown++;
      failure(l, err);
      await sleep(20);
    }
    // APPEND of a unique token
    const token = `t${w}.${n}`;
    try {
      if (viaBatch) {
        const [r] = await c.batch([["APPEND", LOG, token + ","]]);
        if (!r.ok) throw new Error(r.code);
      } else await c.command("APPEND", LOG, token + ",");
      l.tokensAcked.add(token);
      l.ok++;
    } catch (err) {
      l.tokensUnknown.add(token);
      failure(l, err);
      await sleep(20);
    }
  }
}

test(
  "kill -9 of the leader and of the whole cluster with --plugins wal: no write applied twice",
  async () => {
    const cluster = await ProcessCluster.start({
      runtimes: ["bun", "deno", "bun"],
      plugins: "wal",
      name: "tkv-exactly-once",
    });
    clusters.push(cluster);
    const l: Ledger = {
      ops: [],
      incrAcked: 0,
      incrUnknown: 0,
      incrValues: [],
      tokensAcked: new Set(),
      tokensUnknown: new Set(),
      ok: 0,
      failures: new Map(),
    };
    let stop = false;
    const clients: Client[] = [];
    try {
      await cluster.waitLeader();
      const eps = cluster.endpoints();
      for (let w = 0; w < 6; w++) {
        clients.push(
          await connectAll(eps, { timeoutMs: 12_000, maxRedirects: 80, clientId: `eo-${w}` }),
        );
      }
      const running = clients.map((c, w) => worker(c, w, l, () => stop));
      try {
        await until(() => l.ok >= 100, 15_000, "first acknowledged writes");
        for (let round = 0; round < 2; round++) {
          await sleep(400);
          const leader = await cluster.waitLeader();
          await cluster.kill9(leader);
          const before = l.ok;
          await until(() => l.ok >= before + 50, 15_000, `writes after killing ${leader}`);
          await cluster.startNode(leader);
        }
        await sleep(400);
        // The whole cluster at once; every node restarts from its wal data dir.
        await cluster.killAll();
        await Promise.all(cluster.nodes.map((n) => cluster.startNode(n.id)));
        const before = l.ok;
        await until(() => l.ok >= before + 50, 20_000, "writes after restarting every node");
      } finally {
        stop = true;
        await Promise.allSettled(running);
      }
      const reader = await connectAll(eps, { timeoutMs: 5000 });
      const call = performance.now();
      const final = Number(await reader.command("GET", COUNTER));
      l.ops.push({
        key: COUNTER,
        input: { kind: "get" },
        output: final,
        call,
        ret: performance.now(),
      });
      const log = text(await reader.command("GET", LOG)) ?? "";
      await reader.close();

      const why = `acked ${l.incrAcked}, unknown ${l.incrUnknown}, final ${final}; failures ${
        JSON.stringify([...l.failures])
      }`;
      // The counter: every acknowledged INCR once, each unknown one at most once.
      expect(final, why).toBeGreaterThanOrEqual(l.incrAcked);
      expect(final, why).toBeLessThanOrEqual(l.incrAcked + l.incrUnknown);
      expect(new Set(l.incrValues).size, `an INCR value returned twice; ${why}`).toBe(
        l.incrValues.length,
      );
      expect(checkHistory(counterModel, l.ops), why).toEqual({ ok: true });
      // The tokens: acknowledged ones exactly once, none twice, nothing never sent.
      const seen = new Map<string, number>();
      for (const t of log.split(",")) if (t !== "") seen.set(t, (seen.get(t) ?? 0) + 1);
      const twice = [...seen].filter(([, n]) => n > 1).map(([t]) => t);
      expect(twice, `tokens appended twice (${seen.size} tokens)`).toEqual([]);
      const missing = [...l.tokensAcked].filter((t) => !seen.has(t));
      expect(missing, "acknowledged tokens missing").toEqual([]);
      const foreign = [...seen.keys()].filter((t) =>
        !l.tokensAcked.has(t) && !l.tokensUnknown.has(t)
      );
      expect(foreign).toEqual([]);
      expect(cluster.errorLines()).toEqual([]);
    } finally {
      stop = true;
      await Promise.all(clients.map((c) => c.close()));
      await cluster.close();
    }
  },
  60_000,
);
