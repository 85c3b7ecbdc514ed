/**
 * The keyspace: every key's entry (type, value, expiry, revisions) behind a small store interface,
 * plus a deterministic expiry index.
 *
 * Expiry is deterministic across replicas: "now" only ever comes from `ApplyContext.nowMs`.
 * Read-only commands never mutate (a leader may serve them outside the log); write commands
 * reclaim an expired key they touch, and each write runs a bounded active sweep that deletes the
 * expired keys with the smallest `(expireAt, key)` — a function of the logical state only, so a
 * replica restored from a snapshot sweeps exactly like one that applied the log.
 * @module
 */
import { copyInto } from "./bytes.ts";
import type { Deque } from "./deque.ts";
import { KeyTable } from "./key_table.ts";
import { Leases } from "./leases.ts";
import { OrderedIndex } from "./ordered_index.ts";
import { Rng, seedOf } from "./random.ts";
import type { SortedSet } from "./sorted_set.ts";
import type { ApplyContext } from "./types.ts";
import type { ChangeRecorder, WatchHistory } from "./watch_history.ts";

/** Data type tags (also the snapshot's type bytes: never renumber). */
export const Kind = { STRING: 0, LIST: 1, SET: 2, HASH: 3, ZSET: 4 } as const;
/** A data type tag. */
export type KindTag = (typeof Kind)[keyof typeof Kind];

/** The value held by a key, by kind. */
export type EntryValue = Uint8Array | Deque | Set<string> | Map<string, Uint8Array> | SortedSet;

const EMPTY = new ArrayBuffer(0);

/** A view of the last buffer asked for (see {@link KeyEntry.copyBytes}). */
let lastBuf: ArrayBufferLike = EMPTY;
let lastView: Uint8Array = new Uint8Array(EMPTY);
function slabView(b: ArrayBufferLike): Uint8Array {
  if (b !== lastBuf) {
    lastBuf = b;
    lastView = new Uint8Array(b);
  }
  return lastView;
}

/** One key's state. Mutable in place; `value`'s runtime type follows `kind`. */
export class KeyEntry {
  /** Data type tag. */
  kind: KindTag;
  /**
   * The value's storage. A string's bytes are kept as (buffer, offset, length), not as a
   * `Uint8Array`: a view is a JS object of ~64 bytes, one per key, that the major GC would walk
   * millions of (#11); the buffer is shared (a slab of many values, see `bytes.ts`). Collections
   * are kept as they are.
   */
  #v: ArrayBufferLike | Exclude<EntryValue, Uint8Array>;
  #bytes = false;
  #off = 0;
  #len = 0;
  /** Absolute expiry time in ms (leader clock), 0 = no expiry. */
  expireAt: number;
  /** Log index of the write that created the key (etcd's create_revision). */
  createRev: number;
  /** Log index of the last write that changed the key's value or expiry (mod_revision). */
  modRev: number;
  /**
   * How many revisions changed the key since it was created (etcd's version): 1 at creation,
   * +1 for each later log entry that changes its value or expiry (several changes made by one
   * entry count once, as they share one revision).
   */
  version: number;
  /** The snapshot generation that already holds this entry (see {@link Keyspace.beginSnapshot}). */
  snapSeen: number;
  /** The lease the key is attached to, 0 = none (see `leases.ts`; set through {@link Keyspace.setLease}). */
  lease: number;
  /** The last revision whose watch event this entry gave (watch_history.ts; not persisted). */
  watchSeen: number;

  constructor(kind: KindTag, value: EntryValue, rev: number) {
    this.kind = kind;
    this.#v = EMPTY;
    this.value = value;
    this.expireAt = 0;
    this.createRev = rev;
    this.modRev = rev;
    this.version = 1;
    this.snapSeen = 0;
    this.lease = 0;
    this.watchSeen = 0;
  }

