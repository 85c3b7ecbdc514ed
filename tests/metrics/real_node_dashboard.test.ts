/**
 * The metrics plugin inside a real node process (Deno) under client load: /metrics carries the
 * plan's metrics with live values, and the dashboard, loaded in headless Chromium, renders numbers
 * from the running node.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect } from "../../mod.ts";
import type { Client } from "../../mod.ts";
import { NUMERIC_FIELD_IDS } from "../../plugins/metrics/dashboard_page.ts";
import { type NodeProcess, startNodeProcess } from "../helpers/node_process.ts";
import { dumpDom, findChromium, renderedNumber, textById } from "./chromium.ts";
import { scrape } from "./fake_node.ts";
import { freePort } from "../helpers/net.ts";

let node: NodeProcess;
let client: Client;
let url = "";
let loading = true;
let load: Promise<void> = Promise.resolve();

beforeAll(async () => {
  findChromium(); // fail early with the install hint
  const metricsPort = await freePort();
  url = `http://127.0.0.1:${metricsPort}`;
  node = await startNodeProcess("deno", [
    "--port",
    "0",
    "--raft-port",
    "0",
    "--plugins",
    "metrics",
    "--metrics-port",
    String(metricsPort),
  ]);
  client = await connect({ host: "127.0.0.1", port: node.clientPort });
  await client.command("LPUSH", "a-list", "x");
  // Load until the test ends (bounded): batches of 100 SETs, one WRONG_TYPE error each.
  load = (async () => {
    for (let i = 0; loading && i < 100_000; i++) {
      const cmds: string[][] = Array.from({ length: 99 }, (_, j) => ["SET", `d${j}`, `${i}`]);
      cmds.push(["INCR", "a-list"]);
      await client.batch(cmds);
    }
  })();
  await new Promise((r) => setTimeout(r, 2500)); // a few sampling intervals of real traffic
});

afterAll(async () => {
  loading = false;
  await load.catch(() => {});
  await client?.close();
  await node?.stop();
});

test("/metrics has the plan's metrics with live values", async () => {
  const m = await scrape(url);
  expect(m.get("tinykv_batch_size_count")).toBeGreaterThan(10);
  expect(m.get("tinykv_batch_latency_seconds_count")).toBeGreaterThan(10);
  expect(m.get("tinykv_raft_commit_latency_seconds_count")).toBeGreaterThan(10);
  expect(m.get('tinykv_network_bytes_total{direction="in"}')).toBeGreaterThan(1000);
  expect(m.get('tinykv_network_bytes_total{direction="out"}')).toBeGreaterThan(1000);
  expect(m.get('tinykv_errors_total{error_type="WRONG_TYPE"}')).toBeGreaterThan(10);
  expect(m.has("tinykv_error_rate")).toBe(false); // rate(tinykv_errors_total) instead
  expect(m.get("tinykv_keys")).toBeGreaterThanOrEqual(99);
  expect(m.get("tinykv_raft_leader_changes_total")).toBe(1);
  expect(m.get("process_resident_memory_bytes")).toBeGreaterThan(0);
  expect(m.get("tinykv_raft_term")).toBeGreaterThanOrEqual(1);
  expect(m.get("tinykv_raft_is_leader")).toBe(1);
  expect(m.get("tinykv_raft_applied_index")).toBeGreaterThan(10);
});

test("the dashboard renders the running node's numbers in headless Chromium", async () => {
  const html = await dumpDom(`${url}/dashboard`, { virtualTimeBudgetMs: 3000, timeoutMs: 40_000 });
  expect(Number(/data-updates="(\d+)"/.exec(html)?.[1] ?? 0)).toBeGreaterThanOrEqual(1);
  const bad: string[] = [];
  for (const id of NUMERIC_FIELD_IDS) {
    if (!Number.isFinite(renderedNumber(textById(html, id)))) {
      bad.push(`${id}=${JSON.stringify(textById(html, id))}`);
    }
  }
  expect(bad).toEqual([]);
  expect(textById(html, "role")).toBe("leader");
  expect(renderedNumber(textById(html, "throughput"))).toBeGreaterThan(0);
  expect(renderedNumber(textById(html, "commands-total"))).toBeGreaterThan(1000);
  expect(renderedNumber(textById(html, "avg-batch-size"))).toBeGreaterThan(1);
  expect(html).toContain("<dt>WRONG_TYPE</dt>");
}, 60_000);
