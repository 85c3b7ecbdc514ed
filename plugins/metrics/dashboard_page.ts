/**
 * The live dashboard served at `/dashboard`: one self-contained HTML page (inline CSS and JS, no
 * build step, nothing fetched from elsewhere) that polls `/api/stats` every second and renders
 * throughput (with an SVG sparkline), batch sizes, latency percentiles, Raft state, replication lag,
 * errors, keys and memory, and the cluster's members — each linked to its own dashboard, with its
 * health, when `metrics_peers` gives its metrics address. Every value lives in an element with a
 * stable id so tests can read it.
 * @module
 */

/** Ids of the elements that show a number once data has arrived (used by tests). */
export const NUMERIC_FIELD_IDS: readonly string[] = [
  "throughput",
  "commands-total",
  "batches-per-second",
  "avg-batch-size",
  "batch-p50",
  "batch-p99",
  "lat-p50",
  "lat-p90",
  "lat-p99",
  "commit-p50",
  "commit-p99",
  "term",
  "leader",
  "commit",
  "applied",
  "errors-total",
  "error-rate",
  "bytes-in-rate",
  "bytes-out-rate",
  "connections",
  "pending",
  "timeouts",
  "keys",
  "apply-lag",
  "rss",
  "heap-used",
];

const STYLE = `
:root { color-scheme: light dark; --bg:#f6f7f9; --card:#fff; --fg:#1d2330; --mute:#6b7385;
  --accent:#2f6fed; --bad:#c62828; --ok:#2e7d32; }
@media (prefers-color-scheme: dark) { :root { --bg:#12151b; --card:#1b2029; --fg:#e6e9ef;
  --mute:#8d96a8; --accent:#6ea0ff; --bad:#ff6b6b; --ok:#66bb6a; } }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, sans-serif; background:var(--bg); color:var(--fg); }
header { display:flex; gap:1rem; align-items:baseline; padding:.8rem 1.2rem; }
header h1 { font-size:1.1rem; margin:0; }
#status { color:var(--mute); }
#status.down { color:var(--bad); }
main { display:grid; grid-template-columns:repeat(auto-fit, minmax(250px, 1fr)); gap:.8rem;
  padding:0 1.2rem 1.2rem; }
section { background:var(--card); border-radius:8px; padding:.8rem 1rem;
  box-shadow:0 1px 2px rgba(0,0,0,.08); }
section h2 { font-size:.8rem; text-transform:uppercase; letter-spacing:.05em; color:var(--mute);
  margin:0 0 .5rem; }
.big { font-size:2rem; font-weight:600; font-variant-numeric:tabular-nums; }
dl { display:grid; grid-template-columns:auto 1fr; gap:.15rem .8rem; margin:0; }
dt { color:var(--mute); }
dd { margin:0; text-align:right; font-variant-numeric:tabular-nums; }
svg { width:100%; height:60px; display:block; margin-top:.4rem; }
#spark { fill:none; stroke:var(--accent); stroke-width:1.5; }
table { width:100%; border-collapse:collapse; font-variant-numeric:tabular-nums; }
th { color:var(--mute); font-weight:normal; text-align:left; }
td, th { padding:.1rem .3rem; } tr.self td { font-weight:600; }
a { color:var(--accent); }
#role.leader { color:var(--ok); } #role.candidate, #role.unknown { color:var(--bad); }
`;

