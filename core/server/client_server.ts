/**
 * The client-facing server: accepts connections on the client port, decodes AUTH / COMMAND /
 * COMMAND_BATCH messages and answers each with its own response. Malformed input gets an ERROR
 * message and the connection is closed; nothing a client sends can take the server down.
 *
 * Admission: a batch is validated in full ({@link checkBatch}) before it can be proposed, so
 * every batch that reaches the log can be applied; a bad one gets MALFORMED or TOO_LARGE.
 * Connections are bounded (docs/limits.md): not-yet-authenticated ones in number and time, every
 * one by an idle and a half-sent-frame timeout, and failed AUTHs are slowed per address.
 * @module
 */
import { decodeCbor, encodeCbor, encodeCborCopy } from "../../protocol/cbor.ts";
import { BATCH_TOO_MANY, batchProblem, checkBatch, checkFrame } from "../../protocol/cbor_peek.ts";
import { defaultConfig } from "../config/config.ts";
import { Code, type CodeNumber } from "../../protocol/codes.ts";
import { AuthThrottle, PasswordCheck } from "./auth.ts";
import type { Logger } from "../config/logger.ts";
import {
  type Cancel,
  type Clock,
  type Random,
  realClock,
  realRandom,
  realScheduler,
  type Scheduler,
} from "../env/time.ts";
import type { BatchResult, ClientBatch, NodeStats } from "../plugin/plugin.ts";
import {
  asClientMessage,
  type AuthRequest,
  type BatchRequest,
  type BatchResponse,
  type CommandRequest,
  type CommandResponse,
  type CommandResult,
  MAX_BATCH_COMMANDS,
  MsgType,
  type Received,
  type ServerMessage,
  WatchReason,
  type WatchRequest,
} from "../../protocol/messages.ts";
import { remoteHost } from "../../transports/address.ts";
import type { WatchHub } from "./watch.ts";
import type { Connection, ConnectionHandler, Listener, Transport } from "../../transports/types.ts";

/** How a submitted batch is answered: results, or one error for every command. */
export type Outcome = { result: BatchResult } | {
  code: CodeNumber;
  message: string;
  leader?: string;
};

/** What the server needs from the node. */
export interface ServerBackend {
  /**
   * Runs a batch down the write path; `done` is called exactly once. With `forward`, a follower
   * serves it (reads by a follower ReadIndex, writes forwarded to the leader) instead of
   * answering NOT_LEADER.
   */
  submit(batch: ClientBatch, done: (o: Outcome) => void, forward?: boolean): void;
  /** Handles a server command sent on its own (INFO, GET_LEADER, ADD_NODE, ...); null if `cmd` is not one. */
  serverCommand(cmd: unknown): Promise<CommandResult> | null;
  readonly counters: NodeStats;
  /** The node's watches (WATCH / WATCH_CANCEL); without it watches are refused. */
  readonly watches?: WatchHub;
}

/** Server options (from config). */
export interface ServerOptions {
  host: string;
  port: number;
  password: string;
  maxMessageBytes: number;
  maxConnections: number;
  /** max_unauthenticated_connections (default: the config default, as for the four below) */
  maxUnauthenticated?: number;
  /** auth_timeout_ms */
  authTimeoutMs?: number;
  /** idle_timeout_ms (0 = never) */
  idleTimeoutMs?: number;
  /** frame_timeout_ms */
  frameTimeoutMs?: number;
  /** auth_failure_delay_ms */
  authFailureDelayMs?: number;
  noDelay: boolean;
  socketBufferBytes: number;
  /**
   * Clock and timers (default: the runtime's). The server reads wall time (`wallMs`), the clock
   * the transports stamp a partial frame with.
   */
  clock?: Clock;
  scheduler?: Scheduler;
  /** Random source for this server's client-id tag (default `Math.random`). */
  random?: Random;
}

