/**
 * End-of-test checks shared by the process-cluster tests: every node converged to the same log
 * position, and each node's own state machine (read with leadership moved to it) holds every
 * acknowledged write, nothing foreign, and the same data as every other node.
 */
import type { Value } from "../../mod.ts";
import { type ProcessCluster, text } from "./harness.ts";
import type { WriteLedger } from "./workload.ts";

/** What `verifyAllNodes` found: problems (empty = all good) and each node's values. */
export interface Verification {
  problems: string[];
  values: Map<number, Map<string, Value>>;
  /** The converged applied index. */
  applied: number;
  /** How many SETs with unknown outcome turned out to be applied (on the first node). */
  unknownApplied: number;
}

/**
 * Checks every node of `cluster` against `ledger`:
 * - all nodes report the same commit / applied / last index and the same number of keys (INFO);
 * - on each node (read through its own state machine): every acknowledged SET has its value; a
 *   SET with unknown outcome has its value or is absent; each counter c satisfies
 *   acked(c) <= value <= acked(c) + unknown(c) (exactly-once, with the idempotency plugin; without
 *   it pass `incrUpperBound: false`) and is at least the largest value an INCR returned;
 * - INFO's key count equals the number of keys found (no key that no client wrote);
 * - every node holds exactly the same values for all keys read (also `extraKeys`);
 * - no node logged an ERROR line.
 */
export async function verifyAllNodes(
  cluster: ProcessCluster,
  ledger: WriteLedger,
  opts: { extraKeys?: string[]; incrUpperBound?: boolean } = {},
): Promise<Verification> {
  const problems: string[] = [];
  const note = (s: string) => {
    if (problems.length < 30) problems.push(s);
  };
  const infos = await cluster.waitConverged();
  const keyCounts = [...infos.values()].map((i) => Number(i.keys));
  if (!keyCounts.every((k) => k === keyCounts[0])) note(`INFO keys differ: ${keyCounts}`);
  const keys = [
    ...ledger.acked.keys(),
    ...ledger.unknown.keys(),
    ...ledger.counters,
    ...(opts.extraKeys ?? []),
  ];
  const values = new Map<number, Map<string, Value>>();
  for (const n of cluster.nodes) values.set(n.id, await cluster.readFrom(n.id, keys));
  for (const [id, got] of values) {
    for (const [k, v] of ledger.acked) {
      const g = text(got.get(k) ?? null);
      if (g !== v) note(`node ${id}: acknowledged ${k}=${v} but read ${g}`);
    }
    for (const [k, v] of ledger.unknown) {
      const g = text(got.get(k) ?? null);
      if (g !== null && g !== v) note(`node ${id}: ${k} (outcome unknown) is ${g}, not ${v}`);
    }
    for (const c of ledger.counters) {
      const acked = ledger.incrAcked.get(c) ?? 0;
      const unknown = ledger.incrUnknown.get(c) ?? 0;
      const g = text(got.get(c) ?? null);
      const v = g === null ? 0 : Number(g);
      const maxSeen = Math.max(0, ...ledger.incrValues.get(c)!);
      if (v < acked || v < maxSeen) {
        note(`node ${id}: counter ${c}=${v} < acknowledged ${acked} / largest returned ${maxSeen}`);
      }
      if (opts.incrUpperBound !== false && v > acked + unknown) {
        note(`node ${id}: counter ${c}=${v} > acknowledged ${acked} + unknown ${unknown}`);
      }
    }
    const present = [...got.values()].filter((v) => v !== null).length;
    if (present !== Number(infos.get(id)!.keys)) {
      note(
        `node ${id}: INFO says ${infos.get(id)!.keys} keys, ${present} of the written keys exist`,
      );
    }
  }
  const first = values.get(cluster.nodes[0].id)!;
  for (const [id, got] of values) {
    for (const k of keys) {
      if (text(got.get(k) ?? null) !== text(first.get(k) ?? null)) {
        note(
          `nodes disagree on ${k}: node ${cluster.nodes[0].id} ${text(first.get(k) ?? null)}, ` +
            `node ${id} ${text(got.get(k) ?? null)}`,
        );
      }
    }
  }
  // Two different acknowledged INCRs of one counter cannot return the same value.
  for (const [c, vs] of ledger.incrValues) {
    if (new Set(vs).size !== vs.length) {
      note(`counter ${c}: two acknowledged INCRs returned the same value`);
    }
  }
  for (const line of cluster.errorLines()) note(line);
  const applied = Number([...infos.values()][0].applied_index);
  let unknownApplied = 0;
  for (const k of ledger.unknown.keys()) if ((first.get(k) ?? null) !== null) unknownApplied++;
  return { problems, values, applied, unknownApplied };
}
