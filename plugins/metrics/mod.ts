/**
 * The `metrics` plugin: Prometheus metrics, health and a live dashboard over HTTP.
 *
 * On `start` it listens on `config.host`:`metrics_port` (its option `port`; 0 = ephemeral) and serves
 * - `/metrics`    the node's Prometheus registry (text format),
 * - `/health`     200 when the node knows a leader, 503 otherwise; the body is only `ok` or
 *                 `no leader` unless `metrics_details` is on (then a JSON Raft summary),
 * - `/api/stats`  JSON the dashboard polls,
 * - `/dashboard`  a self-contained live page (`/` redirects there).
 *
 * Term, commit index and leader address are not for strangers (docs/security.md): unless
 * `metrics_details` is on, `/metrics`, `/api/stats` and `/dashboard` answer only loopback clients
 * (403 otherwise) and `/health` reveals nothing but its status to anyone.
 *
 * Hooks (`onBatch`, `onPropose`, `onCommit`, `onApply`) only add to counters, read the clock once
 * and observe one histogram per batch or entry; gauges and node counters are read at scrape time.
 * It runs with `enforce: "pre"` so it sees every client batch before other plugins may answer or
 * defer it.
 *
 * The default export is the factory {@link createMetricsPlugin} (the plugin loader calls it), so
 * every node in a process gets its own instance and server.
 * @module
 */
import type { Cancel } from "../../core/env/time.ts";
import {
  definePlugin,
  type Plugin,
  type PluginContext,
  type PluginOptions,
} from "../../core/plugin/plugin.ts";
import { DASHBOARD_HTML } from "./dashboard_page.ts";
import {
  type HttpReply,
  isLoopback,
  json,
  type MetricsHttpServer,
  type RequestInfo,
  startHttpServer,
} from "./http_server.ts";
import { MetricsRecorder, type RecorderOptions } from "./recorder.ts";

/** Options of {@link createMetricsPlugin}. */
export interface MetricsPluginOptions extends RecorderOptions {
  /**
   * Period (ms) of the samples behind windowed values (throughput, error rate, dashboard
   * percentiles). Default 1000; 0 = no timer (tests call `sample()` themselves).
   */
  sampleIntervalMs?: number;
}

/** The options the metrics plugin declares: `metrics_port`, `metrics_details`. */
export const METRICS_OPTIONS = {
  port: {
    type: "int",
    default: 9210,
    min: 0,
    max: 65535,
    help: "HTTP port of the metrics plugin (/metrics, /health, /dashboard; 0 = ephemeral)",
  },
  details: {
    type: "bool",
    default: false,
    help:
      "metrics port: serve raft details (JSON /health; /metrics, /api/stats, /dashboard to non-loopback clients); off: /health answers only its status",
  },
} as const satisfies PluginOptions;

/** The context the metrics plugin's hooks receive (`ctx.options.port`, `ctx.options.details`). */
export type MetricsContext = PluginContext<typeof METRICS_OPTIONS>;

/** The metrics plugin instance: a {@link Plugin} plus accessors for tests and embedders. */
export interface MetricsPlugin extends Plugin<typeof METRICS_OPTIONS> {
  readonly name: "metrics";
  /** Bound HTTP port once started (the real one when `metrics_port` is 0); 0 before start/after stop. */
  readonly port: number;
  /** `http://host:port` of the running server, or undefined when not listening. */
  readonly url: string | undefined;
  /** The recorder (null before `setup`). */
  readonly recorder: MetricsRecorder | null;
  /** Takes one sample now (what the timer does every `sampleIntervalMs`). */
  sample(): Promise<void>;
  /** Registers the instruments in `ctx.metrics` (once per instance). */
  setup(ctx: MetricsContext): void;
  /** Starts the HTTP server and the sampling timer. */
  start(ctx: MetricsContext): Promise<void>;
  /** Stops the timer and the server. */
  stop(ctx?: PluginContext): Promise<void>;
}