const SCRIPT = `
"use strict";
const $ = (id) => document.getElementById(id);
const dash = "\\u2013";
function fmt(v, digits) {
  if (v === null || v === undefined || !Number.isFinite(v)) return dash;
  return v.toLocaleString("en-US", { maximumFractionDigits: digits ?? 1 });
}
function bytes(v) {
  if (!Number.isFinite(v)) return dash;
  const u = ["B/s", "KiB/s", "MiB/s", "GiB/s"];
  let i = 0;
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return v.toFixed(i === 0 ? 0 : 1) + " " + u[i];
}
function set(id, text) { const e = $(id); if (e && e.textContent !== text) e.textContent = text; }
function spark(series) {
  const pts = series.slice(-60);
  const max = Math.max(1, ...pts);
  const w = 300, h = 60;
  const step = pts.length > 1 ? w / (pts.length - 1) : w;
  $("spark").setAttribute("points",
    pts.map((v, i) => (i * step).toFixed(1) + "," + (h - 2 - (v / max) * (h - 4)).toFixed(1)).join(" "));
  set("spark-max", fmt(max, 0));
}
function table(id, obj, empty) {
  const el = $(id);
  el.replaceChildren();
  const keys = Object.keys(obj);
  if (keys.length === 0) {
    const dt = document.createElement("dt"); dt.textContent = empty; el.append(dt);
    return;
  }
  for (const k of keys) {
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = fmt(obj[k], 0);
    el.append(dt, dd);
  }
}
// Other members' /health, read cross-origin (it allows that) every few seconds: id -> text.
const health = new Map();
let healthPolls = 0;
function pollHealth(list) {
  if (healthPolls++ % 3 !== 0) return;
  for (const m of list) {
    if (m.self || !m.metricsUrl) continue;
    const ctl = new AbortController();
    const t = setTimeout(() => ctl.abort(), 2000);
    fetch(m.metricsUrl + "/health", { cache: "no-store", mode: "cors", signal: ctl.signal })
      .then((r) => health.set(m.id, r.ok ? "ok" : r.status === 503 ? "no leader" : "HTTP " + r.status),
        () => health.set(m.id, "unreachable"))
      .finally(() => clearTimeout(t));
  }
}
function link(text, href) {
  const a = document.createElement("a"); a.textContent = text; a.href = href; return a;
}
function members(list, h) {
  const body = $("members");
  body.replaceChildren();
  for (const m of list) {
    const tr = document.createElement("tr");
    tr.dataset.id = String(m.id);
    if (m.self) tr.className = "self";
    const name = String(m.id) + (m.self ? " (this node)" : "");
    const node = document.createElement("td");
    node.className = "node";
    node.append(m.metricsUrl && !m.self ? link(name, m.metricsUrl + "/dashboard") : name);
    tr.append(node);
    const ok = m.self ? (h.ok ? "ok" : "no leader") : m.metricsUrl ? health.get(m.id) || "\u2026" : dash;
    for (const [cls, v] of [["role", m.role], ["state", m.state || dash],
      ["lag", m.lag === null ? dash : fmt(m.lag, 0)], ["health", ok]]) {
      const td = document.createElement("td"); td.className = cls; td.textContent = v; tr.append(td);
    }
    body.append(tr);
  }
  pollHealth(list);
  const leader = list.find((m) => m.role === "leader" && m.metricsUrl && !m.self);
  const la = $("leader-address");
  const text = h.leaderAddress || dash;
  la.replaceChildren(leader ? link(text, leader.metricsUrl + "/dashboard") : text);
}
let updates = 0;
function render(s) {
  const h = s.health;
  set("node-id", String(h.nodeId));
  set("role", h.role);
  $("role").className = h.role;
  set("term", fmt(h.term, 0));
  set("leader", h.leader ? fmt(h.leader, 0) : "0");
  set("commit", fmt(h.commit, 0));
  set("applied", fmt(h.applied, 0));
  set("durable", h.durable ? "yes" : "no (in-memory)");
  set("throughput", fmt(s.throughput, 0));
  set("commands-total", fmt(s.commandsTotal, 0));
  set("batches-per-second", fmt(s.batchesPerSecond, 1));
  set("avg-batch-size", fmt(s.avgBatchSize, 1));
  set("batch-p50", fmt(s.batchSize.p50, 1));
  set("batch-p99", fmt(s.batchSize.p99, 1));
  set("lat-p50", fmt(s.batchLatencyMs.p50, 2));
  set("lat-p90", fmt(s.batchLatencyMs.p90, 2));
  set("lat-p99", fmt(s.batchLatencyMs.p99, 2));
  set("commit-p50", fmt(s.commitLatencyMs.p50, 2));
  set("commit-p99", fmt(s.commitLatencyMs.p99, 2));
  set("errors-total", fmt(s.errorsTotal, 0));
  set("error-rate", fmt(s.errorRate * 100, 3));
  set("bytes-in-rate", bytes(s.bytesInPerSecond));
  set("bytes-out-rate", bytes(s.bytesOutPerSecond));
  set("connections", fmt(s.connections, 0));
  set("pending", fmt(s.pendingBatches, 0));
  set("timeouts", fmt(s.batchTimeouts, 0));
  set("window", fmt(s.windowSeconds, 0));
  set("keys", fmt(s.keys, 0));
  set("apply-lag", fmt(s.applyLag, 0));
  set("rss", fmt(s.memory.rssBytes / 1048576, 1));
  set("heap-used", fmt(s.memory.heapUsedBytes / 1048576, 1));
  table("errors-by-type", s.errorsByType, "none");
  members(s.members, h);
  table("lag", s.replicationLag, h.role === "leader" ? "no followers" : "leader only");
  spark(s.throughputSeries);
  updates++;
  document.body.dataset.updates = String(updates);
  const st = $("status");
  st.className = "";
  st.textContent = "updated " + new Date().toLocaleTimeString();
}
async function poll() {
  try {
    const r = await fetch("api/stats", { cache: "no-store" });
    if (!r.ok) throw new Error("HTTP " + r.status);
    render(await r.json());
  } catch (err) {
    const st = $("status");
    st.className = "down";
    st.textContent = "disconnected: " + (err && err.message ? err.message : err);
  } finally {
    setTimeout(poll, 1000);
  }
}
poll();
`;

