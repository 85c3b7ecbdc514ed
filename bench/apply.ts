/**
 * Apply's cost per command, in nanoseconds per SET (every replica pays this):
 *
 * - `Applier.execute` on a batch of 100 SETs (64-byte values, keys overwritten), with text
 *   arguments (what the TypeScript client sends) and with byte-string arguments (what the RESP
 *   listener sends);
 * - with `--unique N`: N SETs of new keys, as `bench/pipeline.ts` writes them (10 writers, keys
 *   `bench:1:<writer>:<n>`, batches of 100, 64-byte values), with the watch history kept as a node
 *   keeps it — the cost as the state grows to N keys, per window of 500,000. The batches are
 *   encoded before the clock starts.
 *
 *   deno run -A bench/apply.ts [--unique 3000000]
 *   bun bench/apply.ts [--unique 3000000]
 * @module
 */
import process from "node:process";
import { Applier } from "../core/node/applier.ts";
import { createStateMachine } from "../core/state/state_machine.ts";
import { WatchHistory } from "../core/state/watch_history.ts";
import { HookBus } from "../core/plugin/hooks.ts";
import { createLogger } from "../core/config/logger.ts";
import { encodeCbor } from "../protocol/cbor.ts";

const hooks = new HookBus([], () => {
  throw new Error("no plugins");
}, createLogger("error"));
const te = new TextEncoder();

function overwrites(): void {
  const sm = createStateMachine();
  const applier = new Applier(sm, hooks, () => null);
  for (const text of [true, false]) {
    const cmds = Array.from({ length: 100 }, (_, i) => {
      const argv = ["SET", `bench:key:${i}`, "v".repeat(64)];
      return text ? argv : argv.map((a) => te.encode(a));
    });
    const batch = {
      clientId: "c",
      batchId: "b",
      commands: new Uint8Array(encodeCbor(cmds)),
      count: 100,
    };
    const ctx = { nowMs: 1, index: 1 };
    for (let r = 0; r < 2000; r++) applier.execute(batch, ctx); // warm-up
    const rounds = 20_000;
    const t0 = performance.now();
    for (let r = 0; r < rounds; r++) {
      ctx.index++;
      applier.execute(batch, ctx);
    }
    const ns = (performance.now() - t0) / rounds / 100 * 1e6;
    console.log(`${text ? "text" : "byte"} arguments: ${ns.toFixed(0)} ns per SET`);
  }
}

function unique(total: number): void {
  const WINDOW = 500_000;
  const sm = createStateMachine();
  sm.keepHistory?.(new WatchHistory({ revisions: 10_000, bytes: 64 * 1024 * 1024 }));
  const applier = new Applier(sm, hooks, () => null);
  const value = "v".repeat(64);
  const written = new Array(10).fill(0);
  const batches = [];
  for (let b = 0; b < Math.ceil(total / 100); b++) {
    const w = (b * 7) % 10;
    const cmds = [];
    for (let i = 0; i < 100; i++) cmds.push(["SET", `bench:1:${w}:${written[w]++}`, value]);
    batches.push({
      clientId: "c",
      batchId: `b${b}`,
      commands: new Uint8Array(encodeCbor(cmds)),
      count: 100,
    });
  }
  const ctx = { nowMs: 1, index: 1 };
  const windows: string[] = [];
  const t0 = performance.now();
  let tw = t0;
  for (let b = 0; b < batches.length; b++) {
    applier.execute(batches[b], ctx);
    sm.commitHistory?.(ctx.index);
    ctx.index++;
    const done = (b + 1) * 100;
    if (done % WINDOW === 0) {
      const now = performance.now();
      windows.push(`${done / 1e6}M ${((now - tw) * 1e6 / WINDOW).toFixed(0)}`);
      tw = now;
    }
  }
  const ns = (performance.now() - t0) * 1e6 / (batches.length * 100);
  console.log(`unique keys: ${ns.toFixed(0)} ns per SET over ${sm.size()} keys`);
  if (windows.length > 0) console.log(`  per window of ${WINDOW}: ${windows.join(", ")}`);
}

const args = process.argv.slice(2);
const u = args.indexOf("--unique");
if (u >= 0) {
  const n = Number(args[u + 1]);
  if (!Number.isSafeInteger(n) || n <= 0) {
    console.error(`--unique needs a positive number of keys, got ${args[u + 1]}`);
    process.exit(2);
  }
  unique(n);
} else overwrites();
