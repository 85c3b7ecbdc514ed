/**
 * Ordered range reads over the keyspace's byte-ordered index (`ordered_index.ts`):
 *
 * - `RANGE start end [LIMIT n] [REV] [KEYSONLY] [AT rev]`: the keys in `[start, end)` in unsigned
 *   byte order (an empty `end`: no upper bound), each as `[key, value, create_rev, mod_rev,
 *   version]` (`value` nil for non-string keys and with KEYSONLY); REV walks from the largest key
 *   down. Expired keys are skipped. LIMIT is 1..{@link MAX_RANGE_LIMIT}, default
 *   {@link DEFAULT_RANGE_LIMIT}. Paging is client-side: continue from the last key + "\x00" (with
 *   REV: with `end` = the last key) until a page holds fewer than LIMIT entries.
 * - `RANGEPREFIX prefix [LIMIT n] [REV] [KEYSONLY] [AT rev]` is `RANGE prefix <prefixEnd(prefix)>`
 *   (every key starting with `prefix`); its next pages are plain RANGE calls with that end.
 * - `AT rev` (a revision ≤ the current one): the page is the one the range held at `rev`, or the
 *   command fails (ABORTED) naming the current revision. There is no MVCC history: AT succeeds
 *   when no key the page covers (from the start of the walk to its last entry, or to the range's
 *   end on a short page) was created, changed or removed after `rev` and none expired since, so
 *   the live keys are exactly the keys of `rev`. Removals are tracked per index chunk
 *   (conservative: a removal near the range can fail it too), and a replica restored from a
 *   snapshot knows removals only from its first applied revision on.
 * Reads: ReadIndex on the node (linearizable), never in the log.
 * @module
 */
import { Code } from "../../protocol/codes.ts";
import { bytesToKey, eqWord, keyToBytes, parseIntArg, printable } from "./bytes.ts";
import type { CommandSpec } from "./command_table.ts";
import { Kind } from "./keyspace.ts";
import type { KeyEntry, Keyspace } from "./keyspace.ts";
import { fail, MAX_REPLY_BYTES, ok, syntaxError } from "./reply.ts";
import type { ApplyContext, Argv, ResultSink, Value } from "./types.ts";
import { EventType, type HistoryEvent, type WatchHistory } from "./watch_history.ts";

/** Entries per RANGE page when LIMIT is not given. */
export const DEFAULT_RANGE_LIMIT = 1000;
/** Largest LIMIT a RANGE accepts (the reply is also bounded by MAX_REPLY_BYTES). */
export const MAX_RANGE_LIMIT = 10_000;

/**
 * The smallest key greater than every key starting with `prefix` (drop trailing 0xff bytes, add
 * one to the last byte); null when there is none (empty or all-0xff prefix: no upper bound).
 */
export function prefixEnd(prefix: string): string | null {
  let n = prefix.length;
  while (n > 0 && prefix.charCodeAt(n - 1) === 0xff) n--;
  if (n === 0) return null;
  return prefix.slice(0, n - 1) + String.fromCharCode(prefix.charCodeAt(n - 1) + 1);
}

/** Parsed options of a RANGE call. */
interface RangeOpts {
  limit: number;
  reverse: boolean;
  keysOnly: boolean;
  /** AT revision, -1 when not given. */
  at: number;
}

function parseOpts(argv: Argv, from: number, out: ResultSink): RangeOpts | null {
  const o: RangeOpts = { limit: DEFAULT_RANGE_LIMIT, reverse: false, keysOnly: false, at: -1 };
  for (let i = from; i < argv.length; i++) {
    const a = argv[i];
    if (eqWord(a, "rev")) o.reverse = true;
    else if (eqWord(a, "keysonly")) o.keysOnly = true;
    else if (eqWord(a, "limit") && i + 1 < argv.length) {
      const n = parseIntArg(argv[++i]);
      if (n === null || n < 1 || n > MAX_RANGE_LIMIT) {
        syntaxError(out, `RANGE LIMIT must be an integer in 1..${MAX_RANGE_LIMIT}`);
        return null;
      }
      o.limit = n;
    } else if (eqWord(a, "at") && i + 1 < argv.length) {
      const r = parseIntArg(argv[++i]);
      if (r === null || r < 0) {
        syntaxError(out, "RANGE AT revision must be an integer >= 0");
        return null;
      }
      o.at = r;
    } else {
      syntaxError(out, `RANGE: unknown option '${printable(a)}' (LIMIT n, REV, KEYSONLY, AT rev)`);
      return null;
    }
  }
  return o;
}