/** Server options with every bound resolved (clock, timers and randomness stay optional). */
export type ResolvedServerOptions =
  & Required<Omit<ServerOptions, "clock" | "scheduler" | "random">>
  & Pick<ServerOptions, "clock" | "scheduler" | "random">;

/** `opts` with the config defaults for the optional bounds (shared with the RESP listener). */
export function withDefaults(opts: ServerOptions): ResolvedServerOptions {
  const d = defaultConfig();
  return {
    maxUnauthenticated: d.max_unauthenticated_connections,
    authTimeoutMs: d.auth_timeout_ms,
    idleTimeoutMs: d.idle_timeout_ms,
    frameTimeoutMs: d.frame_timeout_ms,
    authFailureDelayMs: d.auth_failure_delay_ms,
    ...opts,
  };
}

/**
 * How often connection timeouts are checked: a quarter of the shortest timeout, 20 ms..1 s (a
 * timeout never fires early and at most two sweeps late).
 */
export function sweepInterval(o: ResolvedServerOptions): number {
  const shortest = Math.min(
    o.authTimeoutMs,
    o.frameTimeoutMs,
    o.idleTimeoutMs > 0 ? o.idleTimeoutMs : Infinity,
  );
  return Math.max(20, Math.min(1000, shortest / 4));
}

/** Messages queued on a connection while a failed AUTH's delay runs; more close it. */
const MAX_HELD_MESSAGES = 16;
/** Bytes of frames queued that way; more close the connection too. */
const MAX_HELD_BYTES = 64 * 1024;

interface Held {
  m: Record<string, unknown>;
  size: number;
}

interface ConnState {
  readonly conn: Connection;
  /** May send requests (password given, or none configured). */
  authed: boolean;
  /** Out of the unauthenticated class: authenticated, or (no password) sent a valid request. */
  established: boolean;
  clientId: string;
  /** Remote host without the port (the AUTH throttle's key). */
  readonly host: string;
  /** Coarse time ({@link ClientServer} clock) of accept and of the last message or answer. */
  readonly since: number;
  lastActive: number;
  /** Requests submitted and not yet answered. */
  inflight: number;
  /** Messages waiting for a failed AUTH's delay (null when none is running). */
  held: Held[] | null;
  heldBytes: number;
  timer: Cancel | null;
  /** Closed by the server (or by the socket): further input is ignored. */
  gone: boolean;
}

let connCounter = 0;

function asString(x: unknown): string | null {
  if (typeof x === "string") return x;
  if (x instanceof Uint8Array) return new TextDecoder().decode(x);
  return null;
}

/** The client listener and per-connection protocol handling. */
export class ClientServer {
  readonly #backend: ServerBackend;
  readonly #opts: ResolvedServerOptions;
  readonly #clock: Clock;
  readonly #scheduler: Scheduler;
  /** Tags this server's client ids (random per server, so ids differ across nodes). */
  readonly #tag: string;
  readonly #log: Logger;
  readonly #auth: PasswordCheck;
  readonly #throttle: AuthThrottle;
  readonly #conns = new Map<Connection, ConnState>();
  /** Connections not yet established, oldest first. */
  readonly #unauthenticated = new Set<ConnState>();
  #listener: Listener | null = null;
  #accepting = true;
  /** Coarse clock (ms), advanced by the sweep; stamps activity without a clock read per message. */
  #now: number;
  #sweep: Cancel | null = null;
  #sweepMs = 1000;

  constructor(backend: ServerBackend, opts: ServerOptions, log: Logger) {
    this.#backend = backend;
    this.#clock = opts.clock ?? realClock;
    this.#scheduler = opts.scheduler ?? realScheduler;
    this.#tag = (opts.random ?? realRandom)().toString(36).slice(2, 10);
    this.#now = this.#clock.wallMs();
    this.#opts = withDefaults(opts);
    this.#log = log;
    this.#auth = new PasswordCheck(opts.password);
    this.#throttle = new AuthThrottle(this.#opts.authFailureDelayMs);
  }

