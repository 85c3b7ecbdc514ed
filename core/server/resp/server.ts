/**
 * The RESP listener (`redis_port`): Redis clients and tools talk to TinyKV here. It is a protocol
 * front-end only: data commands are encoded straight from the received bytes into a CBOR
 * commands array (no strings, no intermediate argv) and submitted as a {@link ClientBatch}
 * through the same {@link ServerBackend.submit} as native batches (hooks, coalescing,
 * idempotency, wal group commit), then answered in order from the columnar results.
 *
 * Pipelines are batches: at most one batch per connection is on the write path at a time (so a
 * read never overtakes an earlier write of the same connection); every data command read while it
 * is in flight joins the next batch, submitted when it is answered. Connection commands (HELLO,
 * AUTH, CLIENT, INFO, ...) are answered here, their replies kept in order with the batches'.
 *
 * Bounds are the native port's: max_connections, max_unauthenticated_connections,
 * auth_timeout_ms, idle_timeout_ms, frame_timeout_ms (a half-sent command), batch_max_bytes (per
 * command and per batch), auth_failure_delay_ms; BUSY comes from the write path. A protocol
 * error gets `-ERR Protocol error: ...`, after the replies of everything before it, and the
 * connection is closed.
 * @module
 */
import process from "node:process";
import { Code } from "../../../protocol/codes.ts";
import { MAX_BATCH_COMMANDS } from "../../../protocol/messages.ts";
import type { CommandResult } from "../../../protocol/messages.ts";
import { remoteHost } from "../../../transports/address.ts";
import type {
  Connection,
  ConnectionHandler,
  Listener,
  Transport,
} from "../../../transports/types.ts";
import type { Logger } from "../../config/logger.ts";
import type { BatchResult } from "../../plugin/plugin.ts";
import { bytesToKey, copyInto, printable, SlabPool } from "../../state/bytes.ts";
import { commandDoc } from "../../state/command_docs.ts";
import { AuthThrottle, PasswordCheck } from "../auth.ts";
import {
  type Outcome,
  type ResolvedServerOptions,
  type ServerBackend,
  type ServerOptions,
  sweepInterval,
  withDefaults,
} from "../client_server.ts";
import {
  type Cancel,
  type Clock,
  realClock,
  realRandom,
  realScheduler,
  type Scheduler,
} from "../../env/time.ts";
import {
  ArgShape,
  lookupCommand,
  type RespCommand,
  Route,
  SERVED_COMMANDS,
  TRANSACTION_NAMES,
} from "./commands.ts";
import { Feed, RespParser } from "./parser.ts";
import { RespWriter, Shape } from "./writer.ts";

/** The Redis version TinyKV answers as (HELLO, INFO): the command set and replies it follows. */
export const REDIS_VERSION = "7.2.0";

/** What the RESP server needs from the node beyond the native server's backend. */
export interface RespBackend extends ServerBackend {
  /** This node's Raft role ("leader", "follower", ...). */
  role(): string;
}

/** Most arguments in one command (Redis: 1024 × 1024 for an authenticated client). */
const MAX_ARGS = 1024 * 1024;
/** Longest inline command (Redis: PROTO_INLINE_MAX_SIZE). */
const MAX_INLINE = 64 * 1024;
/** Reading pauses when more than this many × batch_max_bytes wait behind the batch in flight. */
const WAIT_PAUSE = 2;
/** ... and the connection is closed past this many (a transport that cannot pause). */
const WAIT_ABORT = 8;
/** No batch is submitted while more than this many × batch_max_bytes of replies are unsent. */
const OUT_HOLD = 2;
/** How often a connection held back that way looks again. */
const OUT_RETRY_MS = 10;
/** Bytes reserved in front of a batch for its CBOR array head (filled in at submit). */
const HEAD = 5;
/**
 * A new batch's first buffer is carved from shared slabs when small (a pipeline's batch grows
 * into its own array): one 4 KiB ArrayBuffer per batch was 8 % of a node's CPU under GET -P 1.
 * A region is handed out once and never reused, so a batch still held somewhere (a plugin's
 * queue after its client was answered TIMEOUT) never sees another batch's bytes.
 */
const batchSlabs = new SlabPool(64 * 1024);
const SLAB_BATCH_MAX = 1024;

/** Commands queued for one batch, already in their CBOR encoding. */
interface Builder {
  buf: Uint8Array;
  len: number;
  count: number;
  shapes: Shape[];
  /** The protocol its replies are written in (a HELLO after it does not change them). */
  proto: number;
  item: Item;
  /** What it counts in its connection's `waitingBytes`. */
  accounted: number;
  /** EXEC: one array reply; `guarded` when its first command is the WATCH check (IFREV). */
  exec?: { guarded: boolean };
  /** WATCH: the keys whose revisions this batch (WATCHREV) reads. */
  watch?: Uint8Array[];
}

/** A MULTI block being queued. */
interface Multi {
  /** The queued commands (encoded as they arrived; never submitted itself). */
  b: Builder;
  /** A command was refused while queueing: EXEC answers EXECABORT. */
  failed: boolean;
}

/** Most keys one connection may WATCH. */
const MAX_WATCHED = 10_000;

/** One reply slot in order: bytes once known. */
interface Item {
  bytes: Uint8Array | null;
}

interface RConn {
  readonly conn: Connection;
  readonly id: number;
  readonly host: string;
  readonly since: number;
  lastActive: number;
  name: string | null;
  proto: number;
  authed: boolean;
  established: boolean;
  readonly parser: RespParser;
  /** Replies in order (the head is sent as soon as its bytes are known). */
  out: Item[];
  outHead: number;
  /** Batches not yet submitted, in order; the last may still take commands (`open`). */
  waiting: Builder[];
  open: Builder | null;
  waitingBytes: number;
  inflight: Builder | null;
  /** Replies still to come from local async commands (INFO, admin). */
  asyncPending: number;
  /** QUIT or a protocol error: close once every reply is sent; ignore further input. */
  closing: boolean;
  timer: Cancel | null;
  /** Reading paused: too many bytes wait behind the batch in flight. */
  paused: boolean;
  /** A submission put off to the next timer turn (a read ended inside a command). */
  defer: Cancel | null;
  gone: boolean;
  lastCmd: string;
  seq: number;
  readonly clientId: string;
  /** Inside MULTI: the queued commands. */
  multi: Multi | null;
  /** WATCHed keys and their revisions (null: none); `watchFailed` when a WATCH read failed. */
  watched: Map<string, { key: Uint8Array; rev: number }> | null;
  watchFailed: boolean;
}

let nextClientId = 0;
const dec = new TextDecoder();

/** Scratch views of every length for looking a name up without allocating. */
const NAME_MAX = 32;
const nameScratch = new Uint8Array(NAME_MAX);
const nameViews: Uint8Array[] = [];
for (let i = 0; i <= NAME_MAX; i++) nameViews.push(nameScratch.subarray(0, i));

/** Error prefixes that Redis clients read as the error's kind: kept as the message starts. */
const PREFIXED =
  /^(ERR|WRONGTYPE|NOAUTH|WRONGPASS|EXECABORT|READONLY|BUSY|NOPROTO|NOPERM|OOM|CLUSTERDOWN|MASTERDOWN|LOADING|NOSCRIPT|TRYAGAIN) /;

