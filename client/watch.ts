/**
 * `client.watch(spec)`: an async iterator of a key's, a prefix's or a range's changes from a
 * revision (docs/watch.md). Each watcher has a connection of its own to one node (any node serves
 * watches: followers too); when it is lost or the node stops, the watcher moves to the next
 * endpoint and resumes from the last revision it completed + 1, skipping what it already
 * delivered, so the events it yields are in revision order with no gap and no repeat.
 *
 * It ends with a thrown {@link WatchError} when the server cannot continue it: its revision was
 * compacted (on every endpoint tried: `compactRev` names the oldest available), the consumer was
 * too slow (`slow`), the keyspace was flushed (`flushed`), or the request was refused.
 *
 * Back-pressure: past {@link WATCH_QUEUE_HIGH} undelivered events (or
 * {@link WATCH_QUEUE_HIGH_BYTES} of their keys and values) the watcher stops reading its socket (the server then sees its buffer fill and, past `watch_max_pending_bytes`, cancels with
 * `slow`); reading resumes under {@link WATCH_QUEUE_LOW} (and a quarter of the bytes).
 * @module
 */
import { decodeCbor, encodeCbor } from "../protocol/cbor.ts";
import { Code, codeName } from "../protocol/codes.ts";
import {
  asServerMessage,
  MsgType,
  type WatchCancelRequest,
  WatchReason,
  type WatchRequest,
} from "../protocol/messages.ts";
import type { Connection, Transport } from "../transports/types.ts";
import { type Address, parseAddress } from "./address.ts";
import type { ClientTimers } from "./types.ts";

/** What to watch: exactly one of `key`, `prefix`, `start` (with an optional `end`). */
export interface WatchSpec {
  /** One key. */
  key?: string | Uint8Array;
  /** Every key starting with these bytes. */
  prefix?: string | Uint8Array;
  /** Keys from `start` (inclusive) ... */
  start?: string | Uint8Array;
  /** ... to `end` (exclusive; absent or empty: no upper bound), in byte order. */
  end?: string | Uint8Array;
  /** First revision wanted (default: the next one, i.e. changes from now on). */
  fromRev?: number;
}

/** One change. */
export interface WatchEvent {
  /** A put (created or changed) or a delete (gone, expired included). */
  type: "put" | "delete";
  /** The key's bytes. */
  key: Uint8Array;
  /** The new value (a put of a string key), else null. */
  value: Uint8Array | null;
  /** After a put: the key's create revision; 0 for a delete. */
  createRev: number;
  /** After a put: the key's mod revision (= rev); for a delete: rev. */
  modRev: number;
  /** After a put: the key's version; 0 for a delete. */
  version: number;
  /** The revision of the change. */
  rev: number;
}

/** A running watch. */
export interface Watcher extends AsyncIterable<WatchEvent> {
  /** Stops the watch (the iterator ends; nothing more is received). */
  cancel(): void;
  /**
   * Resolves once the server accepted the watch the first time, with the revision it is complete
   * up to (events after it will come); rejects like the iterator when it was refused.
   */
  readonly ready: Promise<number>;
  /** Every event up to this revision was received (resumes from it + 1). */
  readonly rev: number;
}

/** Why a watch ended, by name (`WatchError.reason`). */
export type WatchReasonName =
  | "canceled"
  | "compacted"
  | "slow"
  | "flushed"
  | "too_many"
  | "invalid"
  | "shutdown"
  | "denied"
  | "disabled"
  | "no_leader"
  | "closed";

const REASON_NAMES: Record<number, WatchReasonName> = {
  [WatchReason.CANCELED]: "canceled",
  [WatchReason.COMPACTED]: "compacted",
  [WatchReason.SLOW]: "slow",
  [WatchReason.FLUSHED]: "flushed",
  [WatchReason.TOO_MANY]: "too_many",
  [WatchReason.INVALID]: "invalid",
  [WatchReason.SHUTDOWN]: "shutdown",
  [WatchReason.DENIED]: "denied",
  [WatchReason.DISABLED]: "disabled",
  [WatchReason.NO_LEADER]: "no_leader",
};

/** The error a watch's iterator throws when the watch cannot go on. */
export class WatchError extends Error {
  /** Why (see docs/watch.md). */
  readonly reason: WatchReasonName;
  /** With `compacted`: the oldest revision the node can serve. */
  readonly compactRev?: number;
  /** The revision the watch was complete up to (with `flushed`: the flush's revision). */
  readonly rev: number;

