/**
 * The TinyKV client library: `connect()` returns a {@link Client} that sends single commands
 * (`COMMAND`), batches (`COMMAND_BATCH`, split when larger than the server accepts) and, with
 * `autoBatch`, coalesces concurrent `command()` calls into batch frames. It follows `NOT_LEADER`
 * redirects, moves to another endpoint when a connection is lost or a node stops answering
 * (`attemptTimeoutMs`), and resends a request with the same batch id / request id, deduplicated by
 * the server's idempotency plugin (which every node loads) — never later than `RESEND_WINDOW_MS`
 * after first sending it, well inside the server's deduplication window. See `docs/client.md`.
 * @module
 */
import hyperid from "hyperid";
import { encodeCbor } from "../protocol/cbor.ts";
import { Code, codeName, isSuccess, TinyKVError } from "../protocol/codes.ts";
import { type CommandRequest, MsgType, type WireValue as Value } from "../protocol/messages.ts";
import { clearImmediate, setImmediate as runtimeImmediate } from "node:timers";
import { createTransport } from "../transports/mod.ts";
import type { Transport } from "../transports/types.ts";
import { type Address, formatAddress, parseAddress } from "./address.ts";
import { AutoBatcher, type AutoBatchSettings, slotOutcome } from "./auto_batcher.ts";
import { encodeBatchMessage, ENVELOPE_BYTES, planBatch } from "./batch_frames.ts";
import {
  batchKey,
  ClientConnection,
  commandKey,
  type Reply,
  type Waiting,
  wholeFailure,
} from "./connection.ts";
import { CommandPipeline } from "./pipeline.ts";
import { ClientWatcher, type Watcher, type WatchSpec } from "./watch.ts";
import type {
  Arg,
  BatchItemResult,
  BatchOptions,
  Client,
  ClientStats,
  ClientTimers,
  ConnectOptions,
  Pipeline,
} from "./types.ts";

export type {
  Arg,
  AutoBatchOptions,
  BatchItemResult,
  BatchOptions,
  Client,
  ClientStats,
  ClientTimers,
  ConnectOptions,
  Pipeline,
  Value,
} from "./types.ts";
export { TinyKVError } from "../protocol/codes.ts";
export { WatchError } from "./watch.ts";
export type { Watcher, WatchEvent, WatchReasonName, WatchSpec } from "./watch.ts";

/** Default per-request timeout (ms). */
export const DEFAULT_TIMEOUT_MS = 5000;
/** Default per-attempt timeout (ms) before trying another endpoint. */
export const DEFAULT_ATTEMPT_TIMEOUT_MS = 1000;
/**
 * A request is never resent later than this many ms after it was first sent (later it only waits
 * for an answer, or ends as outcome unknown). The server keeps every batch result for at least
 * `idempotency_max_age_ms` ≥ 10 s of leader time, so every resend of the library falls inside the
 * server's deduplication window with 2 s to spare for clock differences between leaders.
 */
export const RESEND_WINDOW_MS = 8000;
/** How long an endpoint that timed out or refused a connection is avoided when choosing the next one. */
const SUSPECT_MS = 2000;
/** Default frame payload limit: the server's default `batch_max_bytes`. */
export const DEFAULT_MAX_BATCH_BYTES = 1024 * 1024;
/** Most endpoints remembered (configured plus learned from redirects). */
const MAX_ENDPOINTS = 64;
/** Longest pause between two retries of one request (ms). */
const MAX_BACKOFF_MS = 200;

