/**
 * Runs one scenario: N clients (one connection each) loop until the deadline, each sending a batch
 * (or one command) and waiting for the answer before the next; latency is recorded per round trip.
 * Every loop is bounded by the scenario's deadline, which a driver (the failover scenario) may move
 * — never past `maxDurationMs`.
 * @module
 */
import type { SoakWindow } from "./soak.ts";
import { connect } from "../../client/client.ts";
import type { Arg, Client, ConnectOptions } from "../../client/types.ts";
import { LatencyRecorder, type LatencySummary } from "./histogram.ts";
import { mulberry32, seededBytes } from "./prng.ts";
import type { Scenario } from "./scenarios.ts";

/** Where and how to connect. */
export interface Target {
  endpoints: string[];
  transport: "tcp" | "udp";
  password?: string;
  /** Client per-request timeout in ms (covers redirects and retries). */
  timeoutMs: number;
}

/** Live counters, read by the progress line. */
export interface Progress {
  ops: number;
  errors: number;
  latency: LatencyRecorder;
}

/** The outcome of one scenario. */
export interface ScenarioResult {
  name: string;
  description: string;
  clients: number;
  batch: number;
  mode: string;
  setRatio: number;
  durationS: number;
  ops: number;
  opsPerSec: number;
  roundTrips: number;
  roundTripsPerSec: number;
  errors: number;
  firstError: string | null;
  /** Latency per round trip (one batch, or one command in the baseline). */
  latencyMs: LatencySummary;
  bytesSent: number;
  bytesReceived: number;
  bytesPerOp: number;
  /** Set by the caller: which configuration produced this row (e.g. "coalesce on"). */
  variant?: string;
  /** Set by the caller: the nodes' INFO counters over the scenario (see `lib/info.ts`). */
  server?: ServerCounters | null;
  /** Set by the failover scenario (see `lib/failover.ts`). */
  failover?: unknown;
  /** Set by the caller for runs of 30 s or more: one row per 10 s window (see `lib/soak.ts`). */
  soak?: SoakWindow[];
  /** Set by the watch-fanout scenario (see `lib/watch.ts`). */
  watch?: unknown;
}

/** INFO counter deltas over one scenario, summed over the nodes that answered before and after. */
export interface ServerCounters {
  batchesReceived: number;
  proposals: number;
  /** batchesReceived / proposals (null when there was no proposal). */
  batchesPerProposal: number | null;
  /** Node ids whose counters are included. */
  nodes: number[];
}

/** What a driver running beside the workers can see and change. */
export interface RunControl {
  /** `performance.now()` when the workers started. */
  readonly startedAt: number;
  /** Live counters. */
  readonly live: Progress;
  /** Current deadline (`performance.now()` time). */
  readonly deadline: number;
  /** Moves the deadline (clamped to start + `maxDurationMs`). */
  setDeadline(t: number): void;
  /** True once the workers stopped. */
  readonly finished: boolean;
}

/** Options of {@link runScenario}. */
export interface RunOptions {
  durationMs: number;
  valueSize: number;
  seed: number;
  /** Called often with the live counters (for the progress line). */
  onProgress?: (p: Progress, elapsedMs: number) => void;
  /**
   * Called after every acknowledged round trip (at least one command answered OK/NOT_FOUND) with
   * the `performance.now()` time and the client, whose `endpoint` says which node answered.
   */
  onAck?: (at: number, client: Client) => void;
  /** Runs beside the workers (e.g. kills the leader); the scenario ends when both are done. */
  driver?: (ctl: RunControl) => Promise<void>;
  /** Hard cap on the scenario length when a driver moves the deadline (default durationMs). */
  maxDurationMs?: number;
}