/** Runs a parsed range read of `[start, end)` and appends its reply. */
export function rangeRead(
  db: Keyspace,
  start: string,
  end: string | null,
  o: RangeOpts,
  ctx: ApplyContext,
  out: ResultSink,
): void {
  const now = ctx.nowMs;
  const at = o.at;
  if (at > ctx.index) {
    fail(
      out,
      Code.SYNTAX,
      `RANGE AT ${at}: revision is in the future (current revision ${ctx.index})`,
    );
    return;
  }
  if (at >= 0 && at < ctx.index && db.history !== null) {
    const h = db.history;
    if (
      h.rev === ctx.index && h.oldest <= at + 1 && rangeFromHistory(db, h, start, end, o, ctx, out)
    ) {
      return;
    }
  }
  const page = new Page(o);
  let changed: string | null = null; // why AT fails
  const store = db.store;
  db.index.forEach(start, end, o.reverse, (k, pos) => {
    const e = store.entryAt(pos) as KeyEntry;
    if (at >= 0 && e.modRev > at) {
      changed = `key '${printable(keyToBytes(k))}' changed at revision ${e.modRev}`;
      return false;
    }
    if (e.expireAt !== 0 && e.expireAt <= now) {
      if (at >= 0) {
        changed = `key '${printable(keyToBytes(k))}' expired`;
        return false;
      }
      return true;
    }
    const v = e.kind === Kind.STRING ? e.value as Uint8Array : null;
    return page.add(k, v, e.createRev, e.modRev, e.version);
  });
  if (changed !== null) return rangeChanged(out, at, ctx.index, changed);
  if (page.overflow) return tooLarge(out, page.res.length);
  if (at >= 0) {
    // Removals in the part of the range this page covers (to its end when the page is short).
    const last = page.last;
    const full = page.res.length === o.limit && last !== null;
    let lo: string;
    let hi: string;
    if (!o.reverse) {
      lo = start;
      hi = full ? last! : end ?? "\uffff";
    } else {
      lo = full ? last! : start;
      hi = end ?? "\uffff";
    }
    if (db.index.removedAfter(lo, hi, at)) {
      return rangeChanged(out, at, ctx.index, "a key was removed or the history is not retained");
    }
  }
  ok(out, page.res);
}

/**
 * `RANGE ... AT rev` from the watch history, which holds every event after `rev` (the caller
 * checked) with each key's state before it: a key changed after `rev` answers the state its
 * first later event recorded as previous; every other key in the range is unchanged since `rev`
 * and answers its current state. False (nothing answered) when a FLUSHALL came after `rev`. A key
 * whose state at `rev` carries an expiry that has passed by now may or may not have been expired
 * at `rev` (the history does not keep each revision's time): ABORTED, as without history.
 */
