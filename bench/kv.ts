/**
 * kv-atomic-100: atomic operations of 100 mutations with one check each, through TinyKV's Deno KV
 * API on a started cluster (default: 3 nodes with the wal plugin, as bench/pipeline.ts), beside
 * plain batch-100 SETs on the same cluster (the reference: atomic ≥ 70 % of it), and
 * through a local, embedded `Deno.openKv` (SQLite file, and `:memory:`) doing the same in the same
 * run; prints a table and the ratios. Needs Deno (for `Deno.openKv`):
 *
 *   deno run --unstable-kv -A bench/kv.ts [--seconds 5] [--workers 10] [--conflict 0.1]
 *     [--nodes 3] [--plugins wal] [--runtime deno|bun]
 * @module
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";
import { openKv } from "../client/kv.ts";
import { startCluster } from "./lib/cluster.ts";
import { type AtomicKv, type KvAtomicResult, runKvAtomic, runPlainBatch } from "./lib/kv.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    seconds: { type: "string", default: "5" },
    workers: { type: "string", default: "10" },
    conflict: { type: "string", default: "0" },
    nodes: { type: "string", default: "3" },
    plugins: { type: "string", default: "wal" },
    runtime: { type: "string", default: "deno" },
  },
});
const durationMs = Number(values.seconds) * 1000;
const opts = {
  durationMs,
  workers: Number(values.workers),
  conflictRate: Number(values.conflict),
};
const denoApi =
  (globalThis as { Deno?: { openKv?: (p?: string) => Promise<AtomicKv & { close(): void }> } })
    .Deno;
if (typeof denoApi?.openKv !== "function") {
  console.error("bench/kv.ts needs Deno with --unstable-kv (for the local Deno.openKv comparison)");
  process.exit(2);
}

const rows: { target: string; r: KvAtomicResult }[] = [];
const cluster = await startCluster({
  nodes: Number(values.nodes),
  runtime: values.runtime === "bun" ? "bun" : "deno",
  plugins: values.plugins!,
  transport: "tcp",
  extraArgs: [],
  readyTimeoutMs: 30_000,
});
try {
  const kv = await openKv({ endpoints: cluster.endpoints });
  rows.push({
    target: `TinyKV openKv (${values.nodes} nodes, ${values.plugins})`,
    r: await runKvAtomic(kv, opts),
  });
  rows.push({
    target: "TinyKV plain batch-100 SETs (reference, same cluster)",
    r: await runPlainBatch(kv.client, opts),
  });
  kv.close();
} finally {
  await cluster.stop();
}
const dir = mkdtempSync(path.join(os.tmpdir(), "tinykv-bench-denokv-"));
try {
  for (
    const [label, p] of [["Deno.openKv (SQLite file)", path.join(dir, "kv.sqlite")], [
      "Deno.openKv (:memory:)",
      ":memory:",
    ]] as const
  ) {
    const kv = await denoApi.openKv!(p);
    rows.push({ target: label, r: await runKvAtomic(kv, opts) });
    kv.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const f = (n: number) => n.toFixed(n < 10 ? 2 : 0);
console.log(
  `\nkv-atomic-100: ${opts.workers} workers, atomic ops of 100 mutations + 1 check, conflict rate ${opts.conflictRate}, ${values.seconds} s each\n`,
);
console.log("| target | mutations/s | commits/s | conflicts | p50 ms | p99 ms |");
console.log("|---|---:|---:|---:|---:|---:|");
for (const { target, r } of rows) {
  console.log(
    `| ${target} | ${f(r.mutationsPerSec)} | ${f(r.commitsPerSec)} | ${r.conflicts} | ${
      f(r.p50Ms)
    } | ${f(r.p99Ms)} |`,
  );
}
const ours = rows[0].r.mutationsPerSec;
for (const { target, r } of rows.slice(1)) {
  console.log(`\nratio TinyKV / ${target}: ${(ours / r.mutationsPerSec).toFixed(2)}`);
}