async function worker(
  client: Client,
  id: number,
  s: Scenario,
  value: Uint8Array,
  seed: number,
  clock: { deadline: number },
  live: Progress,
  state: { firstError: string | null },
  onAck: ((at: number, client: Client) => void) | undefined,
): Promise<number> {
  const rnd = mulberry32(seed + id * 7919);
  let written = 0;
  let roundTrips = 0;
  const prefix = `bench:${seed}:${id}:`;
  const nextCommand = (): Arg[] => {
    if (written > 0 && rnd() >= s.setRatio) {
      return ["GET", prefix + Math.floor(rnd() * written)];
    }
    return ["SET", prefix + written++, value];
  };
  const fail = (msg: string, n: number) => {
    live.errors += n;
    if (state.firstError === null) state.firstError = msg;
  };
  const custom = s.custom?.(prefix, rnd, value) ?? null;
  if (custom?.setup) await custom.setup(client);
  while (performance.now() < clock.deadline) {
    const t0 = performance.now();
    let acked = false;
    if (custom !== null) {
      try {
        const t = custom.tally(await client.batch(custom.next()));
        live.ops += t.ops;
        live.errors += t.errors;
        if (t.error !== null && state.firstError === null) state.firstError = t.error;
        acked = t.ops > 0;
      } catch (err) {
        fail((err as Error).message, 1);
      }
    } else if (s.mode === "command") {
      try {
        await client.command(...nextCommand());
        live.ops++;
        acked = true;
      } catch (err) {
        fail((err as Error).message, 1);
      }
    } else if (s.mode === "batch") {
      const cmds = new Array<Arg[]>(s.batch);
      for (let i = 0; i < s.batch; i++) cmds[i] = nextCommand();
      try {
        const res = await client.batch(cmds);
        let bad = 0;
        for (const r of res) {
          if (!r.ok) {
            bad++;
            if (state.firstError === null) state.firstError = `${r.code} ${r.error}`;
          }
        }
        live.ops += res.length - bad;
        live.errors += bad;
        acked = bad < res.length;
      } catch (err) {
        fail((err as Error).message, s.batch);
      }
    } else {
      const calls = new Array<Promise<unknown>>(s.batch);
      for (let i = 0; i < s.batch; i++) calls[i] = client.command(...nextCommand());
      const res = await Promise.allSettled(calls);
      for (const r of res) {
        if (r.status === "fulfilled") {
          live.ops++;
          acked = true;
        } else fail((r.reason as Error).message, 1);
      }
    }
    const t1 = performance.now();
    live.latency.record(t1 - t0);
    roundTrips++;
    if (acked && onAck) onAck(t1, client);
  }
  return roundTrips;
}

/** Runs one scenario against `target`. */
export async function runScenario(
  s: Scenario,
  target: Target,
  opts: RunOptions,
): Promise<ScenarioResult> {
  const connectOpts: ConnectOptions = {
    endpoints: target.endpoints,
    transport: target.transport,
    timeoutMs: target.timeoutMs,
  };
  if (target.password) connectOpts.password = target.password;
  if (s.mode === "auto") connectOpts.autoBatch = { maxBatch: s.batch };
  const clients: Client[] = [];
  try {
    for (let i = 0; i < s.clients; i++) clients.push(await connect(connectOpts));
    const value = seededBytes(opts.valueSize, opts.seed);
    const live: Progress = { ops: 0, errors: 0, latency: new LatencyRecorder() };
    const state = { firstError: null as string | null };
    const before = clients.map((c) => c.stats());
    const start = performance.now();
    const clock = { deadline: start + opts.durationMs };
    const cap = start + Math.max(opts.maxDurationMs ?? opts.durationMs, opts.durationMs);
    let finished = false;
    const ctl: RunControl = {
      startedAt: start,
      live,
      get deadline() {
        return clock.deadline;
      },
      setDeadline(t: number) {
        clock.deadline = Math.min(t, cap);
      },
      get finished() {
        return finished;
      },
    };
    const ticker = opts.onProgress
      ? setInterval(() => opts.onProgress!(live, performance.now() - start), 250)
      : undefined;
    let roundTrips = 0;
    try {
      const workers = Promise.all(
        clients.map((c, i) => worker(c, i, s, value, opts.seed, clock, live, state, opts.onAck)),
      ).finally(() => {
        finished = true;
      });
      // A failing driver stops the workers; its error is thrown once they are done.
      const driven = opts.driver
        ? opts.driver(ctl).then(() => null, (err: unknown) => {
          clock.deadline = 0;
          return err;
        })
        : Promise.resolve(null);
      const [counts, driverError] = await Promise.all([workers, driven]);
      if (driverError !== null) throw driverError;
      roundTrips = counts.reduce((a, b) => a + b, 0);
    } finally {
      finished = true;
      if (ticker) clearInterval(ticker);
    }
    const elapsedS = (performance.now() - start) / 1000;
    opts.onProgress?.(live, performance.now() - start);
    let bytesSent = 0;
    let bytesReceived = 0;
    clients.forEach((c, i) => {
      const st = c.stats();
      bytesSent += st.bytesSent - before[i].bytesSent;
      bytesReceived += st.bytesReceived - before[i].bytesReceived;
    });
    return {
      name: s.name,
      description: s.description,
      clients: s.clients,
      batch: s.batch,
      mode: s.mode,
      setRatio: s.setRatio,
      durationS: Number(elapsedS.toFixed(3)),
      ops: live.ops,
      opsPerSec: Math.round(live.ops / elapsedS),
      roundTrips,
      roundTripsPerSec: Math.round(roundTrips / elapsedS),
      errors: live.errors,
      firstError: state.firstError,
      latencyMs: live.latency.summary(),
      bytesSent,
      bytesReceived,
      bytesPerOp: live.ops > 0 ? Math.round((bytesSent + bytesReceived) / live.ops) : 0,
    };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}
