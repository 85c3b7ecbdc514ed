/**
 * What the metrics plugin records: the hook handlers (kept to a few integer adds, one clock read
 * and one histogram observation per batch or entry), the Prometheus instruments registered in the
 * node's registry (scrape-time values are read in `collect()` callbacks, never pushed from the hot
 * path), a ring of one-second samples for windowed gauges, and the JSON views served to
 * `/health` and the dashboard.
 * @module
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import process from "node:process";
import { VERSION } from "../../core/config/version.ts";
import { LOOP_BLOCK_BUCKETS_MS, LOOP_SAMPLE_MS } from "../../core/env/loop_monitor.ts";
import { Code, codeName } from "../../protocol/codes.ts";
import type {
  BatchResult,
  ClientBatch,
  CommittedEntry,
  NodeStats,
  PluginContext,
  ProposedEntry,
} from "../../core/plugin/plugin.ts";
import type { RaftStatus } from "../../core/raft/types.ts";
import { type BucketCounts, bucketDelta, bucketTotal, quantile } from "./quantile.ts";
import { ratePerSecond, SampleRing } from "./sample_ring.ts";

/** Buckets of `tinykv_batch_size` (commands per client batch). */
export const BATCH_SIZE_BUCKETS: readonly number[] = [
  1,
  2,
  5,
  10,
  20,
  50,
  100,
  200,
  500,
  1000,
  2000,
  5000,
  10000,
];
/** Buckets (seconds) of the latency histograms. */
export const LATENCY_BUCKETS: readonly number[] = [
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
];

/** Options of the recorder (all optional; tests inject a clock). */
export interface RecorderOptions {
  /** Monotonic clock in milliseconds (default: the node's, `ctx.clock.monoMs`). Used for latencies and windows. */
  now?: () => number;
  /** Window of `tinykv_throughput` and of the dashboard's percentiles (ms, default 10 000). */
  throughputWindowMs?: number;
  /** Window of `tinykv_error_rate` (ms, default 60 000). */
  errorRateWindowMs?: number;
}

/** `/health` body. */
export interface HealthReport {
  /** True when the node knows a leader (HTTP 200); false gives 503. */
  ok: boolean;
  nodeId: number;
  role: string;
  /** Leader's node id, 0 when unknown. */
  leader: number;
  leaderAddress: string | null;
  term: number;
  commit: number;
  applied: number;
  lastIndex: number;
  durable: boolean;
  /** Set when the Raft status could not be read (node not started yet). */
  error?: string;
}