  /** The bound port (after `listen`). */
  get port(): number {
    return this.#listener?.port ?? 0;
  }

  /** Starts listening. */
  async listen(transport: Transport): Promise<void> {
    this.#listener = await transport.listen({
      host: this.#opts.host,
      port: this.#opts.port,
      maxMessageBytes: this.#opts.maxMessageBytes,
      noDelay: this.#opts.noDelay,
      socketBufferBytes: this.#opts.socketBufferBytes,
    }, (conn) => this.#accept(conn));
    this.#sweepMs = sweepInterval(this.#opts);
    this.#sweep = this.#scheduler.interval(this.#sweepMs, () => this.#checkTimeouts());
  }

  /**
   * Closes connections past a timeout. Runs every `#sweepMs` (a quarter of the shortest timeout,
   * 20 ms..1 s); a timeout never fires early and at most two sweeps late (activity is stamped
   * with the sweep's clock, so the idle check allows one sweep of slack).
   */
  #checkTimeouts(): void {
    const now = this.#now = this.#clock.wallMs();
    const o = this.#opts;
    for (const st of this.#conns.values()) {
      const since = st.conn.partialSince ?? 0;
      if (since > 0 && now - since > o.frameTimeoutMs) {
        this.#closeWith(
          st,
          Code.MALFORMED,
          `incomplete frame: not completed within ${o.frameTimeoutMs} ms`,
        );
      } else if (!st.established && now - st.since > o.authTimeoutMs) {
        this.#closeWith(
          st,
          Code.AUTH_REQUIRED,
          this.#auth.required
            ? `authentication timeout: no AUTH within ${o.authTimeoutMs} ms`
            : `no request within ${o.authTimeoutMs} ms`,
        );
      } else if (
        o.idleTimeoutMs > 0 && since === 0 && st.inflight === 0 &&
        (this.#backend.watches?.count(st.conn) ?? 0) === 0 &&
        now - st.lastActive > o.idleTimeoutMs + this.#sweepMs
      ) {
        this.#closeWith(st, Code.TIMEOUT, `idle for ${o.idleTimeoutMs} ms`);
      }
    }
  }

  /** Sends a connection-level ERROR, closes the connection and stops counting it. */
  #closeWith(st: ConnState, code: CodeNumber, error: string): void {
    this.#log.debug(`client ${st.conn.remoteAddress}: ${error}; closing`);
    this.#send(st.conn, { type: MsgType.ERROR, code, error });
    st.conn.close();
    this.#forget(st);
  }

  #forget(st: ConnState): void {
    st.gone = true;
    if (st.timer !== null) st.timer();
    st.timer = null;
    st.held = null;
    this.#unauthenticated.delete(st);
    this.#backend.watches?.dropConnection(st.conn);
    if (this.#conns.delete(st.conn)) this.#backend.counters.connections--;
  }

  /** Closes the oldest unauthenticated connection to make room; false when there is none. */
  #evictOldest(why: string): boolean {
    const oldest = this.#unauthenticated.values().next();
    if (oldest.done) return false;
    this.#closeWith(
      oldest.value,
      Code.BUSY,
      `server busy: ${why}; oldest unauthenticated connection closed`,
    );
    return true;
  }

  #establish(st: ConnState): void {
    if (st.established) return;
    st.established = true;
    this.#unauthenticated.delete(st);
  }

  /** Stops accepting new connections (existing ones keep being served). */
  async stopAccepting(): Promise<void> {
    this.#accepting = false;
    await this.#listener?.close();
  }

  /** Closes every client connection (after in-flight batches were answered). */
  closeAll(): void {
    if (this.#sweep !== null) this.#sweep();
    this.#sweep = null;
    this.#backend.watches?.shutdown();
    for (const st of [...this.#conns.values()]) {
      st.conn.close();
      this.#forget(st);
    }
  }

  #send(conn: Connection, msg: ServerMessage): void {
    const bytes = encodeCbor(msg);
    this.#backend.counters.bytesOut += bytes.length + 4;
    conn.send(bytes);
  }

  #accept(conn: Connection): ConnectionHandler {
    const stats = this.#backend.counters;
    const now = this.#clock.wallMs();
    const state: ConnState = {
      conn,
      authed: !this.#auth.required,
      established: false,
      clientId: `${this.#tag}-${++connCounter}`,
      host: remoteHost(conn.remoteAddress),
      since: now,
      lastActive: now,
      inflight: 0,
      held: null,
      heldBytes: 0,
      timer: null,
      gone: false,
    };
    const o = this.#opts;
    // Full: make room by closing the oldest connection that has not authenticated yet.
    if (this.#accepting && this.#conns.size >= o.maxConnections) {
      this.#evictOldest("too many connections");
    }
    if (!this.#accepting || this.#conns.size >= o.maxConnections) {
      const why = this.#accepting ? "too many connections" : "server shutting down";
      this.#send(conn, {
        type: MsgType.ERROR,
        code: this.#accepting ? Code.BUSY : Code.SHUTTING_DOWN,
        error: `server busy: ${why}`,
      });
      conn.close();
      return { onMessage() {} };
    }
    if (this.#unauthenticated.size >= o.maxUnauthenticated) {
      this.#evictOldest("too many unauthenticated connections");
    }
    this.#conns.set(conn, state);
    this.#unauthenticated.add(state);
    stats.connections++;
    return {
      onMessage: (c, m) => {
        if (state.gone) return;
        stats.bytesIn += m.length + 4;
        state.lastActive = this.#now;
        this.#onMessage(c, state, m);
      },
      onError: (c, kind, detail) => {
        const code = kind === "too_large"
          ? Code.TOO_LARGE
          : kind === "busy"
          ? Code.BUSY
          : Code.MALFORMED;
        const text = kind === "too_large"
          ? `request too large: ${detail}`
          : kind === "busy"
          ? `${detail}; retry shortly`
          : `malformed frame: ${detail}`;
        this.#log.debug(`client ${c.remoteAddress}: ${text}; closing`);
        this.#send(c, { type: MsgType.ERROR, code, error: text });
        c.close();
      },
      onClose: () => this.#forget(state),
    };
  }

  #protocolError(
    conn: Connection,
    code: CodeNumber,
    error: string,
    close: boolean,
    ids: { batch_id?: string; request_id?: string } = {},
  ): void {
    this.#send(conn, { type: MsgType.ERROR, code, error, ...ids });
    if (close) conn.close();
  }

  #onMessage(conn: Connection, state: ConnState, bytes: Uint8Array): void {
    // Walked before it is decoded: no tags (value-sharing tags 28/29 made cbor-x build
    // exponentially many copies from a 253-byte frame), every count backed by bytes.
    if (!checkFrame(bytes)) {
      this.#protocolError(conn, Code.MALFORMED, `malformed message: ${batchProblem()}`, true);
      return;
    }
    let msg: unknown;
    try {
      msg = decodeCbor(bytes);
    } catch (err) {
      this.#protocolError(
        conn,
        Code.MALFORMED,
        `malformed message: ${(err as Error).message}`,
        true,
      );
      return;
    }
    if (typeof msg !== "object" || msg === null || Array.isArray(msg)) {
      this.#protocolError(
        conn,
        Code.MALFORMED,
        "malformed message: expected a CBOR map with a type field",
        true,
      );
      return;
    }
    this.#handle(conn, state, msg as Record<string, unknown>, bytes.length);
  }

  /** Runs a message now, or queues it behind a failed AUTH's delay (password checks are slowed). */
  #handle(conn: Connection, state: ConnState, m: Record<string, unknown>, size: number): void {
    if (state.held !== null) {
      if (
        state.held.length >= MAX_HELD_MESSAGES || state.heldBytes + size > MAX_HELD_BYTES
      ) {
        this.#closeWith(
          state,
          Code.AUTH_FAILED,
          "too many requests while a failed authentication is delayed",
        );
      } else {
        state.held.push({ m, size });
        state.heldBytes += size;
      }
      return;
    }
    if (
      this.#auth.required &&
      (m.type === MsgType.AUTH || (!state.authed && m.auth_key !== undefined))
    ) {
      const wait = this.#throttle.waitMs(state.host, this.#clock.wallMs());
      if (wait > 0) {
        state.held = [{ m, size }];
        state.heldBytes = size;
        state.timer = this.#scheduler.timeout(wait, () => this.#release(conn, state));
        return;
      }
    }
    this.#dispatch(conn, state, m);
  }

  #release(conn: Connection, state: ConnState): void {
    const held = state.held;
    state.held = null;
    state.heldBytes = 0;
    state.timer = null;
    if (held === null) return;
    for (const h of held) {
      if (state.gone) return;
      this.#handle(conn, state, h.m, h.size);
    }
  }

  #dispatch(conn: Connection, state: ConnState, raw: Record<string, unknown>): void {
    const m = asClientMessage(raw);
    if (m === null) {
      this.#protocolError(
        conn,
        Code.MALFORMED,
        `unknown message type ${JSON.stringify(raw.type)}`,
        true,
      );
      return;
    }
    switch (m.type) {
      case MsgType.COMMAND_BATCH:
        return this.#onBatch(conn, state, m);
      case MsgType.COMMAND:
        return this.#onCommand(conn, state, m);
      case MsgType.AUTH:
        return this.#onAuth(conn, state, m);
      case MsgType.WATCH:
        return this.#onWatch(conn, state, m);
      case MsgType.WATCH_CANCEL:
        return this.#backend.watches?.cancel(conn, m.watch_id);
    }
  }

  #onWatch(conn: Connection, state: ConnState, m: Received<WatchRequest>): void {
    const hub = this.#backend.watches;
    const id = typeof m.watch_id === "number" ? m.watch_id : 0;
    const denied = this.#authorised(state, m);
    if (denied !== null || hub === undefined) {
      this.#send(conn, {
        type: MsgType.WATCH_CANCELED,
        watch_id: id,
        reason: hub === undefined ? WatchReason.DISABLED : WatchReason.DENIED,
        error: hub === undefined
          ? "this server does not serve watches"
          : denied === Code.AUTH_REQUIRED
          ? "authentication required"
          : "authentication failed",
      });
      return;
    }
    hub.start(conn, m);
  }

  #onAuth(conn: Connection, state: ConnState, m: Received<AuthRequest>): void {
    if (typeof m.client_id === "string" && m.client_id.length > 0 && m.client_id.length <= 128) {
      state.clientId = m.client_id;
    }
    if (this.#auth.verify(m.password)) {
      state.authed = true;
      this.#establish(state);
      if (this.#auth.required) this.#throttle.succeeded(state.host);
      this.#send(conn, { type: MsgType.AUTH_RESPONSE, code: Code.OK });
    } else {
      state.authed = false;
      this.#throttle.failed(state.host, this.#clock.wallMs());
      this.#send(conn, {
        type: MsgType.AUTH_RESPONSE,
        code: Code.AUTH_FAILED,
        error: "authentication failed",
      });
    }
  }

  /** Checks auth (connection or per-message key): null when allowed, else the refusal code. */
  #authorised(state: ConnState, m: { readonly auth_key?: unknown }): CodeNumber | null {
    if (state.authed) {
      this.#establish(state);
      return null;
    }
    if (m.auth_key === undefined) return Code.AUTH_REQUIRED;
    if (this.#auth.verify(m.auth_key)) {
      this.#establish(state);
      this.#throttle.succeeded(state.host);
      return null;
    }
    this.#throttle.failed(state.host, this.#clock.wallMs());
    return Code.AUTH_FAILED;
  }

  /** Counts a request in flight until `done` answers it. */
  #track(state: ConnState): () => void {
    state.inflight++;
    return () => {
      state.inflight--;
      state.lastActive = this.#now;
    };
  }

  #onBatch(conn: Connection, state: ConnState, m: Received<BatchRequest>): void {
    const batchId = asString(m.batch_id);
    if (batchId === null || batchId.length === 0 || batchId.length > 256) {
      this.#protocolError(
        conn,
        Code.MALFORMED,
        "COMMAND_BATCH needs a batch_id (string, 1..256 chars)",
        false,
      );
      return;
    }
    const ids = { batch_id: batchId };
    const stats = this.#backend.counters;
    const denied = this.#authorised(state, m);
    if (denied !== null) {
      // Refused before its commands are even looked at: one ERROR, whatever the batch claims.
      stats.batchesReceived++;
      const text = denied === Code.AUTH_REQUIRED
        ? "authentication required"
        : "authentication failed";
      this.#protocolError(conn, denied, text, false, ids);
      return;
    }
    let commands: Uint8Array;
    if (m.commands_cbor instanceof Uint8Array) commands = m.commands_cbor;
    else if (Array.isArray(m.commands)) commands = encodeCborCopy(m.commands);
    else {
      this.#protocolError(
        conn,
        Code.MALFORMED,
        "COMMAND_BATCH needs commands (array) or commands_cbor (bytes)",
        false,
        ids,
      );
      return;
    }
    if (commands.length > this.#opts.maxMessageBytes) {
      this.#protocolError(
        conn,
        Code.TOO_LARGE,
        `batch too large: ${commands.length} bytes of commands exceed batch_max_bytes (${this.#opts.maxMessageBytes})`,
        false,
        ids,
      );
      return;
    }
    // The whole batch is validated here, so nothing that cannot be applied is ever proposed.
    const count = checkBatch(commands, MAX_BATCH_COMMANDS);
    if (count < 0) {
      const tooMany = count === BATCH_TOO_MANY;
      this.#protocolError(
        conn,
        tooMany ? Code.TOO_LARGE : Code.MALFORMED,
        `${tooMany ? "batch too large" : "malformed commands"}: ${batchProblem()}`,
        false,
        ids,
      );
      return;
    }
    stats.batchesReceived++;
    stats.commandsReceived += count;
    if (count === 0) {
      this.#send(conn, {
        type: MsgType.BATCH_RESPONSE,
        batch_id: batchId,
        codes: [],
        data: [],
        errors: [],
      });
      return;
    }
    const clientId = typeof m.client_id === "string" && m.client_id.length <= 128
      ? m.client_id
      : state.clientId;
    if (count === 1) {
      // A lone server command (INFO, ADD_NODE, ...) is answered without the log.
      let only: unknown;
      try {
        only = (decodeCbor(commands) as unknown[])[0];
      } catch {
        only = undefined;
      }
      const admin = this.#backend.serverCommand(only);
      if (admin) {
        const done = this.#track(state);
        admin.then((r) => {
          done();
          this.#send(conn, {
            type: MsgType.BATCH_RESPONSE,
            batch_id: batchId,
            codes: [r.code],
            data: [r.value],
            errors: [r.error],
            ...(r.leader ? { leader: r.leader } : {}),
          });
        });
        return;
      }
    }
    const done = this.#track(state);
    this.#backend.submit({ clientId, batchId, commands, count }, (o) => {
      done();
      if (conn.closed) return;
      if ("result" in o) this.#send(conn, batchResponse(batchId, o.result));
      else this.#send(conn, batchErrorResponse(batchId, count, o.code, o.message, o.leader));
    }, m.forward === true);
  }

  #onCommand(conn: Connection, state: ConnState, m: Received<CommandRequest>): void {
    const requestId = asString(m.request_id) ?? "";
    if (requestId.length === 0 || requestId.length > 256) {
      this.#protocolError(
        conn,
        Code.MALFORMED,
        "COMMAND needs a request_id (string, 1..256 chars)",
        false,
      );
      return;
    }
    const stats = this.#backend.counters;
    stats.batchesReceived++;
    stats.commandsReceived++;
    const denied = this.#authorised(state, m);
    if (denied !== null) {
      const text = denied === Code.AUTH_REQUIRED
        ? "authentication required"
        : "authentication failed";
      this.#send(conn, {
        type: MsgType.COMMAND_RESPONSE,
        request_id: requestId,
        code: denied,
        data: null,
        error: text,
      });
      return;
    }
    const admin = this.#backend.serverCommand(m.command);
    if (admin) {
      const done = this.#track(state);
      admin.then((r) => {
        done();
        this.#send(conn, {
          type: MsgType.COMMAND_RESPONSE,
          request_id: requestId,
          code: r.code,
          data: r.value,
          error: r.error,
          ...(r.leader ? { leader: r.leader } : {}),
        });
      });
      return;
    }
    if (m.command === undefined) {
      this.#send(conn, {
        type: MsgType.COMMAND_RESPONSE,
        request_id: requestId,
        code: Code.SYNTAX,
        data: null,
        error: "COMMAND needs a command",
      });
      return;
    }
    const commands = encodeCborCopy([m.command]);
    const tooLarge = commands.length > this.#opts.maxMessageBytes;
    if (tooLarge || checkBatch(commands, 1) !== 1) {
      this.#send(conn, {
        type: MsgType.COMMAND_RESPONSE,
        request_id: requestId,
        code: tooLarge ? Code.TOO_LARGE : Code.MALFORMED,
        data: null,
        error: tooLarge
          ? `command too large: over batch_max_bytes (${this.#opts.maxMessageBytes})`
          : `malformed command: ${batchProblem()}`,
      });
      return;
    }
    const clientId = state.clientId;
    const done = this.#track(state);
    this.#backend.submit({ clientId, batchId: "c:" + requestId, commands, count: 1 }, (o) => {
      done();
      if (conn.closed) return;
      if ("result" in o) {
        const r = o.result;
        const resp: CommandResponse = {
          type: MsgType.COMMAND_RESPONSE,
          request_id: requestId,
          code: r.codes[0],
          data: r.data[0],
        };
        if (r.errors[0] !== null) resp.error = r.errors[0];
        this.#send(conn, resp);
      } else {
        const resp: CommandResponse = {
          type: MsgType.COMMAND_RESPONSE,
          request_id: requestId,
          code: o.code,
          data: null,
          error: o.message,
        };
        if (o.leader) resp.leader = o.leader;
        this.#send(conn, resp);
      }
    }, m.forward === true);
  }
}

function batchResponse(batchId: string, r: BatchResult): BatchResponse {
  return {
    type: MsgType.BATCH_RESPONSE,
    batch_id: batchId,
    codes: r.codes,
    data: r.data,
    errors: r.errors,
  };
}

/**
 * A batch response where every command failed with the same error. `count` must be a validated
 * count (from {@link checkBatch}, at most {@link MAX_BATCH_COMMANDS}), never a claimed one.
 */
export function batchErrorResponse(
  batchId: string,
  count: number,
  code: CodeNumber,
  message: string,
  leader?: string,
): BatchResponse {
  const resp: BatchResponse = {
    type: MsgType.BATCH_RESPONSE,
    batch_id: batchId,
    codes: new Array(count).fill(code),
    data: new Array(count).fill(null),
    errors: new Array(count).fill(message),
  };
  if (leader) resp.leader = leader;
  return resp;
}