  /**
   * The value: a string's bytes (a fresh view each read: string values are never changed in
   * place, so a view stays valid for as long as it is held) or the collection object.
   */
  get value(): EntryValue {
    const v = this.#v;
    return this.#bytes
      ? new Uint8Array(v as ArrayBufferLike, this.#off, this.#len)
      : v as EntryValue;
  }

  set value(x: EntryValue) {
    if (x instanceof Uint8Array) {
      this.#v = x.buffer;
      this.#bytes = true;
      this.#off = x.byteOffset;
      this.#len = x.byteLength;
    } else {
      this.#v = x;
      this.#bytes = false;
    }
  }

  /**
   * Copies a string value's bytes into `dst` at `at` without making a view per call (the snapshot
   * encoder writes millions; keys written one after another mostly share a slab, whose one view
   * is reused).
   */
  copyBytes(dst: Uint8Array, at: number): void {
    copyInto(dst, at, slabView(this.#v as ArrayBufferLike), this.#off, this.#len);
  }

  /** Bytes of a string value (0 for collections), without making a view. */
  get byteLength(): number {
    return this.#bytes ? this.#len : 0;
  }

  /** Records a change made by the entry at log index `rev` (mod revision and version). */
  bump(rev: number): void {
    if (this.modRev === rev) return;
    this.modRev = rev;
    this.version++;
  }
}

/** How many expired keys each write command may reclaim actively (besides the key it touches). */
export const SWEEP_PER_WRITE = 4;

/** Min-heap of (expireAt, key) with lazy invalidation; ties broken by key for a total order. */
class ExpiryHeap {
  at: number[] = [];
  keys: string[] = [];

  get length(): number {
    return this.at.length;
  }

  clear(): void {
    this.at.length = 0;
    this.keys.length = 0;
  }

  #less(i: number, j: number): boolean {
    const a = this.at[i];
    const b = this.at[j];
    return a < b || (a === b && this.keys[i] < this.keys[j]);
  }

  #swap(i: number, j: number): void {
    const t = this.at[i];
    this.at[i] = this.at[j];
    this.at[j] = t;
    const k = this.keys[i];
    this.keys[i] = this.keys[j];
    this.keys[j] = k;
  }

  push(at: number, key: string): void {
    this.at.push(at);
    this.keys.push(key);
    let i = this.at.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(i, p)) break;
      this.#swap(i, p);
      i = p;
    }
  }

  pop(): void {
    const last = this.at.length - 1;
    this.#swap(0, last);
    this.at.pop();
    this.keys.pop();
    const n = this.at.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const m = r < n && this.#less(r, l) ? r : l;
      if (!this.#less(m, i)) break;
      this.#swap(i, m);
      i = m;
    }
  }
}

/** Keys plus expiry bookkeeping. */
export class Keyspace {
  /** The key store: a hash table that grows a little per write, never all at once (`key_table.ts`). */
  readonly store: KeyTable = new KeyTable();
  /** The leases and the keys attached to each (kept in step by add/remove/clear/setLease). */
  readonly leases: Leases = new Leases();
  /** Every key of the store in byte order (RANGE, KEYS; see `ordered_index.ts`). */
  readonly index: OrderedIndex = new OrderedIndex();
  /** The revision (log index) of the command being applied: set by the state machine. */
  rev = 0;
  readonly #heap = new ExpiryHeap();
  /** Keys currently carrying an expiry (upper bound; used to bound stale heap entries). */
  #withExpiry = 0;
  /** Generation of the snapshot being encoded, 0 when none. */
  #snapGen = 0;
  #lastGen = 0;
  /** Called with an entry that is about to change or go before the snapshot encoded it. */
  #preserve: ((key: string, e: KeyEntry) => void) | null = null;
  /** The log index of the last random draw, and how many draws were made at it. */
  #rngIndex = -1;
  #rngPos = 0;
  /** Told which keys each entry touches, for the watch history (null when history is off). */
  changes: ChangeRecorder | null = null;
  /** The watch history when kept (RANGE ... AT reads past revisions from it). */
  history: WatchHistory | null = null;