const NUM = (id: string, label: string, unit = "") =>
  `<dt>${label}</dt><dd><span id="${id}">\u2013</span>${unit ? " " + unit : ""}</dd>`;

/** The whole page. */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>TinyKV dashboard</title>
<style>${STYLE}</style>
</head>
<body data-updates="0">
<header><h1>TinyKV node <span id="node-id">\u2013</span></h1>
<span id="status">connecting\u2026</span></header>
<main>
<section><h2>Throughput (ops/s, last <span id="window">\u2013</span> s)</h2>
<div class="big" id="throughput">\u2013</div>
<svg viewBox="0 0 300 60" preserveAspectRatio="none" aria-label="throughput, last 60 s">
<polyline id="spark" points=""></polyline></svg>
<dl>${NUM("spark-max", "peak")}${NUM("commands-total", "commands applied")}</dl></section>
<section><h2>Batches</h2><dl>
${NUM("batches-per-second", "batches/s")}${NUM("avg-batch-size", "avg size")}
${NUM("batch-p50", "size p50")}${NUM("batch-p99", "size p99")}</dl></section>
<section><h2>Batch latency (arrival \u2192 applied)</h2><dl>
${NUM("lat-p50", "p50", "ms")}${NUM("lat-p90", "p90", "ms")}${NUM("lat-p99", "p99", "ms")}
</dl></section>
<section><h2>Raft commit latency</h2><dl>
${NUM("commit-p50", "p50", "ms")}${NUM("commit-p99", "p99", "ms")}</dl></section>
<section><h2>Raft</h2><dl>
<dt>role</dt><dd id="role">\u2013</dd>${NUM("term", "term")}${NUM("leader", "leader")}
<dt>leader address</dt><dd id="leader-address">\u2013</dd>
${NUM("commit", "commit index")}${NUM("applied", "applied index")}
<dt>durable</dt><dd id="durable">\u2013</dd></dl></section>
<section><h2>Members</h2><table><thead><tr><th>node</th><th>role</th><th>replication</th>
<th>lag</th><th>health</th></tr></thead><tbody id="members"></tbody></table></section>
<section><h2>Replication lag (entries)</h2><dl id="lag"></dl></section>
<section><h2>Errors</h2><dl>
${NUM("errors-total", "total")}${NUM("error-rate", "rate (last 60 s)", "%")}</dl>
<dl id="errors-by-type"></dl></section>
<section><h2>Network and load</h2><dl>
${NUM("bytes-in-rate", "in")}${NUM("bytes-out-rate", "out")}
${NUM("connections", "connections")}${NUM("pending", "pending batches")}
${NUM("timeouts", "batch timeouts")}</dl></section>
<section><h2>Keys and memory</h2><dl>
${NUM("keys", "keys")}${NUM("apply-lag", "apply lag (commit \u2212 applied)", "entries")}
${NUM("rss", "resident memory (RSS)", "MiB")}${NUM("heap-used", "JS heap used", "MiB")}
</dl></section>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
