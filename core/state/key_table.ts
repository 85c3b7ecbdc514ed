/**
 * The keyspace's key → entry table: a hash table that never stops the world to grow (#11).
 *
 * A JavaScript `Map` grows by rehashing every entry at once: 145 ms at 2²¹ keys, 285 ms at 2²²,
 * and every replica does it at the same log index, so heartbeats stop on all of them together.
 * This table splits the work the way Redis's dict does, a little per write:
 *
 * - **Dense storage** in pages of 65,536 positions: the key (its bytes, in the page's key buffer:
 *   {@link KeyPage}) and the entry's fields (typed arrays and a value reference, see `entry.ts`) at
 *   one position each — no JS object or string per key. A
 *   key keeps its position for as long as it lives; a freed position is reused by a later key (a
 *   stack of free positions), so there is no compaction that would move keys, and pages are added
 *   one at a time (never a copy of all).
 * - **An index**: open addressing with linear probing over an `Int32Array` of pairs (position + 1,
 *   hash; 0 = empty), at most 3/4 full, with backward-shift deletion (no tombstones, but in an
 *   index being moved: below). A probe compares the hash beside the position (same cache line)
 *   before it compares a key's bytes.
 * - **Incremental growth**: when the index is 3/4 full, a twice-as-large one is allocated and the
 *   old one's slots are moved into it in slot order, {@link MIGRATE_PER_WRITE} slots per new key.
 *   Until that is done, lookups try the new index, then the old; new keys go to the new one only;
 *   the old one only loses deleted keys, as tombstones (a backward shift could move a slot not yet
 *   moved behind the cursor). In slot order, the old index is read sequentially and the new one
 *   written nearly so (a slot's keys land at the same offset in one of the new index's halves), so
 *   the fresh index's pages are touched in order: moving in position order made each move a random
 *   first touch of the new index (a page fault, ~2 µs: 67-73 ms in one Ready at ~4M keys).
 *
 * Iteration walks positions in order, so it is safe while the table changes (what the snapshot
 * encoder needs, see `snapshot.ts`): a key present throughout is visited exactly once (keys never
 * move); a deleted key is not visited after its deletion; a key added meanwhile may or may not be
 * visited. The order is a function of this replica's history (the hash seed plays no part in it),
 * and positions give SCAN a stable cursor and RANDOMKEY an O(1) pick (see `keys.ts`).
 *
 * The hash is seeded per process (a key set built to collide on one seed does not on another), and
 * it only decides where the index looks: nothing observable depends on it.
 * @module
 */
import { keyFrom, ownAt, ownedBuffer, putKey } from "./bytes.ts";
import { EntryPage, KeyEntry } from "./entry.ts";

/** An old index's slot whose key was deleted while the index is being moved (see `#migrate`). */
const TOMBSTONE = -1;
/** Positions per page (a power of two). */
const PAGE_BITS = 16;
const PAGE = 1 << PAGE_BITS;
const PAGE_MASK = PAGE - 1;
/** Positions per run (the live-key counts that let a walk skip free stretches). */
const RUN_BITS = 8;
const RUN = 1 << RUN_BITS;
/** The index's first size (slots, a power of two). */
const MIN_SLOTS = 1024;
/**
 * Old-index slots moved to the new index per new key while it grows. A growth starts with the old
 * index 3/4 full, and the next one comes after the keys grew by 3/4 of the old slot count, so 2
 * would do; 8 leaves a margin (a growth still unfinished then is completed at once) and finishes
 * a growth within a sixth of that. A slot costs a sequential read, and a live one a nearly
 * sequential write (see the module comment).
 */
export const MIGRATE_PER_WRITE = 8;

const SEED = (() => {
  const b = new Uint32Array(1);
  crypto.getRandomValues(b);
  return b[0] | 0;
})();

