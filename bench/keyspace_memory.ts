/**
 * Memory and garbage-collection cost of a large keyspace (#11): N SETs of fresh 16-byte keys with
 * 64-byte values applied straight to `createStateMachine()` (100 per batch, as the applier does),
 * then the V8 heap and external memory per key, and how long a full (atomic, single-threaded)
 * mark-compact of that heap takes — the work V8's incremental marking spreads over the main
 * thread when its helper threads cannot keep up, which is what a node's long loop blocks are.
 *
 *   deno run -A --v8-flags=--expose-gc bench/keyspace_memory.ts [--keys 4000000]
 *   bun --expose-gc bench/keyspace_memory.ts  (Bun exposes Bun.gc; the timing is JSC's)
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { createStateMachine } from "../core/state/state_machine.ts";
import type { ApplyContext, Argv, ResultSink } from "../core/state/types.ts";

const { values } = parseArgs({ options: { keys: { type: "string", default: "4000000" } } });
const N = Number(values.keys);
if (!Number.isSafeInteger(N) || N < 1000 || N > 50_000_000) {
  console.error("--keys must be an integer in 1000..50000000");
  process.exit(2);
}
const g = globalThis as { gc?: () => void; Bun?: { gc(force: boolean): void } };
function fullGc(): void {
  if (g.gc) g.gc();
  else if (g.Bun) g.Bun.gc(true);
  else throw new Error("run with --v8-flags=--expose-gc (Deno) or on Bun");
}
function memory(): { heap: number; external: number } {
  const m = process.memoryUsage();
  return { heap: m.heapUsed, external: m.external + (m.arrayBuffers ?? 0) };
}

const enc = new TextEncoder();
const SET = enc.encode("SET");
const value = new Uint8Array(64).fill(0x61);
const sm = createStateMachine();
const ctx: ApplyContext = { nowMs: 1_700_000_000_000, index: 0 };

fullGc();
const before = memory();
const t0 = performance.now();
let out: ResultSink = { codes: [], data: [], errors: [] };
for (let i = 0; i < N; i++) {
  if (i % 100 === 0) {
    out = { codes: [], data: [], errors: [] };
    ctx.index++;
  }
  // A fresh key buffer and value copy per command, as an entry's bytes would be.
  const argv: Argv = [SET, enc.encode(`key:${String(i).padStart(12, "0")}`), value.slice()];
  sm.apply(argv, ctx, out);
}
const applyMs = performance.now() - t0;
if (out.codes[out.codes.length - 1] !== 0) throw new Error(`SET failed: ${out.errors.at(-1)}`);
fullGc();
const after = memory();
const gcs: number[] = [];
for (let r = 0; r < 3; r++) {
  const s = performance.now();
  fullGc();
  gcs.push(performance.now() - s);
}
// Keep the state machine alive through the measurements (and check it holds the keys).
const check: ResultSink = { codes: [], data: [], errors: [] };
sm.apply([enc.encode("DBSIZE")], ctx, check);
if (check.data[0] !== N) throw new Error(`DBSIZE ${check.data[0]}, expected ${N}`);
const perKey = (b: number, a: number) => ((a - b) / N).toFixed(0);
console.log(
  `${N} keys: apply ${(N / (applyMs / 1000)).toFixed(0)} SET/s; heap ${
    perKey(before.heap, after.heap)
  } B/key, external ${perKey(before.external, after.external)} B/key; full GC ${
    gcs.map((x) => x.toFixed(0)).join(" / ")
  } ms`,
);