/** The runtime's clock and timers. */
const realTimers: ClientTimers = {
  now: () => Date.now(),
  timeout(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
  immediate(fn) {
    const t = runtimeImmediate(fn);
    return () => clearImmediate(t);
  },
};

const transports = new Map<string, Promise<Transport>>();

function transportFor(name: "tcp" | "udp"): Promise<Transport> {
  let t = transports.get(name);
  if (!t) {
    t = createTransport(name);
    transports.set(name, t);
    t.catch(() => transports.delete(name));
  }
  return t;
}

/** Errors after which the same request may be sent again elsewhere (nothing was applied). */
function redirectCode(code: number): boolean {
  return code === Code.NOT_LEADER || code === Code.UNAVAILABLE || code === Code.SHUTTING_DOWN;
}

/** Connection-level failures worth another endpoint (not TOO_LARGE, MALFORMED, AUTH_FAILED). */
function retriableLoss(err: TinyKVError): boolean {
  return redirectCode(err.code) || err.code === Code.BUSY;
}

/** True when the server answered `TIMEOUT` for the whole request (it gave up waiting on it). */
function wholeTimeout(r: Reply): boolean {
  const codes = r.codes;
  if (codes.length === 0) return false;
  for (let i = 0; i < codes.length; i++) if (codes[i] !== Code.TIMEOUT) return false;
  return true;
}

function backoffMs(attempt: number): number {
  return Math.min(5 * 2 ** (attempt - 1), MAX_BACKOFF_MS);
}

function positiveInt(name: string, v: number | undefined, dflt: number, min = 1): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < min) {
    throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
  }
  return v;
}

interface CurrentConnection {
  endpoint: string;
  promise: Promise<ClientConnection>;
  conn: ClientConnection | null;
}

