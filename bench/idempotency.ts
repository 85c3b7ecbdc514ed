/**
 * The idempotency cache's snapshot, at the size redis-benchmark -P 1 leaves in its 30 s window:
 * one-shot encode, restore, and the stepped job a node uses (capture, then the longest step of
 * 10,000 rows: what one event-loop turn holds), and the cost of adding a row once the window is full
 * (each add evicts the oldest).
 *
 *   deno run -A bench/idempotency.ts [--rows 600000]
 *   bun bench/idempotency.ts
 * @module
 */
import process from "node:process";
import { ResultCache } from "../plugins/idempotency/cache.ts";

const args = process.argv.slice(2);
const ri = args.indexOf("--rows");
const N = ri >= 0 ? Number(args[ri + 1]) : 600_000;

const c = new ResultCache(2_000_000, 3_600_000);
for (let i = 0; i < N; i++) {
  // A RESP connection's single-command batches, each answered OK.
  c.add(`resp-ab12cd34-${i % 10}\u0000r${i}`, {
    digest: (i * 2654435761) >>> 0,
    length: 40,
    time: 1e12 + i,
    result: { codes: [0], data: ["OK"], errors: [null] },
  });
}
const ms = (t0: number) => `${(performance.now() - t0).toFixed(1)} ms`;
let snap: Uint8Array = new Uint8Array(0);
for (let r = 0; r < 3; r++) {
  const t0 = performance.now();
  snap = c.snapshot();
  console.log(`snapshot in one go: ${ms(t0)} (${snap.length} bytes, ${N} rows)`);
}
{
  const t0 = performance.now();
  new ResultCache(2_000_000, 3_600_000).restore(snap);
  console.log(`restore: ${ms(t0)}`);
}
{
  const t0 = performance.now();
  const job = c.snapshotInSteps();
  const capture = ms(t0);
  let worst = 0;
  for (;;) {
    const a = performance.now();
    const done = job.step(10_000);
    worst = Math.max(worst, performance.now() - a);
    if (done) break;
  }
  job.finish();
  console.log(`in steps: capture ${capture}, longest step of 10,000 rows ${worst.toFixed(1)} ms`);
}
{
  // A steady state: the window holds `N` rows and every applied batch adds one and evicts the
  // oldest (what every replica does per applied batch).
  const w = new ResultCache(2_000_000, N);
  const row = (i: number) => ({
    digest: i >>> 0,
    length: 40,
    time: i,
    result: { codes: [0], data: ["OK"], errors: [null] },
  });
  for (let i = 0; i < N; i++) w.add(`c\u0000b${i}`, row(i));
  const OPS = 200_000;
  const t0 = performance.now();
  for (let i = N; i < N + OPS; i++) w.add(`c\u0000b${i}`, row(i));
  const ns = (performance.now() - t0) * 1e6 / OPS;
  console.log(`add + evict at ${w.size} rows: ${ns.toFixed(0)} ns per batch`);
}
