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
 * The dashboard shows the whole cluster: its Members card links every member's own dashboard and
 * shows each one's `/health`, for the members whose metrics address `metrics_peers` gives
 * (`--metrics-peers "2=10.0.0.2:9210,3=10.0.0.3:9210"`; `mod.ts cluster` sets it). `/health`
 * allows cross-origin reads (it is public anyway), so a page from one member can read another's.
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

/** The options the metrics plugin declares: `metrics_port`, `metrics_peers`, `metrics_details`. */
export const METRICS_OPTIONS = {
  port: {
    type: "int",
    default: 9210,
    min: 0,
    max: 65535,
    help: "HTTP port of the metrics plugin (/metrics, /health, /dashboard; 0 = ephemeral)",
  },
  peers: {
    type: "string",
    default: "",
    help:
      "the other members' metrics addresses, for the dashboard's links and health column: \"2=10.0.0.2:9210,3=http://10.0.0.3:9210\" (mod.ts cluster sets it)",
  },
  details: {
    type: "bool",
    default: false,
    help:
      "metrics port: serve raft details (JSON /health; /metrics, /api/stats, /dashboard to non-loopback clients); off: /health answers only its status",
  },
} as const satisfies PluginOptions;

/** Most entries `metrics_peers` may hold, and the longest address. */
const MAX_METRICS_PEERS = 256;
const MAX_METRICS_ADDRESS = 300;

/**
 * Parses `metrics_peers`: `id=host:port` or `id=http(s)://host:port` pairs, comma-separated, into
 * id → origin (`http://host:port`). Throws an Error naming the bad entry.
 */
export function parseMetricsPeers(text: string): Map<number, string> {
  const out = new Map<number, string>();
  const parts = text.split(",").map((p) => p.trim()).filter((p) => p !== "");
  if (parts.length > MAX_METRICS_PEERS) {
    throw new Error(`metrics_peers: ${parts.length} entries (at most ${MAX_METRICS_PEERS})`);
  }
  for (const part of parts) {
    const bad = (why: string) =>
      new Error(
        `metrics_peers: bad entry "${part.slice(0, 80)}": ${why} ` +
          "(expected id=host:port or id=http://host:port, e.g. 2=127.0.0.1:9211)",
      );
    const m = /^(\d{1,5})\s*=\s*(\S+)$/.exec(part);
    if (!m) throw bad("not id=address");
    const id = Number(m[1]);
    if (id < 1 || id > 65535) throw bad("id must be 1..65535");
    if (m[2].length > MAX_METRICS_ADDRESS) throw bad("address too long");
    const raw = /^https?:\/\//i.test(m[2]) ? m[2] : `http://${m[2]}`;
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw bad("not a host:port");
    }
    if (url.port === "" && !/:\d+\/?$/.test(raw)) throw bad("no port");
    if ((url.pathname !== "/" && url.pathname !== "") || url.search || url.hash || url.username) {
      throw bad("give only the scheme, host and port");
    }
    if (out.has(id)) throw bad(`id ${id} given twice`);
    out.set(id, url.origin);
  }
  return out;
}

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
  let peers = new Map<number, string>();

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
        // Public (status only, unless details are on): other members' dashboards may read it.
        const headers = { "access-control-allow-origin": "*" };
        if (details) return { ...json(h.ok ? 200 : 503, h), headers };
        return {
          status: h.ok ? 200 : 503,
          contentType: "text/plain; charset=utf-8",
          body: h.ok ? "ok\n" : "no leader\n",
          headers,
        };
      },
      "/api/stats": guarded(async (): Promise<HttpReply> => {
        const s = await r.dashboardStats();
        for (const m of s.members) {
          m.metricsUrl = peers.get(m.id) ?? (m.self ? plugin.url ?? null : null);
        }
        return json(200, s);
      }),
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
      peers = parseMetricsPeers(ctx.options.peers);
      rec = new MetricsRecorder(ctx, opts);
    },
    async start(ctx: MetricsContext): Promise<void> {
      if (!rec) {
        peers = parseMetricsPeers(ctx.options.peers);
        rec = new MetricsRecorder(ctx, opts);
      }
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
