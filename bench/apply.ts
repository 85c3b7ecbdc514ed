/**
 * Apply's cost per command: `Applier.execute` on a batch of 100 SETs (64-byte values, keys
 * overwritten), with text arguments (what the TypeScript client sends) and with byte-string
 * arguments (what the RESP listener sends), in nanoseconds per SET. Every replica pays this.
 *
 *   deno run -A bench/apply.ts
 *   bun bench/apply.ts
 * @module
 */
import { Applier } from "../core/node/applier.ts";
import { createStateMachine } from "../core/state/state_machine.ts";
import { HookBus } from "../core/plugin/hooks.ts";
import { createLogger } from "../core/config/logger.ts";
import { encodeCbor } from "../protocol/cbor.ts";

const sm = createStateMachine();
const hooks = new HookBus([], () => {
  throw new Error("no plugins");
}, createLogger("error"));
const applier = new Applier(sm, hooks, () => null);
const te = new TextEncoder();

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