/** Latency percentiles in milliseconds (null when nothing was observed in the window). */
export interface Percentiles {
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

/** One cluster member as this node sees it (`/api/stats` `members`). */
export interface MemberView {
  id: number;
  /** `leader`, `follower`, `learner`, or this node's own role (`candidate`, ...). */
  role: string;
  /** True for the node serving this page. */
  self: boolean;
  /** Leader only: `probe`, `replicate` or `snapshot` (Raft's progress state); null elsewhere. */
  state: string | null;
  /** Leader only: entries behind the leader's last index; null elsewhere. */
  lag: number | null;
  /**
   * The member's metrics server (`http://host:port`: its `/dashboard`, `/health`), from
   * `metrics_peers` (this node's own: its own server); null when not known.
   */
  metricsUrl: string | null;
}

/** `/api/stats` body: what the dashboard shows. Windowed values cover `windowSeconds`. */
export interface DashboardStats {
  health: HealthReport;
  windowSeconds: number;
  /** Applied commands per second over the window. */
  throughput: number;
  /** Applied commands per second for each sample interval, oldest first (sparkline). */
  throughputSeries: number[];
  commandsTotal: number;
  /** Client batches received per second over the window (leader). */
  batchesPerSecond: number;
  /** Commands per received batch over the window, null when no batch arrived. */
  avgBatchSize: number | null;
  batchSize: { p50: number | null; p99: number | null };
  /** Batch arrival → applied on the leader. */
  batchLatencyMs: Percentiles;
  /** Proposal → committed (leader). */
  commitLatencyMs: Percentiles;
  errorsTotal: number;
  /** Errors / (commands + rejected batches) over the error-rate window, 0..1. */
  errorRate: number;
  errorsByType: Record<string, number>;
  bytesIn: number;
  bytesOut: number;
  bytesInPerSecond: number;
  bytesOutPerSecond: number;
  connections: number;
  pendingBatches: number;
  batchTimeouts: number;
  busyRejections: number;
  /** Leader only: follower id → entries behind the leader's last index. */
  replicationLag: Record<string, number>;
  /** Every member this node knows of (the leader adds each one's replication state and lag). */
  members: MemberView[];
  /** Keys in this replica's state machine. */
  keys: number;
  /** Committed but not yet applied entries (commit − applied). */
  applyLag: number;
  /** The process's memory (every node in the process shares it). */
  memory: { rssBytes: number; heapUsedBytes: number };
}

/** Cumulative counters captured once per sample interval. */
interface Sample {
  t: number;
  commands: number;
  errors: number;
  batchesIn: number;
  commandsIn: number;
  bytesIn: number;
  bytesOut: number;
  rejected: number;
  latency: BucketCounts;
  commit: BucketCounts;
  size: BucketCounts;
}

/** TinyKV's version, the `version` label of `tinykv_build_info`. */
export const TINYKV_VERSION: string = VERSION;

/** The JavaScript runtime running this node and its version: `deno`, `bun` or `node`. */
export function runtimeInfo(): { runtime: string; runtimeVersion: string } {
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (g.Deno) return { runtime: "deno", runtimeVersion: g.Deno.version.deno };
  if (g.Bun) return { runtime: "bun", runtimeVersion: g.Bun.version };
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return { runtime: "node", runtimeVersion: p?.versions?.node ?? "unknown" };
}

/**
 * Error types that are the server's fault (or its overload), as opposed to a client's bad
 * request (UNKNOWN_COMMAND, SYNTAX, WRONG_TYPE, ...): what the `HighServerErrorRate` alert counts.
 */
export const SERVER_ERROR_TYPES: readonly string[] = ["INTERNAL", "TIMEOUT", "BUSY", "UNAVAILABLE"];

/** Codes counted per type; larger numbers count as INTERNAL (as `codeName` maps them). */
const CODE_SLOTS = 64;

function key(b: ClientBatch): string {
  return b.clientId + "\u0000" + b.batchId;
}

const round = (x: number, digits = 3): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

const ms = (seconds: number | null): number | null =>
  seconds === null ? null : round(seconds * 1000);

let processRegistry: Registry | undefined;

/** prom-client's default metrics, collected once per process. */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** RSS and JS heap in use (0 where the runtime cannot tell). */
function memory(): { rssBytes: number; heapUsedBytes: number } {
  try {
    const m = process.memoryUsage();
    return { rssBytes: m.rss, heapUsedBytes: m.heapUsed };
  } catch {
    return { rssBytes: 0, heapUsedBytes: 0 };
  }
}

/** Reads a prom-client histogram's cumulative buckets (unlabelled histograms). */
async function readBuckets(h: Histogram): Promise<BucketCounts> {
  const m = await h.get();
  const bounds: number[] = [];
  const counts: number[] = [];
  let inf = 0;
  let sum = 0;
  for (const v of m.values) {
    const name = (v as { metricName?: string }).metricName ?? "";
    if (name.endsWith("_bucket")) {
      const le = (v.labels as Record<string, string | number>).le;
      if (le === "+Inf") inf = v.value;
      else {
        bounds.push(Number(le));
        counts.push(v.value);
      }
    } else if (name.endsWith("_sum")) sum = v.value;
  }
  counts.push(inf);
  return { bounds, counts, sum };
}

/** The recorder behind one metrics plugin instance (one node). */
export class MetricsRecorder {
  readonly #ctx: PluginContext;
  readonly #now: () => number;
  readonly #throughputWindowMs: number;
  readonly #errorWindowMs: number;
  readonly #trackLimit: number;
  readonly #staleMs: number;
  readonly #started: number;

  // hot-path state: plain numbers and two bounded maps
  #commands = 0;
  #errors = 0;
  readonly #errorsByCode = new Float64Array(CODE_SLOTS);
  /** (clientId, batchId) → arrival time, leader only, insertion (= time) ordered. */
  readonly #arrivals = new Map<string, number>();
  /** First batch key of a proposed entry → proposal time, insertion (= time) ordered. */
  readonly #proposals = new Map<string, number>();

  // reported-so-far values for counters filled at scrape time
  readonly #reportedByCode = new Float64Array(CODE_SLOTS);
  #reportedCommands = 0;
  #reportedBusy = 0;
  #reportedTimeouts = 0;
  #reportedTimeoutsMetric = 0;
  #reportedBytesIn = 0;
  #reportedBytesOut = 0;

