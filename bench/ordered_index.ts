/**
 * Microbenchmark behind core/state/ordered_index.ts's layout: the chunked sorted list it uses
 * against a classic B+tree (64-way internal nodes, 64-key leaves, implemented here only for the
 * comparison): random inserts, point lookups, scans of 100 keys, deletes, and heap bytes per key.
 *
 *   bun bench/ordered_index.ts [--keys 1000000]
 *   deno run bench/ordered_index.ts
 * @module
 */
import process from "node:process";
import { lowerBound, OrderedIndex } from "../core/state/ordered_index.ts";

const args = process.argv.slice(2);
const ki = args.indexOf("--keys");
const N = ki >= 0 ? Number(args[ki + 1]) : 1_000_000;

/** The alternative: a B+tree with sorted arrays in every node. */
class BTree {
  static readonly M = 64;
  root: BNode = { leaf: true, keys: [], kids: null };
  size = 0;

  insert(key: string): boolean {
    const r = this.#ins(this.root, key);
    if (r === false) return false;
    this.size++;
    if (r !== true) this.root = { leaf: false, keys: [r.sep], kids: [this.root, r.right] };
    return true;
  }

  /** true: inserted; false: present; a split: its separator and new right sibling. */
  #ins(n: BNode, key: string): boolean | { sep: string; right: BNode } {
    if (n.leaf) {
      const p = lowerBound(n.keys, key);
      if (n.keys[p] === key) return false;
      n.keys.splice(p, 0, key);
      if (n.keys.length <= BTree.M) return true;
      const rk = n.keys.splice(n.keys.length >> 1);
      return { sep: rk[0], right: { leaf: true, keys: rk, kids: null } };
    }
    const i = upper(n.keys, key);
    const r = this.#ins(n.kids![i], key);
    if (typeof r === "boolean") return r;
    n.keys.splice(i, 0, r.sep);
    n.kids!.splice(i + 1, 0, r.right);
    if (n.kids!.length <= BTree.M) return true;
    const h = n.kids!.length >> 1;
    const rk = n.keys.splice(h - 1);
    const sep = rk.shift()!;
    return { sep, right: { leaf: false, keys: rk, kids: n.kids!.splice(h) } };
  }

  has(key: string): boolean {
    let n = this.root;
    while (!n.leaf) n = n.kids![upper(n.keys, key)];
    return n.keys[lowerBound(n.keys, key)] === key;
  }

  /** Visits keys ≥ start in order until `visit` returns false (a stack walk: no leaf links). */
  forEach(start: string, visit: (k: string) => boolean): void {
    const go = (n: BNode): boolean => {
      if (n.leaf) {
        for (let p = lowerBound(n.keys, start); p < n.keys.length; p++) {
          if (!visit(n.keys[p])) return false;
        }
        return true;
      }
      for (let i = upper(n.keys, start); i < n.kids!.length; i++) if (!go(n.kids![i])) return false;
      return true;
    };
    go(this.root);
  }

  delete(key: string): boolean {
    let n = this.root;
    while (!n.leaf) n = n.kids![upper(n.keys, key)];
    const p = lowerBound(n.keys, key);
    if (n.keys[p] !== key) return false;
    n.keys.splice(p, 1); // (no rebalancing: generous to the B+tree)
    this.size--;
    return true;
  }
}

interface BNode {
  leaf: boolean;
  keys: string[];
  kids: BNode[] | null;
}

/** Index of the child for `key`: the number of separators ≤ key. */
function upper(a: string[], key: string): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if (a[m] <= key) lo = m + 1;
    else hi = m;
  }
  return lo;
}

// Keys "user:<random 10 digits>" (16 bytes), shuffled; strings made before any timing.
let seed = 42;
const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
const distinct = new Set<string>();
while (distinct.size < N) {
  distinct.add(`user:${String(Math.floor(rnd() * 1e10)).padStart(11, "0")}`);
}
const keys = [...distinct];

function time(label: string, n: number, fn: () => void): void {
  const t0 = performance.now();
  fn();
  const ms = performance.now() - t0;
  console.log(
    `  ${label.padEnd(22)} ${Math.round(n / (ms / 1000)).toLocaleString("en-US").padStart(12)} /s`,
  );
}

function heapUsed(): number {
  const g = globalThis as { gc?: () => void; Bun?: { gc(sync: boolean): void } };
  if (g.Bun) g.Bun.gc(true);
  else g.gc?.();
  return process.memoryUsage().heapUsed;
}

const v = process.versions as Record<string, string | undefined>;
console.log(
  `ordered index microbenchmark (${v.bun ? `bun ${v.bun}` : `deno ${v.deno}`}): ${N} keys`,
);
for (
  const [name, make] of [
    ["chunked list (used)", () => new OrderedIndex()],
    ["B+tree 64", () => new BTree()],
  ] as const
) {
  console.log(name);
  const h0 = heapUsed();
  const ix = make();
  time("insert (random order)", N, () => {
    for (let i = 0; i < N; i++) ix.insert(keys[i]);
  });
  const h1 = heapUsed();
  console.log(`  heap per key           ${((h1 - h0) / N).toFixed(1).padStart(12)} bytes`);
  time("has (hit)", N, () => {
    let n = 0;
    for (let i = 0; i < N; i++) if (ix.has(keys[i])) n++;
    if (n !== ix.size) throw new Error("lookup mismatch");
  });
  const scans = Math.min(N, 100_000);
  time("scan of 100 keys", scans, () => {
    for (let i = 0; i < scans; i++) {
      let c = 0;
      const visit = () => ++c < 100;
      if (ix instanceof OrderedIndex) ix.forEach(keys[i], null, false, visit);
      else ix.forEach(keys[i], visit);
    }
  });
  if (ix instanceof OrderedIndex) {
    // The keyspace's path for fresh keys: buffered, merged in sorted runs (a flush per 4,096).
    const fresh = new OrderedIndex();
    time("addNew (random order)", N, () => {
      for (let i = 0; i < N; i++) fresh.addNew(keys[i]);
    });
  }
  time("delete half", N >> 1, () => {
    for (let i = 0; i < N; i += 2) {
      if (ix instanceof OrderedIndex) ix.delete(keys[i], 1);
      else ix.delete(keys[i]);
    }
  });
}