function rangeFromHistory(
  db: Keyspace,
  h: WatchHistory,
  start: string,
  end: string | null,
  o: RangeOpts,
  ctx: ApplyContext,
  out: ResultSink,
): boolean {
  const at = o.at;
  const inRange = (k: string) => k >= start && (end === null || k < end);
  const firstAfter = new Map<string, HistoryEvent>();
  for (let seq = h.seekRev(at + 1); seq < h.endSeq; seq++) {
    const ev = h.at(seq);
    if (ev.type === EventType.FLUSH) return false;
    if (inRange(ev.key) && !firstAfter.has(ev.key)) firstAfter.set(ev.key, ev);
  }
  // Keys that existed at `at` and changed since, in the page's order.
  const past = [...firstAfter.keys()].filter((k) => firstAfter.get(k)!.prev !== undefined).sort();
  if (o.reverse) past.reverse();
  const now = ctx.nowMs;
  const page = new Page(o);
  let why: string | null = null;
  let pi = 0;
  const emit = (
    k: string,
    value: Uint8Array | null,
    c: number,
    m: number,
    v: number,
    x: number,
  ) => {
    if (x !== 0 && x <= now) {
      why = `key '${printable(keyToBytes(k))}' has an expiry that has passed`;
      return false;
    }
    return page.add(k, value, c, m, v);
  };
  const emitPast = (k: string) => {
    const p = firstAfter.get(k)!.prev!;
    return emit(k, p.value, p.createRev, p.modRev, p.version, p.expireAt);
  };
  const before = (a: string, b: string) => (o.reverse ? a > b : a < b);
  let going = true;
  db.index.forEach(start, end, o.reverse, (k, pos) => {
    while (going && pi < past.length && before(past[pi], k)) going = emitPast(past[pi++]);
    if (!going) return false;
    if (firstAfter.has(k)) return true; // changed after `at`: its state at `at` is in `past`
    const e = db.store.entryAt(pos) as KeyEntry;
    const v = e.kind === Kind.STRING ? e.value as Uint8Array : null;
    going = emit(k, v, e.createRev, e.modRev, e.version, e.expireAt);
    return going;
  });
  while (going && pi < past.length) going = emitPast(past[pi++]);
  if (why !== null) rangeChanged(out, at, ctx.index, why);
  else if (page.overflow) tooLarge(out, page.res.length);
  else ok(out, page.res);
  return true;
}

/** A RANGE reply being built: entries up to LIMIT, bounded in bytes. */
class Page {
  readonly res: Value[] = [];
  /** The last key added. */
  last: string | null = null;
  #bytes = 0;
  readonly #o: RangeOpts;

  constructor(o: RangeOpts) {
    this.#o = o;
  }

  /** True once an entry did not fit in {@link MAX_REPLY_BYTES} (it was not added). */
  get overflow(): boolean {
    return this.#bytes > MAX_REPLY_BYTES;
  }

  /** Adds an entry (its value dropped with KEYSONLY); false when the page is full or too large. */
  add(k: string, value: Uint8Array | null, c: number, m: number, v: number): boolean {
    const val = this.#o.keysOnly ? null : value;
    this.#bytes += k.length + (val === null ? 0 : val.length) + 40;
    if (this.#bytes > MAX_REPLY_BYTES) return false;
    this.res.push([keyToBytes(k), val, c, m, v]);
    this.last = k;
    return this.res.length < this.#o.limit;
  }
}

function tooLarge(out: ResultSink, entries: number): void {
  fail(
    out,
    Code.TOO_LARGE,
    `reply too large: RANGE entries pass ${MAX_REPLY_BYTES} bytes after ${entries} entries (use LIMIT ${
      Math.max(1, entries)
    } or KEYSONLY)`,
  );
}

function rangeChanged(out: ResultSink, at: number, current: number, why: string): void {
  fail(
    out,
    Code.ABORTED,
    `RANGE AT ${at}: the range changed after revision ${at} (${why}); current revision is ${current}: restart the scan without AT or AT ${current}`,
  );
}

/** RANGE and RANGEPREFIX. */
export const RANGE_COMMANDS: readonly CommandSpec[] = [
  {
    name: "range",
    arity: -3,
    write: false,
    run: (db, argv, ctx, out) => {
      const o = parseOpts(argv, 3, out);
      if (o === null) return;
      const end = argv[2].length === 0 ? null : bytesToKey(argv[2]);
      rangeRead(db, bytesToKey(argv[1]), end, o, ctx, out);
    },
  },
  {
    name: "rangeprefix",
    arity: -2,
    write: false,
    run: (db, argv, ctx, out) => {
      const o = parseOpts(argv, 2, out);
      if (o === null) return;
      const p = bytesToKey(argv[1]);
      rangeRead(db, p, prefixEnd(p), o, ctx, out);
    },
  },
];
