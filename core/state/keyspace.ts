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
import { isSlabValue, own } from "./bytes.ts";
import { KeyEntry, Kind } from "./entry.ts";
import { KeyTable } from "./key_table.ts";
import { Leases } from "./leases.ts";
import { OrderedIndex } from "./ordered_index.ts";
import { Rng, seedOf } from "./random.ts";
import type { ApplyContext } from "./types.ts";
import type { ChangeRecorder, WatchHistory } from "./watch_history.ts";

export { type EntryValue, KeyEntry, Kind, type KindTag } from "./entry.ts";

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
  readonly index: OrderedIndex = new OrderedIndex(this.store);
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
    const at = pos < 0 ? this.store.addNew(key, e) : this.store.placeAt(pos, key, e);
    this.index.addNewAt(at, key);
    if (e.expireAt !== 0) this.#track(key, e.expireAt);
    if (e.lease !== 0) this.leases.attach(key, e.lease);
  }

  /**
   * {@link add} of a new string key holding the `n` bytes of `src` at `from`, created at `rev`,
   * with no expiry or lease (the caller checked it is absent): the common SET, stored without an
   * entry handle or a view when the value is small.
   */
  addString(key: string, src: Uint8Array, from: number, n: number, rev: number): void {
    if (!isSlabValue(n)) {
      this.add(key, new KeyEntry(Kind.STRING, own(src.subarray(from, from + n)), rev));
      return;
    }
    if (this.changes !== null) this.changes.note(key, undefined);
    // snapSeen = the snapshot being taken: a new key is not part of it (as in add).
    const at = this.store.addNewString(key, src, from, n, rev, this.#snapGen);
    this.index.addNewAt(at, key);
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
    KeyEntry.detach(e); // keeps its fields: a command may add it back under another key
    const pos = this.store.positionOf(key);
    if (pos >= 0) this.index.deleteAt(pos, this.rev, key); // while the position holds the key
    this.store.delete(key);
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
    // Walks positions with one reused handle; a key's string is made only if it has an expiry.
    const t = this.store;
    let cur: KeyEntry | undefined;
    for (let p = t.nextLive(0); p >= 0; p = t.nextLive(p + 1)) {
      const e = cur = t.entryAt(p, cur)!;
      if (e.expireAt !== 0) {
        h.push(e.expireAt, t.keyAt(p)!);
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