  /** An error for `reason`, complete up to `rev`. */
  constructor(reason: WatchReasonName, message: string, rev: number, compactRev?: number) {
    super(message);
    this.name = "WatchError";
    this.reason = reason;
    this.rev = rev;
    if (compactRev !== undefined) this.compactRev = compactRev;
  }
}

/** Undelivered events past which the watcher stops reading its socket. */
export const WATCH_QUEUE_HIGH = 10_000;
/** ... and under which it reads again. */
export const WATCH_QUEUE_LOW = 2_000;
/** Without pause support (UDP): undelivered events past which the watch ends (`slow`). */
const WATCH_QUEUE_MAX = 100_000;
/** Undelivered bytes (keys + values + 64 per event) past which the watcher stops reading. */
export const WATCH_QUEUE_HIGH_BYTES = 8 * 1024 * 1024;
/** Without pause support: undelivered bytes past which the watch ends (`slow`). */
const WATCH_QUEUE_MAX_BYTES = 64 * 1024 * 1024;

function eventSize(e: WatchEvent): number {
  return 64 + e.key.length + (e.value === null ? 0 : e.value.length);
}
const MAX_BACKOFF_MS = 1000;

/** What a watcher needs from its client. */
export interface WatchContext {
  transport: Transport;
  /** The endpoints to use, the preferred (current) one first. */
  endpoints(): string[];
  password?: string;
  timers: ClientTimers;
  connectTimeoutMs: number;
  maxResponseBytes: number;
  /** Called once when the watcher ends. */
  onEnd(w: ClientWatcher): void;
}

const WATCH_ID = 1;

function checkPart(name: string, v: unknown): void {
  if (v !== undefined && typeof v !== "string" && !(v instanceof Uint8Array)) {
    throw new TypeError(`watch: ${name} must be a string or Uint8Array`);
  }
}

/** The watcher behind `client.watch()`. */
export class ClientWatcher implements Watcher {
  readonly #spec: WatchSpec;
  readonly #ctx: WatchContext;
  readonly #queue: WatchEvent[] = [];
  #qHead = 0;
  #waiter: (() => void) | null = null;
  #error: WatchError | null = null;
  #done = false;
  #conn: Connection | null = null;
  #paused = false;
  /** Bytes of the undelivered events (see {@link eventSize}). */
  #queuedBytes = 0;
  /** Started once (the server acknowledged): later attempts resume from `#progress + 1`. */
  #started = false;
  #progress = 0;
  /** Revision of the last event delivered, and how many of its events were delivered. */
  #lastRev = 0;
  #atLastRev = 0;
  /** Events of `#lastRev` still to skip after a resume mid-revision. */
  #skip = 0;
  #attempt = 0;
  #endpointIndex = 0;
  /** Endpoints in a row that answered COMPACTED. */
  #compactedIn = 0;
  #retry: (() => void) | null = null;
  #readyResolve!: (rev: number) => void;
  #readyReject!: (err: Error) => void;
  readonly ready: Promise<number>;

  constructor(spec: WatchSpec, ctx: WatchContext) {
    const given = (spec.key !== undefined ? 1 : 0) + (spec.prefix !== undefined ? 1 : 0) +
      (spec.start !== undefined ? 1 : 0);
    if (given !== 1) throw new TypeError("watch: give exactly one of key, prefix or start");
    if (spec.end !== undefined && spec.start === undefined) {
      throw new TypeError("watch: end goes with start");
    }
    checkPart("key", spec.key);
    checkPart("prefix", spec.prefix);
    checkPart("start", spec.start);
    checkPart("end", spec.end);
    const f = spec.fromRev;
    if (f !== undefined && (!Number.isSafeInteger(f) || f < 0)) {
      throw new RangeError(`watch: fromRev must be an integer >= 0, got ${f}`);
    }
    this.#spec = spec;
    this.#ctx = ctx;
    if (f !== undefined && f > 0) this.#progress = f - 1;
    this.ready = new Promise((resolve, reject) => {
      this.#readyResolve = resolve;
      this.#readyReject = reject;
    });
    this.ready.catch(() => {});
    this.#connect();
  }

  get rev(): number {
    return this.#progress;
  }

  /** Events received and not yet taken from the iterator. */
  get pending(): number {
    return this.#queue.length - this.#qHead;
  }

  /** Bytes of those events (keys, values and 64 each). */
  get pendingBytes(): number {
    return this.#queuedBytes;
  }

  /** True once the watch ended (cancelled or failed). */
  get ended(): boolean {
    return this.#done;
  }

