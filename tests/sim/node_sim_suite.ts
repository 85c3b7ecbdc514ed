/**
 * Shared body of the node simulation test files (each runs one range of seeds, so the 1,000 CI
 * seeds are split over files that each stay under ~30 s). `NODE_SIM_SEED=N` runs that seed only;
 * `NODE_SIM_SEEDS=N` scales every range to N seeds. See docs/simulation.md.
 * @module
 */
import { expect, test } from "bun:test";
import { replayCommand, runNodeSim, type SimResult } from "./node_sim.ts";

/** Fails with the seed, what broke and the replay command. */
export function assertSeed(r: SimResult): void {
  if (!r.ok) {
    throw new Error(
      `node simulation seed ${r.seed} failed (${r.summary}):\n  ${r.failures.join("\n  ")}\n` +
        `replay with: ${replayCommand(r.seed)}`,
    );
  }
  expect(r.ok).toBe(true);
}

/** Registers a test running seeds [first, first + count). */
export function seedRange(first: number, count: number): void {
  const env = process.env;
  if (env.NODE_SIM_SEED !== undefined) {
    if (first !== 1) return;
    const seed = Number(env.NODE_SIM_SEED);
    test(`node sim seed ${seed}`, async () => assertSeed(await runNodeSim(seed)), 120_000);
    return;
  }
  const n = env.NODE_SIM_SEEDS !== undefined ? Number(env.NODE_SIM_SEEDS) : count;
  const start = first === 1 ? 1 : 1 + Math.round(((first - 1) / count) * n);
  test(`node sim seeds ${start}..${start + n - 1}`, async () => {
    const expected = new Map<string, number>();
    for (let s = start; s < start + n; s++) {
      const r = await runNodeSim(s);
      for (const e of r.expected) {
        const k = e.replace(/t=[\d.]+ms /, "").replace(/key \S+/, "key …");
        expected.set(k, (expected.get(k) ?? 0) + 1);
      }
      assertSeed(r);
    }
    // Known failures waiting for fixes elsewhere (issue 9), reported, not failing the run.
    for (const [k, c] of expected) console.log(`node sim: expected failure on ${c} seeds: ${k}`);
  }, 300_000);
}