/** The table's 32-bit hash of a key (one code unit per byte, see `bytes.ts`), seeded per process. */
export function hashKey(s: string): number {
  const n = s.length;
  let h = SEED ^ n;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    const w = s.charCodeAt(i) | (s.charCodeAt(i + 1) << 8) | (s.charCodeAt(i + 2) << 16) |
      (s.charCodeAt(i + 3) << 24);
    h = Math.imul(h ^ w, 0x9e3779b1);
    h ^= h >>> 15;
  }
  for (; i < n; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 0x9e3779b1);
    h ^= h >>> 15;
  }
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** First capacity of a page's key bytes (grows by doubling, see {@link KeyPage}). */
const KEY_BYTES_MIN = 1 << 16;

/**
 * One page's keys as bytes (one byte per code unit, `bytes.ts`): appended to one buffer, with
 * each position's offset and length beside it (length -1: a free position). A deleted key's bytes
 * stay until the buffer is full; then the live keys are copied into a fresh buffer (twice as
 * large when more than half is live), in position order — a page holds at most 65,536 keys, so a
 * compaction is a copy of a few MB at most. No JS string per key: millions of key strings were
 * most of what V8's major GC had to mark (a full collection of 7M 20-byte strings: ~150 ms, and
 * a node's loop starved while its marker thread walked them).
 */
class KeyPage {
  bytes = new Uint8Array(KEY_BYTES_MIN);
  readonly off = new Uint32Array(PAGE);
  readonly len = new Int32Array(PAGE).fill(-1);
  /** Bytes appended so far (live and dead). */
  used = 0;
  /** Bytes of deleted keys still in the buffer. */
  dead = 0;

  /** Stores `key` at `off` (a free position). */
  put(off: number, key: string): void {
    const n = key.length;
    if (this.used + n > this.bytes.length) this.#make(n);
    const p = this.used;
    this.off[off] = p;
    this.len[off] = n;
    putKey(this.bytes, p, key);
    this.used = p + n;
  }

  /** Frees position `off`. */
  free(off: number): void {
    this.dead += this.len[off];
    this.len[off] = -1;
  }

  /** Room for `n` more bytes: compacts the live keys into a buffer with space to spare. */
  #make(n: number): void {
    const live = this.used - this.dead;
    let cap = this.bytes.length;
    while (live + n > cap / 2) cap *= 2;
    const out = new Uint8Array(cap);
    const src = this.bytes;
    let p = 0;
    for (let i = 0; i < PAGE; i++) {
      const l = this.len[i];
      if (l < 0) continue;
      const o = this.off[i];
      out.set(src.subarray(o, o + l), p);
      this.off[i] = p;
      p += l;
    }
    this.bytes = out;
    this.used = p;
    this.dead = 0;
  }

  /** Empties positions below `upto`; keeps the buffer unless it grew large (huge keys). */
  clear(upto: number): void {
    if (this.bytes.length > 16 * KEY_BYTES_MIN) this.bytes = new Uint8Array(KEY_BYTES_MIN);
    this.len.fill(-1, 0, upto);
    this.used = 0;
    this.dead = 0;
  }
}

/** The key at `off` of `kp` as a string (one code unit per byte). */
function keyString(kp: KeyPage, off: number): string {
  return keyFrom(kp.bytes, kp.off[off], kp.len[off]);
}

/** True if the key at `off` of `kp` is `key`. */
function keyEquals(kp: KeyPage, off: number, key: string): boolean {
  const n = key.length;
  if (kp.len[off] !== n) return false;
  const b = kp.bytes;
  const o = kp.off[off];
  for (let i = 0; i < n; i++) if (b[o + i] !== key.charCodeAt(i)) return false;
  return true;
}

