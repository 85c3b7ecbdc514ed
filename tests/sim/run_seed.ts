/**
 * Runs one seeded simulation and checks every invariant plus linearizability of the history.
 * @module
 */
import { checkHistory, registerModel } from "./linearizability.ts";
import { SimCluster, type SimOptions } from "./cluster.ts";

/** Result of one seed. */
export interface SeedResult {
  seed: number;
  ok: boolean;
  error?: string;
  ops: number;
  stats: SimCluster["stats"];
  faults: string;
}

/** Options derived from a seed: alternate 3 and 5 voters. */
export function optionsForSeed(seed: number, ticks = 400): SimOptions {
  return { seed, voters: seed % 2 === 0 ? 3 : 5, spares: 2, ticks, clients: 4, keys: 3 };
}

/** Runs and checks one seed; never throws. */
export function runSeed(opts: SimOptions): SeedResult {
  const sim = new SimCluster(opts);
  const base = { seed: opts.seed, ops: 0, stats: sim.stats, faults: sim.describe() };
  try {
    for (let t = 0; t < opts.ticks; t++) {
      sim.step();
      if (t % 25 === 0) sim.checkLogMatching();
    }
    sim.heal();
    sim.settle();
    sim.checkLogMatching();
    const r = checkHistory(registerModel, sim.history);
    if (!r.ok) {
      return {
        ...base,
        ok: false,
        ops: sim.history.length,
        error: `history of key ${r.key}: ${r.reason}`,
      };
    }
    return { ...base, ok: true, ops: sim.history.length };
  } catch (err) {
    return {
      ...base,
      ok: false,
      ops: sim.history.length,
      error: String((err as Error).stack ?? err),
    };
  }
}
