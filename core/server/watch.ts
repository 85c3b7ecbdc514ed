/**
 * Serving watches (docs/watch.md): a {@link WatchHub} holds the node's watch history and every
 * watch of its client connections. A watch is a cursor into the history — catch-up and live
 * delivery are the same walk — so it costs no memory of its own: a watcher that does not read
 * only fills its connection's write buffer, and is cancelled (SLOW) once more than
 * `watch_max_pending_bytes` wait there; one the history outran is cancelled (COMPACTED).
 *
 * Any node serves watches (the history is a function of the log); a follower's stream just lags
 * its apply. Bounded: watches per connection and in all, events and bytes per message, messages
 * per watch per event-loop turn.
 * @module
 */
import { bytesToKey } from "../state/bytes.ts";
import {
  eventBytes,
  EventType,
  type HistoryEvent,
  type KeySelector,
  keySelector,
  prefixSelector,
  rangeSelector,
  selects,
  WatchHistory,
} from "../state/watch_history.ts";
import {
  MAX_WATCH_ID,
  MsgType,
  type Received,
  type ServerMessage,
  WatchReason,
  type WatchReasonNumber,
  type WatchRequest,
} from "../../protocol/messages.ts";
import type { Cancel, Scheduler } from "../env/time.ts";
import { encodeCbor } from "../../protocol/cbor.ts";
import { encodedEvent, eventsMessage } from "./watch_wire.ts";
import type { Connection } from "../../transports/types.ts";

/** Most events in one WATCH_EVENTS message. */
export const MAX_EVENTS_PER_MESSAGE = 1000;
/** A WATCH_EVENTS message is closed once its events hold this many bytes (one event may exceed it). */
export const MESSAGE_BYTES = 256 * 1024;
/** Messages one watch may send per event-loop turn (the rest waits a turn: other work runs). */
const MESSAGES_PER_TURN = 4;
/** Events one watch may look at per turn (a key watch far behind skips many). */
const SCAN_PER_TURN = 50_000;
/**
 * A watch that is caught up but has had nothing to send gets a progress notice (an empty
 * WATCH_EVENTS with the revision it is complete up to) at most this often, so a client resumes
 * from a recent revision (not one compacted meanwhile) even when its keys are quiet.
 */
export const PROGRESS_NOTICE_MS = 1000;
/** Watches on a node from which caught-up key watches skip new events by key. */
const QUIET_KEYS_MIN_WATCHES = 16;
/** ... unless more events than this came since the last walk (the per-watch walk is bounded). */
const QUIET_KEYS_MAX_EVENTS = 100_000;
/** Longest key / prefix / range bound accepted in a WATCH. */
export const MAX_WATCH_KEY_BYTES = 64 * 1024;

/** The hub's bounds (from config). */
export interface WatchLimits {
  /** watch_max_pending_bytes */
  maxPendingBytes: number;
  /** watch_max_per_connection */
  maxPerConnection: number;
  /** watch_max_total */
  maxTotal: number;
}

interface Watch {
  readonly id: number;
  readonly conn: Connection;
  readonly sel: KeySelector;
  /** Events before this revision are not wanted. */
  readonly fromRev: number;
  /** Next history sequence number to look at. */
  seq: number;
  /** Every event up to this revision was sent. */
  progress: number;
  /** The revision last reported to the client. */
  reported: number;
  /** Bytes of history scanned since the last message (for progress notices). */
  scanned: number;
  gone: boolean;
}

const encoder = new TextEncoder();

function asKey(x: unknown): string | null {
  if (x instanceof Uint8Array) return x.length <= MAX_WATCH_KEY_BYTES ? bytesToKey(x) : null;
  if (typeof x === "string") {
    const b = encoder.encode(x);
    return b.length <= MAX_WATCH_KEY_BYTES ? bytesToKey(b) : null;
  }
  return null;
}

/** Watch counters (INFO, tests). */
export interface WatchStats {
  watches: number;
  historyEvents: number;
  historyBytes: number;
  oldestRev: number;
  rev: number;
  canceledSlow: number;
  canceledCompacted: number;
  eventsSent: number;
}

/** The node's watch history and watches. */
export class WatchHub {
  readonly history: WatchHistory;
  readonly #limits: WatchLimits;
  readonly #scheduler: Scheduler;
  readonly #sendBytes: (conn: Connection, bytes: Uint8Array) => void;
  readonly #byConn = new Map<Connection, Map<number, Watch>>();
  #count = 0;
  #turn: Cancel | null = null;
  #notices: Cancel | null = null;
  /** The node has had no leader for a while: watches are refused and ended (NO_LEADER). */
  #leaderless = false;
  /** History sequence up to which the last walk of every watch went (see {@link #quietKeys}). */
  #walked = 0;
  #canceledSlow = 0;
  #canceledCompacted = 0;
  #eventsSent = 0;

