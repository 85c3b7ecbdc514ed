/**
 * Microbenchmark of the state machine's hot path: SET and GET with 16-byte keys and 64-byte
 * values, applied straight to `createStateMachine()` (no network, no log). Prints ops/s.
 *
 *   bun bench/state_machine.ts [--keys 100000] [--ops 2000000]
 *   deno run bench/state_machine.ts
 * @module
 */
import process from "node:process";
import { createStateMachine } from "../core/state/state_machine.ts";
import type { ApplyContext, Argv, ResultSink } from "../core/state/types.ts";

function flag(name: string, def: number): number {
  const args = process.argv.slice(2);
  const i = args.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(args[i + 1]);
  if (!Number.isSafeInteger(v) || v <= 0) {
    console.error(`--${name} must be a positive integer, got ${args[i + 1]}`);
    throw new Error("bad flag");
  }
  return v;
}

const KEYS = flag("keys", 100_000);
const OPS = flag("ops", 2_000_000);
const enc = new TextEncoder();

// Deterministic keys "key:%011d" (16 bytes) and 64-byte values.
const keys: Uint8Array[] = [];
for (let i = 0; i < KEYS; i++) keys.push(enc.encode(`key:${String(i).padStart(12, "0")}`));
const value = new Uint8Array(64).fill(0x61);
const SET = enc.encode("SET");
const GET = enc.encode("GET");

const sm = createStateMachine();
const ctx: ApplyContext = { nowMs: 1_700_000_000_000, index: 0 };
// Reuse one sink per 100-command "batch", as the applier does per client batch.
let out: ResultSink = { codes: [], data: [], errors: [] };
function freshSink(): void {
  out = { codes: [], data: [], errors: [] };
}

function run(label: string, make: (i: number) => Argv): number {
  const argvs: Argv[] = [];
  for (let i = 0; i < KEYS; i++) argvs.push(make(i));
  const t0 = performance.now();
  for (let i = 0; i < OPS; i++) {
    if (i % 100 === 0) freshSink();
    ctx.index++;
    sm.apply(argvs[i % KEYS], ctx, out);
  }
  const dt = performance.now() - t0;
  if (out.codes[out.codes.length - 1] !== 0) {
    throw new Error(`${label} failed: ${out.errors.at(-1)}`);
  }
  const ops = Math.round(OPS / (dt / 1000));
  console.log(`${label.padEnd(28)} ${ops.toLocaleString("en-US").padStart(12)} ops/s`);
  return ops;
}

const v = process.versions as Record<string, string | undefined>;
const runtime = v.bun ? `bun ${v.bun}` : v.deno ? `deno ${v.deno}` : `node ${v.node}`;
console.log(`state machine microbenchmark (${runtime}): ${KEYS} keys, ${OPS} ops per run`);
for (let round = 0; round < 2; round++) {
  run(`SET 16B key / 64B value`, (i) => [SET, keys[i], value]);
  run(`GET 16B key (hit)`, (i) => [GET, keys[i]]);
}
// Values that are views into a bigger buffer (as decoded from a log entry) get copied on store.
const big = new Uint8Array(64 * KEYS).fill(0x62);
run(`SET, value is a view (copied)`, (i) => [SET, keys[i], big.subarray(i * 64, i * 64 + 64)]);
run(`SET EX 100`, (i) => [SET, keys[i], value, enc.encode("EX"), enc.encode("100")]);
const INCR = enc.encode("INCR");
const counters = keys.map((_, i) => enc.encode(`ctr:${String(i).padStart(12, "0")}`));
run(`INCR`, (i) => [INCR, counters[i]]);
// One key set and deleted in turn in an otherwise empty keyspace (a lock, say): the key table
// empties on every DEL and starts afresh, which must not mean fresh pages each time.
{
  const empty = createStateMachine();
  const DEL = enc.encode("DEL");
  const set = [SET, keys[0], value];
  const del = [DEL, keys[0]];
  const n = Math.min(OPS, 200_000);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    if (i % 100 === 0) freshSink();
    ctx.index++;
    empty.apply(set, ctx, out);
    empty.apply(del, ctx, out);
  }
  const ops = Math.round((2 * n) / ((performance.now() - t0) / 1000));
  console.log(
    `${"SET+DEL of one key, empty".padEnd(28)} ${ops.toLocaleString("en-US").padStart(12)} ops/s`,
  );
}