  readonly #ring: SampleRing<Sample>;
  readonly batchSize: Histogram;
  readonly batchLatency: Histogram;
  readonly commitLatency: Histogram;

  constructor(ctx: PluginContext, opts: RecorderOptions = {}) {
    this.#ctx = ctx;
    this.#now = opts.now ?? (() => ctx.clock.monoMs());
    this.#throughputWindowMs = opts.throughputWindowMs ?? 10_000;
    this.#errorWindowMs = opts.errorRateWindowMs ?? 60_000;
    this.#trackLimit = Math.max(1024, ctx.config.max_pending_batches + 1024);
    this.#staleMs = Math.max(5000, 2 * ctx.config.raft_submit_timeout_ms);
    this.#ring = new SampleRing<Sample>(
      Math.max(62, Math.ceil(Math.max(this.#throughputWindowMs, this.#errorWindowMs) / 1000) + 2),
    );
    this.#started = this.#now();
    const registers = [ctx.metrics];
    this.batchSize = new Histogram({
      name: "tinykv_batch_size",
      help: "Commands per client batch received by the leader",
      buckets: [...BATCH_SIZE_BUCKETS],
      registers,
    });
    this.batchLatency = new Histogram({
      name: "tinykv_batch_latency_seconds",
      help: "Client batch arrival on the leader until it is applied (seconds)",
      buckets: [...LATENCY_BUCKETS],
      registers,
    });
    this.commitLatency = new Histogram({
      name: "tinykv_raft_commit_latency_seconds",
      help: "Entry proposal until a quorum holds it, on the leader (seconds)",
      buckets: [...LATENCY_BUCKETS],
      registers,
    });
    this.#registerScrapeMetrics(registers);
    // process_* and nodejs_* families (CPU, RSS, heap, event loop lag, GC, ...): one set per
    // process (each set starts a GC observer and an event-loop monitor), shared by every node's
    // registry
    const shared = processMetrics();
    for (const { name } of shared.getMetricsAsArray()) {
      const metric = shared.getSingleMetric(name);
      if (metric && !ctx.metrics.getSingleMetric(name)) ctx.metrics.registerMetric(metric);
    }
  }

  // ------------------------------------------------------------------ hooks (hot path)

  /** A client batch arrived on the leader. */
  onBatch(batch: ClientBatch): void {
    this.batchSize.observe(batch.count);
    if (batch.readOnly) {
      // Served by a ReadIndex read, never applied: count its commands now (no latency to finish).
      this.#commands += batch.count;
      return;
    }
    const m = this.#arrivals;
    m.set(key(batch), this.#now());
    if (m.size > this.#trackLimit) m.delete(m.keys().next().value!);
  }

  /** An entry is about to be proposed (leader). */
  onPropose(entry: ProposedEntry): void {
    if (entry.batches.length === 0) return;
    const m = this.#proposals;
    m.set(key(entry.batches[0]), this.#now());
    if (m.size > this.#trackLimit) m.delete(m.keys().next().value!);
  }

  /** A quorum holds the entry. */
  onCommit(entry: CommittedEntry): void {
    const m = this.#proposals;
    if (m.size === 0 || entry.batches.length === 0) return;
    const k = key(entry.batches[0]);
    const t0 = m.get(k);
    if (t0 === undefined) return;
    m.delete(k);
    this.commitLatency.observe(Math.max(0, this.#now() - t0) / 1000);
  }

  /** The entry was applied: count commands and error codes; finish batch latencies (leader). */
  onApply(entry: CommittedEntry, results: readonly BatchResult[]): void {
    let n = 0;
    let errs = 0;
    const byCode = this.#errorsByCode;
    for (let b = 0; b < results.length; b++) {
      const codes = results[b].codes;
      n += codes.length;
      for (let i = 0; i < codes.length; i++) {
        const c = codes[i];
        if (c > Code.NOT_FOUND) {
          errs++;
          byCode[c < CODE_SLOTS ? c : Code.INTERNAL]++;
        }
      }
    }
    this.#commands += n;
    this.#errors += errs;
    const m = this.#arrivals;
    if (m.size === 0) return;
    const batches = entry.batches;
    let now = -1;
    for (let b = 0; b < batches.length; b++) {
      const k = key(batches[b]);
      const t0 = m.get(k);
      if (t0 === undefined) continue;
      m.delete(k);
      if (now < 0) now = this.#now();
      this.batchLatency.observe(Math.max(0, now - t0) / 1000);
    }
  }

  // ------------------------------------------------------------------ sampling

  /** Batches tracked for latency (bounded; exposed for tests). */
  get tracked(): { arrivals: number; proposals: number } {
    return { arrivals: this.#arrivals.size, proposals: this.#proposals.size };
  }

  /**
   * Takes one sample of the cumulative counters (the plugin does it every second) and forgets
   * tracked batches that can no longer finish (rejected, timed out, answered from a cache).
   */
  async sample(): Promise<void> {
    const [latency, commit, size] = await Promise.all([
      readBuckets(this.batchLatency),
      readBuckets(this.commitLatency),
      readBuckets(this.batchSize),
    ]);
    const t = this.#now();
    const s = this.#stats();
    this.#ring.push({
      t,
      commands: this.#commands,
      errors: this.#errors,
      batchesIn: s.batchesReceived,
      commandsIn: s.commandsReceived,
      bytesIn: s.bytesIn,
      bytesOut: s.bytesOut,
      rejected: s.busyRejections + s.proposalTimeouts,
      latency,
      commit,
      size,
    });
    const cutoff = t - this.#staleMs;
    for (const m of [this.#arrivals, this.#proposals]) {
      for (const [k, t0] of m) {
        if (t0 >= cutoff) break;
        m.delete(k);
      }
    }
  }

  /** Applied commands per second over the throughput window (live counter vs. an older sample). */
  throughput(): number {
    const now = this.#now();
    const then = this.#ring.atOrBefore(now - this.#throughputWindowMs);
    const t0 = then?.t ?? this.#started;
    return ratePerSecond(this.#commands, then?.commands ?? 0, now - t0);
  }

  /** Errors / (commands + rejected batches) over the error-rate window; 0 without traffic. */
  errorRate(): number {
    const now = this.#now();
    const then = this.#ring.atOrBefore(now - this.#errorWindowMs);
    const s = this.#stats();
    const rejected = s.busyRejections + s.proposalTimeouts;
    const errs = this.#errors + rejected - ((then?.errors ?? 0) + (then?.rejected ?? 0));
    const total = this.#commands + rejected - ((then?.commands ?? 0) + (then?.rejected ?? 0));
    return total > 0 ? Math.max(0, errs) / total : 0;
  }

  #stats(): Readonly<NodeStats> {
    return this.#ctx.node.stats();
  }

  #raft(): RaftStatus | null {
    try {
      return this.#ctx.node.raftStatus();
    } catch {
      return null;
    }
  }

  /** Errors so far by code name (command results, plus BUSY/TIMEOUT rejected batches). */
  errorsByType(): Record<string, number> {
    const out: Record<string, number> = {};
    const byCode = this.#errorsByCode;
    for (let c = 0; c < CODE_SLOTS; c++) {
      if (byCode[c] > 0) {
        const name = codeName(c);
        out[name] = (out[name] ?? 0) + byCode[c];
      }
    }
    const s = this.#stats();
    if (s.busyRejections > 0) out.BUSY = (out.BUSY ?? 0) + s.busyRejections;
    if (s.proposalTimeouts > 0) out.TIMEOUT = (out.TIMEOUT ?? 0) + s.proposalTimeouts;
    return out;
  }

  /** The `/health` report. */
  health(): HealthReport {
    const node = this.#ctx.node;
    let st: RaftStatus;
    try {
      st = node.raftStatus();
    } catch (err) {
      return {
        ok: false,
        nodeId: node.id,
        role: "unknown",
        leader: 0,
        leaderAddress: null,
        term: 0,
        commit: 0,
        applied: 0,
        lastIndex: 0,
        durable: node.durable,
        error: `raft status unavailable: ${(err as Error).message}`,
      };
    }
    return {
      ok: st.leader !== 0,
      nodeId: node.id,
      role: st.role,
      leader: st.leader,
      leaderAddress: node.leaderAddress() ?? null,
      term: st.term,
      commit: st.commit,
      applied: st.applied,
      lastIndex: st.lastIndex,
      durable: node.durable,
    };
  }

  /** Follower id → entries behind the leader's last index (empty on followers). */
  replicationLag(): Record<string, number> {
    const st = this.#raft();
    const out: Record<string, number> = {};
    if (!st || st.role !== "leader" || !st.progress) return out;
    for (const [id, p] of Object.entries(st.progress)) {
      if (Number(id) === st.id) continue;
      out[id] = Math.max(0, st.lastIndex - p.match);
    }
    return out;
  }

  /** The members in the Raft configuration, voters first, with the leader's view of each. */
  members(): MemberView[] {
    const st = this.#raft();
    if (!st) return [];
    const out: MemberView[] = [];
    const learners = new Set(st.conf.learners);
    for (const id of [...st.conf.voters, ...st.conf.learners]) {
      const p = st.role === "leader" ? st.progress?.[id] : undefined;
      out.push({
        id,
        role: id === st.id
          ? st.role
          : id === st.leader
          ? "leader"
          : learners.has(id)
          ? "learner"
          : "follower",
        self: id === st.id,
        state: id === st.id && st.role === "leader" ? "leader" : p?.state ?? null,
        lag: p && id !== st.id
          ? Math.max(0, st.lastIndex - p.match)
          : st.role === "leader" && id === st.id
          ? 0
          : null,
        metricsUrl: null,
      });
    }
    return out;
  }

  /** The dashboard's JSON (`/api/stats`). */
  async dashboardStats(): Promise<DashboardStats> {
    const [latency, commit, size] = await Promise.all([
      readBuckets(this.batchLatency),
      readBuckets(this.commitLatency),
      readBuckets(this.batchSize),
    ]);
    const now = this.#now();
    const then = this.#ring.atOrBefore(now - this.#throughputWindowMs);
    const dt = now - (then?.t ?? this.#started);
    const s = this.#stats();
    const lat = bucketDelta(latency, then?.latency);
    const com = bucketDelta(commit, then?.commit);
    const sz = bucketDelta(size, then?.size);
    const dBatches = s.batchesReceived - (then?.batchesIn ?? 0);
    const dCommandsIn = s.commandsReceived - (then?.commandsIn ?? 0);
    const series: number[] = [];
    const samples = this.#ring.toArray();
    for (let i = 1; i < samples.length; i++) {
      const a = samples[i - 1];
      const b = samples[i];
      series.push(round(ratePerSecond(b.commands, a.commands, b.t - a.t), 1));
    }
    const pct = (b: BucketCounts): Percentiles => ({
      p50: ms(quantile(b, 0.5)),
      p90: ms(quantile(b, 0.9)),
      p99: ms(quantile(b, 0.99)),
    });
    const errorsByType = this.errorsByType();
    let errorsTotal = 0;
    for (const v of Object.values(errorsByType)) errorsTotal += v;
    const health = this.health();
    return {
      health,
      windowSeconds: round(dt / 1000, 1),
      throughput: round(this.throughput(), 1),
      throughputSeries: series,
      commandsTotal: this.#commands,
      batchesPerSecond: round(ratePerSecond(s.batchesReceived, then?.batchesIn ?? 0, dt), 1),
      avgBatchSize: dBatches > 0 ? round(dCommandsIn / dBatches, 1) : null,
      batchSize: {
        p50: bucketTotal(sz) > 0 ? round(quantile(sz, 0.5)!, 1) : null,
        p99: bucketTotal(sz) > 0 ? round(quantile(sz, 0.99)!, 1) : null,
      },
      batchLatencyMs: pct(lat),
      commitLatencyMs: pct(com),
      errorsTotal,
      errorRate: round(this.errorRate(), 6),
      errorsByType,
      bytesIn: s.bytesIn,
      bytesOut: s.bytesOut,
      bytesInPerSecond: round(ratePerSecond(s.bytesIn, then?.bytesIn ?? 0, dt), 1),
      bytesOutPerSecond: round(ratePerSecond(s.bytesOut, then?.bytesOut ?? 0, dt), 1),
      connections: s.connections,
      pendingBatches: s.pendingBatches,
      batchTimeouts: s.proposalTimeouts,
      busyRejections: s.busyRejections,
      replicationLag: this.replicationLag(),
      members: this.members(),
      keys: s.keys ?? 0,
      applyLag: Math.max(0, (health.commit ?? 0) - (health.applied ?? 0)),
      memory: memory(),
    };
  }

  // ------------------------------------------------------------------ scrape-time instruments

  #registerScrapeMetrics(registers: PluginContext["metrics"][]): void {
    // deno-lint-ignore no-this-alias
    const rec = this;
    const stats = () => this.#stats();
    const raft = () => this.#raft();

    new Counter({
      name: "tinykv_commands_total",
      help: "Commands applied by this replica",
      registers,
      collect() {
        const d = rec.#commands - rec.#reportedCommands;
        if (d > 0) this.inc(d);
        rec.#reportedCommands = rec.#commands;
      },
    });
    const errorsCounter = new Counter({
      name: "tinykv_errors_total",
      help:
        "Errors by code: commands applied with an error code, plus client batches refused as BUSY or timed out (TIMEOUT)",
      labelNames: ["error_type"],
      registers,
      collect() {
        const byCode = rec.#errorsByCode;
        const seen = rec.#reportedByCode;
        for (let c = 0; c < CODE_SLOTS; c++) {
          const d = byCode[c] - seen[c];
          if (d > 0) {
            this.inc({ error_type: codeName(c) }, d);
            seen[c] = byCode[c];
          }
        }
        const s = stats();
        if (s.busyRejections > rec.#reportedBusy) {
          this.inc({ error_type: "BUSY" }, s.busyRejections - rec.#reportedBusy);
        }
        rec.#reportedBusy = s.busyRejections;
        if (s.proposalTimeouts > rec.#reportedTimeouts) {
          this.inc({ error_type: "TIMEOUT" }, s.proposalTimeouts - rec.#reportedTimeouts);
        }
        rec.#reportedTimeouts = s.proposalTimeouts;
      },
    });
    // every error type is exported from the start (0), so rate() and dashboards see the series
    for (const name of Object.keys(Code)) {
      if (name !== "OK" && name !== "NOT_FOUND") errorsCounter.inc({ error_type: name }, 0);
    }
    new Counter({
      name: "tinykv_batch_timeouts_total",
      help: "Client batches answered TIMEOUT (not applied within raft_submit_timeout_ms)",
      registers,
      collect() {
        const v = stats().proposalTimeouts;
        if (v > rec.#reportedTimeoutsMetric) this.inc(v - rec.#reportedTimeoutsMetric);
        rec.#reportedTimeoutsMetric = v;
      },
    });
    new Counter({
      name: "tinykv_network_bytes_total",
      help: "Bytes received (in) and sent (out) on client and peer connections",
      labelNames: ["direction"],
      registers,
      collect() {
        const s = stats();
        if (s.bytesIn > rec.#reportedBytesIn) {
          this.inc({ direction: "in" }, s.bytesIn - rec.#reportedBytesIn);
        }
        if (s.bytesOut > rec.#reportedBytesOut) {
          this.inc({ direction: "out" }, s.bytesOut - rec.#reportedBytesOut);
        }
        rec.#reportedBytesIn = s.bytesIn;
        rec.#reportedBytesOut = s.bytesOut;
      },
    }).inc({ direction: "in" }, 0);
    /** A counter filled at scrape time from a node counter that only grows. */
    const fromNodeCounter = (
      name: string,
      help: string,
      label: string | undefined,
      series: Record<string, (s: Readonly<NodeStats>) => number>,
    ) => {
      const reported: Record<string, number> = {};
      const c = new Counter({
        name,
        help,
        labelNames: label ? [label] : [],
        registers,
        collect() {
          const s = stats();
          for (const [v, pick] of Object.entries(series)) {
            const now = pick(s);
            const d = now - (reported[v] ?? 0);
            if (d > 0) label ? this.inc({ [label]: v }, d) : this.inc(d);
            reported[v] = Math.max(now, reported[v] ?? 0);
          }
        },
      });
      for (const v of Object.keys(series)) label ? c.inc({ [label]: v }, 0) : c.inc(0);
    };
    fromNodeCounter(
      "tinykv_proposals_failed_total",
      "Client batches that failed before being applied: refused as BUSY (reason busy) or not applied within raft_submit_timeout_ms (reason timeout)",
      "reason",
      { timeout: (s) => s.proposalTimeouts, busy: (s) => s.busyRejections },
    );
    fromNodeCounter(
      "tinykv_raft_leader_changes_total",
      "Times this node saw a new Raft leader",
      undefined,
      { "": (s) => s.leaderChanges ?? 0 },
    );
    // The node's event-loop block detector keeps bucket counts; the histogram takes the new
    // samples of each bucket at scrape time (observed at the bucket's bound, so _sum is an upper
    // estimate; _count and the buckets are exact).
    const seenBlocks = new Array(LOOP_BLOCK_BUCKETS_MS.length + 1).fill(0);
    new Histogram({
      name: "tinykv_event_loop_block_seconds",
      help:
        `How late the node's ${LOOP_SAMPLE_MS} ms event-loop timer fired (time the loop was blocked), per sample`,
      buckets: LOOP_BLOCK_BUCKETS_MS.map((ms) => ms / 1000),
      registers,
      collect() {
        const lb = stats().loopBlocks;
        if (lb === undefined) return;
        for (let b = 0; b < lb.counts.length; b++) {
          const bound = b < LOOP_BLOCK_BUCKETS_MS.length ? LOOP_BLOCK_BUCKETS_MS[b] : lb.maxMs;
          for (let d = lb.counts[b] - seenBlocks[b]; d > 0; d--) this.observe(bound / 1000);
          seenBlocks[b] = lb.counts[b];
        }
      },
    });
    fromNodeCounter(
      "tinykv_event_loop_cpu_wait_seconds_total",
      "Time the node's JavaScript thread was runnable but waited for a CPU (Linux schedstat; 0 elsewhere): blocks that are this wait mean the machine is short of cores, not that the node is busy",
      undefined,
      { "": (s) => (s.loopBlocks?.waitMs ?? 0) / 1000 },
    );
    new Gauge({
      name: "tinykv_event_loop_block_max_seconds",
      help: "Longest event-loop block this node has seen since it started",
      registers,
      collect() {
        this.set((stats().loopBlocks?.maxMs ?? 0) / 1000);
      },
    });
    new Gauge({
      name: "tinykv_event_loop_block_max_cpu_wait_seconds",
      help:
        "Of the longest event-loop block, the time the JavaScript thread waited for a CPU (Linux; 0 elsewhere)",
      registers,
      collect() {
        this.set((stats().loopBlocks?.maxWaitMs ?? 0) / 1000);
      },
    });
    new Gauge({
      name: "tinykv_keys",
      help: "Keys in this replica's state machine",
      registers,
      collect() {
        this.set(stats().keys ?? 0);
      },
    });
    const { runtime, runtimeVersion } = runtimeInfo();
    new Gauge({
      name: "tinykv_build_info",
      help: "Always 1; labels: TinyKV version, JavaScript runtime and its version",
      labelNames: ["version", "runtime", "runtime_version"],
      registers,
    }).set({ version: TINYKV_VERSION, runtime, runtime_version: runtimeVersion }, 1);
    new Gauge({
      name: "tinykv_connections",
      help: "Open client connections",
      registers,
      collect() {
        this.set(stats().connections);
      },
    });
    new Gauge({
      name: "tinykv_pending_batches",
      help: "Client batches waiting to be applied and answered",
      registers,
      collect() {
        this.set(stats().pendingBatches);
      },
    });
    const raftGauge = (name: string, help: string, pick: (st: RaftStatus) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const st = raft();
          if (st) this.set(pick(st));
        },
      });
    raftGauge("tinykv_raft_term", "Current Raft term", (st) => st.term);
    raftGauge(
      "tinykv_raft_apply_lag_entries",
      "Entries committed but not yet applied on this replica (commit index - applied index)",
      (st) => Math.max(0, st.commit - st.applied),
    );
    raftGauge("tinykv_raft_commit_index", "Highest log index known committed", (st) => st.commit);
    raftGauge(
      "tinykv_raft_applied_index",
      "Highest log index applied to the state machine",
      (st) => st.applied,
    );
    raftGauge("tinykv_raft_last_index", "Last index in this replica's log", (st) => st.lastIndex);
    raftGauge(
      "tinykv_raft_is_leader",
      "1 when this node is the Raft leader, else 0",
      (st) => st.role === "leader" ? 1 : 0,
    );
    raftGauge("tinykv_raft_leader_id", "Node id of the known leader (0 = none)", (st) => st.leader);
    new Gauge({
      name: "tinykv_raft_replication_lag_entries",
      help: "Leader only: entries each follower is behind the leader's last log index",
      labelNames: ["follower"],
      registers,
      collect() {
        this.reset();
        for (const [id, lag] of Object.entries(rec.replicationLag())) {
          this.set({ follower: id }, lag);
        }
      },
    });
  }
}
