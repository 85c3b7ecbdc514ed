/**
 * Watch history: the change events each applied log entry produced, kept in a ring bounded by
 * revisions and bytes (see docs/watch.md).
 *
 * The keyspace tells a {@link ChangeRecorder} which keys a command touched (its `write`, `add`,
 * `remove`, `setExpire` and `clear`), and whether each existed before the entry. After the entry
 * is applied, {@link WatchHistory.commit} turns every touched key into at most one event at the
 * entry's revision (its log index): a `put` when the key exists and its `modRev` is that index, a
 * `delete` when it existed before and is gone now; a key the entry touched without changing gives
 * nothing. A FLUSHALL/FLUSHDB gives one `flush` event instead (never one event per key): a watch
 * that reaches it is cancelled (reason FLUSHED) and may be started again after it.
 *
 * Everything here is a function of the log (and of where the history started: a replica that
 * restored a snapshot at index S holds revisions after S only), so every replica derives the same
 * events for every revision and any node can serve a watch.
 * @module
 */
import type { KeyTable } from "./key_table.ts";
import { type KeyEntry, Kind } from "./keyspace.ts";

/** Event types (the wire's event type numbers: never renumber). */
export const EventType = { PUT: 0, DELETE: 1, FLUSH: 2 } as const;
/** An event type number. */
export type EventTypeNumber = (typeof EventType)[keyof typeof EventType];

/** One change at one revision. */
export interface HistoryEvent {
  /** Revision (log index of the entry that made it). */
  readonly rev: number;
  readonly type: EventTypeNumber;
  /** The key (keyspace form: one code unit per byte, see bytes.ts). Empty for `flush`. */
  readonly key: string;
  /** The value after a put of a string key; null for other kinds, deletes and flushes. */
  readonly value: Uint8Array | null;
  /** The key's create revision after a put (0 for a delete). */
  readonly createRev: number;
  /** The key's mod revision after a put; the revision itself for a delete. */
  readonly modRev: number;
  /** The key's version after a put (0 for a delete). */
  readonly version: number;
  /**
   * The key's state just before this revision (what `RANGE ... AT` an earlier revision answers
   * for it): whether it existed, its value (strings only: string values are never mutated in
   * place, so this is a reference), revisions, version and expiry. Undefined when the key did
   * not exist before the entry (a new key's put) and on flush events: only changes of existing
   * keys cost an object.
   */
  readonly prev: PrevState | undefined;
}

/** Bytes an event is counted for (key, value and a fixed overhead). */
export function eventBytes(e: HistoryEvent): number {
  return 64 + e.key.length + (e.value === null ? 0 : e.value.length);
}

/** A key's state before the entry that changed it (see {@link HistoryEvent.prev}). */
export interface PrevState {
  readonly value: Uint8Array | null;
  readonly createRev: number;
  readonly modRev: number;
  readonly version: number;
  readonly expireAt: number;
}

/** Bytes an event holds in the history: {@link eventBytes} plus its previous state. */
function heldBytes(e: HistoryEvent): number {
  const p = e.prev;
  return eventBytes(e) + (p === undefined ? 0 : 48 + (p.value === null ? 0 : p.value.length));
}

/**
 * Which keys the entry being applied touched, and whether each existed (was in the store) before
 * it. The keyspace calls {@link note} and {@link cleared}. Kept in arrays (no hashing on the write
 * path: a command's consecutive notes of one key count once); {@link WatchHistory.commit} drops
 * the other repeats.
 */
export class ChangeRecorder {
  /** Keys in the order first touched (a key may repeat; see {@link existed}). */
  readonly keys: string[] = [];
  /** Whether `keys[i]` was in the store when it was noted. */
  readonly existed: boolean[] = [];
  /** `keys[i]`'s state when it was noted (before the command changes it); undefined if absent. */
  readonly prev: (PrevState | undefined)[] = [];
  /** The entry removed every key (FLUSHALL/FLUSHDB). */
  flushed = false;

  /**
   * The keyspace is about to change `key`, whose entry is `e` (undefined: absent); its state now
   * is kept as the event's previous state.
   */
  note(key: string, e: KeyEntry | undefined): void {
    const n = this.keys.length;
    if (n > 0 && this.keys[n - 1] === key) return;
    this.keys.push(key);
    this.existed.push(e !== undefined);
    this.prev.push(
      e === undefined ? undefined : {
        value: e.kind === Kind.STRING ? e.value as Uint8Array : null,
        createRev: e.createRev,
        modRev: e.modRev,
        version: e.version,
        expireAt: e.expireAt,
      },
    );
  }