/** The client implementation behind {@link connect}. */
export class TinyKVClient implements Client {
  readonly clientId: string;
  readonly #transport: Transport;
  readonly #timers: ClientTimers;
  readonly #forward: boolean;
  readonly #endpoints: string[];
  readonly #addresses = new Map<string, Address>();
  #index = 0;
  #current: CurrentConnection | null = null;
  readonly #connections = new Set<ClientConnection>();
  readonly #ids: () => string;
  readonly #password: string | undefined;
  readonly #timeoutMs: number;
  readonly #connectTimeoutMs: number;
  readonly #attemptTimeoutMs: number;
  readonly #resendWindowMs: number;
  /** Endpoint → time until which it is avoided (it timed out or could not be reached). */
  readonly #suspect = new Map<string, { until: number; unreachable: boolean }>();
  readonly #maxRedirects: number;
  readonly #maxBatchBytes: number;
  readonly #maxResponseBytes: number;
  readonly #batcher: AutoBatcher | null;
  readonly #stats: ClientStats = {
    bytesSent: 0,
    bytesReceived: 0,
    framesSent: 0,
    framesReceived: 0,
    reconnects: 0,
    retries: 0,
  };
  #opened = false;
  #closed = false;
  readonly #watchers = new Set<ClientWatcher>();

  constructor(opts: ConnectOptions, transport: Transport) {
    this.#transport = transport;
    this.#timers = opts.timers ?? realTimers;
    this.#forward = opts.forward === true;
    this.#ids = hyperid();
    this.clientId = opts.clientId ?? this.#ids();
    if (this.clientId.length === 0 || this.clientId.length > 128) {
      throw new RangeError("clientId must be 1..128 characters");
    }
    this.#password = opts.password;
    this.#timeoutMs = positiveInt("timeoutMs", opts.timeoutMs, DEFAULT_TIMEOUT_MS);
    this.#connectTimeoutMs = positiveInt("connectTimeoutMs", opts.connectTimeoutMs, 2000);
    this.#attemptTimeoutMs = positiveInt(
      "attemptTimeoutMs",
      opts.attemptTimeoutMs,
      DEFAULT_ATTEMPT_TIMEOUT_MS,
    );
    this.#resendWindowMs = positiveInt("resendWindowMs", opts.resendWindowMs, RESEND_WINDOW_MS);
    if (this.#resendWindowMs > RESEND_WINDOW_MS) {
      throw new RangeError(
        `resendWindowMs must be at most ${RESEND_WINDOW_MS} (the server keeps results >= 10 s), got ${this.#resendWindowMs}`,
      );
    }
    this.#maxRedirects = positiveInt("maxRedirects", opts.maxRedirects, 20, 0);
    this.#maxBatchBytes = positiveInt(
      "maxBatchBytes",
      opts.maxBatchBytes,
      DEFAULT_MAX_BATCH_BYTES,
      ENVELOPE_BYTES + 64,
    );
    this.#maxResponseBytes = positiveInt(
      "maxResponseBytes",
      opts.maxResponseBytes,
      64 * 1024 * 1024,
    );
    const list: string[] = [];
    if (opts.host !== undefined || opts.port !== undefined || !opts.endpoints?.length) {
      list.push(formatAddress({ host: opts.host ?? "127.0.0.1", port: opts.port ?? 5210 }));
    }
    for (const e of opts.endpoints ?? []) list.push(e);
    this.#endpoints = [];
    for (const e of list) this.#learn(e);
    if (this.#endpoints.length === 0) throw new RangeError("no endpoint to connect to");
    const ab = opts.autoBatch;
    if (ab) {
      const o = ab === true ? {} : ab;
      const maxBatch = positiveInt("autoBatch.maxBatch", o.maxBatch, 100);
      const maxInflightFrames = positiveInt(
        "autoBatch.maxInflightFrames",
        o.maxInflightFrames,
        16,
      );
      const settings: AutoBatchSettings = {
        maxBatch,
        maxDelayMs: positiveInt("autoBatch.maxDelayMs", o.maxDelayMs, 0, 0),
        maxInflightFrames,
        maxQueued: positiveInt(
          "autoBatch.maxQueued",
          o.maxQueued,
          maxBatch * maxInflightFrames * 4,
        ),
        maxPayloadBytes: this.#maxBatchBytes - ENVELOPE_BYTES,
      };
      this.#batcher = new AutoBatcher(settings, (cbor, count) => {
        const id = this.#ids();
        return this.#dispatch(
          batchKey(id),
          encodeBatchMessage(id, this.clientId, cbor, this.#forward),
          count,
          this.#timeoutMs,
        );
      }, this.#timers);
    } else {
      this.#batcher = null;
    }
  }

  get endpoint(): string {
    return this.#endpoints[this.#index];
  }

  /** Adds an address to the endpoint list (normalised); returns its index or -1 if invalid. */
  #learn(text: string): number {
    let a: Address;
    try {
      a = parseAddress(text);
    } catch (err) {
      if (this.#opened) return -1;
      throw err;
    }
    const key = formatAddress(a);
    const i = this.#endpoints.indexOf(key);
    if (i >= 0) return i;
    if (this.#endpoints.length >= MAX_ENDPOINTS) return -1;
    this.#addresses.set(key, a);
    return this.#endpoints.push(key) - 1;
  }

  /** Opens the first reachable endpoint (each tried once). */
  async open(): Promise<void> {
    const failures: string[] = [];
    for (let i = 0; i < this.#endpoints.length; i++) {
      const ep = this.endpoint;
      try {
        await this.#connection();
        this.#opened = true;
        return;
      } catch (err) {
        const e = err as TinyKVError;
        if (!(e instanceof TinyKVError) || !retriableLoss(e)) throw e;
        failures.push(e.message);
        this.#moveAway(ep);
      }
    }
    throw new TinyKVError(Code.UNAVAILABLE, failures.join("; "));
  }

  /** The connection to the current endpoint, opened (and authenticated) if needed. */
  #connection(): Promise<ClientConnection> {
    const ep = this.endpoint;
    const cur = this.#current;
    if (cur && cur.endpoint === ep && !(cur.conn?.closed ?? false)) return cur.promise;
    if (this.#opened) this.#stats.reconnects++;
    const entry: CurrentConnection = { endpoint: ep, conn: null, promise: null! };
    entry.promise = this.#openConnection(ep).then((c) => {
      entry.conn = c;
      return c;
    });
    entry.promise.catch(() => {
      if (this.#current === entry) this.#current = null;
    });
    this.#current = entry;
    return entry.promise;
  }

  async #openConnection(ep: string): Promise<ClientConnection> {
    const conn = await ClientConnection.open(this.#transport, this.#addresses.get(ep)!, ep, {
      maxResponseBytes: this.#maxResponseBytes,
      connectTimeoutMs: this.#connectTimeoutMs,
      stats: this.#stats,
      timers: this.#timers,
    }, (c) => this.#connections.delete(c));
    this.#connections.add(conn);
    if (this.#closed) {
      conn.close();
      throw new TinyKVError(Code.UNAVAILABLE, "client is closed");
    }
    // AUTH registers the stable client id (so COMMAND retries deduplicate too) and, with a
    // password, authenticates. Without a password an AUTH_FAILED answer is ignored.
    const r = await conn.auth(this.#password ?? "", this.clientId, this.#connectTimeoutMs)
      .catch((err: TinyKVError) => ({ code: err.code as number, error: err.message }));
    if (r.code !== Code.OK && (this.#password !== undefined || r.code !== Code.AUTH_FAILED)) {
      conn.close();
      throw new TinyKVError(
        r.code as TinyKVError["code"],
        `${ep}: ${r.error || codeName(r.code)}`,
      );
    }
    return conn;
  }

  /** True while `ep` is avoided (it timed out or could not be reached a moment ago). */
  #isSuspect(ep: string, unreachableOnly = false): boolean {
    const x = this.#suspect.get(ep);
    if (x === undefined) return false;
    if (x.until <= this.#timers.now()) {
      this.#suspect.delete(ep);
      return false;
    }
    return !unreachableOnly || x.unreachable;
  }

  /** `ep` did not answer in time, or (`unreachable`) no connection to it could be opened. */
  #suspectEndpoint(ep: string, unreachable: boolean): void {
    if (this.#suspect.size >= MAX_ENDPOINTS) this.#suspect.clear();
    this.#suspect.set(ep, { until: this.#timers.now() + SUSPECT_MS, unreachable });
  }

  /** `ep` answered: it is no longer avoided. */
  #answered(ep: string): void {
    if (this.#suspect.size > 0) this.#suspect.delete(ep);
  }

  /**
   * Leaves `from` (if still current) for the leader it named — unless that address could not be
   * reached a moment ago (a wrong advertised address must not make the client bounce) — or for the
   * next endpoint that is not avoided. The client otherwise stays with the endpoint that answered.
   */
  #moveAway(from: string, leader?: string): void {
    if (this.endpoint !== from) return;
    let i = leader ? this.#learn(leader) : -1;
    if (i >= 0 && this.#isSuspect(this.#endpoints[i], true)) i = -1;
    if (i >= 0) this.#index = i;
    else {
      const n = this.#endpoints.length;
      let next = (this.#index + 1) % n;
      for (let k = 1; k < n; k++) {
        const j = (this.#index + k) % n;
        if (!this.#isSuspect(this.#endpoints[j])) {
          next = j;
          break;
        }
      }
      this.#index = next;
    }
    const cur = this.#current;
    if (cur && cur.endpoint === from) {
      this.#current = null;
      cur.promise.then((c) => c.drain(), () => {});
    }
  }

  /**
   * Sends one encoded request and waits for its reply, following redirects and moving endpoints
   * on connection loss or when the node does not answer within `attemptTimeoutMs` (the same bytes,
   * hence the same ids, are resent; never later than `RESEND_WINDOW_MS` after the first send).
   * Rejects with `TIMEOUT` after `timeoutMs` overall.
   */
  #dispatch(key: string, frame: Uint8Array, count: number, timeoutMs: number): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      let attempts = 0;
      let done = false;
      // Sent on a connection that was then lost or given up on: the server may have applied it,
      // so a later refusal (NOT_LEADER, UNAVAILABLE, ...) no longer means "not applied".
      let uncertain = false;
      let firstSentAt = 0;
      const unknownOutcome = (why: string) =>
        new TinyKVError(
          Code.TIMEOUT,
          `outcome unknown: the request was sent, then ${why} (resend with the same batch id)`,
        );
      // Every connection the request was sent on: an answer from any of them counts (the server
      // deduplicates), and all stop waiting when the request ends.
      const used: ClientConnection[] = [];
      let endpoint = this.endpoint;
      let seq = 0; // the current attempt
      let sentHere = false; // the current attempt was written to its connection
      // Endpoints named as leader by another node after they timed out: given the whole timeout.
      let trusted: Set<string> | null = null;
      let timedOut: Set<string> | null = null;
      const finish = () => {
        done = true;
        timer?.();
        timer = undefined;
        for (const c of used) c.forget(key);
      };
      // One timer per request, at the earlier of the overall deadline and the attempt deadline.
      const timers = this.#timers;
      const deadline = timers.now() + timeoutMs;
      let attemptDeadline = Infinity;
      let timer: (() => void) | undefined;
      const schedule = () => {
        timer?.();
        const at = Math.min(deadline, attemptDeadline);
        timer = timers.timeout(Math.max(0, at - timers.now()), onTimer);
      };
      const onTimer = () => {
        timer = undefined;
        if (done) return;
        const now = timers.now();
        if (now >= deadline) {
          return fail(
            new TinyKVError(
              Code.TIMEOUT,
              `no answer within ${timeoutMs} ms (outcome unknown: resend with the same batch id)`,
            ),
          );
        }
        if (now >= attemptDeadline) {
          attemptDeadline = Infinity;
          onAttemptTimeout();
        }
        if (!done && timer === undefined) schedule();
      };
      const fail = (err: TinyKVError) => {
        finish();
        reject(err);
      };
      const retry = (leader?: string, stay = false) => {
        attemptDeadline = Infinity;
        if (uncertain && timers.now() - firstSentAt > this.#resendWindowMs) {
          return fail(
            unknownOutcome(`no answer came within the ${this.#resendWindowMs} ms resend window`),
          );
        }
        attempts++;
        this.#stats.retries++;
        if (leader || !stay) this.#moveAway(endpoint, leader);
        const next = this.endpoint;
        if (leader && timedOut?.has(next)) (trusted ??= new Set()).add(next);
        const wait = leader && attempts === 1 ? 0 : backoffMs(attempts);
        timers.timeout(wait, attempt);
      };
      const onReply = (n: number, from: string, r: Reply) => {
        if (done) return;
        this.#answered(from);
        const redirect = redirectCode(r.codes[0]);
        if (n !== seq) {
          // A late answer on a connection given up on: a result counts, a refusal does not.
          if (redirect || r.codes[0] === Code.TIMEOUT || r.codes[0] === Code.BUSY) return;
          finish();
          return resolve(r);
        }
        if (redirect && attempts < this.#maxRedirects && !this.#closed) return retry(r.leader);
        if (wholeTimeout(r) && attempts < this.#maxRedirects && !this.#closed) {
          // The server gave up on it (submit timeout, leadership lost): it may still be applied,
          // and the resend deduplicates, so resend (within the resend window).
          uncertain = true;
          return retry(r.leader, true);
        }
        finish();
        if (uncertain && redirect) {
          const err = unknownOutcome(`${codeName(r.codes[0])}: ${r.errors[0] ?? ""}`);
          resolve(wholeFailure(count, Code.TIMEOUT, err.message));
        } else resolve(r);
      };
      const onAttemptTimeout = () => {
        const ep = endpoint;
        this.#suspectEndpoint(ep, false);
        (timedOut ??= new Set()).add(ep);
        if (sentHere) uncertain = true;
        if (attempts < this.#maxRedirects && !this.#closed) retry();
        else {
          fail(
            uncertain
              ? unknownOutcome(`${ep} did not answer within ${this.#attemptTimeoutMs} ms`)
              : new TinyKVError(Code.UNAVAILABLE, `${ep} did not answer`),
          );
        }
      };
      const onLost = (n: number, wasSent: boolean, err: TinyKVError) => {
        if (done) return;
        // A dropped connection (UNAVAILABLE) after sending leaves the outcome open; an explicit
        // refusal from the server (TOO_LARGE, MALFORMED, BUSY, ...) does not.
        if (wasSent && err.code === Code.UNAVAILABLE) uncertain = true;
        if (n !== seq) return; // an attempt already given up on
        if (this.#closed) {
          fail(new TinyKVError(Code.UNAVAILABLE, "client closed before the answer arrived"));
        } else if (retriableLoss(err) && attempts < this.#maxRedirects) {
          retry();
        } else {
          fail(uncertain ? unknownOutcome(err.message) : err);
        }
      };
      const attempt = () => {
        if (done) return;
        if (this.#closed) {
          return fail(new TinyKVError(Code.UNAVAILABLE, "client closed before the answer arrived"));
        }
        const n = ++seq;
        const ep = endpoint = this.endpoint;
        sentHere = false;
        // With another node to ask, a node that does not answer in time (frozen, cut off,
        // overloaded: the connection need not drop) is left for another one, which names the
        // leader; its answer is still accepted if it comes.
        if (this.#endpoints.length > 1 && !trusted?.has(ep)) {
          attemptDeadline = timers.now() + this.#attemptTimeoutMs;
        }
        schedule();
        const waiting: Waiting = {
          count,
          reply: (r) => onReply(n, ep, r),
          // An earlier attempt only ever registers here once it was sent.
          lost: (err) => onLost(n, n !== seq || sentHere, err),
        };
        this.#connection().then((c) => {
          if (done || n !== seq) return;
          // A connection already known closed rejects synchronously without writing anything.
          if (c.closed) {
            return onLost(n, false, new TinyKVError(Code.UNAVAILABLE, "connection closed"));
          }
          // Opening the connection may have taken a while: check the resend window again.
          if (uncertain && timers.now() - firstSentAt > this.#resendWindowMs) {
            return fail(
              unknownOutcome(`no answer came within the ${this.#resendWindowMs} ms resend window`),
            );
          }
          sentHere = true;
          if (firstSentAt === 0) firstSentAt = timers.now();
          if (!used.includes(c)) used.push(c);
          c.send(key, frame, waiting);
        }, (err: unknown) => {
          if (done || n !== seq) return;
          this.#suspectEndpoint(ep, true);
          // Nothing was sent: a connection (or its AUTH) that timed out is just unavailable.
          onLost(
            n,
            false,
            err instanceof TinyKVError && err.code !== Code.TIMEOUT
              ? err
              : new TinyKVError(Code.UNAVAILABLE, (err as Error).message),
          );
        });
      };
      attempt();
    });
  }

  command(...args: Arg[]): Promise<Value> {
    if (args.length === 0) {
      return Promise.reject(new TinyKVError(Code.SYNTAX, "command needs at least a name"));
    }
    if (this.#batcher) return this.#batcher.enqueue(args);
    const requestId = this.#ids();
    const msg: CommandRequest = { type: MsgType.COMMAND, request_id: requestId, command: args };
    if (this.#forward) msg.forward = true;
    const frame = encodeCbor(msg);
    if (frame.length > this.#maxBatchBytes) {
      return Promise.reject(
        new TinyKVError(
          Code.TOO_LARGE,
          `command of ${frame.length} bytes exceeds maxBatchBytes (${this.#maxBatchBytes})`,
        ),
      );
    }
    return this.#dispatch(commandKey(requestId), frame, 1, this.#timeoutMs).then((r) => {
      const out = slotOutcome(r, 0);
      if (out instanceof TinyKVError) throw out;
      return out;
    });
  }

  async batch(commands: Arg[][], opts: BatchOptions = {}): Promise<BatchItemResult[]> {
    if (!Array.isArray(commands) || !commands.every(Array.isArray)) {
      throw new TypeError("batch() takes an array of commands, each an array of arguments");
    }
    if (commands.length === 0) return [];
    const batchId = opts.batchId ?? this.#ids();
    if (batchId.length === 0 || batchId.length > 240) {
      throw new RangeError("batchId must be 1..240 characters");
    }
    const timeoutMs = positiveInt("timeoutMs", opts.timeoutMs, this.#timeoutMs);
    const plan = planBatch(commands, batchId, this.clientId, this.#maxBatchBytes, this.#forward);
    if (plan.frames.length > 1 || plan.oversized.size > 0) {
      // A guarded batch (CHECK/IFREV first) split into frames would guard only the first frame.
      const head = commands[0][0];
      const name = typeof head === "string" ? head : new TextDecoder().decode(head);
      if (/^(check|ifrev)$/i.test(name)) {
        throw new TinyKVError(
          Code.TOO_LARGE,
          `a guarded batch (${name.toUpperCase()} first) must fit in one frame of maxBatchBytes (${this.#maxBatchBytes}); nothing was sent`,
        );
      }
    }
    const results = new Array<BatchItemResult>(commands.length);
    for (const [i, size] of plan.oversized) {
      results[i] = {
        ok: false,
        code: "TOO_LARGE",
        value: null,
        error: `command of ${size} bytes exceeds maxBatchBytes (${this.#maxBatchBytes})`,
      };
    }
    for (let f = 0; f < plan.frames.length; f++) {
      const frame = plan.frames[f];
      let r: Reply;
      try {
        r = await this.#dispatch(
          batchKey(frame.batchId),
          frame.bytes,
          frame.indices.length,
          timeoutMs,
        );
      } catch (err) {
        if (f === 0 || !(err instanceof TinyKVError)) throw err;
        throw new TinyKVError(
          err.code,
          `${err.message} (batch split into ${plan.frames.length} frames; frames 0..${
            f - 1
          } were answered, frame ${frame.batchId} failed)`,
          err.leader,
        );
      }
      for (let j = 0; j < frame.indices.length; j++) {
        const code = r.codes[j];
        results[frame.indices[j]] = {
          ok: isSuccess(code),
          code: codeName(code),
          value: r.data[j] ?? null,
          error: r.errors[j] ?? null,
        };
      }
    }
    return results;
  }

  pipeline(): Pipeline {
    return new CommandPipeline((commands, opts) => this.batch(commands, opts));
  }

  stats(): ClientStats {
    return { ...this.#stats };
  }

  watch(spec: WatchSpec): Watcher {
    if (this.#closed) throw new TinyKVError(Code.UNAVAILABLE, "client is closed");
    const w = new ClientWatcher(spec, {
      transport: this.#transport,
      endpoints: () => {
        // The current endpoint first, then the others in order.
        const eps = this.#endpoints;
        const i = this.#index;
        return [...eps.slice(i), ...eps.slice(0, i)];
      },
      password: this.#password,
      timers: this.#timers,
      connectTimeoutMs: this.#connectTimeoutMs,
      maxResponseBytes: this.#maxResponseBytes,
      onEnd: (x) => this.#watchers.delete(x),
    });
    this.#watchers.add(w);
    return w;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of [...this.#watchers]) w.cancel();
    this.#batcher?.close();
    this.#current = null;
    for (const c of [...this.#connections]) c.close();
    await new Promise<void>((r) => this.#timers.timeout(0, r));
  }
}

/**
 * Connects to a TinyKV node (or, with `endpoints`, to the first reachable of several) and
 * authenticates when a password is given. Rejects with `UNAVAILABLE` when no endpoint answers and
 * with `AUTH_FAILED` for a wrong password.
 *
 * ```ts
 * const c = await connect({ host: "127.0.0.1", port: 5210 });
 * await c.command("SET", "k", "v");
 * const v = await c.command("GET", "k"); // Uint8Array
 * await c.close();
 * ```
 */
export async function connect(opts: ConnectOptions = {}): Promise<Client> {
  const t = opts.transport ?? "tcp";
  const transport = typeof t === "string" ? await transportFor(t) : t;
  const client = new TinyKVClient(opts, transport);
  await client.open();
  return client;
}
