/**
 * A PluginContext for metrics tests: real prom-client registry and config, with a node view whose
 * Raft status and counters the test changes at will.
 */
import type { Config } from "../../core/config/config.ts";
import {
  type ClientBatch,
  type CommittedEntry,
  type NodeStats,
  pluginOptionValues,
} from "../../core/plugin/plugin.ts";
import { METRICS_OPTIONS, type MetricsContext } from "../../plugins/metrics/mod.ts";
import type { RaftStatus } from "../../core/raft/types.ts";
import { fakeContext } from "../helpers/fake_context.ts";

/** A context plus the mutable state behind its node view. */
export interface MetricsTestContext {
  ctx: MetricsContext;
  raft: RaftStatus;
  stats: NodeStats;
  logs: string[];
}

/** A leader of a 3-node cluster (followers 2 and 3) with zeroed counters, on ephemeral ports. */
export function metricsContext(overrides: Partial<Config> = {}): MetricsTestContext {
  const base = fakeContext({ metrics_port: 0, host: "127.0.0.1", ...overrides });
  const stats: NodeStats = {
    bytesIn: 0,
    bytesOut: 0,
    connections: 0,
    batchesReceived: 0,
    commandsReceived: 0,
    proposals: 0,
    pendingBatches: 0,
    busyRejections: 0,
    proposalTimeouts: 0,
    leaderChanges: 0,
    keys: 0,
  };
  const raft: RaftStatus = {
    id: 1,
    term: 1,
    vote: 1,
    commit: 0,
    applied: 0,
    lastIndex: 0,
    role: "leader",
    leader: 1,
    conf: { voters: [1, 2, 3], learners: [] },
    progress: {
      1: { match: 0, next: 1, state: "replicate" },
      2: { match: 0, next: 1, state: "replicate" },
      3: { match: 0, next: 1, state: "replicate" },
    },
  };
  const ctx: MetricsContext = {
    options: pluginOptionValues({ name: "metrics", options: METRICS_OPTIONS }, base.config),
    config: base.config,
    logger: base.logger,
    metrics: base.metrics,
    clock: base.clock,
    scheduler: base.scheduler,
    fs: base.fs,
    propose: base.propose,
    answer: base.answer,
    node: {
      id: 1,
      durable: false,
      raftStatus: () => ({ ...raft }),
      stats: () => stats,
      leaderAddress: () => (raft.leader ? `127.0.0.1:${5200 + raft.leader * 10}` : undefined),
    },
  };
  return { ctx, raft, stats, logs: base.logs };
}

let seq = 0;

/** A client batch of `count` commands (the metrics plugin never decodes them). */
export function batch(count: number, clientId = "c1"): ClientBatch {
  return { clientId, batchId: `b${++seq}`, commands: new Uint8Array(count * 8), count };
}

/** The committed/applied view of an entry carrying `batches`. */
export function entryOf(batches: ClientBatch[], index = 1): CommittedEntry {
  return {
    index,
    term: 1,
    nowMs: 0,
    batches,
    raw: { index, term: 1, type: 0, data: new Uint8Array() },
  };
}

/** Per-command results with these codes. */
export function resultsOf(
  ...codes: number[][]
): { codes: number[]; data: null[]; errors: null[] }[] {
  return codes.map((c) => ({ codes: c, data: c.map(() => null), errors: c.map(() => null) }));
}

/** Parses Prometheus text into `name{labels}` → value. */
export function parseProm(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** Fetches `/metrics` of a running plugin and parses it. */
export async function scrape(url: string): Promise<Map<string, number>> {
  const r = await fetch(`${url}/metrics`);
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
  return parseProm(await r.text());
}
