/**
 * The benchmark scenarios of the plan (section 5.2) plus two comparisons: the single-command
 * baseline sent as one-command batches, and auto-batched concurrent `command()` calls.
 * @module
 */

/** How a worker sends its commands. */
export type ScenarioMode =
  /** One `COMMAND` per round trip (no pipelining). */
  | "command"
  /** `COMMAND_BATCH` of `batch` commands per round trip. */
  | "batch"
  /** `batch` concurrent `command()` calls per worker, coalesced by the client's autoBatch. */
  | "auto";

/** One benchmark scenario. */
export interface Scenario {
  name: string;
  description: string;
  clients: number;
  batch: number;
  mode: ScenarioMode;
  /** Share of SETs (the rest are GETs of keys this worker wrote). */
  setRatio: number;
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
];

/** Scenarios whose name matches one of the comma-separated filters (exact name or prefix). */
export function selectScenarios(filter: string | undefined): Scenario[] {
  if (!filter) return [...SCENARIOS];
  const wanted = filter.split(",").map((s) => s.trim()).filter((s) => s !== "");
  return SCENARIOS.filter((s) => wanted.some((w) => s.name === w || s.name.startsWith(w)));
}
