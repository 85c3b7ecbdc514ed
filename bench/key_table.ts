/**
 * The keyspace's key table against a JavaScript `Map` (#11): N fresh key strings (as the state
 * machine makes them from the wire, `bytesToKey`), inserted, looked up and half deleted. Prints
 * per phase the wall time, the slowest 1,000-insert stretch (a `Map` rehashes everything at once
 * when it grows; the key table grows a little per insert, so what remains there is GC) and the
 * user CPU of the whole run.
 *
 *   deno run -A bench/key_table.ts [--keys 4000000] [--only map|table]
 *   bun bench/key_table.ts
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { bytesToKey, keyToBytes } from "../core/state/bytes.ts";
import { KeyTable } from "../core/state/key_table.ts";
import { KeyEntry, Kind } from "../core/state/keyspace.ts";

const { values } = parseArgs({
  options: { keys: { type: "string", default: "4000000" }, only: { type: "string" } },
});
const N = Number(values.keys);
if (!Number.isSafeInteger(N) || N < 1000 || N > 50_000_000) {
  console.error("--keys must be an integer in 1000..50000000");
  process.exit(2);
}
const kinds = values.only === undefined ? ["map", "table"] : [values.only];
if (kinds.some((k) => k !== "map" && k !== "table")) {
  console.error("--only must be map or table");
  process.exit(2);
}
const keys: Uint8Array[] = [];
for (let i = 0; i < N; i++) {
  keys.push(keyToBytes(`key:${String((i * 7919) % 100_000_000).padStart(10, "0")}`));
}
// One entry for every key (the table copies its fields into each position).
const entry = new KeyEntry(Kind.STRING, new Uint8Array(0), 1);
interface Store {
  set(k: string, e: KeyEntry): unknown;
  get(k: string): KeyEntry | undefined;
  delete(k: string): boolean;
}
for (const kind of kinds) {
  const m: Store = kind === "map" ? new Map<string, KeyEntry>() : new KeyTable();
  const cpu = process.cpuUsage();
  let worst = 0;
  const t0 = performance.now();
  for (let i = 0; i < N; i += 1000) {
    const s = performance.now();
    for (let j = i; j < i + 1000 && j < N; j++) m.set(bytesToKey(keys[j]), entry);
    worst = Math.max(worst, performance.now() - s);
  }
  const t1 = performance.now();
  let found = 0;
  for (let i = 0; i < N; i++) if (m.get(bytesToKey(keys[(i * 31) % N])) !== undefined) found++;
  const t2 = performance.now();
  for (let i = 0; i < N; i += 2) m.delete(bytesToKey(keys[i]));
  const t3 = performance.now();
  const user = process.cpuUsage(cpu).user / 1000;
  if (found !== N) throw new Error(`${kind}: found ${found} of ${N}`);
  console.log(
    `${kind.padEnd(5)} ${N} keys: insert ${(t1 - t0).toFixed(0)} ms (slowest 1,000 inserts ${
      worst.toFixed(1)
    } ms), get ${(t2 - t1).toFixed(0)} ms, delete half ${(t3 - t2).toFixed(0)} ms, user CPU ${
      user.toFixed(0)
    } ms`,
  );
}
