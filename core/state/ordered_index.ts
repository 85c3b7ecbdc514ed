/**
 * The ordered key index beside the keyspace's hash map: every key, in byte order (keys are binary
 * strings, one code unit per byte, so JS string order is unsigned byte order), for RANGE, prefix
 * scans and KEYS.
 *
 * Layout: a sorted list of chunks — a B+tree of height two whose leaves are large sorted arrays
 * (up to {@link CHUNK_MAX} keys). The top level is three parallel arrays: `seps[i]` (chunk i holds
 * the keys in `[seps[i], seps[i+1])`; `seps[0]` is `""`, the smallest key), `chunks[i]` (its
 * sorted keys) and `dels[i]` (the highest revision at which a key was removed from that region).
 * A lookup is two binary searches; an insert or delete moves at most CHUNK_MAX pointers, plus
 * (once per ~CHUNK_MAX/2 inserts) a splice of the top arrays. Chosen by measurement over a
 * classic B+tree with 64-key nodes (bench/ordered_index.ts, numbers in docs/coordination.md): as
 * fast or faster in Bun and Deno at 10^5..10^6 keys, far less code, and only one JS object (an
 * array) per ~CHUNK_MAX/2..CHUNK_MAX keys, so the GC barely sees it — about one pointer per key.
 *
 * Separators never move on delete, so a region's deletion revision stays with the key range it
 * describes (split: both halves inherit it; merge: the max). {@link removedAfter} uses them to tell
 * whether a key range may have lost a key after a given revision (RANGE ... AT rev).
 * @module
 */

/** Most keys in one chunk (a chunk that grows past it splits in two). */
export const CHUNK_MAX = 1024;
/** A chunk smaller than this merges with a neighbour when the two fit in one chunk. */
const CHUNK_MIN = CHUNK_MAX >> 3;

/** First index in sorted `a` whose element is ≥ `key` (a.length if none). */
export function lowerBound(a: readonly string[], key: string): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Every key in byte order, with per-region deletion revisions. */
export class OrderedIndex {
  #seps: string[] = [""];
  #chunks: string[][] = [[]];
  #dels: number[] = [0];
  #size = 0;
  /**
   * The oldest revision the deletion revisions are complete from: removals at or before it are
   * not recorded (a keyspace restored from a snapshot starts with `Infinity`, which the state
   * machine lowers to the first revision it applies; FLUSHALL raises it).
   */
  floor = 0;

  /** Number of keys. */
  get size(): number {
    return this.#size;
  }

  /** The chunk whose region holds `key`: the last i with seps[i] ≤ key. */
  #find(key: string): number {
    const s = this.#seps;
    let lo = 0;
    let hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (s[mid] <= key) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** True if `key` is in the index. */
  has(key: string): boolean {
    const c = this.#chunks[this.#find(key)];
    const p = lowerBound(c, key);
    return p < c.length && c[p] === key;
  }

  /** Adds `key`; false (and no change) if it is already there. */
  insert(key: string): boolean {
    const ci = this.#find(key);
    const c = this.#chunks[ci];
    const n = c.length;
    // Appending in order (snapshot restore of sorted keys, sequential ids) is the common fast path.
    let p: number;
    if (n === 0 || c[n - 1] < key) p = n;
    else {
      p = lowerBound(c, key);
      if (c[p] === key) return false;
    }
    if (p === n) c.push(key);
    else c.splice(p, 0, key);
    this.#size++;
    if (c.length > CHUNK_MAX) this.#split(ci);
    return true;
  }