  constructor(
    history: WatchHistory,
    limits: WatchLimits,
    scheduler: Scheduler,
    send: (conn: Connection, bytes: Uint8Array) => void,
  ) {
    this.history = history;
    this.#limits = limits;
    this.#scheduler = scheduler;
    this.#sendBytes = send;
  }

  #send(conn: Connection, msg: ServerMessage): void {
    this.#sendBytes(conn, encodeCbor(msg));
  }

  /** Counters. */
  stats(): WatchStats {
    const h = this.history;
    return {
      watches: this.#count,
      historyEvents: h.size,
      historyBytes: h.bytes,
      oldestRev: h.oldest,
      rev: h.rev,
      canceledSlow: this.#canceledSlow,
      canceledCompacted: this.#canceledCompacted,
      eventsSent: this.#eventsSent,
    };
  }

  /** Watches open on `conn`. */
  count(conn: Connection): number {
    return this.#byConn.get(conn)?.size ?? 0;
  }

  /** Entries were applied: deliver their events on a later turn (replies go out first). */
  changed(): void {
    if (this.#count === 0 || this.#turn !== null) return;
    this.#turn = this.#scheduler.immediate(() => {
      this.#turn = null;
      this.#pumpAll();
    });
  }

  /**
   * A snapshot replaced the state at `index`: the history starts after it, and a watch that had
   * not seen everything up to `index` cannot be continued here (COMPACTED).
   */
  restored(index: number): void {
    const h = this.history;
    h.reset(index);
    for (const w of this.#all()) {
      if (w.progress < index && w.fromRev <= index) {
        this.#compacted(w);
      } else {
        w.seq = h.endSeq;
        w.progress = Math.max(w.progress, index);
      }
    }
  }

  /**
   * The node lost (true) or found (false) its leader for longer than an election: while it has
   * none its history stands still, so its watches end with NO_LEADER (clients resume on another
   * node) and new ones are refused.
   */
  setLeaderless(leaderless: boolean): void {
    if (leaderless === this.#leaderless) return;
    this.#leaderless = leaderless;
    if (!leaderless) return;
    for (const w of this.#all()) {
      this.#end(w, WatchReason.NO_LEADER, "this node has no leader; watch again elsewhere", {
        rev: w.progress,
      });
    }
  }

  /** Handles a WATCH request from an authorised connection. */
  start(conn: Connection, m: Received<WatchRequest>): void {
    const id = m.watch_id;
    if (typeof id !== "number" || !Number.isInteger(id) || id < 1 || id > MAX_WATCH_ID) {
      this.#refuse(
        conn,
        0,
        WatchReason.INVALID,
        `WATCH needs a watch_id (integer 1..${MAX_WATCH_ID})`,
      );
      return;
    }
    const mine = this.#byConn.get(conn);
    if (mine?.has(id)) {
      this.#refuse(
        conn,
        id,
        WatchReason.INVALID,
        `watch_id ${id} is already in use on this connection`,
      );
      return;
    }
    const sel = this.#selector(m);
    if (typeof sel === "string") {
      this.#refuse(conn, id, WatchReason.INVALID, sel);
      return;
    }
    const from = m.from_rev ?? 0;
    if (typeof from !== "number" || !Number.isSafeInteger(from) || from < 0) {
      this.#refuse(conn, id, WatchReason.INVALID, "from_rev must be an integer >= 0");
      return;
    }
    const h = this.history;
    if (this.#leaderless) {
      this.#refuse(conn, id, WatchReason.NO_LEADER, "this node has no leader; watch elsewhere");
      return;
    }
    if (!h.enabled) {
      this.#refuse(
        conn,
        id,
        WatchReason.DISABLED,
        "this node keeps no watch history (watch_history_revisions is 0)",
      );
      return;
    }
    const lim = this.#limits;
    const full = (mine?.size ?? 0) >= lim.maxPerConnection
      ? `too many watches on this connection (watch_max_per_connection = ${lim.maxPerConnection})`
      : this.#count >= lim.maxTotal
      ? `too many watches on this node (watch_max_total = ${lim.maxTotal})`
      : null;
    if (full !== null) {
      this.#refuse(conn, id, WatchReason.TOO_MANY, full);
      return;
    }
    if (from > 0 && from < h.oldest) {
      this.#canceledCompacted++;
      this.#send(conn, {
        type: MsgType.WATCH_CANCELED,
        watch_id: id,
        reason: WatchReason.COMPACTED,
        error:
          `revision ${from} is compacted: the oldest revision available on this node is ${h.oldest}`,
        compact_rev: h.oldest,
      });
      return;
    }
    const fromRev = from === 0 ? h.rev + 1 : from;
    const w: Watch = {
      id,
      conn,
      sel,
      fromRev,
      seq: from === 0 ? h.endSeq : h.seekRev(from),
      progress: fromRev - 1,
      reported: fromRev - 1,
      scanned: 0,
      gone: false,
    };
    let map = mine;
    if (map === undefined) this.#byConn.set(conn, map = new Map());
    map.set(id, w);
    this.#count++;
    this.#notices ??= this.#scheduler.interval(PROGRESS_NOTICE_MS, () => this.#notify());
    this.#send(conn, {
      type: MsgType.WATCH_EVENTS,
      watch_id: id,
      rev: w.progress,
      events: [],
      created: true,
    });
    if (this.#pump(w)) this.changed();
  }

  /** Handles WATCH_CANCEL. */
  cancel(conn: Connection, id: unknown): void {
    const w = typeof id === "number" ? this.#byConn.get(conn)?.get(id) : undefined;
    if (w === undefined) {
      // Cancelling an unknown (or already ended) watch is not an error: the answer says so.
      if (typeof id === "number" && Number.isInteger(id) && id >= 1 && id <= MAX_WATCH_ID) {
        this.#refuse(conn, id, WatchReason.CANCELED, `no watch ${id} on this connection`);
      }
      return;
    }
    this.#end(w, WatchReason.CANCELED, "canceled by the client", { rev: w.progress });
  }

  /** The connection closed: its watches go (nothing is sent). */
  dropConnection(conn: Connection): void {
    const map = this.#byConn.get(conn);
    if (map === undefined) return;
    this.#byConn.delete(conn);
    for (const w of map.values()) {
      w.gone = true;
      this.#count--;
    }
  }

  /** The server stops: every watch ends with SHUTDOWN (resume elsewhere from `rev + 1`). */
  shutdown(): void {
    for (const w of this.#all()) {
      this.#end(w, WatchReason.SHUTDOWN, "server shutting down; watch again elsewhere", {
        rev: w.progress,
      });
    }
    this.#turn?.();
    this.#turn = null;
    this.#notices?.();
    this.#notices = null;
  }

  /** Progress notices to caught-up watches whose revision moved since their last message. */
  #notify(): void {
    if (this.#count === 0) {
      this.#notices?.();
      this.#notices = null;
      return;
    }
    const h = this.history;
    for (const w of this.#all()) {
      if (w.gone || w.seq < h.endSeq || h.rev <= w.reported) continue;
      if (w.conn.bufferedBytes() > 0) continue; // a message is still on its way anyway
      w.progress = Math.max(w.progress, h.rev);
      this.#send(w.conn, {
        type: MsgType.WATCH_EVENTS,
        watch_id: w.id,
        rev: w.progress,
        events: [],
      });
      w.reported = w.progress;
      w.scanned = 0;
    }
  }

  #selector(m: Received<WatchRequest>): KeySelector | string {
    const given = (m.key !== undefined ? 1 : 0) + (m.prefix !== undefined ? 1 : 0) +
      (m.start !== undefined ? 1 : 0);
    if (given !== 1) return "WATCH needs exactly one of key, prefix or start";
    if (m.end !== undefined && m.start === undefined) return "WATCH: end goes with start";
    const bad = `must be a string or byte string of at most ${MAX_WATCH_KEY_BYTES} bytes`;
    if (m.key !== undefined) {
      const k = asKey(m.key);
      return k === null ? `WATCH key ${bad}` : keySelector(k);
    }
    if (m.prefix !== undefined) {
      const p = asKey(m.prefix);
      return p === null ? `WATCH prefix ${bad}` : prefixSelector(p);
    }
    const s = asKey(m.start);
    const e = m.end === undefined ? "" : asKey(m.end);
    if (s === null || e === null) return `WATCH start and end ${bad}`;
    if (e.length > 0 && e <= s) return "WATCH: end must be after start (or empty: no upper bound)";
    return rangeSelector(s, e);
  }

  *#all(): Iterable<Watch> {
    for (const map of [...this.#byConn.values()]) yield* [...map.values()];
  }

  #refuse(conn: Connection, id: number, reason: WatchReasonNumber, error: string): void {
    this.#send(conn, { type: MsgType.WATCH_CANCELED, watch_id: id, reason, error });
  }

  #end(
    w: Watch,
    reason: WatchReasonNumber,
    error: string,
    extra: { rev?: number; compact_rev?: number },
  ): void {
    if (w.gone) return;
    w.gone = true;
    const map = this.#byConn.get(w.conn);
    if (map !== undefined) {
      map.delete(w.id);
      if (map.size === 0) this.#byConn.delete(w.conn);
    }
    this.#count--;
    this.#send(w.conn, { type: MsgType.WATCH_CANCELED, watch_id: w.id, reason, error, ...extra });
  }

  #compacted(w: Watch): void {
    this.#canceledCompacted++;
    const oldest = this.history.oldest;
    this.#end(
      w,
      WatchReason.COMPACTED,
      `revision ${
        w.progress + 1
      } is compacted: the oldest revision available on this node is ${oldest}`,
      { rev: w.progress, compact_rev: oldest },
    );
  }

  #pumpAll(): void {
    let again = false;
    const quiet = this.#quietKeys();
    const h = this.history;
    for (const w of this.#all()) {
      if (w.gone) continue;
      if (quiet !== null && w.sel.single && w.seq === quiet.from && !quiet.keys.has(w.sel.start)) {
        // Nothing for this key among the new events: move on without walking them.
        w.seq = quiet.to;
        w.progress = Math.max(w.progress, h.rev);
        continue;
      }
      if (this.#pump(w)) again = true;
    }
    if (again) this.changed();
  }

  /**
   * With many single-key watches, the keys of the events since the last walk — [from, to) — so
   * each caught-up key watch whose key has none skips them in O(1) instead of walking them (10,000
   * key watches would otherwise each walk every new event). Null when not worth it, or when a
   * flush is among them (every watch must see it).
   */
  #quietKeys(): { from: number; to: number; keys: Set<string> } | null {
    const h = this.history;
    const from = Math.max(this.#walked, h.firstSeq);
    const to = h.endSeq;
    this.#walked = to;
    if (this.#count < QUIET_KEYS_MIN_WATCHES || to - from > QUIET_KEYS_MAX_EVENTS) return null;
    const keys = new Set<string>();
    for (let q = from; q < to; q++) {
      const e = h.at(q);
      if (e.type === EventType.FLUSH) return null;
      keys.add(e.key);
    }
    return { from, to, keys };
  }

  /**
   * Sends what `w` has not seen yet, up to this turn's budget. True when more remains (the caller
   * schedules another turn).
   */
  #pump(w: Watch): boolean {
    const h = this.history;
    if (w.gone) return false;
    if (w.seq < h.firstSeq) {
      this.#compacted(w);
      return false;
    }
    const end = h.endSeq;
    const every = Math.max(1, Math.floor(h.limits.revisions / 4));
    const everyBytes = Math.max(1, Math.floor(h.limits.bytes / 4));
    let scan = SCAN_PER_TURN;
    for (let msgs = 0; msgs < MESSAGES_PER_TURN; msgs++) {
      const events: Uint8Array[] = [];
      let bytes = 0;
      let flush: HistoryEvent | null = null;
      while (
        w.seq < end && scan > 0 && events.length < MAX_EVENTS_PER_MESSAGE && bytes < MESSAGE_BYTES
      ) {
        const e = h.at(w.seq);
        if (e.rev < w.fromRev) {
          w.seq++;
          continue;
        }
        if (e.type === EventType.FLUSH) {
          flush = e;
          break;
        }
        scan--;
        const n = eventBytes(e);
        w.scanned += n;
        if (selects(w.sel, e)) {
          events.push(encodedEvent(e));
          bytes += n;
        }
        w.seq++;
      }
      // Complete up to the revision before the next unseen event (a revision may be split
      // across messages: the client skips what it already has when it resumes mid-revision).
      const progress = flush !== null
        ? flush.rev - 1
        : w.seq < end
        ? Math.max(w.progress, h.at(w.seq).rev - 1)
        : Math.max(w.progress, h.rev);
      w.progress = progress;
      const notice = events.length === 0 &&
        (progress - w.reported >= every || w.scanned >= everyBytes) && progress > w.reported;
      if (events.length > 0 || notice) {
        if (w.conn.bufferedBytes() > this.#limits.maxPendingBytes) {
          this.#canceledSlow++;
          this.#end(
            w,
            WatchReason.SLOW,
            `watcher too slow: ${w.conn.bufferedBytes()} bytes unread on its connection (watch_max_pending_bytes = ${this.#limits.maxPendingBytes}); watch again from rev + 1`,
            { rev: w.reported },
          );
          return false;
        }
        this.#sendBytes(w.conn, eventsMessage(w.id, progress, events));
        this.#eventsSent += events.length;
        w.reported = progress;
        w.scanned = 0;
      }
      if (flush !== null) {
        this.#end(
          w,
          WatchReason.FLUSHED,
          `the keyspace was flushed at revision ${flush.rev}; read again and watch from ${
            flush.rev + 1
          }`,
          { rev: flush.rev },
        );
        return false;
      }
      if (w.seq >= end) return false;
      if (scan === 0) return true;
    }
    return true;
  }
}
