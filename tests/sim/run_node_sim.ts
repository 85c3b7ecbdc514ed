/**
 * Runs the seeded simulation of real nodes (docs/simulation.md).
 *
 *   bun tests/sim/run_node_sim.ts --seed 42            one seed (replay), with its trace hash
 *   bun tests/sim/run_node_sim.ts --seeds 1000         seeds 1..1000 (--first N to start elsewhere)
 *   bun tests/sim/run_node_sim.ts --seed 42 --chaos-ms 5000   a longer run
 *   --verbose prints every seed's summary; the exit code is 1 when any seed failed.
 * @module
 */
import { replayCommand, runNodeSim } from "./node_sim.ts";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const seed = arg("seed");
const seeds = Number(arg("seeds") ?? 1);
const first = Number(arg("first") ?? 1);
const chaosMs = arg("chaos-ms") ? Number(arg("chaos-ms")) : undefined;
const verbose = process.argv.includes("--verbose") || seed !== undefined;

const list = seed !== undefined
  ? [Number(seed)]
  : Array.from({ length: seeds }, (_, i) => first + i);
const t0 = performance.now();
let failed = 0;
const expected = new Map<string, number>();
for (const s of list) {
  const r = await runNodeSim(s, chaosMs);
  for (const e of r.expected) {
    const k = e.replace(/t=[\d.]+ms /, "").replace(/key \S+/, "key …");
    expected.set(k, (expected.get(k) ?? 0) + 1);
  }
  if (verbose || !r.ok) {
    console.log(`seed ${s}: ${r.ok ? "ok" : "FAILED"} trace ${r.traceHash} (${r.summary})`);
  }
  if (verbose) { for (const e of r.expected) console.log(`  expected failure: ${e}`); }
  if (!r.ok) {
    failed++;
    for (const f of r.failures) console.log(`  ${f}`);
    console.log(`  replay: ${replayCommand(s)}${chaosMs ? ` --chaos-ms ${chaosMs}` : ""}`);
  }
}
const secs = (performance.now() - t0) / 1000;
console.log(
  `${list.length} seeds, ${failed} failed, ${secs.toFixed(1)} s (${
    (list.length / secs).toFixed(1)
  } seeds/s)`,
);
for (const [k, n] of expected) console.log(`expected failure on ${n} seeds: ${k}`);
process.exit(failed > 0 ? 1 : 0);