const html = (body: string): HttpReply => ({
  status: 200,
  contentType: "text/html; charset=utf-8",
  body,
});

/** Creates a metrics plugin instance. */
export function createMetricsPlugin(opts: MetricsPluginOptions = {}): MetricsPlugin {
  let rec: MetricsRecorder | null = null;
  let server: MetricsHttpServer | null = null;
  let host = "";
  let timer: Cancel | null = null;
  const interval = opts.sampleIntervalMs ?? 1000;

  const routes = (ctx: MetricsContext, r: MetricsRecorder) => {
    const details = ctx.options.details;
    /** Routes with Raft details: loopback clients only, unless the operator exposes them. */
    const guarded = (f: () => HttpReply | Promise<HttpReply>) => (req: RequestInfo) =>
      details || isLoopback(req.remoteAddress) ? f() : {
        status: 403,
        contentType: "text/plain; charset=utf-8",
        body: "forbidden: this endpoint answers loopback clients only; start the node with " +
          "--metrics-details to expose it (see docs/security.md)\n",
      };
    return {
      "/metrics": guarded(async (): Promise<HttpReply> => ({
        status: 200,
        contentType: ctx.metrics.contentType,
        body: await ctx.metrics.metrics(),
      })),
      "/health": (): HttpReply => {
        const h = r.health();
        if (details) return json(h.ok ? 200 : 503, h);
        return {
          status: h.ok ? 200 : 503,
          contentType: "text/plain; charset=utf-8",
          body: h.ok ? "ok\n" : "no leader\n",
        };
      },
      "/api/stats": guarded(async (): Promise<HttpReply> => json(200, await r.dashboardStats())),
      "/dashboard": guarded((): HttpReply => html(DASHBOARD_HTML)),
      "/": (): HttpReply =>
        html('<!doctype html><meta http-equiv="refresh" content="0; url=dashboard">'),
    };
  };

  const plugin: MetricsPlugin = definePlugin({
    name: "metrics" as const,
    enforce: "pre" as const,
    options: METRICS_OPTIONS,
    get port(): number {
      return server?.port ?? 0;
    },
    get url(): string | undefined {
      if (!server) return undefined;
      const h = host.includes(":") ? `[${host}]` : host;
      return `http://${h}:${server.port}`;
    },
    get recorder(): MetricsRecorder | null {
      return rec;
    },
    async sample(): Promise<void> {
      await rec?.sample();
    },
    setup(ctx: MetricsContext): void {
      if (rec) throw new Error("this metrics plugin instance is already set up (one per node)");
      rec = new MetricsRecorder(ctx, opts);
    },
    async start(ctx: MetricsContext): Promise<void> {
      if (!rec) rec = new MetricsRecorder(ctx, opts);
      const r = rec;
      host = ctx.config.host;
      server = await startHttpServer(host, ctx.options.port, routes(ctx, r), ctx.logger);
      const sample = () =>
        r.sample().catch((err) => ctx.logger.warn(`sample failed: ${(err as Error).message}`));
      await sample();
      if (interval > 0) {
        timer = ctx.scheduler.interval(interval, sample);
      }
      ctx.logger.info(
        `serving ${plugin.url}/metrics, /health, /api/stats and /dashboard (port ${server.port})`,
      );
    },
    async stop(): Promise<void> {
      timer?.();
      timer = null;
      const s = server;
      server = null;
      await s?.close();
    },
    onBatch(batch) {
      rec!.onBatch(batch);
    },
    onPropose(entry) {
      rec!.onPropose(entry);
    },
    onCommit(entry) {
      rec!.onCommit(entry);
    },
    onApply(entry, results) {
      rec!.onApply(entry, results);
    },
  });
  return plugin;
}

export { MetricsRecorder };
export type {
  DashboardStats,
  HealthReport,
  MemberView,
  Percentiles,
  RecorderOptions,
} from "./recorder.ts";

export default createMetricsPlugin;
