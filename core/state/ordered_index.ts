/**
 * The ordered key index beside the keyspace's hash map: every key, in byte order (keys are binary
 * strings, one code unit per byte, so JS string order is unsigned byte order), for RANGE, prefix
 * scans and KEYS.
 *
 * Layout: a sorted list of chunks — a B+tree of height two whose leaves are large sorted arrays
 * (up to {@link CHUNK_MAX} keys). The top level is parallel arrays: `seps[i]` (chunk i holds the
 * keys in `[seps[i], seps[i+1])`; `seps[0]` is `""`, the smallest key), `chunks[i]` (its sorted
 * keys), `nums[i]` (each key's next bytes after the chunk's shared prefix, packed in a number, so
 * the in-chunk search rarely reads a string) and `dels[i]` (the highest revision at which a key
 * was removed from that region). A lookup is two binary searches; an insert or delete moves at
 * most CHUNK_MAX entries, plus (once per ~CHUNK_MAX/2 inserts) a splice of the top arrays. Chosen
 * by measurement over a classic B+tree with 64-key nodes (bench/ordered_index.ts, numbers in
 * docs/coordination.md): faster in Bun and Deno at 10^5..10^6 keys, and only two JS objects per
 * ~CHUNK_MAX/2..CHUNK_MAX keys, so the GC barely sees it.
 *
 * The chunks hold the keys' positions in the keyspace's key table (`key_table.ts`, where each key
 * keeps its position for as long as it lives), not key strings: the table stores the keys as bytes
 * in slabs, so millions of keys are no longer millions of strings for V8's GC to mark. Comparisons
 * read the table's bytes; a walk makes a string per key it visits. An index made without a table
 * keeps its own (the string methods {@link OrderedIndex.insert}, {@link OrderedIndex.addNew} and
 * {@link OrderedIndex.delete} use it); the keyspace's index shares the keyspace's table and is
 * told positions ({@link OrderedIndex.addNewAt}, {@link OrderedIndex.deleteAt}).
 *
 * Separators never move on delete, so a region's deletion revision stays with the key range it
 * describes (split: both halves inherit it; merge: the max). {@link removedAfter} uses them to tell
 * whether a key range may have lost a key after a given revision (RANGE ... AT rev).
 * @module
 */

import { hashKey, KeyTable } from "./key_table.ts";
import { KeyEntry, Kind } from "./entry.ts";

/** Most keys in one chunk (a chunk that grows past it splits in two). */
export const CHUNK_MAX = 1024;
/** Keys {@link OrderedIndex.addNew} buffers before merging them in (a sort of this many: ~2 ms). */
export const PENDING_MAX = 4096;
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

/** Bytes of a key (after its chunk's common prefix) packed into one number (see {@link keyNum}). */
const NUM_BYTES = 6;

/**
 * Bytes `from..from+6` of `key` as a number that orders like the strings: each position is the
 * byte + 1, or 0 past the key's end, in base 257 (257^6 < 2^53). Equal numbers: compare strings.
 */
function keyNum(key: string, from: number): number {
  let v = 0;
  for (let i = from; i < from + NUM_BYTES; i++) {
    v = v * 257 + (i < key.length ? key.charCodeAt(i) + 1 : 0);
  }
  return v;
}