  cancel(): void {
    if (this.#done) return;
    const c = this.#conn;
    if (c !== null && !c.closed) {
      const m: WatchCancelRequest = { type: MsgType.WATCH_CANCEL, watch_id: WATCH_ID };
      c.send(encodeCbor(m));
    }
    this.#finish(null);
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    return {
      next: () => this.#next(),
      return: () => {
        this.cancel();
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }

  async #next(): Promise<IteratorResult<WatchEvent>> {
    for (;;) {
      if (this.#qHead < this.#queue.length) {
        const e = this.#queue[this.#qHead++];
        this.#queuedBytes -= eventSize(e);
        if (this.#qHead > 1024 && this.#qHead * 2 > this.#queue.length) {
          this.#queue.splice(0, this.#qHead);
          this.#qHead = 0;
        }
        if (
          this.#paused && this.#queue.length - this.#qHead <= WATCH_QUEUE_LOW &&
          this.#queuedBytes <= WATCH_QUEUE_HIGH_BYTES / 4
        ) {
          this.#paused = false;
          this.#conn?.resumeReading?.();
        }
        return { done: false, value: e };
      }
      if (this.#error !== null) {
        const err = this.#error;
        this.#error = null;
        throw err;
      }
      if (this.#done) return { done: true, value: undefined };
      await new Promise<void>((r) => this.#waiter = r);
    }
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = null;
    w?.();
  }

  #finish(err: WatchError | null): void {
    if (this.#done) return;
    this.#done = true;
    this.#error = err;
    this.#retry?.();
    this.#retry = null;
    const c = this.#conn;
    this.#conn = null;
    c?.close();
    if (!this.#started) {
      this.#readyReject(err ?? new WatchError("canceled", "watch canceled", this.#progress));
    }
    this.#ctx.onEnd(this);
    this.#wake();
  }

  /** Opens a connection to the next endpoint and (re)starts the watch there. */
  #connect(): void {
    if (this.#done) return;
    const eps = this.#ctx.endpoints();
    const ep = eps[this.#endpointIndex % eps.length];
    let address: Address;
    try {
      address = parseAddress(ep);
    } catch (err) {
      this.#finish(new WatchError("invalid", (err as Error).message, this.#progress));
      return;
    }
    let conn: Connection | null = null;
    let settled = false;
    const timers = this.#ctx.timers;
    const giveUp = timers.timeout(this.#ctx.connectTimeoutMs, () => {
      if (settled) return;
      settled = true;
      this.#lost();
    });
    this.#ctx.transport.connect({
      host: address.host,
      port: address.port,
      maxMessageBytes: this.#ctx.maxResponseBytes,
      noDelay: true,
    }, {
      onMessage: (c, bytes) => {
        if (c === this.#conn) this.#onMessage(c, bytes);
      },
      onError: (c) => c.close(),
      onClose: (c) => {
        if (c === this.#conn) {
          this.#conn = null;
          this.#lost();
        }
      },
    }).then((c) => {
      giveUp();
      if (settled || this.#done) {
        c.close();
        return;
      }
      settled = true;
      conn = c;
      this.#conn = c;
      if (c.closed) {
        this.#conn = null;
        this.#lost();
        return;
      }
      this.#paused = false;
      this.#skip = this.#started && this.#progress < this.#lastRev ? this.#atLastRev : 0;
      const from = this.#started ? this.#progress + 1 : (this.#spec.fromRev ?? 0);
      const m: WatchRequest = { type: MsgType.WATCH, watch_id: WATCH_ID, from_rev: from };
      const s = this.#spec;
      if (s.key !== undefined) m.key = s.key;
      if (s.prefix !== undefined) m.prefix = s.prefix;
      if (s.start !== undefined) m.start = s.start;
      if (s.end !== undefined) m.end = s.end;
      if (this.#ctx.password !== undefined) m.auth_key = this.#ctx.password;
      c.send(encodeCbor(m));
    }, () => {
      giveUp();
      if (settled) return;
      settled = true;
      void conn;
      this.#lost();
    });
  }

  /** The connection went (or could not be made): try the next endpoint after a pause. */
  #lost(): void {
    if (this.#done || this.#retry !== null) return;
    this.#endpointIndex++;
    this.#attempt++;
    const wait = Math.min(10 * 2 ** Math.min(this.#attempt - 1, 10), MAX_BACKOFF_MS);
    this.#retry = this.#ctx.timers.timeout(wait, () => {
      this.#retry = null;
      this.#connect();
    });
  }

  #drop(c: Connection): void {
    if (this.#conn === c) this.#conn = null;
    c.close();
    this.#lost();
  }

  #onMessage(c: Connection, bytes: Uint8Array): void {
    let raw: unknown;
    try {
      raw = decodeCbor(bytes);
    } catch {
      return this.#drop(c);
    }
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return this.#drop(c);
    const msg = asServerMessage(raw as Record<string, unknown>);
    if (msg === null) return;
    if (msg.type === MsgType.ERROR) {
      const code = typeof msg.code === "number" ? msg.code : Code.INTERNAL;
      const text = typeof msg.error === "string" ? msg.error : codeName(code);
      if (code === Code.AUTH_FAILED || code === Code.AUTH_REQUIRED) {
        this.#finish(new WatchError("denied", `${text}`, this.#progress));
      }
      return; // the server closes the connection after it: onClose moves on
    }
    if (msg.type === MsgType.WATCH_EVENTS) {
      if (msg.watch_id === WATCH_ID) this.#onEvents(c, msg);
      return;
    }
    if (msg.type === MsgType.WATCH_CANCELED && msg.watch_id === WATCH_ID) {
      const reason = typeof msg.reason === "number" ? msg.reason : WatchReason.INVALID;
      const text = typeof msg.error === "string" ? msg.error : "watch canceled";
      const rev = typeof msg.rev === "number" ? msg.rev : this.#progress;
      if (reason === WatchReason.SHUTDOWN || reason === WatchReason.NO_LEADER) return this.#drop(c);
      if (reason === WatchReason.COMPACTED) {
        const eps = this.#ctx.endpoints().length;
        // Another node may still hold the revision (one restored from a snapshot holds less).
        // A definite answer from a live node, not a connection failure: try the next node
        // without the growing back-off.
        if (++this.#compactedIn < eps) {
          this.#attempt = 0;
          return this.#drop(c);
        }
        const oldest = typeof msg.compact_rev === "number" ? msg.compact_rev : undefined;
        return this.#finish(new WatchError("compacted", text, this.#progress, oldest));
      }
      const name = REASON_NAMES[reason] ?? "invalid";
      if (name === "canceled") return this.#finish(null);
      this.#finish(new WatchError(name, text, name === "flushed" ? rev : this.#progress));
    }
  }

  #onEvents(c: Connection, msg: Record<string, unknown>): void {
    const events = msg.events;
    const rev = msg.rev;
    if (!Array.isArray(events) || typeof rev !== "number") return this.#drop(c);
    if (msg.created === true) {
      this.#compactedIn = 0;
      this.#attempt = 0;
      if (!this.#started) {
        this.#started = true;
        this.#progress = Math.max(this.#progress, rev);
        this.#readyResolve(this.#progress);
      }
    }
    let added = 0;
    for (const x of events) {
      if (!Array.isArray(x) || x.length < 7) return this.#drop(c);
      const [t, key, value, createRev, modRev, version, r] = x as unknown[];
      if (
        typeof t !== "number" || !(key instanceof Uint8Array) ||
        !(value === null || value instanceof Uint8Array) || typeof createRev !== "number" ||
        typeof modRev !== "number" || typeof version !== "number" || typeof r !== "number"
      ) return this.#drop(c);
      // Already delivered before a resume (earlier revision, or the same one partly).
      if (r < this.#lastRev) continue;
      if (r === this.#lastRev && this.#skip > 0) {
        this.#skip--;
        continue;
      }
      if (r === this.#lastRev) this.#atLastRev++;
      else {
        this.#lastRev = r;
        this.#atLastRev = 1;
        this.#skip = 0;
      }
      const ev: WatchEvent = {
        type: t === 0 ? "put" : "delete",
        key,
        value,
        createRev,
        modRev,
        version,
        rev: r,
      };
      this.#queue.push(ev);
      this.#queuedBytes += eventSize(ev);
      added++;
    }
    if (rev > this.#progress) this.#progress = rev;
    if (added === 0) return;
    const pending = this.#queue.length - this.#qHead;
    const bytes = this.#queuedBytes;
    if ((pending > WATCH_QUEUE_HIGH || bytes > WATCH_QUEUE_HIGH_BYTES) && !this.#paused) {
      if (c.pauseReading) {
        this.#paused = true;
        c.pauseReading();
      } else if (pending > WATCH_QUEUE_MAX || bytes > WATCH_QUEUE_MAX_BYTES) {
        return this.#finish(
          new WatchError(
            "slow",
            `watch consumer too slow: ${pending} events (${bytes} bytes) undelivered`,
            this.#progress,
          ),
        );
      }
    }
    this.#wake();
  }
}