  /** The keyspace is being cleared. */
  cleared(): void {
    this.flushed = true;
  }

  /** Keys noted so far (with repeats). */
  get size(): number {
    return this.keys.length;
  }

  /** Forgets what was recorded (after each entry, and on a snapshot restore). */
  reset(): void {
    this.keys.length = 0;
    this.existed.length = 0;
    this.prev.length = 0;
    this.flushed = false;
  }
}

/** Bounds of a history. */
export interface HistoryLimits {
  /** Revisions kept behind the newest one (`watch_history_revisions`); 0 = no history at all. */
  revisions: number;
  /** Bytes of events kept (`watch_history_bytes`); the newest revision is always kept whole. */
  bytes: number;
}

/** The event ring. Events are numbered by a sequence (`seq`) that never goes back. */
export class WatchHistory {
  readonly limits: HistoryLimits;
  readonly recorder: ChangeRecorder = new ChangeRecorder();
  #events: HistoryEvent[] = [];
  /** Index in `#events` of the oldest kept event (dropped ones are spliced out in bulk). */
  #head = 0;
  /** Sequence number of `#events[#head]`. */
  #baseSeq = 0;
  #bytes = 0;
  /** The oldest revision whose events are all here (a watch may start at it or later). */
  #oldest = 1;
  /** The newest revision committed (the store's revision as this history knows it). */
  #rev = 0;
  /** Scratch: the store's entry for each noted key (one lookup each). */
  readonly #found: (KeyEntry | undefined)[] = [];

  constructor(limits: HistoryLimits) {
    this.limits = limits;
  }

  /** True when history is kept (`watch_history_revisions` > 0). */
  get enabled(): boolean {
    return this.limits.revisions > 0;
  }

  /** The oldest revision a watch can start from. */
  get oldest(): number {
    return this.#oldest;
  }

  /** The newest committed revision. */
  get rev(): number {
    return this.#rev;
  }

  /** Bytes of events held. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Events held. */
  get size(): number {
    return this.#events.length - this.#head;
  }

  /** Sequence number of the oldest event held. */
  get firstSeq(): number {
    return this.#baseSeq;
  }

  /** Sequence number the next event will get. */
  get endSeq(): number {
    return this.#baseSeq + this.#events.length - this.#head;
  }

  /** The event with sequence number `seq` (firstSeq <= seq < endSeq). */
  at(seq: number): HistoryEvent {
    return this.#events[this.#head + seq - this.#baseSeq];
  }