/** Key → entry, insertion-stable positions, incremental growth (see the module comment). */
export class KeyTable {
  #keys: KeyPage[] = [];
  #pages: EntryPage[] = [];
  /** Live keys per page, and per run of {@link RUN} positions within each page. */
  #pageLive: number[] = [];
  #runLive: Uint16Array[] = [];
  /** Positions handed out so far (the high-water mark); positions below it may be free. */
  #span = 0;
  /** Freed positions below `#span`, reused last-freed first. */
  #free: number[] = [];
  #size = 0;
  /** The index: pairs (position + 1, hash); position 0 = an empty slot. */
  #slots = new Int32Array(2 * MIN_SLOTS);
  /**
   * While growing: the previous index (where a deleted key leaves a {@link TOMBSTONE}), and the
   * number of its slots moved so far (slots below it are in the new index too).
   */
  #old: Int32Array | null = null;
  #moved = 0;

  /** Live keys. */
  get size(): number {
    return this.#size;
  }

  /** Positions handed out (live or free): SCAN cursors and RANDOMKEY picks are below it. */
  get span(): number {
    return this.#span;
  }

  /** The key at `pos`, or undefined for a free (or never used) position. */
  keyAt(pos: number): string | undefined {
    if (pos < 0 || pos >= this.#span) return undefined;
    const kp = this.#keys[pos >>> PAGE_BITS];
    const off = pos & PAGE_MASK;
    return kp.len[off] < 0 ? undefined : keyString(kp, off);
  }

  /**
   * Compares the key at live position `pos` with `key` in byte order: negative, 0 or positive
   * (the ordered index's comparisons, without making a string of the stored key).
   */
  compareAt(pos: number, key: string): number {
    const kp = this.#keys[pos >>> PAGE_BITS];
    const off = pos & PAGE_MASK;
    const n = kp.len[off];
    const b = kp.bytes;
    const o = kp.off[off];
    const m = Math.min(n, key.length);
    for (let i = 0; i < m; i++) {
      const d = b[o + i] - key.charCodeAt(i);
      if (d !== 0) return d;
    }
    return n - key.length;
  }

  /** Length of the key at live position `pos`. */
  keyLengthAt(pos: number): number {
    return this.#keys[pos >>> PAGE_BITS].len[pos & PAGE_MASK];
  }

  /** Byte `i` of the key at live position `pos` (i below its length). */
  keyByteAt(pos: number, i: number): number {
    const kp = this.#keys[pos >>> PAGE_BITS];
    return kp.bytes[kp.off[pos & PAGE_MASK] + i];
  }

  /** Copies the key at live position `pos` into `dst` at `at` (room checked by the caller). */
  copyKeyInto(pos: number, dst: Uint8Array, at: number): void {
    const kp = this.#keys[pos >>> PAGE_BITS];
    const off = pos & PAGE_MASK;
    const o = kp.off[off];
    const n = kp.len[off];
    const b = kp.bytes;
    if (n > 64) dst.set(b.subarray(o, o + n), at);
    else for (let i = 0; i < n; i++) dst[at + i] = b[o + i];
  }

  /**
   * The entry at `pos`, or undefined: a new handle, or `into` (a handle from this table) pointed
   * at it, for a walk over many positions.
   */
  entryAt(pos: number, into?: KeyEntry): KeyEntry | undefined {
    if (pos < 0 || pos >= this.#span) return undefined;
    const page = pos >>> PAGE_BITS, off = pos & PAGE_MASK;
    if (this.#keys[page].len[off] < 0) return undefined;
    return into === undefined
      ? KeyEntry.at(this.#pages[page], off)
      : KeyEntry.point(into, this.#pages[page], off);
  }

  /** The slot of `key` in `slots` (its index in the pair array), or -1. */
  #find(slots: Int32Array, key: string, h: number): number {
    const mask = (slots.length >> 1) - 1;
    let i = h & mask;
    for (;;) {
      const v = slots[2 * i];
      if (v === 0) return -1;
      if (v !== TOMBSTONE && slots[2 * i + 1] === h) {
        const pos = v - 1;
        if (keyEquals(this.#keys[pos >>> PAGE_BITS], pos & PAGE_MASK, key)) return i;
      }
      i = (i + 1) & mask;
    }
  }

  /** The position of `key`, or -1. */
  #position(key: string, h: number): number {
    let i = this.#find(this.#slots, key, h);
    if (i >= 0) return this.#slots[2 * i] - 1;
    const old = this.#old;
    if (old === null) return -1;
    i = this.#find(old, key, h);
    return i >= 0 ? old[2 * i] - 1 : -1;
  }

  /** The position of `key`, or -1 (the snapshot records where each key lives). */
  positionOf(key: string): number {
    return this.#position(key, hashKey(key));
  }

  /** The entry of `key` (a new handle, see `entry.ts`), or undefined. */
  get(key: string): KeyEntry | undefined {
    const pos = this.#position(key, hashKey(key));
    return pos < 0 ? undefined : KeyEntry.at(this.#pages[pos >>> PAGE_BITS], pos & PAGE_MASK);
  }

  has(key: string): boolean {
    return this.#position(key, hashKey(key)) >= 0;
  }

  set(key: string, e: KeyEntry): this {
    const h = hashKey(key);
    const at = this.#position(key, h);
    if (at >= 0) {
      KeyEntry.attach(e, this.#pages[at >>> PAGE_BITS], at & PAGE_MASK);
      return this;
    }
    this.#addNew(key, e, h);
    return this;
  }

  /**
   * Adds `key`, which the caller knows is absent (the keyspace looked it up just before): no
   * second probe. Adding a key that is present would leave it at two positions.
   */
  addNew(key: string, e: KeyEntry): number {
    return this.#addNew(key, e, hashKey(key));
  }

  #addNew(key: string, e: KeyEntry, h: number): number {
    const pos = this.#claim();
    this.#put(pos, key, e, h);
    return pos;
  }

  /**
   * {@link addNew} of a new string entry created at `rev` whose value is the `n` bytes of `src` at
   * `from` (small: see `bytes.ts` isSlabValue), without an entry handle: the value is copied into a
   * slab and the fields written straight into the page (`snapSeen`: the snapshot generation it is
   * not part of, or 0). The caller knows the key is absent.
   */
  addNewString(
    key: string,
    src: Uint8Array,
    from: number,
    n: number,
    rev: number,
    snapSeen: number,
  ): number {
    const pos = this.#claim();
    const page = this.#link(pos, key, hashKey(key));
    const at = ownAt(src, from, n);
    KeyEntry.putString(this.#pages[page], pos & PAGE_MASK, ownedBuffer(), at, n, rev, snapSeen);
    return pos;
  }

  /** A position for a new key (growing the index a step first). */
  #claim(): number {
    if (this.#old !== null) this.#migrate(MIGRATE_PER_WRITE);
    if ((this.#size + 1) * 8 > this.#slots.length * 3) this.#grow(); // 3/4 of the pairs
    // The position depends only on the sequence of sets and deletes (not on the index's growth),
    // so replicas that applied the same log, or restored the same snapshot, agree on it.
    return this.#free.length > 0 ? this.#free.pop()! : this.#span++;
  }

  /** Adds pages until page `page` exists. */
  #pagesTo(page: number): void {
    while (page >= this.#keys.length) {
      this.#keys.push(new KeyPage());
      this.#pages.push(new EntryPage(PAGE));
      this.#pageLive.push(0);
      this.#runLive.push(new Uint16Array(PAGE / RUN));
    }
  }

  #count(pos: number, d: number): void {
    const page = pos >>> PAGE_BITS;
    this.#pageLive[page] += d;
    this.#runLive[page][(pos & PAGE_MASK) >>> RUN_BITS] += d;
  }

  /**
   * The first live position at or after `pos`, or -1: skips free pages and free runs of 256
   * positions by their counts, so a table left mostly free by deletes costs O(pages + 512) per
   * call, not O(span).
   */
  nextLive(pos: number): number {
    if (pos < 0) pos = 0;
    while (pos < this.#span) {
      const page = pos >>> PAGE_BITS;
      if (this.#pageLive[page] === 0) {
        pos = (page + 1) << PAGE_BITS;
        continue;
      }
      const runs = this.#runLive[page];
      const run = (pos & PAGE_MASK) >>> RUN_BITS;
      if (runs[run] === 0) {
        pos = (page << PAGE_BITS) + ((run + 1) << RUN_BITS);
        continue;
      }
      const len = this.#keys[page].len;
      const end = Math.min((page << PAGE_BITS) + ((run + 1) << RUN_BITS), this.#span);
      for (; pos < end; pos++) if (len[pos & PAGE_MASK] >= 0) return pos;
    }
    return -1;
  }

  /** The position of the `n`-th live key in position order (0 ≤ n < size): O(pages + 512). */
  nthLive(n: number): number {
    if (!(n >= 0 && n < this.#size)) throw new RangeError(`no live key number ${n}`);
    let page = 0;
    while (n >= this.#pageLive[page]) n -= this.#pageLive[page++];
    const runs = this.#runLive[page];
    let run = 0;
    while (n >= runs[run]) n -= runs[run++];
    const len = this.#keys[page].len;
    for (let off = run << RUN_BITS;; off++) {
      if (len[off] >= 0 && n-- === 0) return (page << PAGE_BITS) + off;
    }
  }

  #put(pos: number, key: string, e: KeyEntry, h: number): void {
    const page = this.#link(pos, key, h);
    KeyEntry.attach(e, this.#pages[page], pos & PAGE_MASK);
  }

  /** Puts `key` at free position `pos` and into the index; answers the position's page. */
  #link(pos: number, key: string, h: number): number {
    const page = pos >>> PAGE_BITS;
    this.#pagesTo(page);
    this.#keys[page].put(pos & PAGE_MASK, key);
    insert(this.#slots, h, pos);
    this.#count(pos, 1);
    this.#size++;
    return page;
  }

  /**
   * Restore (`snapshot.ts`): puts a key absent from the table at position `pos`, which must be
   * unused. Then {@link restoreFree} once every key is placed. Throws on a used position.
   */
  placeAt(pos: number, key: string, e: KeyEntry): number {
    if (!Number.isSafeInteger(pos) || pos < 0) throw new Error(`bad key position ${pos}`);
    if (pos < this.#span && this.keyAt(pos) !== undefined) {
      throw new Error(`two keys at position ${pos}`);
    }
    if ((this.#size + 1) * 8 > this.#slots.length * 3) {
      this.#grow();
      this.#migrate(Infinity);
    }
    if (pos >= this.#span) this.#span = pos + 1;
    this.#put(pos, key, e, hashKey(key));
    return pos;
  }

  /**
   * Restore: the table's free positions, bottom of the stack first (as {@link freeList} gave
   * them), and its span. Every position below `span` must be either a placed key or listed here
   * exactly once; throws otherwise.
   */
  restoreFree(span: number, free: readonly number[]): void {
    if (span < this.#span || span !== this.#size + free.length) {
      throw new Error(
        `span ${span} does not match ${this.#size} keys and ${free.length} free positions`,
      );
    }
    if (span > 0) this.#pagesTo((span - 1) >>> PAGE_BITS);
    this.#span = span;
    const seen = new Uint8Array(span);
    for (const p of free) {
      if (!Number.isSafeInteger(p) || p < 0 || p >= span || seen[p] === 1) {
        throw new Error(`bad free position ${p}`);
      }
      seen[p] = 1;
      if (this.keyAt(p) !== undefined) throw new Error(`free position ${p} holds a key`);
    }
    this.#free = free.slice();
  }

  /** The free positions, bottom of the stack first (for the snapshot; a copy). */
  freeList(): number[] {
    return this.#free.slice();
  }

  delete(key: string): boolean {
    const h = hashKey(key);
    let pos = -1;
    const i = this.#find(this.#slots, key, h);
    if (i >= 0) {
      pos = this.#slots[2 * i] - 1;
      this.#unlink(this.#slots, i);
    }
    const old = this.#old;
    if (old !== null) {
      const j = this.#find(old, key, h);
      if (j >= 0) {
        pos = old[2 * j] - 1;
        old[2 * j] = TOMBSTONE;
      }
    }
    if (pos < 0) return false;
    const page = pos >>> PAGE_BITS;
    const off = pos & PAGE_MASK;
    this.#keys[page].free(off);
    this.#pages[page].v[off] = undefined;
    this.#free.push(pos);
    this.#count(pos, -1);
    this.#size--;
    // Empty: start afresh (also mid-growth: whether a reset happens must not depend on the
    // index, or a restored replica, whose index is sized differently, would diverge).
    if (this.#size === 0) this.#reset();
    return true;
  }

  clear(): void {
    this.#reset();
  }

  #reset(): void {
    // The first page is kept (cleared over the positions used): a table that empties and fills
    // again (one key SET and DELeted in a loop) allocated ~5 MiB of fresh pages each time.
    if (this.#keys.length > 0) {
      const used = Math.min(this.#span, PAGE);
      this.#keys[0].clear(used);
      this.#pages[0].v.fill(undefined, 0, used);
      this.#runLive[0].fill(0);
      this.#keys.length = 1;
      this.#pages.length = 1;
      this.#runLive.length = 1;
      this.#pageLive = [0];
    }
    this.#span = 0;
    this.#free = [];
    this.#size = 0;
    this.#slots = new Int32Array(2 * MIN_SLOTS);
    this.#old = null;
    this.#moved = 0;
  }

  /** Removes slot `i` of `slots`, shifting back the entries that probed past it. */
  #unlink(slots: Int32Array, i: number): void {
    const mask = (slots.length >> 1) - 1;
    let hole = i;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const v = slots[2 * j];
      if (v === 0) break;
      const h = slots[2 * j + 1];
      // The entry at j may fill the hole when the hole lies on its probe path (home .. j).
      if (((j - (h & mask)) & mask) >= ((j - hole) & mask)) {
        slots[2 * hole] = v;
        slots[2 * hole + 1] = h;
        hole = j;
      }
    }
    slots[2 * hole] = 0;
    slots[2 * hole + 1] = 0;
  }

  #grow(): void {
    // A growth still under way finishes first (it is at most a few writes' worth of moves).
    if (this.#old !== null) this.#migrate(Infinity);
    this.#old = this.#slots;
    this.#slots = new Int32Array(this.#old.length * 2);
    this.#moved = 0;
  }

  /**
   * Moves up to `budget` slots of the old index, in slot order, into the new one. A live slot's
   * key is in the old index only (new keys go to the new one; a deleted key is a tombstone), so
   * it is inserted without a lookup.
   */
  #migrate(budget: number): void {
    const old = this.#old!;
    const end = old.length >> 1;
    const slots = this.#slots;
    let i = this.#moved;
    const stop = Math.min(end, i + budget);
    for (; i < stop; i++) {
      const v = old[2 * i];
      if (v > 0) insert(slots, old[2 * i + 1], v - 1);
    }
    this.#moved = i;
    if (i >= end) this.#old = null;
  }

  /** Live `[key, entry]` pairs in position order; safe while the table changes. */
  *entries(): IterableIterator<[string, KeyEntry]> {
    for (let p = 0; p < this.#span; p++) {
      const k = this.keyAt(p);
      if (k !== undefined) yield [k, KeyEntry.at(this.#pages[p >>> PAGE_BITS], p & PAGE_MASK)];
    }
  }

  /** Live keys in position order. */
  *keys(): IterableIterator<string> {
    for (let p = 0; p < this.#span; p++) {
      const k = this.keyAt(p);
      if (k !== undefined) yield k;
    }
  }
}

/** Puts position `pos` (hash `h`) in the first empty slot of its probe path. */
function insert(slots: Int32Array, h: number, pos: number): void {
  const mask = (slots.length >> 1) - 1;
  let i = h & mask;
  while (slots[2 * i] !== 0) i = (i + 1) & mask;
  slots[2 * i] = pos + 1;
  slots[2 * i + 1] = h;
}
