/**
 * Client workloads for the process-cluster tests, using the client library (`connect()` from
 * mod.ts) with every node as an endpoint, so the clients follow redirects and survive the loss of
 * the node they talk to.
 *
 * - Batch writers send batches of `SET` on unique keys plus `INCR` on shared counters and keep a
 *   ledger: what was acknowledged, and what may or may not have been applied. Every failure
 *   (a slot that is not OK, a thrown TIMEOUT / UNAVAILABLE / ...) counts as "outcome unknown":
 *   after a lost connection the client resends, so even a final NOT_LEADER does not prove that an
 *   earlier attempt was not applied.
 * - Register workers run single `SET`/`GET` commands on a few keys and record a history for the
 *   linearizability checker (`tests/sim/linearizability.ts`): call and return times from
 *   `performance.now()`; a write that failed in any way gets `ret = Infinity` (it may take effect
 *   at any later point or never, as in porcupine); a failed read constrains nothing and is dropped.
 */
import { performance } from "node:perf_hooks";
import { type Client, connect, TinyKVError } from "../../mod.ts";
import type { Operation, RegisterInput } from "../sim/linearizability.ts";
import { sleep, text } from "./harness.ts";

/** Opens a client on every endpoint, retrying (bounded) while no endpoint answers. */
export async function connectAll(
  endpoints: string[],
  opts: { timeoutMs?: number; clientId?: string; maxRedirects?: number } = {},
): Promise<Client> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      return await connect({
        endpoints,
        timeoutMs: opts.timeoutMs ?? 3000,
        connectTimeoutMs: 1000,
        maxRedirects: opts.maxRedirects ?? 30,
        clientId: opts.clientId,
      });
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(100);
    }
  }
}

/**
 * Worker 0 of each workload gives up early (the library's default 5 redirects, 1 s timeout), so
 * failovers leave it with outcome-unknown operations; the others retry for long enough to ride
 * through an election.
 */
const IMPATIENT = { timeoutMs: 1000, maxRedirects: 5 };

function errCode(err: unknown): string {
  return err instanceof TinyKVError ? err.codeName : `thrown ${(err as Error).name}`;
}

/** What the batch writers know about their writes. */
export interface WriteLedger {
  /** Acknowledged SETs: key → value. */
  acked: Map<string, string>;
  /** SETs with unknown outcome: key → value. */
  unknown: Map<string, string>;
  /** Acknowledged INCRs per counter. */
  incrAcked: Map<string, number>;
  /** INCRs with unknown outcome per counter. */
  incrUnknown: Map<string, number>;
  /** Values returned by acknowledged INCRs, per counter. */
  incrValues: Map<string, number[]>;
  /** Counters used. */
  counters: string[];
  /** Batches answered with every slot OK. */
  okBatches: number;
  /** Failures by code (thrown or per slot), for diagnostics. */
  failures: Map<string, number>;
}

/** A running workload; `stop()` lets every in-flight request finish, then closes the clients. */
export interface Running {
  stop(): Promise<void>;
}

function bump(m: Map<string, number>, k: string, by = 1): void {
  m.set(k, (m.get(k) ?? 0) + by);
}

/**
 * Starts `clients` batch writers. Each batch: `sets` SETs of unique keys `${prefix}:${w}:${seq}:${i}`
 * and `incrs` INCRs spread over `counters` counters `${prefix}:ctr:${j}`.
 */
