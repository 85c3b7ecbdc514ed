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
import { keyFrom, putKey } from "./bytes.ts";
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
  return countedBytes(e.key.length, e.value === null ? 0 : e.value.length);
}

/** {@link eventBytes} from the lengths (the history's storage counts without an event object). */
function countedBytes(keyLength: number, valueLength: number): number {
  return 64 + keyLength + valueLength;
}

/** A key's state before the entry that changed it (see {@link HistoryEvent.prev}). */
export interface PrevState {
  readonly value: Uint8Array | null;
  readonly createRev: number;
  readonly modRev: number;
  readonly version: number;
  readonly expireAt: number;
}

/** Bytes a previous state adds to an event in the history (a fixed part and its value). */
const PREV_BYTES = 48;

/**
 * Which keys the entry being applied touched, whether each existed (was in the store) before it,
 * and its state then. The keyspace calls {@link note} and {@link cleared}. Kept in parallel arrays
 * of numbers and references (no object per touched key, no hashing on the write path: a command's
 * consecutive notes of one key count once); {@link WatchHistory.commit} drops the other repeats.
 */
export class ChangeRecorder {
  /** Keys in the order first touched (a key may repeat; see {@link existed}). */
  readonly keys: string[] = [];
  /** Whether `keys[i]` was in the store when it was noted. */
  readonly existed: boolean[] = [];
  /** The noted state of `keys[i]` when it existed: a string value's buffer (null: a collection). */
  readonly #buf: (ArrayBufferLike | null)[] = [];
  /** Offset and length of that value, then createRev, modRev, version, expireAt: 6 per note. */
  readonly #num: number[] = [];
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
    if (e === undefined) {
      this.#buf.push(null);
      this.#num.push(0, 0, 0, 0, 0, 0);
      return;
    }
    const b = e.kind === Kind.STRING ? e.valueBuffer : null;
    this.#buf.push(b);
    this.#num.push(
      b === null ? 0 : e.valueOffset,
      b === null ? 0 : e.byteLength,
      e.createRev,
      e.modRev,
      e.version,
      e.expireAt,
    );
  }

  /** Copies note `i`'s previous state (the key existed) into event `j` of `c`. */
  copyPrev(i: number, c: EventChunk, j: number): void {
    const x = this.#num, o = 6 * i;
    c.pbuf[j] = this.#buf[i];
    c.len[NL * j + 2] = x[o];
    c.len[NL * j + 3] = x[o + 1];
    c.num[8 * j + 4] = x[o + 2];
    c.num[8 * j + 5] = x[o + 3];
    c.num[8 * j + 6] = x[o + 4];
    c.num[8 * j + 7] = x[o + 5];
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
    this.#buf.length = 0;
    this.#num.length = 0;
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

/** Events per chunk of the history's storage (a power of two). */
const CHUNK_BITS = 12;
const CHUNK = 1 << CHUNK_BITS;
const CHUNK_MASK = CHUNK - 1;
/** Flags beside an event's type: it has a value; it has a previous state; that state has a value. */
const F_VALUE = 4;
const F_PREV = 8;
const F_PREV_VALUE = 16;
/** Events made into objects lately and kept (watchers reading the same events share them). */
const CACHE = 8192;

/** Uint32 fields per event: value offset and length, previous value's, key offset and length. */
const NL = 6;
/** A chunk's key buffer to begin with (32 bytes per event; it grows for longer keys). */
const KEY_BYTES = 32 * CHUNK;

/**
 * Storage for {@link CHUNK} events in parallel arrays: no JS object per event (at ~60k writes/s a
 * history of event objects was most of a node's old-generation garbage, #11). Keys are copied as
 * bytes into the chunk's buffer, not kept as strings: a history of ~500k events held as many key
 * strings, each copied by the young-generation collector and then promoted only to die a few
 * seconds later — old-generation garbage at the write rate. The buffers are references to the
 * keyspace's own (a value's slab).
 */
class EventChunk {
  /** rev, createRev, modRev, version, then the previous state's createRev, modRev, version, expireAt. */
  readonly num = new Float64Array(8 * CHUNK);
  /** See {@link NL}. */
  readonly len = new Uint32Array(NL * CHUNK);
  /** The event type and the F_* flags. */
  readonly flags = new Uint8Array(CHUNK);
  /** The events' keys, one byte per code unit (keyspace form), at the offsets in {@link len}. */
  keys = new Uint8Array(KEY_BYTES);
  #keyEnd = 0;
  readonly vbuf: (ArrayBufferLike | null)[] = new Array<ArrayBufferLike | null>(CHUNK).fill(null);
  readonly pbuf: (ArrayBufferLike | null)[] = new Array<ArrayBufferLike | null>(CHUNK).fill(null);

  /** Drops the references (a chunk is reused once its events are dropped). */
  clear(): void {
    this.#keyEnd = 0;
    // A buffer grown for long keys is not kept by the spare chunk.
    if (this.keys.length > KEY_BYTES) this.keys = new Uint8Array(KEY_BYTES);
    this.vbuf.fill(null);
    this.pbuf.fill(null);
  }

  /** Stores event `j`'s key (a chunk's events are written in order, so its keys are appended). */
  setKey(j: number, key: string): void {
    const n = key.length;
    const at = this.#keyEnd;
    if (at + n > this.keys.length) {
      const grown = new Uint8Array(Math.max(2 * this.keys.length, at + n));
      grown.set(this.keys.subarray(0, at));
      this.keys = grown;
    }
    putKey(this.keys, at, key);
    this.len[NL * j + 4] = at;
    this.len[NL * j + 5] = n;
    this.#keyEnd = at + n;
  }

  /** Event `j`'s key as a string (made on demand). */
  key(j: number): string {
    return keyFrom(this.keys, this.len[NL * j + 4], this.len[NL * j + 5]);
  }

  /** Bytes event `j` is counted for: {@link eventBytes} plus its previous state. */
  held(j: number): number {
    const f = this.flags[j];
    const l = this.len;
    const v = (f & F_VALUE) !== 0 ? l[NL * j + 1] : 0;
    const p = (f & F_PREV) === 0 ? 0 : PREV_BYTES + ((f & F_PREV_VALUE) !== 0 ? l[NL * j + 3] : 0);
    return countedBytes(l[NL * j + 5], v) + p;
  }
}

/** The event ring. Events are numbered by a sequence (`seq`) that never goes back. */
export class WatchHistory {
  readonly limits: HistoryLimits;
  readonly recorder: ChangeRecorder = new ChangeRecorder();
  /** The chunks holding events `#chunkBase` .. `#end - 1` (the first ones dropped whole). */
  #chunks: EventChunk[] = [];
  #chunkBase = 0;
  /** A dropped chunk kept for reuse (no allocation per 4,096 events in a steady state). */
  #spare: EventChunk | null = null;
  /** Sequence number of the oldest event held, and of the next one. */
  #baseSeq = 0;
  #end = 0;
  #bytes = 0;
  /** The oldest revision whose events are all here (a watch may start at it or later). */
  #oldest = 1;
  /** The newest revision committed (the store's revision as this history knows it). */
  #rev = 0;
  /** Scratch: the store's entry for each noted key (one lookup each). */
  readonly #found: (KeyEntry | undefined)[] = [];
  /** Events made into objects by {@link at} lately, at `seq % CACHE` (the seq beside it). */
  readonly #cache: (HistoryEvent | undefined)[] = new Array<HistoryEvent | undefined>(CACHE)
    .fill(undefined);
  readonly #cacheSeq = new Float64Array(CACHE).fill(-1);

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
    return this.#end - this.#baseSeq;
  }

  /** Sequence number of the oldest event held. */
  get firstSeq(): number {
    return this.#baseSeq;
  }

  /** Sequence number the next event will get. */
  get endSeq(): number {
    return this.#end;
  }

  /** The revision of event `seq` (firstSeq <= seq < endSeq), without making its object. */
  revAt(seq: number): number {
    const q = seq - this.#chunkBase;
    return this.#chunks[q >>> CHUNK_BITS].num[8 * (q & CHUNK_MASK)];
  }

  /**
   * The event with sequence number `seq` (firstSeq <= seq < endSeq), as an object made on demand;
   * the same object for the same event while it is among the last few thousand asked for (an
   * event's wire encoding is cached per object, see watch_wire.ts, so a fan-out encodes it once).
   */
  at(seq: number): HistoryEvent {
    const slot = seq % CACHE;
    if (this.#cacheSeq[slot] === seq) return this.#cache[slot]!;
    const q = seq - this.#chunkBase;
    const c = this.#chunks[q >>> CHUNK_BITS];
    const j = q & CHUNK_MASK;
    const f = c.flags[j], n = c.num, l = c.len;
    const e: HistoryEvent = {
      rev: n[8 * j],
      type: (f & 3) as EventTypeNumber,
      key: c.key(j),
      value: (f & F_VALUE) !== 0 ? new Uint8Array(c.vbuf[j]!, l[NL * j], l[NL * j + 1]) : null,
      createRev: n[8 * j + 1],
      modRev: n[8 * j + 2],
      version: n[8 * j + 3],
      prev: (f & F_PREV) === 0 ? undefined : {
        value: (f & F_PREV_VALUE) !== 0
          ? new Uint8Array(c.pbuf[j]!, l[NL * j + 2], l[NL * j + 3])
          : null,
        createRev: n[8 * j + 4],
        modRev: n[8 * j + 5],
        version: n[8 * j + 6],
        expireAt: n[8 * j + 7],
      },
    };
    this.#cacheSeq[slot] = seq;
    this.#cache[slot] = e;
    return e;
  }

  /** Sequence number of the first event held with revision >= `rev` (endSeq when none). */
  seekRev(rev: number): number {
    let lo = this.#baseSeq;
    let hi = this.#end;
    while (lo < hi) {
      const mid = lo + Math.floor((hi - lo) / 2);
      if (this.revAt(mid) < rev) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Starts over after a snapshot restored the state at `index`: no event of earlier revisions is
   * known here, so the history starts after it.
   */
  reset(index: number): void {
    this.recorder.reset();
    for (const c of this.#chunks) c.clear();
    this.#chunks = [];
    this.#baseSeq = this.#end;
    this.#chunkBase = this.#end;
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
      this.#record(EventType.FLUSH, index, "", undefined, -1);
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
          this.#record(EventType.PUT, index, key, e, i);
        }
      } else if (existed[i]) {
        this.#record(EventType.DELETE, index, key, undefined, i);
      }
    }
    found.length = 0;
  }

  /**
   * Stores an event at revision `index`: a put of `key` (its entry `e`, as it is now), a delete
   * (`e` undefined) or a flush (`i` = -1), with the previous state the recorder noted at `i` when
   * the key existed then.
   */
  #record(
    type: EventTypeNumber,
    index: number,
    key: string,
    e: KeyEntry | undefined,
    i: number,
  ): void {
    const q = this.#end - this.#chunkBase;
    if ((q >>> CHUNK_BITS) >= this.#chunks.length) {
      this.#chunks.push(this.#spare ?? new EventChunk());
      this.#spare = null;
    }
    this.#end++;
    const c = this.#chunks[q >>> CHUNK_BITS];
    const j = q & CHUNK_MASK;
    const n = c.num;
    let f: number = type;
    n[8 * j] = index;
    c.setKey(j, key);
    let b: ArrayBufferLike | null = null;
    if (e !== undefined) {
      n[8 * j + 1] = e.createRev;
      n[8 * j + 2] = e.modRev;
      n[8 * j + 3] = e.version;
      if (e.kind === Kind.STRING) {
        b = e.valueBuffer;
        f |= F_VALUE;
        c.len[NL * j] = e.valueOffset;
        c.len[NL * j + 1] = e.byteLength;
      }
    } else {
      n[8 * j + 1] = 0;
      n[8 * j + 2] = index;
      n[8 * j + 3] = 0;
    }
    c.vbuf[j] = b;
    const r = this.recorder;
    if (i >= 0 && r.existed[i]) {
      f |= F_PREV;
      r.copyPrev(i, c, j);
      if (c.pbuf[j] !== null) f |= F_PREV_VALUE;
    } else c.pbuf[j] = null;
    c.flags[j] = f;
    this.#bytes += c.held(j);
  }

  /** Drops whole revisions from the front until both bounds hold (the newest is always kept). */
  #trim(): void {
    const floor = this.#rev - this.limits.revisions + 1;
    if (this.#oldest < floor) this.#oldest = floor;
    let h = this.#baseSeq;
    const end = this.#end;
    while (h < end) {
      const first = this.revAt(h);
      if (first >= this.#oldest && (this.#bytes <= this.limits.bytes || first >= this.#rev)) break;
      // Drop every event of revision `first`.
      while (h < end && this.revAt(h) === first) {
        const q = h++ - this.#chunkBase;
        this.#bytes -= this.#chunks[q >>> CHUNK_BITS].held(q & CHUNK_MASK);
      }
      if (this.#oldest <= first) this.#oldest = first + 1;
    }
    this.#baseSeq = h;
    // Chunks whose events are all dropped go (one is kept for reuse).
    while (h - this.#chunkBase >= CHUNK) {
      const c = this.#chunks.shift()!;
      c.clear();
      this.#spare = c;
      this.#chunkBase += CHUNK;
    }
  }
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
