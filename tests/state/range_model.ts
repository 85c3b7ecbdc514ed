/**
 * The model behind the RANGE ... AT tests (tests/attack/range_at_attack.test.ts without history,
 * tests/state/range_at_history.test.ts with it): small binary keys, the state read as rows, and
 * the page a state holds.
 */
import type { Harness, Reply } from "./harness.ts";

/** One RANGE entry as the harness shows it. */
export type Row = [string, string | null, number, number, number];

/** The page `[lo, hi)` of `rows` (LIMIT `limit`, REV `rev`), as RANGE answers it. */
export function page(
  rows: Map<string, Row>,
  lo: string,
  hi: string | null,
  limit: number,
  rev: boolean,
): Row[] {
  const ks = [...rows.keys()].filter((k) => k >= lo && (hi === null || k < hi)).sort();
  if (rev) ks.reverse();
  return ks.slice(0, limit).map((k) => rows.get(k)!);
}

/** A key of 1..3 bytes from {0x00, a, b, 0xff}: ties, prefixes and both ends of byte order. */
export function binKey(rnd: () => number): string {
  const alphabet = ["\x00", "a", "b", "\xff"];
  let s = "";
  const n = 1 + Math.floor(rnd() * 3);
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(rnd() * alphabet.length)];
  return s;
}

/** A binary key string's bytes. */
export function bytes(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/** Runs a read on `h` (a read takes no revision). */
export function readOn(h: Harness, ...a: (string | Uint8Array)[]): Reply {
  h.ctx.index--;
  return h.run(...a);
}

/** Every key of `h`'s state now, as rows. */
export function stateNow(h: Harness): Map<string, Row> {
  const m = new Map<string, Row>();
  for (const r of readOn(h, "RANGE", "", "", "LIMIT", "10000").value as Row[]) m.set(r[0], r);
  return m;
}