  /** Sequence number of the first event held with revision >= `rev` (endSeq when none). */
  seekRev(rev: number): number {
    let lo = this.#head;
    let hi = this.#events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#events[mid].rev < rev) lo = mid + 1;
      else hi = mid;
    }
    return this.#baseSeq + lo - this.#head;
  }

  /**
   * Starts over after a snapshot restored the state at `index`: no event of earlier revisions is
   * known here, so the history starts after it.
   */
  reset(index: number): void {
    this.recorder.reset();
    this.#baseSeq += this.#events.length - this.#head;
    this.#events = [];
    this.#head = 0;
    this.#bytes = 0;
    this.#rev = index;
    this.#oldest = index + 1;
  }

  /**
   * Turns what the recorder saw during the entry at `index` into events (see the module doc),
   * reading each touched key's state from `store`, then drops what the bounds no longer allow.
   */
  commit(index: number, store: KeyTable): void {
    const r = this.recorder;
    if (index <= this.#rev) {
      r.reset();
      return;
    }
    this.#rev = index;
    if (r.flushed) {
      this.#push({
        rev: index,
        type: EventType.FLUSH,
        key: "",
        value: null,
        createRev: 0,
        modRev: index,
        version: 0,
        prev: undefined,
      });
    } else if (r.keys.length > 0) {
      this.#derive(index, store);
    }
    r.reset();
    this.#trim();
  }

  /**
   * One event per distinct touched key, in the order first touched: a put when the key is there
   * with `modRev === index` (repeats skipped by the entry's `watchSeen`), a delete when it is
   * gone and existed when first touched. Only when some touched key is gone does this hash keys
   * (to find each one's first note); batches of writes alone never do.
   */
  #derive(index: number, store: KeyTable): void {
    const r = this.recorder;
    const { keys, existed } = r;
    const n = keys.length;
    const found = this.#found;
    let first: Set<string> | null = null;
    for (let i = 0; i < n; i++) {
      const e = store.get(keys[i]);
      found[i] = e;
      if (e === undefined) first ??= new Set();
    }
    for (let i = 0; i < n; i++) {
      const key = keys[i];
      if (first !== null) {
        if (first.has(key)) continue;
        first.add(key);
      }
      const e = found[i];
      if (e !== undefined) {
        if (e.modRev === index && e.watchSeen !== index) {
          e.watchSeen = index;
          this.#push(putEvent(index, key, e, r, i));
        }
      } else if (existed[i]) {
        this.#push({
          rev: index,
          type: EventType.DELETE,
          key,
          value: null,
          createRev: 0,
          modRev: index,
          version: 0,
          prev: r.prev[i],
        });
      }
    }
    found.length = 0;
  }

  #push(e: HistoryEvent): void {
    this.#events.push(e);
    this.#bytes += heldBytes(e);
  }

  /** Drops whole revisions from the front until both bounds hold (the newest is always kept). */
  #trim(): void {
    const floor = this.#rev - this.limits.revisions + 1;
    if (this.#oldest < floor) this.#oldest = floor;
    const ev = this.#events;
    let h = this.#head;
    while (h < ev.length) {
      const first = ev[h].rev;
      if (first >= this.#oldest && (this.#bytes <= this.limits.bytes || first >= this.#rev)) break;
      // Drop every event of revision `first`.
      while (h < ev.length && ev[h].rev === first) this.#bytes -= heldBytes(ev[h++]);
      if (this.#oldest <= first) this.#oldest = first + 1;
    }
    const dropped = h - this.#head;
    if (dropped > 0) {
      this.#baseSeq += dropped;
      this.#head = h;
      if (h > 1024 && h * 2 > ev.length) {
        this.#events = ev.slice(h);
        this.#head = 0;
      }
    }
  }
}

/** A put event of `key` (entry `e`), with the previous state the recorder noted at `i`. */
function putEvent(
  rev: number,
  key: string,
  e: KeyEntry,
  r: ChangeRecorder,
  i: number,
): HistoryEvent {
  return {
    rev,
    type: EventType.PUT,
    key,
    value: e.kind === Kind.STRING ? e.value as Uint8Array : null,
    createRev: e.createRev,
    modRev: e.modRev,
    version: e.version,
    prev: r.prev[i],
  };
}

/** Which keys a watch selects: one key, or the range [start, end) (end null = no upper bound). */
export interface KeySelector {
  readonly start: string;
  /** Exclusive end, null for no upper bound; for a single key, `single` is true. */
  readonly end: string | null;
  readonly single: boolean;
}

/** The selector for one key. */
export function keySelector(key: string): KeySelector {
  return { start: key, end: null, single: true };
}

/** The selector for every key starting with `prefix` (as a range: [prefix, prefix+1)). */
export function prefixSelector(prefix: string): KeySelector {
  return { start: prefix, end: prefixEnd(prefix), single: false };
}

/** The selector for [start, end); an empty end means no upper bound. */
export function rangeSelector(start: string, end: string): KeySelector {
  return { start, end: end.length === 0 ? null : end, single: false };
}

/** The smallest key greater than every key starting with `prefix` (null: none, e.g. "" or 0xff...). */
export function prefixEnd(prefix: string): string | null {
  let i = prefix.length - 1;
  while (i >= 0 && prefix.charCodeAt(i) === 0xff) i--;
  if (i < 0) return null;
  return prefix.slice(0, i) + String.fromCharCode(prefix.charCodeAt(i) + 1);
}

/** True when `key` is selected (flush events are matched by every selector). */
export function selects(s: KeySelector, e: HistoryEvent): boolean {
  if (e.type === EventType.FLUSH) return true;
  const k = e.key;
  if (s.single) return k === s.start;
  return k >= s.start && (s.end === null || k < s.end);
}