export function startBatchWriters(
  endpoints: string[],
  opts: { clients: number; sets: number; incrs: number; counters: number; prefix: string },
): Running & { ledger: WriteLedger } {
  const counters = Array.from({ length: opts.counters }, (_, j) => `${opts.prefix}:ctr:${j}`);
  const ledger: WriteLedger = {
    acked: new Map(),
    unknown: new Map(),
    incrAcked: new Map(),
    incrUnknown: new Map(),
    incrValues: new Map(counters.map((c) => [c, []])),
    counters,
    okBatches: 0,
    failures: new Map(),
  };
  let stopped = false;
  const worker = async (w: number) => {
    const c = await connectAll(endpoints, w === 0 ? IMPATIENT : {});
    try {
      for (let seq = 0; !stopped; seq++) {
        const cmds: string[][] = [];
        for (let i = 0; i < opts.sets; i++) {
          cmds.push(["SET", `${opts.prefix}:${w}:${seq}:${i}`, `v${w}.${seq}.${i}`]);
        }
        for (let j = 0; j < opts.incrs; j++) {
          cmds.push(["INCR", counters[(seq * opts.incrs + j + w) % counters.length]]);
        }
        let codes: string[];
        let values: unknown[] = [];
        try {
          const rs = await c.batch(cmds);
          codes = rs.map((r) => (r.ok ? "OK" : r.code));
          values = rs.map((r) => r.value);
        } catch (err) {
          codes = cmds.map(() => errCode(err));
        }
        let allOk = true;
        for (let i = 0; i < cmds.length; i++) {
          const [name, key, value] = cmds[i];
          const ok = codes[i] === "OK";
          if (!ok) {
            allOk = false;
            bump(ledger.failures, codes[i]);
          }
          if (name === "SET") (ok ? ledger.acked : ledger.unknown).set(key, value);
          else if (ok) {
            bump(ledger.incrAcked, key);
            ledger.incrValues.get(key)!.push(values[i] as number);
          } else bump(ledger.incrUnknown, key);
        }
        if (allOk) ledger.okBatches++;
        else await sleep(20);
      }
    } finally {
      await c.close();
    }
  };
  const done = Array.from({ length: opts.clients }, (_, w) => worker(w));
  return {
    ledger,
    async stop() {
      stopped = true;
      await settleAll(done);
    },
  };
}

/** A register history plus counts. */
export interface RegisterHistory {
  ops: Operation<RegisterInput, string | null>[];
  keys: string[];
  /** Completed (known-outcome) operations. */
  completed: number;
  /** Writes with unknown outcome. */
  unknownWrites: number;
}

/** Starts `clients` register workers, each one operation at a time on `keys` keys. */
export function startRegisterWorkers(
  endpoints: string[],
  opts: { clients: number; keys: number; prefix: string },
): Running & { history: RegisterHistory } {
  const keys = Array.from({ length: opts.keys }, (_, i) => `${opts.prefix}:reg:${i}`);
  const history: RegisterHistory = { ops: [], keys, completed: 0, unknownWrites: 0 };
  let stopped = false;
  const worker = async (w: number) => {
    const c = await connectAll(endpoints, w === 0 ? IMPATIENT : {});
    try {
      for (let n = 0; !stopped; n++) {
        const key = keys[Math.floor(Math.random() * keys.length)];
        const call = performance.now();
        if (Math.random() < 0.5) {
          const value = `r${w}.${n}`;
          try {
            await c.command("SET", key, value);
            history.ops.push({
              key,
              input: { kind: "put", value },
              output: null,
              call,
              ret: performance.now(),
            });
            history.completed++;
          } catch {
            history.ops.push({
              key,
              input: { kind: "put", value },
              output: undefined,
              call,
              ret: Infinity,
            });
            history.unknownWrites++;
            await sleep(20);
          }
        } else {
          try {
            const v = await c.command("GET", key);
            history.ops.push({
              key,
              input: { kind: "get" },
              output: text(v),
              call,
              ret: performance.now(),
            });
            history.completed++;
          } catch {
            await sleep(20);
          }
        }
      }
    } finally {
      await c.close();
    }
  };
  const done = Array.from({ length: opts.clients }, (_, w) => worker(w));
  return {
    history,
    async stop() {
      stopped = true;
      await settleAll(done);
    },
  };
}

/** Waits for every worker to finish, then rethrows the first failure (e.g. could not connect). */
async function settleAll(done: Promise<void>[]): Promise<void> {
  const rs = await Promise.allSettled(done);
  const failed = rs.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
}

/** Waits (bounded) until `pred()` holds. */
export async function until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(20);
  }
}