/** A native error as Redis clients expect it: `PREFIX text` (no leading '-'). */
export function redisError(code: number, message: string | null): string {
  const m = message ?? "error";
  if (PREFIXED.test(m)) return m;
  switch (code) {
    case Code.NOT_LEADER:
      return `READONLY You can't write against a read only replica. (TinyKV follower: ${m})`;
    case Code.UNAVAILABLE:
      return `CLUSTERDOWN ${m}`;
    case Code.BUSY:
      return `BUSY ${m}`;
    case Code.AUTH_REQUIRED:
      return "NOAUTH Authentication required.";
    case Code.AUTH_FAILED:
      return "WRONGPASS invalid username-password pair or user is disabled.";
    default:
      return `ERR ${m}`;
  }
}

function argText(a: Uint8Array): string {
  return dec.decode(a);
}

function lower(a: Uint8Array): string {
  return dec.decode(a).toLowerCase();
}

/** Redis's text for an unknown command (args quoted, at most 128 bytes each, as Redis cuts them). */
export function unknownCommand(argv: Uint8Array[]): string {
  let s = `ERR unknown command '${printable(argv[0], 128)}', with args beginning with: `;
  for (let i = 1; i < argv.length && s.length < 512; i++) s += `'${printable(argv[i], 128)}' `;
  return s;
}

function arityError(name: string): string {
  return `ERR wrong number of arguments for '${name}' command`;
}

function isSpace(b: Uint8Array): boolean {
  for (const c of b) if (c <= 32 || c >= 127) return true;
  return false;
}

function parseInt10(a: Uint8Array): number | null {
  const s = argText(a);
  return /^-?\d{1,15}$/.test(s) ? Number(s) : null;
}

/** The RESP listener and its connections. */
export class RespServer {
  readonly #backend: RespBackend;
  readonly #opts: ResolvedServerOptions;
  readonly #clock: Clock;
  readonly #scheduler: Scheduler;
  /** Tags this server's client ids (random per server). */
  readonly #tag: string;
  readonly #log: Logger;
  readonly #auth: PasswordCheck;
  readonly #throttle: AuthThrottle;
  readonly #conns = new Map<Connection, RConn>();
  readonly #unauthenticated = new Set<RConn>();
  readonly #w = new RespWriter();
  readonly #started: number;
  #listener: Listener | null = null;
  #accepting = true;
  #now: number;
  #sweep: Cancel | null = null;
  #sweepMs = 1000;
  #totalConnections = 0;
  #rejected = 0;
  #commands = 0;

  constructor(backend: RespBackend, opts: ServerOptions, log: Logger) {
    this.#backend = backend;
    this.#opts = withDefaults(opts);
    this.#clock = opts.clock ?? realClock;
    this.#scheduler = opts.scheduler ?? realScheduler;
    this.#tag = (opts.random ?? realRandom)().toString(36).slice(2, 10);
    this.#started = this.#now = this.#clock.wallMs();
    this.#log = log;
    this.#auth = new PasswordCheck(opts.password);
    this.#throttle = new AuthThrottle(this.#opts.authFailureDelayMs);
  }

  /** The bound port (after `listen`). */
  get port(): number {
    return this.#listener?.port ?? 0;
  }

  /** Open connections. */
  get connections(): number {
    return this.#conns.size;
  }