  #split(ci: number): void {
    const c = this.#chunks[ci];
    const half = c.length >> 1;
    const right = c.splice(half);
    this.#seps.splice(ci + 1, 0, right[0]);
    this.#chunks.splice(ci + 1, 0, right);
    this.#dels.splice(ci + 1, 0, this.#dels[ci]);
  }

  /** Removes `key` (removed at revision `rev`); false if it was not there. */
  delete(key: string, rev: number): boolean {
    const ci = this.#find(key);
    const c = this.#chunks[ci];
    const p = lowerBound(c, key);
    if (p >= c.length || c[p] !== key) return false;
    if (p === c.length - 1) c.pop();
    else c.splice(p, 1);
    this.#size--;
    if (rev > this.#dels[ci]) this.#dels[ci] = rev;
    if (c.length < CHUNK_MIN && this.#chunks.length > 1) this.#merge(ci);
    return true;
  }

  /** Merges small chunk `ci` into a neighbour if the two fit in one chunk. */
  #merge(ci: number): void {
    const chunks = this.#chunks;
    // An empty chunk always goes; a small one only into a neighbour that stays half full at most
    // (so a chunk does not split again a few inserts after a merge).
    const fit = chunks[ci].length === 0 ? CHUNK_MAX : CHUNK_MAX >> 1;
    let left = -1;
    if (ci + 1 < chunks.length && chunks[ci].length + chunks[ci + 1].length <= fit) {
      left = ci;
    } else if (ci > 0 && chunks[ci - 1].length + chunks[ci].length <= fit) {
      left = ci - 1;
    }
    if (left < 0) return;
    const a = chunks[left];
    const b = chunks[left + 1];
    for (let i = 0; i < b.length; i++) a.push(b[i]);
    const d = this.#dels;
    if (d[left + 1] > d[left]) d[left] = d[left + 1];
    chunks.splice(left + 1, 1);
    this.#seps.splice(left + 1, 1);
    d.splice(left + 1, 1);
  }

  /** Removes every key (at revision `rev`: history before it is gone). */
  clear(rev: number): void {
    this.#seps = [""];
    this.#chunks = [[]];
    this.#dels = [0];
    this.#size = 0;
    if (rev > this.floor) this.floor = rev;
  }

  /**
   * Calls `visit` with each key in `[start, end)` (`end` null: no upper bound) in ascending order,
   * or descending with `reverse`, until it returns false.
   */
  forEach(
    start: string,
    end: string | null,
    reverse: boolean,
    visit: (key: string) => boolean,
  ): void {
    if (end !== null && end <= start) return;
    const chunks = this.#chunks;
    if (!reverse) {
      let ci = this.#find(start);
      let p = lowerBound(chunks[ci], start);
      for (; ci < chunks.length; ci++, p = 0) {
        const c = chunks[ci];
        for (; p < c.length; p++) {
          const k = c[p];
          if (end !== null && k >= end) return;
          if (!visit(k)) return;
        }
      }
    } else {
      let ci = end === null ? chunks.length - 1 : this.#find(end);
      let p = end === null ? chunks[ci].length - 1 : lowerBound(chunks[ci], end) - 1;
      for (; ci >= 0; ci--) {
        const c = chunks[ci];
        if (p === -2) p = c.length - 1; // entering a new chunk from the right
        for (; p >= 0; p--) {
          const k = c[p];
          if (k < start) return;
          if (!visit(k)) return;
        }
        p = -2;
      }
    }
  }

  /**
   * True if a key in `[lo, hi]` may have been removed after revision `rev` (conservative: a
   * removal elsewhere in the same chunk region counts too; so does any removal not recorded, i.e.
   * `rev` below {@link floor}).
   */
  removedAfter(lo: string, hi: string, rev: number): boolean {
    if (rev < this.floor) return true;
    const a = this.#find(lo);
    const b = hi < lo ? a : this.#find(hi);
    const d = this.#dels;
    for (let i = a; i <= b; i++) if (d[i] > rev) return true;
    return false;
  }

  /** Internal consistency check for tests: throws if the layout invariants do not hold. */
  verify(): void {
    let n = 0;
    let prev: string | null = null;
    const seps = this.#seps;
    if (seps[0] !== "" || seps.length !== this.#chunks.length) throw new Error("bad separators");
    for (let i = 0; i < this.#chunks.length; i++) {
      const c = this.#chunks[i];
      if (c.length > CHUNK_MAX) throw new Error(`chunk ${i} too big`);
      if (this.#chunks.length > 1 && c.length === 0) throw new Error(`chunk ${i} empty`);
      for (const k of c) {
        if (prev !== null && !(prev < k)) throw new Error("keys out of order");
        if (k < seps[i] || (i + 1 < seps.length && k >= seps[i + 1])) {
          throw new Error(`key outside chunk ${i}'s region`);
        }
        prev = k;
        n++;
      }
    }
    if (n !== this.#size) throw new Error("size mismatch");
  }
}