/** Length of the common prefix of `a` and `b`. */
function commonPrefix(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/** Bytes `from..from+6` of the key at live position `pos` of `t`, as {@link keyNum} packs them. */
function keyNumAt(t: KeyTable, pos: number, from: number): number {
  const n = t.keyLengthAt(pos);
  let v = 0;
  for (let i = from; i < from + NUM_BYTES; i++) v = v * 257 + (i < n ? t.keyByteAt(pos, i) + 1 : 0);
  return v;
}

/**
 * The keys {@link OrderedIndex.addNewAt} buffered, with their table positions: an array in arrival
 * order and a small open-addressing table over it (hash from `key_table.ts`), so `has`/`delete`
 * stay O(1). A `Set<string>` did the same job at ~400 ns per fresh key string (V8 hashes every new
 * string and rehashes as the Set grows after each clear); this costs ~30 ns. The buffer keeps the
 * commands' key strings (at most {@link PENDING_MAX}) so that a merge sorts them natively: sorting
 * positions with a comparator over the table's bytes cost ~0.7 µs per key. Slots carry a generation
 * stamp, so `clear` is O(1). A removed key leaves a hole in the array and a tombstone in the table
 * until the next clear; the owner merges (and clears) once `used` reaches {@link PENDING_MAX}, so
 * the table never fills.
 */
class PendingKeys {
  static readonly SLOTS = 2 * PENDING_MAX;
  /** Keys in arrival order; undefined where one was removed. */
  keys: (string | undefined)[] = [];
  /** The table position of each of {@link keys}. */
  #positions: number[] = [];
  /** Keys present. */
  size = 0;
  readonly #at = new Int32Array(PendingKeys.SLOTS); // index in keys + 1; -1 = removed
  readonly #hash = new Int32Array(PendingKeys.SLOTS);
  readonly #gen = new Int32Array(PendingKeys.SLOTS); // a slot is in use only if its gen is #g
  #g = 1;

  /** Keys added since the last clear, removed ones included (the table's fill). */
  get used(): number {
    return this.keys.length;
  }

  #slot(key: string, h: number): number {
    const mask = PendingKeys.SLOTS - 1;
    for (let i = h & mask;; i = (i + 1) & mask) {
      if (this.#gen[i] !== this.#g) return -1;
      const a = this.#at[i];
      if (a > 0 && this.#hash[i] === h && this.keys[a - 1] === key) return i;
    }
  }

  /** Adds `key` (at table position `pos`), which is not here. */
  add(key: string, pos: number): void {
    const h = hashKey(key);
    const mask = PendingKeys.SLOTS - 1;
    let i = h & mask;
    while (this.#gen[i] === this.#g && this.#at[i] !== -1) i = (i + 1) & mask;
    this.#gen[i] = this.#g;
    this.keys.push(key);
    this.#positions.push(pos);
    this.#at[i] = this.keys.length;
    this.#hash[i] = h;
    this.size++;
  }

  has(key: string): boolean {
    return this.size > 0 && this.#slot(key, hashKey(key)) >= 0;
  }

  /** Removes `key`; false if it was not here. */
  delete(key: string): boolean {
    if (this.size === 0) return false;
    const i = this.#slot(key, hashKey(key));
    if (i < 0) return false;
    this.keys[this.#at[i] - 1] = undefined;
    this.#at[i] = -1;
    this.size--;
    return true;
  }

  /** The keys present in key order, each with its table position; and empties the buffer. */
  drainSorted(): { keys: string[]; positions: number[] } {
    const keys: string[] = [];
    for (const k of this.keys) if (k !== undefined) keys.push(k);
    keys.sort(); // one code unit per byte: string order is byte order
    const positions: number[] = new Array(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      positions[i] = this.#positions[this.#at[this.#slot(k, hashKey(k))] - 1];
    }
    this.clear();
    return { keys, positions };
  }

  clear(): void {
    this.keys = [];
    this.#positions = [];
    this.size = 0;
    if (++this.#g === 0x7fffffff) {
      this.#gen.fill(0);
      this.#g = 1;
    }
  }
}

const NO_BYTES = new Uint8Array(0);

/** The entry a standalone index stores with each key in its own table (its fields are unused). */
function blank(): KeyEntry {
  return new KeyEntry(Kind.STRING, NO_BYTES, 0);
}

/** Every key in byte order, with per-region deletion revisions. */
export class OrderedIndex {
  /** Where the keys live (the keyspace's table, or this index's own). */
  readonly #t: KeyTable;
  readonly #own: boolean;
  #seps: string[] = [""];
  /** Per chunk, its keys' positions in {@link #t}, in key order. */
  #chunks: number[][] = [[]];
  /**
   * Per chunk, each key's {@link keyNum} after the prefix every key of the chunk shares (the common
   * prefix of its separators, `#skip[i]`): the in-chunk binary search compares these numbers,
   * which sit in one contiguous array, and reads a key's bytes only on a tie — most of a lookup's
   * cost is otherwise the cache misses of reading ~10 scattered keys.
   */
  #nums: Float64Array[] = [new Float64Array(CHUNK_MAX + 1)];
  #skip: number[] = [0];
  #dels: number[] = [0];
  #size = 0;
  /**
   * Positions added by {@link addNewAt} and not yet merged into the chunks (never also in a chunk).
   * Kept unsorted and merged in sorted runs — one pass per chunk a run lands in — when a read needs
   * the order or {@link PENDING_MAX} accumulate: a key inserted one at a time costs a chunk search
   * and a shift of up to CHUNK_MAX entries (~1 µs, a tenth of a replicated SET's CPU), a key merged
   * in a run costs its share of a sort and of one pass.
   */
  #pending = new PendingKeys();
  /**
   * The oldest revision the deletion revisions are complete from: removals at or before it are
   * not recorded (a keyspace restored from a snapshot starts with `Infinity`, which the state
   * machine lowers to the first revision it applies; FLUSHALL raises it).
   */
  floor = 0;

  /**
   * An index over the keys of `table` (told of each by position), or, without one, a standalone
   * index keeping its keys in a table of its own (the string methods).
   */
  constructor(table?: KeyTable) {
    this.#own = table === undefined;
    this.#t = table ?? new KeyTable();
  }

  /** Number of keys. */
  get size(): number {
    return this.#size + this.#pending.size;
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

  /**
   * First position in chunk `ci` (below `hi`, default the chunk's length) whose key is ≥ `key`,
   * whose number is `kn`: numbers first, the stored key's bytes on ties.
   */
  #lower(ci: number, key: string, kn: number, hi = this.#chunks[ci].length): number {
    const c = this.#chunks[ci];
    const nums = this.#nums[ci];
    const t = this.#t;
    let lo = 0;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = nums[mid];
      if (m < kn || (m === kn && t.compareAt(c[mid], key) < 0)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Recomputes chunk `ci`'s shared prefix length and numbers (after its region changed). */
  #renumber(ci: number): void {
    const seps = this.#seps;
    const skip = ci + 1 < seps.length && ci > 0 ? commonPrefix(seps[ci], seps[ci + 1]) : 0;
    this.#skip[ci] = skip;
    const c = this.#chunks[ci];
    const nums = this.#nums[ci];
    const t = this.#t;
    for (let i = 0; i < c.length; i++) nums[i] = keyNumAt(t, c[i], skip);
  }

  #ownOnly(): void {
    if (!this.#own) {
      throw new Error("this index shares a keyspace's key table: tell it positions (addNewAt)");
    }
  }

  /** True if `key` is in the index. */
  has(key: string): boolean {
    if (this.#pending.has(key)) return true;
    const pos = this.#t.positionOf(key);
    if (pos < 0) return false;
    const ci = this.#find(key);
    const c = this.#chunks[ci];
    const p = this.#lower(ci, key, keyNum(key, this.#skip[ci]));
    return p < c.length && c[p] === pos;
  }

  /** Standalone index: adds `key`, which must not be in it (buffered, see {@link addNewAt}). */
  addNew(key: string): void {
    this.#ownOnly();
    this.addNewAt(this.#t.addNew(key, blank()), key);
  }

  /**
   * Adds `key`, at live position `pos` of the table, which must not be in the index (the keyspace
   * adds only keys it does not hold): buffered, merged in before the next ordered read.
   */
  addNewAt(pos: number, key: string): void {
    const pending = this.#pending;
    pending.add(key, pos);
    if (pending.used >= PENDING_MAX) this.#flush();
  }

  /** Standalone index: adds `key`; false (and no change) if it is already there. */
  insert(key: string): boolean {
    this.#ownOnly();
    if (this.#t.has(key)) return false;
    return this.insertAt(this.#t.addNew(key, blank()), key);
  }

  /** Adds `key`, at live position `pos`, now (not buffered); false if it is already there. */
  insertAt(pos: number, key: string): boolean {
    if (this.#pending.has(key)) return false;
    const ci = this.#find(key);
    const c = this.#chunks[ci];
    const nums = this.#nums[ci];
    const n = c.length;
    const kn = keyNum(key, this.#skip[ci]);
    // Appending in order (snapshot restore of sorted keys, sequential ids) is the common fast path.
    let p: number;
    if (n === 0 || this.#t.compareAt(c[n - 1], key) < 0) p = n;
    else {
      p = this.#lower(ci, key, kn);
      if (c[p] === pos) return false;
    }
    if (p === n) c.push(pos);
    else {
      c.splice(p, 0, pos);
      nums.copyWithin(p + 1, p, n);
    }
    nums[p] = kn;
    this.#size++;
    if (c.length > CHUNK_MAX) this.#split(ci);
    return true;
  }

  #split(ci: number): void {
    const c = this.#chunks[ci];
    const right = c.splice(c.length >> 1);
    this.#cut(ci, [c, right]);
  }

  /**
   * Replaces chunk `ci` by `pieces` (sorted, consecutive, non-empty): the first keeps `ci`'s
   * separator and number array, each later one starts a region at its first key and inherits
   * `ci`'s deletion revision.
   */
  #cut(ci: number, pieces: number[][]): void {
    const extra = pieces.slice(1);
    const del = this.#dels[ci];
    this.#chunks.splice(ci, 1, ...pieces);
    this.#seps.splice(ci + 1, 0, ...extra.map((p) => this.#t.keyAt(p[0])!));
    this.#nums.splice(ci + 1, 0, ...extra.map(() => new Float64Array(CHUNK_MAX + 1)));
    this.#skip.splice(ci + 1, 0, ...extra.map(() => 0));
    this.#dels.splice(ci + 1, 0, ...extra.map(() => del));
    for (let p = ci; p < ci + pieces.length; p++) this.#renumber(p);
  }

  /** Standalone index: removes `key` (removed at revision `rev`); false if it was not there. */
  delete(key: string, rev: number): boolean {
    this.#ownOnly();
    const pos = this.#t.positionOf(key);
    if (pos < 0) return false;
    const done = this.deleteAt(pos, rev, key);
    this.#t.delete(key);
    return done;
  }

  /**
   * Removes `key`, at live position `pos` (removed at revision `rev`; call before the table frees
   * the position); false if it was not there. A key still buffered leaves no deletion mark:
   * it was created after every revision the index was read at, so no `RANGE ... AT` page could
   * have shown it.
   */
  deleteAt(pos: number, rev: number, key: string): boolean {
    if (this.#pending.delete(key)) return true;
    const ci = this.#find(key);
    const c = this.#chunks[ci];
    const p = this.#lower(ci, key, keyNum(key, this.#skip[ci]));
    if (p >= c.length || c[p] !== pos) return false;
    if (p === c.length - 1) c.pop();
    else {
      c.splice(p, 1);
      this.#nums[ci].copyWithin(p, p + 1, c.length + 1);
    }
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
    this.#nums.splice(left + 1, 1);
    this.#skip.splice(left + 1, 1);
    d.splice(left + 1, 1);
    this.#renumber(left);
  }

  /** Merges the buffered keys into the chunks, one sorted run per chunk they land in. */
  #flush(): void {
    const { keys, positions } = this.#pending.drainSorted();
    let i = 0;
    while (i < keys.length) {
      const ci = this.#find(keys[i]);
      const upper = ci + 1 < this.#seps.length ? this.#seps[ci + 1] : null;
      let j = i + 1;
      while (j < keys.length && (upper === null || keys[j] < upper)) j++;
      this.#mergeRun(ci, keys, positions, i, j);
      i = j;
    }
  }

  /**
   * Merges sorted `keys[from..to)` (at table `positions[from..to)`; all in chunk `ci`'s region,
   * none present) into chunk `ci`.
   */
  #mergeRun(ci: number, keys: string[], positions: number[], from: number, to: number): void {
    const c = this.#chunks[ci];
    const t = this.#t;
    const n = c.length;
    const m = to - from;
    this.#size += m;
    if (n + m <= CHUNK_MAX) {
      // In place, from the back: each new key's place among the old keys not yet moved is found
      // by binary search on the numbers, and the old keys above it move up as one block (no
      // key comparison per moved key). Under random keys a run is one or two keys landing in
      // a chunk of hundreds: the element-by-element merge compared keys with long shared
      // prefixes all the way down, ~10 µs per key at 3M keys.
      const nums = this.#nums[ci];
      const skip = this.#skip[ci];
      c.length = n + m;
      let a = n; // old keys c[0..a) have not moved
      let w = n + m; // c[w..) is final
      for (let b = to - 1; b >= from; b--) {
        const key = keys[b];
        const kn = keyNum(key, skip);
        const lo = this.#lower(ci, key, kn, a);
        const len = a - lo;
        if (len > 0) {
          nums.copyWithin(w - len, lo, a);
          for (let i = a - 1, j = w - 1; i >= lo; i--, j--) c[j] = c[i];
          w -= len;
        }
        c[--w] = positions[b];
        nums[w] = kn;
        a = lo;
      }
      return;
    }
    // Too many for one chunk: merge into a new array and cut it into chunks about half full.
    const all: number[] = new Array(n + m);
    let a = 0;
    let b = from;
    for (let w = 0; w < n + m; w++) {
      all[w] = b >= to || (a < n && t.compareAt(c[a], keys[b]) < 0) ? c[a++] : positions[b++];
    }
    const k = Math.ceil(all.length / (CHUNK_MAX >> 1));
    const size = Math.ceil(all.length / k);
    const pieces: number[][] = [];
    for (let p = 0; p < all.length; p += size) pieces.push(all.slice(p, p + size));
    this.#cut(ci, pieces);
  }

  /** Removes every key (at revision `rev`: history before it is gone). */
  clear(rev: number): void {
    this.#pending.clear();
    if (this.#own) this.#t.clear();
    this.#seps = [""];
    this.#chunks = [[]];
    this.#nums = [new Float64Array(CHUNK_MAX + 1)];
    this.#skip = [0];
    this.#dels = [0];
    this.#size = 0;
    if (rev > this.floor) this.floor = rev;
  }

  /**
   * Calls `visit` with each key in `[start, end)` (`end` null: no upper bound) in ascending order,
   * or descending with `reverse`, until it returns false; with the key, its position in the table
   * (for `entryAt`, no second lookup). The index must not change during the walk.
   */
  forEach(
    start: string,
    end: string | null,
    reverse: boolean,
    visit: (key: string, pos: number) => boolean,
  ): void {
    if (end !== null && end <= start) return;
    if (this.#pending.used > 0) this.#flush();
    const chunks = this.#chunks;
    const t = this.#t;
    if (!reverse) {
      let ci = this.#find(start);
      let p = this.#lower(ci, start, keyNum(start, this.#skip[ci]));
      for (; ci < chunks.length; ci++, p = 0) {
        const c = chunks[ci];
        for (; p < c.length; p++) {
          const k = c[p];
          if (end !== null && t.compareAt(k, end) >= 0) return;
          if (!visit(t.keyAt(k)!, k)) return;
        }
      }
    } else {
      let ci = end === null ? chunks.length - 1 : this.#find(end);
      let p = end === null
        ? chunks[ci].length - 1
        : this.#lower(ci, end, keyNum(end, this.#skip[ci])) - 1;
      for (; ci >= 0; ci--) {
        const c = chunks[ci];
        if (p === -2) p = c.length - 1; // entering a new chunk from the right
        for (; p >= 0; p--) {
          const k = c[p];
          if (t.compareAt(k, start) < 0) return;
          if (!visit(t.keyAt(k)!, k)) return;
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
    if (this.#pending.used > 0) this.#flush();
    const t = this.#t;
    let n = 0;
    let prev = -1;
    const seps = this.#seps;
    if (seps[0] !== "" || seps.length !== this.#chunks.length) throw new Error("bad separators");
    for (let i = 0; i < this.#chunks.length; i++) {
      const c = this.#chunks[i];
      if (c.length > CHUNK_MAX) throw new Error(`chunk ${i} too big`);
      if (this.#chunks.length > 1 && c.length === 0) throw new Error(`chunk ${i} empty`);
      for (let j = 0; j < c.length; j++) {
        const k = c[j];
        if (t.keyAt(k) === undefined) throw new Error(`chunk ${i} holds free position ${k}`);
        if (this.#nums[i][j] !== keyNumAt(t, k, this.#skip[i])) {
          throw new Error(`stale number in chunk ${i}`);
        }
        if (prev >= 0 && !(t.compareAt(prev, t.keyAt(k)!) < 0)) {
          throw new Error("keys out of order");
        }
        if (
          t.compareAt(k, seps[i]) < 0 || (i + 1 < seps.length && t.compareAt(k, seps[i + 1]) >= 0)
        ) {
          throw new Error(`key outside chunk ${i}'s region`);
        }
        prev = k;
        n++;
      }
    }
    if (n !== this.#size) throw new Error("size mismatch");
    if (this.#own && t.size !== this.#size) throw new Error("own table size mismatch");
  }
}
