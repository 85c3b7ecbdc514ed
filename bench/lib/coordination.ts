/**
 * Coordination scenarios (#13): atomic CHECK-guarded batches and RANGE scans. They plug into the
 * runner's "custom" mode: each worker gets its own {@link WorkerLoad}, whose `next` builds the
 * batch of one round trip and whose `tally` decides what counts.
 *
 * - atomic-100 / atomic-100-conflict10: `CHECK guard VERSION v` + 100 SETs (the last one writes
 *   the guard key, so each applied batch bumps its version by exactly one). The worker knows `v`;
 *   in the conflict variant 10 % of batches carry a stale version, as if another writer had won,
 *   and are ABORTED whole (counted neither as ops nor as errors: ops = applied SETs).
 * - range-100: each worker first writes 2,000 keys under its prefix, then every round trip is
 *   `RANGE <one of its keys> <its prefix's end> LIMIT 100`; ops = entries returned.
 * @module
 */
import type { Arg, BatchItemResult, Client } from "../../client/types.ts";
import type { Scenario } from "./scenarios.ts";

/** One worker's side of a custom workload. */
export interface WorkerLoad {
  /** Runs once before the timed loop. */
  setup?(client: Client): Promise<void>;
  /** The next batch (one round trip). */
  next(): Arg[][];
  /** Counts a batch's answers: ops done, errors, and the first error's text. */
  tally(res: BatchItemResult[]): { ops: number; errors: number; error: string | null };
}

/** A workload for the runner's "custom" mode: one {@link WorkerLoad} per worker. */
export type CustomWorkload = (prefix: string, rnd: () => number, value: Uint8Array) => WorkerLoad;

function countBad(res: BatchItemResult[]): { bad: number; error: string | null } {
  let bad = 0;
  let error: string | null = null;
  for (const r of res) {
    if (!r.ok) {
      bad++;
      error ??= `${r.code} ${r.error}`;
    }
  }
  return { bad, error };
}

/** Atomic batches of 100 SETs guarded by one CHECK; `conflict` = share of stale checks. */
export function atomicWorkload(conflict: number): CustomWorkload {
  return (prefix, rnd, value) => {
    const guard = `${prefix}guard`;
    let version = 0;
    let stale = false;
    let n = 0;
    return {
      async setup(client) {
        // The guard key may exist from an earlier scenario of the run (same worker prefix).
        const r = await client.command("GETREV", guard) as unknown[] | null;
        version = r === null ? 0 : r[3] as number;
      },
      next() {
        stale = rnd() < conflict;
        const cmds: Arg[][] = [[
          "CHECK",
          guard,
          "VERSION",
          String(stale ? version + 1e6 : version),
        ]];
        for (let i = 0; i < 99; i++) cmds.push(["SET", `${prefix}${n++}`, value]);
        cmds.push(["SET", guard, value]);
        return cmds;
      },
      tally(res) {
        if (stale && res.every((r) => r.code === "ABORTED")) {
          return { ops: 0, errors: 0, error: null };
        }
        const { bad, error } = countBad(res);
        if (bad === 0) version++;
        // CHECK is the guard, not an op: ops are the applied SETs.
        return { ops: bad === 0 ? res.length - 1 : 0, errors: bad, error };
      },
    };
  };
}

/** Keys each range-100 worker writes before scanning. */
const RANGE_KEYS = 2_000;

/** RANGE scans of 100 keys over a worker's own 2,000 keys. */
export const rangeWorkload: CustomWorkload = (prefix, rnd, value) => {
  const key = (i: number) => `${prefix}${String(i).padStart(6, "0")}`;
  const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
  return {
    async setup(client) {
      for (let i = 0; i < RANGE_KEYS; i += 500) {
        const cmds: Arg[][] = [];
        for (let j = i; j < i + 500; j++) cmds.push(["SET", key(j), value]);
        const { bad, error } = countBad(await client.batch(cmds));
        if (bad > 0) throw new Error(`range-100 setup: ${error}`);
      }
    },
    next: () => [["RANGE", key(Math.floor(rnd() * (RANGE_KEYS - 100))), end, "LIMIT", "100"]],
    tally(res) {
      const { bad, error } = countBad(res);
      const ops = bad === 0 ? (res[0].value as unknown[]).length : 0;
      return { ops, errors: bad, error };
    },
  };
};

/** The coordination scenarios (registered in scenarios.ts). */
export const COORDINATION_SCENARIOS: readonly Scenario[] = [
  {
    name: "atomic-100",
    description: "CHECK + 100 SETs per atomic batch x 10 clients, no conflicts",
    clients: 10,
    batch: 100,
    mode: "custom",
    setRatio: 1,
    custom: atomicWorkload(0),
  },
  {
    name: "atomic-100-conflict10",
    description: "CHECK + 100 SETs per atomic batch x 10 clients, 10% of checks fail (ABORTED)",
    clients: 10,
    batch: 100,
    mode: "custom",
    setRatio: 1,
    custom: atomicWorkload(0.1),
  },
  {
    name: "range-100",
    description: "RANGE ... LIMIT 100 over 2,000 keys per client x 10 clients (ops = entries)",
    clients: 10,
    batch: 100,
    mode: "custom",
    setRatio: 0,
    custom: rangeWorkload,
  },
];
