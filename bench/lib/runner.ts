/**
 * Runs one scenario: N clients (one connection each) loop until the deadline, each sending a batch
 * (or one command) and waiting for the answer before the next; latency is recorded per round trip.
 * Every loop is bounded by the scenario's duration.
 * @module
 */
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
}

/** Options of {@link runScenario}. */
export interface RunOptions {
  durationMs: number;
  valueSize: number;
  seed: number;
  /** Called often with the live counters (for the progress line). */
  onProgress?: (p: Progress, elapsedMs: number) => void;
}

async function worker(
  client: Client,
  id: number,
  s: Scenario,
  value: Uint8Array,
  seed: number,
  deadline: number,
  live: Progress,
  state: { firstError: string | null },
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
  while (performance.now() < deadline) {
    const t0 = performance.now();
    if (s.mode === "command") {
      try {
        await client.command(...nextCommand());
        live.ops++;
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
      } catch (err) {
        fail((err as Error).message, s.batch);
      }
    } else {
      const calls = new Array<Promise<unknown>>(s.batch);
      for (let i = 0; i < s.batch; i++) calls[i] = client.command(...nextCommand());
      const res = await Promise.allSettled(calls);
      for (const r of res) {
        if (r.status === "fulfilled") live.ops++;
        else fail((r.reason as Error).message, 1);
      }
    }
    live.latency.record(performance.now() - t0);
    roundTrips++;
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
    timeoutMs: 10_000,
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
    const deadline = start + opts.durationMs;
    const ticker = opts.onProgress
      ? setInterval(() => opts.onProgress!(live, performance.now() - start), 250)
      : undefined;
    let roundTrips = 0;
    try {
      const counts = await Promise.all(
        clients.map((c, i) => worker(c, i, s, value, opts.seed, deadline, live, state)),
      );
      roundTrips = counts.reduce((a, b) => a + b, 0);
    } finally {
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