  /**
   * A generator for a command that picks at random: seeded from the entry's index and leader
   * time and the command's position among the random commands applied at that index, so every
   * replica draws the same numbers (see `random.ts`).
   */
  rng(ctx: ApplyContext): Rng {
    if (ctx.index !== this.#rngIndex) {
      this.#rngIndex = ctx.index;
      this.#rngPos = 0;
    }
    return new Rng(seedOf(ctx.index, ctx.nowMs, this.#rngPos++));
  }

  /**
   * Starts an incremental snapshot of the current state: from now on, an entry that is about to
   * change, move or go (through {@link write}, {@link remove}, {@link setExpire} or
   * {@link clear}) before the encoder reached it is first handed to `preserve` (which encodes it
   * as it was), and new entries are marked as not part of the snapshot. Every command mutates
   * entries only through {@link write}/{@link add}/{@link remove}/{@link setExpire}, so the
   * encoder, walking the store across several event-loop turns, still writes the state exactly
   * as it was when the snapshot began. Returns the generation tag (entries with
   * `snapSeen === gen` are already in the snapshot).
   */
  beginSnapshot(preserve: (key: string, e: KeyEntry) => void): number {
    if (this.#snapGen !== 0) throw new Error("a snapshot is already being taken");
    this.#snapGen = ++this.#lastGen;
    this.#preserve = preserve;
    return this.#snapGen;
  }

  /** Ends the snapshot started by {@link beginSnapshot}. */
  endSnapshot(): void {
    this.#snapGen = 0;
    this.#preserve = null;
  }

  #touch(key: string, e: KeyEntry): void {
    if (e.snapSeen === this.#snapGen) return;
    e.snapSeen = this.#snapGen;
    this.#preserve!(key, e);
  }

  /** Entry for reading: expired keys are absent; never mutates. */
  read(key: string, now: number): KeyEntry | undefined {
    const e = this.store.get(key);
    if (e === undefined) return undefined;
    return e.expireAt !== 0 && e.expireAt <= now ? undefined : e;
  }

  /** Entry for writing: an expired key is deleted and reported absent. */
  write(key: string, now: number): KeyEntry | undefined {
    const e = this.store.get(key);
    if (e === undefined) return undefined;
    if (this.#snapGen !== 0) this.#touch(key, e);
    if (this.changes !== null) this.changes.note(key, e);
    if (e.expireAt !== 0 && e.expireAt <= now) {
      this.remove(key, e);
      return undefined;
    }
    return e;
  }

  /**
   * Adds a new key (the caller checked it is absent); `pos` places it at that position of the
   * key table (a snapshot being restored, see `key_table.ts`).
   */
  add(key: string, e: KeyEntry, pos = -1): void {
    if (this.#snapGen !== 0) e.snapSeen = this.#snapGen; // not part of the snapshot
    if (this.changes !== null) this.changes.note(key, undefined);
    if (pos < 0) this.store.addNew(key, e);
    else this.store.placeAt(pos, key, e);
    this.index.addNew(key);
    if (e.expireAt !== 0) this.#track(key, e.expireAt);
    if (e.lease !== 0) this.leases.attach(key, e.lease);
  }

  /** Deletes a key. */
  remove(key: string, e: KeyEntry): void {
    if (this.#snapGen !== 0) this.#touch(key, e);
    if (this.changes !== null) this.changes.note(key, e);
    if (e.expireAt !== 0) this.#withExpiry--;
    if (e.lease !== 0) {
      this.leases.detach(key, e.lease);
      e.lease = 0;
    }
    this.store.delete(key);
    this.index.delete(key, this.rev);
  }

  /** Attaches a key to lease `id` (which exists), or detaches it (`id` = 0). */
  setLease(key: string, e: KeyEntry, id: number): void {
    if (e.lease !== 0) this.leases.detach(key, e.lease);
    e.lease = id;
    if (id !== 0) this.leases.attach(key, id);
  }

  /** Sets or clears (`at` = 0) a key's absolute expiry. */
  setExpire(key: string, e: KeyEntry, at: number): void {
    if (e.expireAt === at) return;
    if (this.#snapGen !== 0) this.#touch(key, e);
    if (this.changes !== null) this.changes.note(key, e);
    if (e.expireAt !== 0) this.#withExpiry--;
    e.expireAt = at;
    if (at !== 0) this.#track(key, at);
  }

  #track(key: string, at: number): void {
    this.#withExpiry++;
    this.#heap.push(at, key);
    // Stale heap entries (keys deleted or re-timed) are dropped when popped; if they pile up
    // (e.g. the same key re-timed far in the future many times) rebuild from the live keys.
    if (this.#heap.length > 1024 && this.#heap.length > 4 * this.#withExpiry) this.#rebuild();
  }

  #rebuild(): void {
    const h = this.#heap;
    h.clear();
    let n = 0;
    for (const [k, e] of this.store.entries()) {
      if (e.expireAt !== 0) {
        h.push(e.expireAt, k);
        n++;
      }
    }
    this.#withExpiry = n;
  }

  /**
   * Deletes up to `budget` expired keys, smallest `(expireAt, key)` first. Stale index entries
   * are skipped without counting (each is popped once: amortised O(1) per write).
   */
  sweep(now: number, budget: number): number {
    const h = this.#heap;
    let done = 0;
    while (done < budget && h.length > 0) {
      const at = h.at[0];
      if (at > now) break;
      const key = h.keys[0];
      h.pop();
      const e = this.store.get(key);
      if (e !== undefined && e.expireAt === at) {
        this.remove(key, e);
        done++;
      }
    }
    return done;
  }

  /** Keys carrying an expiry (expired ones not reclaimed yet included, as Redis's `expires`). */
  get withExpiry(): number {
    return this.#withExpiry;
  }

  /** Removes every key. */
  clear(): void {
    if (this.#snapGen !== 0) { for (const [k, e] of this.store.entries()) this.#touch(k, e); }
    if (this.changes !== null) this.changes.cleared();
    this.store.clear();
    this.leases.clearKeys();
    this.index.clear(this.rev);
    this.#heap.clear();
    this.#withExpiry = 0;
  }
}