  /** Starts listening (TCP, byte-stream mode). */
  async listen(transport: Transport): Promise<void> {
    if (transport.name !== "tcp") throw new Error("the RESP listener needs the tcp transport");
    this.#listener = await transport.listen({
      host: this.#opts.host,
      port: this.#opts.port,
      maxMessageBytes: this.#opts.maxMessageBytes,
      noDelay: this.#opts.noDelay,
      socketBufferBytes: this.#opts.socketBufferBytes,
      stream: true,
    }, (conn) => this.#accept(conn));
    this.#sweepMs = sweepInterval(this.#opts);
    this.#sweep = this.#scheduler.interval(this.#sweepMs, () => this.#checkTimeouts());
  }

  /** Stops accepting new connections. */
  async stopAccepting(): Promise<void> {
    this.#accepting = false;
    await this.#listener?.close();
  }

  /** Closes every connection. */
  closeAll(): void {
    if (this.#sweep !== null) this.#sweep();
    this.#sweep = null;
    for (const st of [...this.#conns.values()]) {
      st.conn.close();
      this.#forget(st);
    }
  }

  #checkTimeouts(): void {
    const now = this.#now = this.#clock.wallMs();
    const o = this.#opts;
    for (const st of this.#conns.values()) {
      // While reading is paused a half-read command waits for us, not for the client.
      const since = st.paused ? 0 : st.parser.partialSince;
      if (since > 0 && now - since > o.frameTimeoutMs) {
        this.#abort(st, `ERR incomplete command: not completed within ${o.frameTimeoutMs} ms`);
      } else if (!st.established && now - st.since > o.authTimeoutMs) {
        this.#abort(
          st,
          this.#auth.required
            ? `NOAUTH authentication timeout: no AUTH within ${o.authTimeoutMs} ms`
            : `ERR no command within ${o.authTimeoutMs} ms`,
        );
      } else if (
        o.idleTimeoutMs > 0 && since === 0 && this.#idle(st) &&
        now - st.lastActive > o.idleTimeoutMs + this.#sweepMs
      ) {
        // Redis closes idle clients silently (timeout); so does this.
        st.conn.close();
        this.#forget(st);
      }
    }
  }

  #idle(st: RConn): boolean {
    return st.inflight === null && st.waiting.length === 0 && st.asyncPending === 0 &&
      st.outHead === st.out.length;
  }

  /** Sends `-error` right away (ahead of pending replies) and closes. */
  #abort(st: RConn, error: string): void {
    this.#log.debug(`redis client ${st.conn.remoteAddress}: ${error}; closing`);
    this.#w.error(error);
    st.conn.send(this.#w.take());
    st.conn.close();
    this.#forget(st);
  }

  #forget(st: RConn): void {
    if (st.gone) return;
    st.gone = true;
    if (st.timer !== null) st.timer();
    st.timer = null;
    if (st.defer !== null) st.defer();
    st.defer = null;
    st.parser.release();
    st.open = null;
    this.#unauthenticated.delete(st);
    if (this.#conns.delete(st.conn)) this.#backend.counters.connections--;
    // Commands read in full before the close still run (as in Redis, which runs what it has
    // read); their replies have nowhere to go.
    this.#pump(st);
  }

  #establish(st: RConn): void {
    if (st.established) return;
    st.established = true;
    this.#unauthenticated.delete(st);
  }

  #accept(conn: Connection): ConnectionHandler {
    const o = this.#opts;
    const refuse = (text: string): ConnectionHandler => {
      this.#rejected++;
      this.#w.error(text);
      conn.send(this.#w.take());
      conn.close();
      return { onMessage() {} };
    };
    if (!this.#accepting) return refuse("ERR server shutting down");
    if (this.#conns.size >= o.maxConnections) this.#evictOldest();
    if (this.#conns.size >= o.maxConnections) return refuse("ERR max number of clients reached");
    if (this.#unauthenticated.size >= o.maxUnauthenticated) this.#evictOldest();
    const now = this.#clock.wallMs();
    const id = ++nextClientId;
    const st: RConn = {
      conn,
      id,
      host: remoteHost(conn.remoteAddress),
      since: now,
      lastActive: now,
      name: null,
      proto: 2,
      authed: !this.#auth.required,
      established: false,
      parser: new RespParser({
        maxCommandBytes: o.maxMessageBytes,
        maxArgs: MAX_ARGS,
        maxInlineBytes: MAX_INLINE,
        now: () => this.#clock.wallMs(),
      }),
      out: [],
      outHead: 0,
      waiting: [],
      open: null,
      waitingBytes: 0,
      inflight: null,
      asyncPending: 0,
      closing: false,
      timer: null,
      defer: null,
      paused: false,
      gone: false,
      lastCmd: "NULL",
      seq: 0,
      clientId: `resp-${this.#tag}-${id}`,
      multi: null,
      watched: null,
      watchFailed: false,
    };
    this.#conns.set(conn, st);
    this.#unauthenticated.add(st);
    this.#backend.counters.connections++;
    this.#totalConnections++;
    const sink = (buf: Uint8Array, starts: Int32Array, ends: Int32Array, n: number) =>
      this.#command(st, buf, starts, ends, n);
    return {
      onMessage: (_c, chunk) => {
        if (st.gone || st.closing) return;
        this.#backend.counters.bytesIn += chunk.length;
        st.lastActive = this.#now;
        const r = st.parser.feed(chunk, sink);
        this.#after(st, r);
      },
      onError: (c) => c.close(),
      onClose: () => this.#forget(st),
    };
  }

  #after(st: RConn, r: Feed): void {
    if (r === Feed.ERROR) {
      this.#reply(st, (w) => w.error(`ERR ${st.parser.error}`));
      st.closing = true;
      st.parser.release();
    }
    if (r === Feed.OK && st.parser.partialSince > 0 && st.inflight === null) {
      // The read ended inside a command: the client is most likely in the middle of sending a
      // pipeline. Its rest (arriving in the next reads) joins this batch, instead of waiting for
      // this batch's round trip; a client that really stops half-way waits one timer turn.
      if (st.defer === null && st.waiting.length > 0) {
        st.defer = this.#scheduler.timeout(0, () => {
          st.defer = null;
          this.#pump(st);
          this.#flush(st);
        });
      }
    } else this.#pump(st);
    this.#flush(st);
  }

  #evictOldest(): void {
    const oldest = this.#unauthenticated.values().next();
    if (oldest.done) return;
    this.#abort(
      oldest.value,
      "ERR server busy: too many connections; oldest unauthenticated connection closed",
    );
  }

  // ------------------------------------------------------------------ commands

  /** The parser's sink: one whole command. False pauses parsing (a delayed AUTH, QUIT). */
  #command(st: RConn, buf: Uint8Array, starts: Int32Array, ends: Int32Array, n: number): boolean {
    if (st.closing || st.gone) return false;
    this.#commands++;
    const nameLen = ends[0] - starts[0];
    let spec: RespCommand | undefined;
    if (nameLen <= NAME_MAX) {
      // Copied by hand: a subarray per command showed in the profile.
      for (let i = 0, j = starts[0]; i < nameLen; i++, j++) nameScratch[i] = buf[j];
      spec = lookupCommand(nameViews[nameLen]);
    }
    if (spec !== undefined && spec.route === Route.STATE && st.authed) {
      st.lastCmd = spec.name;
      this.#establish(st);
      if (st.multi !== null) this.#queue(st, st.multi, spec, buf, starts, ends, n);
      else this.#append(st, spec, buf, starts, ends, n);
      return true;
    }
    const argv: Uint8Array[] = new Array(n);
    for (let i = 0; i < n; i++) argv[i] = buf.subarray(starts[i], ends[i]);
    return this.#other(st, spec, argv);
  }

  /** Adds a data command to the connection's open batch (a new one when there is none or it is full). */
  #append(
    st: RConn,
    spec: RespCommand,
    buf: Uint8Array,
    starts: Int32Array,
    ends: Int32Array,
    n: number,
  ): void {
    let size = 9;
    for (let i = 0; i < n; i++) size += ends[i] - starts[i] + 5;
    const max = this.#opts.maxMessageBytes;
    if (size > max) {
      this.#reply(st, (w) => w.error(`ERR command too large: over batch_max_bytes (${max})`));
      return;
    }
    let b = st.open;
    if (b === null || b.len + size > max + HEAD || b.count >= MAX_BATCH_COMMANDS) {
      if (st.waitingBytes + size > WAIT_ABORT * max) {
        // Reading is paused long before this (below); only a transport that cannot pause, or a
        // single huge read, gets here: bounded all the same.
        this.#abort(
          st,
          `ERR too many commands waiting for earlier replies (over ${WAIT_ABORT * max} bytes)`,
        );
        return;
      }
      if (!st.paused && st.waitingBytes > WAIT_PAUSE * max && st.conn.pauseReading) {
        // The client sends faster than the cluster answers (redis-cli --pipe): stop reading, so
        // TCP holds it back, until the waiting batches are submitted.
        st.paused = true;
        st.conn.pauseReading();
      }
      const item: Item = { bytes: null };
      st.out.push(item);
      b = {
        buf: 4 * size <= SLAB_BATCH_MAX
          ? batchSlabs.take(Math.max(256, 4 * size))
          : new Uint8Array(Math.min(max + HEAD, Math.max(4096, 4 * size))),
        len: HEAD,
        count: 0,
        shapes: [],
        proto: st.proto,
        item,
        accounted: 0,
      };
      st.waiting.push(b);
      st.open = b;
    }
    encodeCommand(b, spec, buf, starts, ends, n, size, max);
    st.waitingBytes += size;
    // A guard (IFREV, CHECK) first in a batch would guard the pipelined commands that happen to
    // join it: it goes alone, so a pipeline means what its commands mean one by one.
    if (b.count === 1 && (spec.name === "ifrev" || spec.name === "check")) st.open = null;
  }

  /** Inside MULTI: queues a data command (checked now, as Redis does) and answers QUEUED. */
  #queue(
    st: RConn,
    m: Multi,
    spec: RespCommand,
    buf: Uint8Array,
    starts: Int32Array,
    ends: Int32Array,
    n: number,
  ): void {
    const max = this.#opts.maxMessageBytes;
    let size = 9;
    for (let i = 0; i < n; i++) size += ends[i] - starts[i] + 5;
    if (spec.arity > 0 ? n !== spec.arity : n < -spec.arity) {
      m.failed = true;
      this.#reply(st, (w) => w.error(arityError(spec.name)));
      return;
    }
    if (m.b.len + size > max || m.b.count >= MAX_BATCH_COMMANDS) {
      m.failed = true;
      this.#reply(st, (w) => w.error(`ERR transaction too large: over batch_max_bytes (${max})`));
      return;
    }
    encodeCommand(m.b, spec, buf, starts, ends, n, size, max);
    this.#reply(st, (w) => w.status("QUEUED"));
  }

  /** MULTI, EXEC, DISCARD, WATCH, UNWATCH. */
  #transaction(st: RConn, name: string, argv: Uint8Array[]): void {
    const m = st.multi;
    switch (name) {
      case "multi":
        if (m !== null) return this.#reply(st, (w) => w.error("ERR MULTI calls can not be nested"));
        st.multi = { b: newBuilder(st.proto, { bytes: null }, 4096), failed: false };
        return this.#reply(st, (w) => w.status("OK"));
      case "discard":
        if (m === null) return this.#reply(st, (w) => w.error("ERR DISCARD without MULTI"));
        st.multi = null;
        this.#unwatch(st);
        return this.#reply(st, (w) => w.status("OK"));
      case "unwatch":
        this.#unwatch(st);
        return this.#reply(st, (w) => w.status("OK"));
      case "watch":
        if (m !== null) {
          return this.#reply(st, (w) => w.error("ERR WATCH inside MULTI is not allowed"));
        }
        return this.#watch(st, argv);
      case "exec":
        if (m === null) return this.#reply(st, (w) => w.error("ERR EXEC without MULTI"));
        return this.#exec(st, m);
    }
  }

  #unwatch(st: RConn): void {
    st.watched = null;
    st.watchFailed = false;
  }

  /** WATCH: reads the keys' revisions (WATCHREV, a linearizable read), answers OK when known. */
  #watch(st: RConn, argv: Uint8Array[]): void {
    const keys = argv.slice(1).map((k) => k.slice());
    if ((st.watched?.size ?? 0) + keys.length > MAX_WATCHED) {
      return this.#reply(st, (w) => w.error(`ERR too many watched keys (at most ${MAX_WATCHED})`));
    }
    const item: Item = { bytes: null };
    st.out.push(item);
    const b = newBuilder(st.proto, item, 64 + keys.reduce((n, k) => n + k.length + 5, 0));
    encodeArgv(b, [WATCHREV, ...keys]);
    b.watch = keys;
    this.#enqueue(st, b);
  }

  /** EXEC: the queued commands as one batch (one log entry), guarded by the WATCHed revisions. */
  #exec(st: RConn, m: Multi): void {
    st.multi = null;
    const watched = st.watched;
    const watchFailed = st.watchFailed;
    this.#unwatch(st);
    if (m.failed) {
      return this.#reply(
        st,
        (w) => w.error("EXECABORT Transaction discarded because of previous errors."),
      );
    }
    if (watchFailed) return this.#reply(st, (w) => w.nilArray());
    const guard: Uint8Array[] = [];
    if (watched !== null && watched.size > 0) {
      guard.push(IFREV);
      for (const { key, rev } of watched.values()) guard.push(key, enc.encode(String(rev)));
    }
    if (m.b.count === 0 && guard.length === 0) return this.#reply(st, (w) => w.array(0));
    const item: Item = { bytes: null };
    st.out.push(item);
    const q = m.b;
    const b = newBuilder(
      st.proto,
      item,
      q.len + guard.reduce((n, a) => n + a.length + 5, 16),
    );
    if (guard.length > 0) {
      encodeArgv(b, guard);
      b.shapes.push(Shape.DEFAULT);
    }
    b.buf.set(q.buf.subarray(HEAD, q.len), b.len);
    b.len += q.len - HEAD;
    b.count += q.count;
    for (const sh of q.shapes) b.shapes.push(sh);
    b.exec = { guarded: guard.length > 0 };
    this.#enqueue(st, b);
  }

  /** Puts a batch of its own (EXEC, WATCH) in line, after everything before it. */
  #enqueue(st: RConn, b: Builder): void {
    b.accounted = b.len;
    st.waitingBytes += b.len;
    st.waiting.push(b);
    st.open = null;
  }

  /** Submits the next waiting batch when none is in flight. */
  #pump(st: RConn): void {
    if (st.defer !== null) {
      st.defer();
      st.defer = null;
    }
    if (st.inflight !== null || st.waiting.length === 0) return;
    if (!st.gone && st.conn.bufferedBytes() > OUT_HOLD * this.#opts.maxMessageBytes) {
      // The client does not read its replies: the next batch waits until it does (and reading
      // pauses once enough waits), so unread replies stay bounded. Checked again shortly.
      st.defer = this.#scheduler.timeout(OUT_RETRY_MS, () => {
        st.defer = null;
        this.#pump(st);
        this.#flush(st);
      });
      return;
    }
    const b = st.waiting.shift()!;
    if (st.open === b) st.open = null;
    st.inflight = b;
    st.waitingBytes -= b.accounted;
    if (st.paused && st.waitingBytes <= this.#opts.maxMessageBytes) {
      st.paused = false;
      st.conn.resumeReading?.();
    }
    // The array head goes right before the first command (minimal length, as CBOR prefers).
    const count = b.count;
    const headLen = count < 24 ? 1 : count < 256 ? 2 : count < 65536 ? 3 : 5;
    writeHead(b.buf, HEAD - headLen, 0x80, count);
    const commands = b.buf.subarray(HEAD - headLen, b.len);
    const stats = this.#backend.counters;
    stats.batchesReceived++;
    stats.commandsReceived += count;
    const batchId = `r${++st.seq}`;
    // forward: a follower serves Redis clients too (writes forwarded to the leader, reads by a
    // follower ReadIndex): a Redis client cannot follow our redirects.
    this.#backend.submit({ clientId: st.clientId, batchId, commands, count }, (o) => {
      st.inflight = null;
      st.lastActive = this.#now;
      try {
        if (!st.gone) this.#answer(st, b, o);
      } catch (err) {
        // A reply that cannot be written (a bug): this connection ends with an error; the node
        // and the other connections carry on.
        this.#log.error(`RESP reply failed: ${(err as Error).message}`);
        this.#w.take(); // drop the half-written reply
        b.item.bytes = new Uint8Array(0);
        this.#abort(st, "ERR internal error writing the reply; closing the connection");
        return;
      }
      this.#pump(st);
      this.#flush(st);
    }, true);
  }

  #answer(st: RConn, b: Builder, o: Outcome): void {
    const w = this.#w;
    w.proto = b.proto;
    if (b.watch !== undefined) return this.#answerWatch(st, b, o);
    if (b.exec !== undefined) return this.#answerExec(b, o);
    if ("result" in o) {
      for (let i = 0; i < b.count; i++) writeSlot(w, o.result, b.shapes[i], i);
    } else {
      const e = redisError(o.code, o.message);
      for (let i = 0; i < b.count; i++) w.error(e);
    }
    b.item.bytes = w.take();
  }

  #answerWatch(st: RConn, b: Builder, o: Outcome): void {
    const w = this.#w;
    const revs = "result" in o && o.result.codes[0] === Code.OK ? o.result.data[0] : null;
    if (!Array.isArray(revs) || revs.length !== b.watch!.length) {
      // Revisions unknown: the next EXEC must not run (as if a watched key changed).
      st.watchFailed = true;
      w.error(redisError(
        "result" in o ? o.result.codes[0] : o.code,
        "result" in o ? o.result.errors[0] : o.message,
      ));
    } else {
      const m = st.watched ??= new Map();
      b.watch!.forEach((key, i) => {
        const k = bytesToKey(key);
        // The first revision seen counts (a key watched twice keeps its first WATCH's).
        if (!m.has(k)) m.set(k, { key, rev: Number(revs[i]) });
      });
      w.status("OK");
    }
    b.item.bytes = w.take();
  }

  #answerExec(b: Builder, o: Outcome): void {
    const w = this.#w;
    if (!("result" in o)) {
      w.error(redisError(o.code, o.message));
    } else {
      const r: BatchResult = o.result;
      const g = b.exec!.guarded ? 1 : 0;
      if (g === 1 && r.codes[0] !== Code.OK) w.nilArray(); // a watched key changed
      else {
        w.array(b.count - g);
        for (let i = g; i < b.count; i++) writeSlot(w, r, b.shapes[i], i);
      }
    }
    b.item.bytes = w.take();
  }

  /** Queues a reply written now, in order. */
  #reply(st: RConn, write: (w: RespWriter) => void): void {
    const w = this.#w;
    w.proto = st.proto;
    write(w);
    st.out.push({ bytes: w.take() });
    st.open = null; // later data commands go into a batch after this reply
  }

  /** Queues a reply that comes later, in order. */
  #later(st: RConn, p: Promise<CommandResult>, write: (w: RespWriter, r: CommandResult) => void) {
    const item: Item = { bytes: null };
    st.out.push(item);
    st.open = null;
    st.asyncPending++;
    const proto = st.proto;
    p.then(
      (r) => r,
      (err) => ({ code: Code.INTERNAL, value: null, error: String(err) }) as CommandResult,
    )
      .then((r) => {
        st.asyncPending--;
        const w = this.#w;
        w.proto = proto;
        write(w, r);
        item.bytes = w.take();
        this.#flush(st);
      });
  }

  #flush(st: RConn): void {
    if (st.gone) return;
    const out = st.out;
    let h = st.outHead;
    while (h < out.length) {
      const b = out[h].bytes;
      if (b === null) break;
      this.#backend.counters.bytesOut += b.length;
      st.conn.send(b);
      h++;
    }
    if (h === out.length) {
      st.out = [];
      st.outHead = 0;
      if (st.closing && st.inflight === null && st.waiting.length === 0) {
        st.conn.close();
        this.#forget(st);
      }
    } else st.outHead = h;
  }

  /** Everything but an authenticated data command. */
  #other(st: RConn, spec: RespCommand | undefined, argv: Uint8Array[]): boolean {
    if (spec === undefined) {
      if (!st.authed) this.#reply(st, (w) => w.error("NOAUTH Authentication required."));
      else this.#reply(st, (w) => w.error(unknownCommand(argv)));
      return true;
    }
    st.lastCmd = spec.name;
    const name = spec.name;
    if (!st.authed && name !== "auth" && name !== "hello" && name !== "quit" && name !== "reset") {
      this.#reply(st, (w) => w.error("NOAUTH Authentication required."));
      return true;
    }
    const n = argv.length;
    if (spec.arity > 0 ? n !== spec.arity : n < -spec.arity) {
      this.#reply(st, (w) => w.error(arityError(name)));
      return true;
    }
    if (spec.route === Route.STATE) {
      // Unreachable (authenticated data commands are batched); kept for safety.
      this.#reply(st, (w) => w.error("ERR internal: data command not batched"));
      return true;
    }
    if (spec.route === Route.REFUSED) {
      if (TRANSACTION_NAMES.includes(name)) {
        this.#transaction(st, name, argv);
      } else {
        this.#reply(st, (w) =>
          w.error(
            `${unknownCommand(argv)}(TinyKV serves no blocking or pub/sub commands)`,
          ));
      }
      return true;
    }
    this.#establish(st);
    if (spec.route === Route.SERVER) {
      const cmd = argv.map(argText);
      const p = this.#backend.serverCommand(cmd);
      if (p === null) this.#reply(st, (w) => w.error(unknownCommand(argv)));
      else this.#later(st, p, (w, r) => writeResult(w, r));
      return true;
    }
    return this.#local(st, name, argv);
  }

  #local(st: RConn, name: string, argv: Uint8Array[]): boolean {
    const n = argv.length;
    switch (name) {
      case "ping":
        if (n > 2) this.#reply(st, (w) => w.error(arityError("ping")));
        else if (n === 2) this.#reply(st, (w) => w.bulk(argv[1]));
        else this.#reply(st, (w) => w.status("PONG"));
        return true;
      case "echo":
        this.#reply(st, (w) => w.bulk(argv[1]));
        return true;
      case "quit":
        this.#reply(st, (w) => w.status("OK"));
        st.closing = true;
        return false;
      case "reset":
        st.proto = 2;
        st.name = null;
        st.authed = !this.#auth.required;
        this.#reply(st, (w) => w.status("RESET"));
        return true;
      case "select": {
        const db = parseInt10(argv[1]);
        if (db === null) {
          this.#reply(st, (w) => w.error("ERR value is not an integer or out of range"));
        } else if (db !== 0) this.#reply(st, (w) => w.error("ERR DB index is out of range"));
        else this.#reply(st, (w) => w.status("OK"));
        return true;
      }
      case "auth":
        return this.#authCommand(st, argv);
      case "hello":
        return this.#hello(st, argv);
      case "client":
        this.#client(st, argv);
        return true;
      case "command":
        this.#commandCmd(st, argv);
        return true;
      case "config":
        this.#config(st, argv);
        return true;
      case "info": {
        const p = this.#backend.serverCommand(["INFO"]);
        const sections = argv.slice(1).map(lower);
        if (p === null) this.#reply(st, (w) => w.verbatim(this.#info("", sections)));
        else {
          this.#later(st, p, (w, r) => {
            w.verbatim(this.#info(typeof r.value === "string" ? r.value : "", sections));
          });
        }
        return true;
      }
      case "time": {
        // The wall clock, as Redis's gettimeofday (the microseconds from the monotonic clock's
        // fraction). Not timeOrigin + now(): the monotonic clock does not follow the wall clock's
        // corrections, and on a VM the two were seen 9.5 s apart after some hours.
        const us = this.#clock.wallMs() * 1000 + Math.floor((performance.now() % 1) * 1000);
        this.#reply(st, (w) => {
          w.array(2);
          w.bulkText(String(Math.floor(us / 1e6)));
          w.bulkText(String(us % 1e6));
        });
        return true;
      }
      case "lastsave":
        this.#reply(st, (w) => w.int(Math.floor(this.#started / 1000)));
        return true;
    }
    this.#reply(st, (w) => w.error(unknownCommand(argv)));
    return true;
  }

  /** Runs `check` now, or after the address's failed-AUTH delay (parsing pauses meanwhile). */
  #throttled(st: RConn, argv: Uint8Array[], run: (argv: Uint8Array[]) => void): boolean {
    const wait = this.#auth.required ? this.#throttle.waitMs(st.host, this.#clock.wallMs()) : 0;
    if (wait <= 0) {
      run(argv);
      return true;
    }
    const copy = argv.map((a) => a.slice());
    st.timer = this.#scheduler.timeout(wait, () => {
      st.timer = null;
      if (st.gone) return;
      run(copy);
      const sink = (buf: Uint8Array, starts: Int32Array, ends: Int32Array, n: number) =>
        this.#command(st, buf, starts, ends, n);
      const r = st.closing ? Feed.OK : st.parser.resume(sink);
      this.#after(st, r);
    });
    return false;
  }

  /** Checks a password (user must be `default`: there are no other users yet). */
  #check(st: RConn, user: Uint8Array | null, pass: Uint8Array): boolean {
    const ok = (user === null || argText(user) === "default") && this.#auth.verify(pass);
    if (ok) {
      st.authed = true;
      this.#establish(st);
      this.#throttle.succeeded(st.host);
    } else {
      this.#throttle.failed(st.host, this.#clock.wallMs());
    }
    return ok;
  }

  #authCommand(st: RConn, argv: Uint8Array[]): boolean {
    if (argv.length > 3) {
      this.#reply(st, (w) => w.error("ERR syntax error"));
      return true;
    }
    if (!this.#auth.required) {
      if (argv.length === 2) {
        this.#reply(st, (w) =>
          w.error(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
          ));
      } else if (argText(argv[1]) === "default") this.#reply(st, (w) => w.status("OK"));
      else {
        this.#reply(
          st,
          (w) => w.error("WRONGPASS invalid username-password pair or user is disabled."),
        );
      }
      return true;
    }
    return this.#throttled(st, argv, (a) => {
      const ok = a.length === 3 ? this.#check(st, a[1], a[2]) : this.#check(st, null, a[1]);
      if (ok) this.#reply(st, (w) => w.status("OK"));
      else {this.#reply(st, (w) =>
          w.error("WRONGPASS invalid username-password pair or user is disabled."));}
      this.#pump(st);
      this.#flush(st);
    });
  }

  #hello(st: RConn, argv: Uint8Array[]): boolean {
    let proto = st.proto;
    let i = 1;
    if (argv.length > 1) {
      const v = parseInt10(argv[1]);
      if (v === null) {
        this.#reply(st, (w) => w.error("ERR Protocol version is not an integer or out of range"));
        return true;
      }
      if (v !== 2 && v !== 3) {
        this.#reply(st, (w) => w.error("NOPROTO unsupported protocol version"));
        return true;
      }
      proto = v;
      i = 2;
    }
    let auth: [Uint8Array, Uint8Array] | null = null;
    let setName: string | null = null;
    for (; i < argv.length; i++) {
      const opt = lower(argv[i]);
      if (opt === "auth" && i + 2 < argv.length) {
        auth = [argv[i + 1], argv[i + 2]];
        i += 2;
      } else if (opt === "setname" && i + 1 < argv.length) {
        setName = argText(argv[++i]);
        if (isSpace(argv[i])) {
          this.#reply(
            st,
            (w) =>
              w.error("ERR Client names cannot contain spaces, newlines or special characters."),
          );
          return true;
        }
      } else {
        this.#reply(st, (w) => w.error(`ERR Syntax error in HELLO option '${argText(argv[i])}'`));
        return true;
      }
    }
    const finish = () => {
      st.proto = proto;
      if (setName !== null) st.name = setName;
      this.#reply(st, (w) => {
        w.map(7);
        w.bulkText("server");
        w.bulkText("redis");
        w.bulkText("version");
        w.bulkText(REDIS_VERSION);
        w.bulkText("proto");
        w.int(proto);
        w.bulkText("id");
        w.int(st.id);
        w.bulkText("mode");
        w.bulkText("standalone");
        w.bulkText("role");
        w.bulkText(this.#backend.role() === "leader" ? "master" : "replica");
        w.bulkText("modules");
        w.array(0);
      });
    };
    if (auth === null) {
      if (!st.authed) {
        this.#reply(st, (w) =>
          w.error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
          ));
      } else finish();
      return true;
    }
    const [user, pass] = auth;
    if (!this.#auth.required) {
      if (argText(user) === "default") finish();
      else {
        this.#reply(
          st,
          (w) => w.error("WRONGPASS invalid username-password pair or user is disabled."),
        );
      }
      return true;
    }
    return this.#throttled(st, [user, pass], (a) => {
      if (this.#check(st, a[0], a[1])) finish();
      else {this.#reply(st, (w) =>
          w.error("WRONGPASS invalid username-password pair or user is disabled."));}
      this.#pump(st);
      this.#flush(st);
    });
  }

  #clientLine(c: RConn): string {
    const now = this.#clock.wallMs();
    return `id=${c.id} addr=${c.conn.remoteAddress} laddr=${this.#opts.host}:${this.port} fd=-1 ` +
      `name=${c.name ?? ""} age=${Math.floor((now - c.since) / 1000)} ` +
      `idle=${Math.floor((now - c.lastActive) / 1000)} flags=N db=0 sub=0 psub=0 ssub=0 ` +
      `multi=-1 qbuf=${c.parser.buffered} qbuf-free=0 argv-mem=0 multi-mem=0 ` +
      `obl=0 oll=${c.out.length - c.outHead} omem=${c.conn.bufferedBytes()} tot-mem=0 events=r ` +
      `cmd=${c.lastCmd} user=default redir=-1 resp=${c.proto} lib-name= lib-ver=`;
  }

  #client(st: RConn, argv: Uint8Array[]): void {
    const sub = lower(argv[1]);
    const n = argv.length;
    switch (sub) {
      case "setname":
        if (n !== 3) return this.#reply(st, (w) => w.error(arityError("client|setname")));
        if (isSpace(argv[2])) {
          return this.#reply(
            st,
            (w) =>
              w.error("ERR Client names cannot contain spaces, newlines or special characters."),
          );
        }
        st.name = argv[2].length === 0 ? null : argText(argv[2]);
        return this.#reply(st, (w) => w.status("OK"));
      case "getname":
        return this.#reply(st, (w) => st.name === null ? w.nil() : w.bulkText(st.name));
      case "id":
        return this.#reply(st, (w) => w.int(st.id));
      case "info":
        return this.#reply(st, (w) => w.verbatim(this.#clientLine(st) + "\n"));
      case "list": {
        let text = "";
        for (const c of this.#conns.values()) text += this.#clientLine(c) + "\n";
        return this.#reply(st, (w) => w.verbatim(text));
      }
      case "kill":
        return this.#kill(st, argv);
      case "no-evict":
      case "no-touch":
        if (n !== 3) return this.#reply(st, (w) => w.error(arityError(`client|${sub}`)));
        if (!["on", "off"].includes(lower(argv[2]))) {
          return this.#reply(st, (w) => w.error("ERR syntax error"));
        }
        return this.#reply(st, (w) => w.status("OK"));
      case "setinfo":
        // Client libraries announce themselves (lib-name, lib-ver): accepted, not kept.
        return this.#reply(
          st,
          (w) => n === 4 ? w.status("OK") : w.error(arityError("client|setinfo")),
        );
      default:
        return this.#reply(st, (w) =>
          w.error(
            `ERR unknown subcommand '${printable(argv[1], 128)}'. Try CLIENT HELP.`,
          ));
    }
  }

  #kill(st: RConn, argv: Uint8Array[]): void {
    const n = argv.length;
    const victims: RConn[] = [];
    if (n === 3) {
      // Old form: CLIENT KILL addr:port → OK or an error.
      const addr = argText(argv[2]);
      for (const c of this.#conns.values()) if (c.conn.remoteAddress === addr) victims.push(c);
      if (victims.length === 0) return this.#reply(st, (w) => w.error("ERR No such client"));
      this.#reply(st, (w) => w.status("OK"));
    } else {
      if (n % 2 !== 0) return this.#reply(st, (w) => w.error("ERR syntax error"));
      let skipMe = true;
      const filters: ((c: RConn) => boolean)[] = [];
      for (let i = 2; i < n; i += 2) {
        const f = lower(argv[i]);
        const v = argText(argv[i + 1]);
        if (f === "id") {
          const id = Number(v);
          if (!/^\d+$/.test(v)) {
            return this.#reply(st, (w) => w.error("ERR client-id should be greater than 0"));
          }
          filters.push((c) => c.id === id);
        } else if (f === "addr") filters.push((c) => c.conn.remoteAddress === v);
        else if (f === "laddr") filters.push(() => `${this.#opts.host}:${this.port}` === v);
        else if (f === "user") filters.push(() => v === "default");
        else if (f === "skipme") {
          const y = v.toLowerCase();
          if (y !== "yes" && y !== "no") return this.#reply(st, (w) => w.error("ERR syntax error"));
          skipMe = y === "yes";
        } else if (f === "type") {
          const t = v.toLowerCase();
          filters.push(() => t === "normal");
        } else return this.#reply(st, (w) => w.error("ERR syntax error"));
      }
      for (const c of this.#conns.values()) {
        if (skipMe && c === st) continue;
        if (filters.every((f) => f(c))) victims.push(c);
      }
      this.#reply(st, (w) => w.int(victims.length));
    }
    for (const c of victims) {
      if (c === st) st.closing = true;
      else {
        c.conn.close();
        this.#forget(c);
      }
    }
  }

  #commandCmd(st: RConn, argv: Uint8Array[]): void {
    const sub = argv.length > 1 ? lower(argv[1]) : "";
    const info = (w: RespWriter, c: RespCommand) => {
      w.array(10);
      w.bulkText(c.name);
      w.int(c.arity);
      const flags = c.route === Route.STATE ? [c.write ? "write" : "readonly"] : ["fast"];
      w.set(flags.length);
      for (const f of flags) w.status(f);
      w.int(c.firstKey);
      w.int(c.lastKey);
      w.int(c.step);
      w.set(1);
      w.status(c.route === Route.STATE ? (c.write ? "@write" : "@read") : "@connection");
      w.set(0);
      w.array(0);
      w.array(0);
    };
    switch (sub) {
      case "":
        return this.#reply(st, (w) => {
          w.array(SERVED_COMMANDS.length);
          for (const c of SERVED_COMMANDS) info(w, c);
        });
      case "count":
        return this.#reply(st, (w) => w.int(SERVED_COMMANDS.length));
      case "list":
        return this.#reply(st, (w) => {
          w.array(SERVED_COMMANDS.length);
          for (const c of SERVED_COMMANDS) w.bulkText(c.name);
        });
      case "info":
      case "docs": {
        const wanted = argv.length > 2
          ? argv.slice(2).map((a) => {
            const c = lookupCommand(a);
            return c !== undefined && c.route !== Route.REFUSED ? c : null;
          })
          : [...SERVED_COMMANDS];
        if (sub === "info") {
          return this.#reply(st, (w) => {
            w.array(wanted.length);
            for (const c of wanted) c === null ? w.nilArray() : info(w, c);
          });
        }
        const found = wanted.filter((c): c is RespCommand => c !== null);
        return this.#reply(st, (w) => {
          w.map(found.length);
          for (const c of found) {
            w.bulkText(c.name);
            w.map(3);
            w.bulkText("summary");
            w.bulkText(commandDoc(c.name)?.summary ?? `${c.name.toUpperCase()} (TinyKV)`);
            w.bulkText("since");
            w.bulkText("1.0.0");
            w.bulkText("group");
            w.bulkText(c.route === Route.STATE ? "generic" : "connection");
          }
        });
      }
      case "getkeys":
        return this.#reply(st, (w) => w.error("ERR COMMAND GETKEYS is not supported by TinyKV"));
      default:
        return this.#reply(
          st,
          (w) => w.error(`ERR unknown subcommand '${printable(argv[1], 128)}'. Try COMMAND HELP.`),
        );
    }
  }

  /**
   * CONFIG GET: the keys clients and tools read, as TinyKV's options answer them; `durable` is the
   * node's INFO `durable` (a wal node is append-only with fsync always).
   */
  #configValues(durable: boolean): [string, string][] {
    const o = this.#opts;
    return [
      ["bind", o.host],
      ["port", String(this.port)],
      ["databases", "1"],
      ["maxclients", String(o.maxConnections)],
      ["timeout", String(Math.floor(o.idleTimeoutMs / 1000))],
      ["maxmemory", "0"],
      ["maxmemory-policy", "noeviction"],
      ["save", ""],
      ["appendonly", durable ? "yes" : "no"],
      ["appendfsync", "always"],
      ["proto-max-bulk-len", String(o.maxMessageBytes)],
      ["client-query-buffer-limit", String(o.maxMessageBytes)],
      ["cluster-enabled", "no"],
      ["slave-read-only", "yes"],
      ["replica-read-only", "yes"],
      ["lua-time-limit", "0"],
      ["notify-keyspace-events", ""],
    ];
  }

  #config(st: RConn, argv: Uint8Array[]): void {
    const sub = lower(argv[1]);
    if (sub === "get") {
      if (argv.length < 3) return this.#reply(st, (w) => w.error(arityError("config|get")));
      const pats = argv.slice(2).map((a) => globToRegExp(lower(a)));
      const answer = (durable: boolean) => (w: RespWriter) => {
        const hits = this.#configValues(durable).filter(([k]) => pats.some((p) => p.test(k)));
        w.map(hits.length);
        for (const [k, v] of hits) {
          w.bulkText(k);
          w.bulkText(v);
        }
      };
      const p = this.#backend.serverCommand(["INFO"]);
      if (p === null) return this.#reply(st, answer(false));
      return this.#later(st, p, (w, r) => {
        answer(typeof r.value === "string" && /^durable:true$/m.test(r.value))(w);
      });
    }
    if (sub === "set") {
      return this.#reply(
        st,
        (w) =>
          w.error(
            "ERR CONFIG SET is not supported by TinyKV: set options at start (flags, environment, config file)",
          ),
      );
    }
    if (sub === "resetstat") return this.#reply(st, (w) => w.status("OK"));
    this.#reply(
      st,
      (w) => w.error(`ERR unknown subcommand '${printable(argv[1], 128)}'. Try CONFIG HELP.`),
    );
  }

  /** INFO in Redis's section format, from the node's own INFO text (`native`). */
  #info(native: string, sections: string[]): string {
    const kv = new Map<string, string>();
    for (const line of native.split("\n")) {
      const i = line.indexOf(":");
      if (i > 0) kv.set(line.slice(0, i), line.slice(i + 1));
    }
    const g = (k: string, d = "") => kv.get(k) ?? d;
    const role = g("role", this.#backend.role());
    const leaderAddr = g("leader_address");
    const mem = process.memoryUsage();
    const uptime = Math.floor((this.#clock.wallMs() - this.#started) / 1000);
    const st = this.#backend.counters;
    const voters = g("voters").split(",").filter((x) => x !== "");
    const human = (b: number) => `${(b / 1024 / 1024).toFixed(2)}M`;
    const out: [string, string[]][] = [
      ["server", [
        `redis_version:${REDIS_VERSION}`,
        "redis_mode:standalone",
        `tinykv_node_id:${g("node_id")}`,
        `os:${process.platform}`,
        "arch_bits:64",
        `process_id:${process.pid}`,
        `tcp_port:${this.port}`,
        `uptime_in_seconds:${uptime}`,
        `uptime_in_days:${Math.floor(uptime / 86400)}`,
        `executable:${process.execPath}`,
      ]],
      ["clients", [
        `connected_clients:${this.#conns.size}`,
        `maxclients:${this.#opts.maxConnections}`,
        "blocked_clients:0",
        "pubsub_clients:0",
      ]],
      ["memory", [
        `used_memory:${mem.heapUsed}`,
        `used_memory_human:${human(mem.heapUsed)}`,
        `used_memory_rss:${mem.rss}`,
        `used_memory_rss_human:${human(mem.rss)}`,
        "maxmemory:0",
        "maxmemory_policy:noeviction",
      ]],
      ["persistence", [
        "loading:0",
        `aof_enabled:${g("durable") === "true" ? 1 : 0}`,
        "rdb_bgsave_in_progress:0",
        `rdb_last_save_time:${Math.floor(this.#started / 1000)}`,
        `tinykv_storage:${g("storage")}`,
      ]],
      ["stats", [
        `total_connections_received:${this.#totalConnections}`,
        `total_commands_processed:${this.#commands}`,
        `total_net_input_bytes:${st.bytesIn}`,
        `total_net_output_bytes:${st.bytesOut}`,
        `rejected_connections:${this.#rejected}`,
        "keyspace_hits:0",
        "keyspace_misses:0",
        `tinykv_batches_received:${st.batchesReceived}`,
        `tinykv_proposals:${st.proposals}`,
        `tinykv_busy_rejections:${st.busyRejections}`,
      ]],
      [
        "replication",
        role === "leader"
          ? ["role:master", `connected_slaves:${Math.max(0, voters.length - 1)}`]
          : [
            "role:slave",
            `master_host:${leaderAddr.slice(0, Math.max(0, leaderAddr.lastIndexOf(":")))}`,
            `master_port:${leaderAddr.slice(leaderAddr.lastIndexOf(":") + 1)}`,
            `master_link_status:${leaderAddr === "" ? "down" : "up"}`,
            "slave_read_only:1",
          ],
      ],
      [
        "keyspace",
        Number(g("keys", "0")) > 0
          ? [`db0:keys=${g("keys")},expires=${g("keys_with_expiry", "0")},avg_ttl=0`]
          : [],
      ],
      ["raft", [
        `raft_role:${role}`,
        `raft_term:${g("term")}`,
        `raft_leader:${g("leader")}`,
        `raft_leader_address:${leaderAddr}`,
        `raft_commit_index:${g("commit_index")}`,
        `raft_applied_index:${g("applied_index")}`,
        `raft_last_index:${g("last_index")}`,
        `raft_voters:${g("voters")}`,
        `raft_learners:${g("learners")}`,
      ]],
    ];
    const all = sections.length === 0 ||
      sections.some((s) => s === "all" || s === "everything" || s === "default");
    const title = (s: string) => s[0].toUpperCase() + s.slice(1);
    const parts = out.filter(([name]) => all || sections.includes(name))
      .map(([name, lines]) => [`# ${title(name)}`, ...lines].join("\r\n"));
    return parts.join("\r\n\r\n") + "\r\n";
  }
}

const enc = new TextEncoder();

/** One command's reply: its value in `shape`, nil (a null array for NIL_ARRAY), or its error. */
function writeSlot(w: RespWriter, r: BatchResult, shape: Shape, i: number): void {
  const code = r.codes[i];
  if (code === Code.OK) w.value(r.data[i], shape);
  else if (code === Code.NOT_FOUND) shape === Shape.NIL_ARRAY ? w.nilArray() : w.nil();
  else w.error(redisError(code, r.errors[i]));
}

const WATCHREV = enc.encode("WATCHREV");
const IFREV = enc.encode("IFREV");

/** An empty batch builder replying into `item`. */
function newBuilder(proto: number, item: Item, size: number): Builder {
  return {
    buf: new Uint8Array(HEAD + Math.max(64, size)),
    len: HEAD,
    count: 0,
    shapes: [],
    proto,
    item,
    accounted: 0,
  };
}

function grow(b: Builder, size: number, max: number): void {
  if (b.len + size <= b.buf.length) return;
  // A small first buffer (from the slabs) grows straight to 4 KiB: a pipeline is arriving.
  const g = new Uint8Array(
    Math.min(max + HEAD + 9, Math.max(b.len + size, 2 * b.buf.length, 4096)),
  );
  g.set(b.buf.subarray(0, b.len));
  b.buf = g;
}

/** Appends one received data command to `b` (CBOR array of byte strings, copied from `buf`). */
function encodeCommand(
  b: Builder,
  spec: RespCommand,
  buf: Uint8Array,
  starts: Int32Array,
  ends: Int32Array,
  n: number,
  size: number,
  max: number,
): void {
  grow(b, size, max);
  const out = b.buf;
  let p = writeHead(out, b.len, 0x80, n);
  for (let i = 0; i < n; i++) {
    const s = starts[i], e = ends[i];
    p = writeHead(out, p, 0x40, e - s);
    copyInto(out, p, buf, s, e - s);
    p += e - s;
  }
  b.len = p;
  b.count++;
  b.accounted += size;
  b.shapes.push(
    spec.argShape === ArgShape.NONE ? spec.shape : argShape(spec, buf, starts, ends, n),
  );
}

/** Appends a command built here (WATCHREV, IFREV) to `b`. */
function encodeArgv(b: Builder, argv: Uint8Array[]): void {
  let size = 9;
  for (const a of argv) size += a.length + 5;
  if (b.len + size > b.buf.length) {
    const g = new Uint8Array(b.len + size);
    g.set(b.buf.subarray(0, b.len));
    b.buf = g;
  }
  let p = writeHead(b.buf, b.len, 0x80, argv.length);
  for (const a of argv) {
    p = writeHead(b.buf, p, 0x40, a.length);
    b.buf.set(a, p);
    p += a.length;
  }
  b.len = p;
  b.count++;
}

/** Writes a CBOR head (major type byte `major`, value `v`) at `p`; returns the offset after it. */
function writeHead(out: Uint8Array, p: number, major: number, v: number): number {
  if (v < 24) {
    out[p] = major | v;
    return p + 1;
  }
  if (v < 256) {
    out[p] = major | 24;
    out[p + 1] = v;
    return p + 2;
  }
  if (v < 65536) {
    out[p] = major | 25;
    out[p + 1] = v >>> 8;
    out[p + 2] = v & 0xff;
    return p + 3;
  }
  out[p] = major | 26;
  out[p + 1] = v >>> 24;
  out[p + 2] = (v >>> 16) & 0xff;
  out[p + 3] = (v >>> 8) & 0xff;
  out[p + 4] = v & 0xff;
  return p + 5;
}

function eqFold(buf: Uint8Array, s: number, e: number, word: string): boolean {
  if (e - s !== word.length) return false;
  for (let i = 0; i < word.length; i++) {
    if ((buf[s + i] | 0x20) !== word.charCodeAt(i)) return false;
  }
  return true;
}

/** A reply shape that depends on the arguments (WITHSCORES, ZADD INCR, ZPOPMIN count). */
function argShape(
  spec: RespCommand,
  buf: Uint8Array,
  starts: Int32Array,
  ends: Int32Array,
  n: number,
): Shape {
  switch (spec.argShape) {
    case ArgShape.WITHSCORES:
      for (let i = 2; i < n; i++) {
        if (eqFold(buf, starts[i], ends[i], "withscores")) return Shape.SCORES;
      }
      return spec.shape;
    case ArgShape.ZADD_INCR:
      for (let i = 2; i < n; i++) if (eqFold(buf, starts[i], ends[i], "incr")) return Shape.DOUBLE;
      return spec.shape;
    case ArgShape.POP_COUNT:
      return n > 2 ? Shape.SCORES : Shape.FLAT_SCORES;
    case ArgShape.LIST_POP_COUNT:
      return n > 2 ? Shape.NIL_ARRAY : spec.shape;
    case ArgShape.WITHSCORE:
      for (let i = 3; i < n; i++) {
        if (eqFold(buf, starts[i], ends[i], "withscore")) return Shape.RANK_SCORE;
      }
      return spec.shape;
  }
  return spec.shape;
}

/** A server command's result (GET_LEADER, MEMBERS, ADD_NODE, ...) as a generic reply. */
function writeResult(w: RespWriter, r: CommandResult): void {
  if (r.error !== null && r.code !== Code.OK && r.code !== Code.NOT_FOUND) {
    w.error(redisError(r.code, r.error));
  } else if (typeof r.value === "string") w.bulkText(r.value);
  else w.value(r.value, Shape.BULK);
}

function globToRegExp(glob: string): RegExp {
  let re = "^";
  for (const ch of glob) {
    if (ch === "*") re += ".*";
    else if (ch === "?") re += ".";
    else re += ch.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(re + "$");
}
