/**
 * The live dashboard shows the whole cluster (#12 item 3): with `metrics_peers` each member of the
 * Members card links to that member's own dashboard and shows its /health (read cross-origin:
 * /health allows it), the leader's address links to the leader's dashboard; a bad
 * `metrics_peers` is refused with the entry named. Loopback-only rules are unchanged.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { DashboardStats } from "../../plugins/metrics/mod.ts";
import { createMetricsPlugin, parseMetricsPeers } from "../../plugins/metrics/mod.ts";
import { freePort } from "../helpers/net.ts";
import { dumpDom, findChromium, textById } from "./chromium.ts";
import { metricsContext } from "./fake_node.ts";

test("parseMetricsPeers: id=host:port or id=http(s)://host:port; bad entries named", () => {
  expect([...parseMetricsPeers(" 1=127.0.0.1:9210, 2=http://10.0.0.2:9211/,3=https://m3:443 ")])
    .toEqual([[1, "http://127.0.0.1:9210"], [2, "http://10.0.0.2:9211"], [3, "https://m3"]]);
  expect(parseMetricsPeers("").size).toBe(0);
  expect([...parseMetricsPeers("4=[::1]:9210")]).toEqual([[4, "http://[::1]:9210"]]);
  for (
    const [text, why] of [
      ["x", 'bad entry "x": not id=address'],
      ["0=h:1", "id must be 1..65535"],
      ["2=host", "no port"],
      ["2=h:1/dashboard", "give only the scheme, host and port"],
      ["2=h:1,2=h:2", "id 2 given twice"],
      ["2=h:99999", "not a host:port"],
    ]
  ) {
    expect(() => parseMetricsPeers(text)).toThrow(why);
  }
  expect(() => parseMetricsPeers("2=h:1,".repeat(300))).toThrow("at most 256");
});

test("a bad metrics_peers fails setup with the entry named", () => {
  const m = metricsContext({ metrics_peers: "2=nowhere" } as never);
  const p = createMetricsPlugin({ sampleIntervalMs: 0 });
  expect(() => p.setup!(m.ctx)).toThrow('metrics_peers: bad entry "2=nowhere": no port');
});

// Node 1 (leader) and node 2 (follower) with metrics servers; node 3's address has nobody.
const one = metricsContext();
const two = metricsContext();
const p1 = createMetricsPlugin({ sampleIntervalMs: 0 });
const p2 = createMetricsPlugin({ sampleIntervalMs: 0 });
let ports: number[] = [];

beforeAll(async () => {
  ports = [await freePort(), await freePort(), await freePort()];
  const peers = ports.map((port, i) => `${i + 1}=127.0.0.1:${port}`).join(",");
  for (const [m, i] of [[one, 0], [two, 1]] as const) {
    Object.assign(m.ctx, {
      config: { ...m.ctx.config, metrics_port: ports[i], metrics_peers: peers },
      options: { ...m.ctx.options, port: ports[i], peers },
    });
  }
  Object.assign(two.raft, { id: 2, role: "follower", leader: 1, progress: undefined });
  (two.ctx.node as { id: number }).id = 2;
  for (const [p, m] of [[p1, one], [p2, two]] as const) {
    p.setup!(m.ctx);
    await p.start!(m.ctx);
  }
});

afterAll(async () => {
  await p1.stop!(one.ctx);
  await p2.stop!(two.ctx);
});

test("/api/stats gives every member's metrics address; /health may be read cross-origin", async () => {
  const s = (await (await fetch(`${p1.url}/api/stats`)).json()) as DashboardStats;
  expect(s.members.map((m) => [m.id, m.metricsUrl])).toEqual(
    ports.map((port, i) => [i + 1, `http://127.0.0.1:${port}`]),
  );
  const h = await fetch(`${p2.url}/health`);
  expect(h.status).toBe(200);
  expect(h.headers.get("access-control-allow-origin")).toBe("*");
  // The details stay loopback-only: /api/stats has no CORS header.
  expect((await fetch(`${p1.url}/api/stats`)).headers.get("access-control-allow-origin")).toBe(
    null,
  );
});

test("the Members card links every member's dashboard and shows its health", async () => {
  findChromium(); // fail early with the install hint
  const html = await dumpDom(`${p1.url}/dashboard`, {
    virtualTimeBudgetMs: 5000,
    timeoutMs: 40_000,
  });
  const row = (id: number) =>
    new RegExp(`<tr data-id="${id}"[^>]*>(.*?)</tr>`).exec(html)?.[1] ?? "";
  expect(row(1)).toContain('<td class="node">1 (this node)</td>');
  expect(row(1)).toContain('<td class="health">ok</td>');
  expect(row(2)).toContain(
    `<td class="node"><a href="http://127.0.0.1:${ports[1]}/dashboard">2</a></td>`,
  );
  expect(row(2)).toContain('<td class="health">ok</td>');
  expect(row(3)).toContain(`<a href="http://127.0.0.1:${ports[2]}/dashboard">3</a>`);
  expect(row(3)).toContain('<td class="health">unreachable</td>');
  // On the follower's page the leader's address links to the leader's dashboard.
  const f = await dumpDom(`${p2.url}/dashboard`, { virtualTimeBudgetMs: 2000, timeoutMs: 40_000 });
  expect(f).toMatch(
    new RegExp(
      `<dd id="leader-address"><a href="http://127.0.0.1:${
        ports[0]
      }/dashboard">127\\.0\\.0\\.1:5210</a></dd>`,
    ),
  );
  expect(textById(f, "role")).toBe("follower");
}, 90_000);
