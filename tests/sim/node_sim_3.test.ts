/**
 * Seeded simulation of real nodes, seeds 501..750 (part 3 of 4: 1,000 seeds in CI).
 * Replay one seed: NODE_SIM_SEED=N bun test tests/sim/node_sim_1.test.ts, or
 * bun tests/sim/run_node_sim.ts --seed N. See docs/simulation.md.
 */
import { seedRange } from "./node_sim_suite.ts";

seedRange(501, 250);
