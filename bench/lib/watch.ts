/**
 * The `watch-fanout` scenario's watchers: N watches (default 100) on the prefix every worker
 * writes under, spread over the cluster's nodes (followers serve watches too), opened and ready
 * before the batch-100 load starts. Reported: events delivered (in all and per second), the
 * fewest and most events one watcher got (each should get every write: ops), watches ended with
 * an error, and how long the watchers took to drain after the load stopped.
 * @module
 */
import { connect } from "../../client/client.ts";
import type { Client, ConnectOptions } from "../../client/types.ts";
import type { Watcher } from "../../client/watch.ts";
import type { RunControl, ScenarioResult } from "./runner.ts";

/** What the fan-out reports (`ScenarioResult.watch`). */
export interface WatchFanoutReport {
  watchers: number;
  /** Events delivered to all watchers. */
  events: number;
  /** Events delivered per second (from the load's start to the last watcher drained). */
  eventsPerSec: number;
  /** Fewest / most events one watcher got (each should get one per acknowledged SET). */
  minPerWatcher: number;
  maxPerWatcher: number;
  /** Watches that ended with an error, and the first error. */
  failed: number;
  firstError: string | null;
  /** ms from the load's end until every watcher had its last event. */
  drainMs: number;
}

/** Options of {@link createWatchFanout}. */
export interface WatchFanoutOptions {
  endpoints: string[];
  transport: "tcp" | "udp";
  password?: string;
  watchers: number;
  prefix: string;
  note: (text: string) => void;
}

/**
 * The fan-out: `start()` before the scenario (watchers ready), `driver` beside it (notes when the
 * load starts), `finish()` after it (waits for the watchers to drain, closes them, reports).
 */
export interface WatchFanout {
  start(): Promise<void>;
  driver: (ctl: RunControl) => Promise<void>;
  finish(result: ScenarioResult): Promise<WatchFanoutReport>;
}

/** Creates the watchers of one fan-out scenario. */
export function createWatchFanout(o: WatchFanoutOptions): WatchFanout {
  const clients: Client[] = [];
  const watchers: Watcher[] = [];
  const counts: number[] = [];
  const loops: Promise<void>[] = [];
  let lastEventAt = 0;
  let failed = 0;
  let firstError: string | null = null;
  let startedAt = 0;

  const start = async () => {
    // One client per node (its endpoint first): the watchers are spread over every node.
    for (let i = 0; i < o.endpoints.length; i++) {
      const eps = [...o.endpoints.slice(i), ...o.endpoints.slice(0, i)];
      const opts: ConnectOptions = { endpoints: eps, transport: o.transport };
      if (o.password) opts.password = o.password;
      clients.push(await connect(opts));
    }
    for (let i = 0; i < o.watchers; i++) {
      const w = clients[i % clients.length].watch({ prefix: o.prefix });
      watchers.push(w);
      counts.push(0);
    }
    await Promise.all(watchers.map((w) => w.ready));
    for (let i = 0; i < watchers.length; i++) {
      loops.push((async () => {
        try {
          for await (const _ of watchers[i]) {
            counts[i]++;
            lastEventAt = performance.now();
          }
        } catch (err) {
          failed++;
          firstError ??= (err as Error).message;
        }
      })());
    }
  };

  const driver = (ctl: RunControl) => {
    startedAt = ctl.startedAt;
    return Promise.resolve();
  };

  const finish = async (r: ScenarioResult): Promise<WatchFanoutReport> => {
    const loadEnd = startedAt + r.durationS * 1000;
    // Drained: every watcher has one event per write, or none came for 2 s (bounded: 20 s).
    const cap = performance.now() + 20_000;
    const all = () => counts.every((c) => c >= r.ops);
    while (
      performance.now() < cap && !all() &&
      performance.now() - Math.max(lastEventAt, loadEnd) < 2000
    ) {
      await new Promise((res) => setTimeout(res, 50));
    }
    const drainedAt = Math.max(lastEventAt, loadEnd);
    for (const w of watchers) w.cancel();
    await Promise.all(loops);
    await Promise.all(clients.map((c) => c.close()));
    if (failed > 0) o.note(`watch-fanout: ${failed} watches failed: ${firstError}`);
    const events = counts.reduce((a, b) => a + b, 0);
    const spanS = Math.max(0.001, (drainedAt - startedAt) / 1000);
    const min = counts.length > 0 ? Math.min(...counts) : 0;
    if (min < r.ops) o.note(`watch-fanout: a watcher got ${min} events for ${r.ops} writes`);
    return {
      watchers: watchers.length,
      events,
      eventsPerSec: Math.round(events / spanS),
      minPerWatcher: min,
      maxPerWatcher: counts.length > 0 ? Math.max(...counts) : 0,
      failed,
      firstError,
      drainMs: Math.round(drainedAt - loadEnd),
    };
  };

  return { start, driver, finish };
}

/** The fan-out rows as a markdown table (empty string when no row has one). */
export function watchTable(results: ScenarioResult[]): string {
  const rows = results.filter((r) => r.watch !== undefined);
  if (rows.length === 0) return "";
  const head = "| scenario | watchers | writes | events delivered | events/s | " +
    "min / max per watcher | failed | drain ms |";
  const sep = "|---|---:|---:|---:|---:|---:|---:|---:|";
  const n = (x: number) => x.toLocaleString("en-US");
  const body = rows.map((r) => {
    const w = r.watch as WatchFanoutReport;
    return `| ${r.variant ? `${r.variant}: ` : ""}${r.name} | ${w.watchers} | ${n(r.ops)} | ${
      n(w.events)
    } | ${n(w.eventsPerSec)} | ${n(w.minPerWatcher)} / ${
      n(w.maxPerWatcher)
    } | ${w.failed} | ${w.drainMs} |`;
  });
  return [head, sep, ...body].join("\n");
}
