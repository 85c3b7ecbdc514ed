/**
 * The benchmark scenarios of the plan (section 5.2) plus two comparisons: the single-command
 * baseline sent as one-command batches, and auto-batched concurrent `command()` calls; and the
 * `failover` scenario (batch-100 load while the leader is killed), which only runs when named
 * because it takes a node down.
 * @module
 */

import { COORDINATION_SCENARIOS, type CustomWorkload } from "./coordination.ts";

/** How a worker sends its commands. */
export type ScenarioMode =
  /** One `COMMAND` per round trip (no pipelining). */
  | "command"
  /** `COMMAND_BATCH` of `batch` commands per round trip. */
  | "batch"
  /** `batch` concurrent `command()` calls per worker, coalesced by the client's autoBatch. */
  | "auto"
  /** Batches built by the scenario's `custom` workload (bench/lib/coordination.ts). */
  | "custom";

/** One benchmark scenario. */
export interface Scenario {
  name: string;
  description: string;
  clients: number;
  batch: number;
  mode: ScenarioMode;
  /** Share of SETs (the rest are GETs of keys this worker wrote). */
  setRatio: number;
  /**
   * Kill the leader (SIGKILL) part-way through and measure the unavailability window. Needs a
   * started cluster of at least 3 nodes; always runs last; not part of the default selection.
   */
  failover?: boolean;
  /** For mode "custom": what each worker sends and counts. */
  custom?: CustomWorkload;
  /** Watches opened (on the workers' key prefix, spread over the nodes) before the load starts. */
  watchers?: number;
}

/** Every scenario, in run order. */
export const SCENARIOS: readonly Scenario[] = [
  {
    name: "baseline",
    description: "no pipelining: 10 clients, one COMMAND per round trip",
    clients: 10,
    batch: 1,
    mode: "command",
    setRatio: 1,
  },
  {
    name: "baseline-batch1",
    description: "10 clients, one-command COMMAND_BATCH per round trip (vs COMMAND)",
    clients: 10,
    batch: 1,
    mode: "batch",
    setRatio: 1,
  },
  {
    name: "batch-50",
    description: "small batches: 50 SETs x 10 clients",
    clients: 10,
    batch: 50,
    mode: "batch",
    setRatio: 1,
  },
  {
    name: "batch-100",
    description: "medium batches: 100 SETs x 10 clients",
    clients: 10,
    batch: 100,
    mode: "batch",
    setRatio: 1,
  },
  {
    name: "batch-500",
    description: "large batches: 500 SETs x 5 clients",
    clients: 5,
    batch: 500,
    mode: "batch",
    setRatio: 1,
  },
  {
    name: "mixed-100",
    description: "70% SET / 30% GET, batches of 100 x 10 clients",
    clients: 10,
    batch: 100,
    mode: "batch",
    setRatio: 0.7,
  },
  {
    name: "autobatch-100",
    description: "10 clients x 100 concurrent command() calls, coalesced by autoBatch",
    clients: 10,
    batch: 100,
    mode: "auto",
    setRatio: 1,
  },
  ...COORDINATION_SCENARIOS,
  {
    name: "watch-fanout",
    description: "batch-100 x 10 clients while 100 watchers follow the prefix they write",
    clients: 10,
    batch: 100,
    mode: "batch",
    setRatio: 1,
    watchers: 100,
  },
  {
    name: "failover",
    description: "batch-100 x 10 clients; the leader is killed (SIGKILL) a third of the way in",
    clients: 10,
    batch: 100,
    mode: "batch",
    setRatio: 1,
    failover: true,
  },
];

/** The scenarios run when `--scenario` is not given (or is `all`): every one but `failover`. */
export const DEFAULT_SCENARIOS: readonly Scenario[] = SCENARIOS.filter((s) => !s.failover);

/**
 * Scenarios matching the comma-separated filters: `all` (every default scenario), an exact name,
 * or a name prefix (`batch` = batch-50, batch-100, batch-500). `all` leaves `failover` out; name
 * it (`--scenario all,failover`) to add it. In run order (SCENARIOS order); a failover scenario always comes last,
 * since it leaves the cluster one node short.
 */
export function selectScenarios(filter: string | undefined): Scenario[] {
  if (!filter) return [...DEFAULT_SCENARIOS];
  const wanted = filter.split(",").map((s) => s.trim()).filter((s) => s !== "");
  const all = wanted.includes("all");
  const named = (s: Scenario) => wanted.some((w) => s.name === w || s.name.startsWith(w));
  return SCENARIOS.filter((s) => named(s) || (all && !s.failover));
}
