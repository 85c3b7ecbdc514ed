/**
 * The client-facing server: accepts connections on the client port, decodes AUTH / COMMAND /
 * COMMAND_BATCH messages and answers each with its own response. Malformed input gets an ERROR
 * message and the connection is closed; nothing a client sends can take the server down.
 * @module
 */
import { decodeCbor, encodeCbor } from "./cbor.ts";
import { cborArrayLength } from "./cbor_peek.ts";
import { Code, type CodeNumber } from "./errors.ts";
import { PasswordCheck } from "./auth.ts";
import type { Logger } from "./logger.ts";
import type { BatchResult, ClientBatch, NodeStats } from "./plugin.ts";
import type { Outcome } from "./pending.ts";
import { MsgType, type WireValue } from "./protocol.ts";
import type { Connection, ConnectionHandler, Listener, Transport } from "../transports/types.ts";

/** What the server needs from the node. */
export interface ServerBackend {
  /** Runs a batch down the write path; `done` is called exactly once. */
  submit(batch: ClientBatch, done: (o: Outcome) => void): void;
  /** Handles a server command sent on its own (INFO, GET_LEADER, ADD_NODE, ...); null if `cmd` is not one. */
  serverCommand(
    cmd: unknown,
  ): Promise<{ code: CodeNumber; value: WireValue; error: string | null }> | null;
  readonly counters: NodeStats;
}

/** Server options (from config). */
export interface ServerOptions {
  host: string;
  port: number;
  password: string;
  maxMessageBytes: number;
  maxConnections: number;
  noDelay: boolean;
  socketBufferBytes: number;
}

interface ConnState {
  authed: boolean;
  clientId: string;
}

let connCounter = 0;
const processTag = Math.random().toString(36).slice(2, 10);

function asString(x: unknown): string | null {
  if (typeof x === "string") return x;
  if (x instanceof Uint8Array) return new TextDecoder().decode(x);
  return null;
}

/** The client listener and per-connection protocol handling. */
export class ClientServer {
  readonly #backend: ServerBackend;
  readonly #opts: ServerOptions;
  readonly #log: Logger;
  readonly #auth: PasswordCheck;
  readonly #conns = new Set<Connection>();
  #listener: Listener | null = null;
  #accepting = true;

  constructor(backend: ServerBackend, opts: ServerOptions, log: Logger) {
    this.#backend = backend;
    this.#opts = opts;
    this.#log = log;
    this.#auth = new PasswordCheck(opts.password);
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
  }

  /** Stops accepting new connections (existing ones keep being served). */
  async stopAccepting(): Promise<void> {
    this.#accepting = false;
    await this.#listener?.close();
  }

  /** Closes every client connection (after in-flight batches were answered). */
  closeAll(): void {
    for (const c of this.#conns) c.close();
  }

  #send(conn: Connection, msg: unknown): void {
    const bytes = encodeCbor(msg);
    this.#backend.counters.bytesOut += bytes.length + 4;
    conn.send(bytes);
  }

  #accept(conn: Connection): ConnectionHandler {
    const stats = this.#backend.counters;
    const state: ConnState = {
      authed: !this.#auth.required,
      clientId: `${processTag}-${++connCounter}`,
    };
    if (!this.#accepting || this.#conns.size >= this.#opts.maxConnections) {
      const why = this.#accepting ? "too many connections" : "server shutting down";
      this.#send(conn, {
        type: MsgType.ERROR,
        code: this.#accepting ? Code.BUSY : Code.SHUTTING_DOWN,
        error: `server busy: ${why}`,
      });
      conn.close();
      return { onMessage() {} };
    }
    this.#conns.add(conn);
    stats.connections++;
    return {
      onMessage: (c, m) => {
        stats.bytesIn += m.length + 4;
        this.#onMessage(c, state, m);
      },
      onError: (c, kind, detail) => {
        const code = kind === "too_large" ? Code.TOO_LARGE : Code.MALFORMED;
        const text = kind === "too_large"
          ? `request too large: ${detail}`
          : `malformed frame: ${detail}`;
        this.#log.debug(`client ${c.remoteAddress}: ${text}; closing`);
        this.#send(c, { type: MsgType.ERROR, code, error: text });
        c.close();
      },
      onClose: (c) => {
        if (this.#conns.delete(c)) stats.connections--;
      },
    };
  }

  #protocolError(
    conn: Connection,
    code: CodeNumber,
    error: string,
    close: boolean,
    ids: Record<string, unknown> = {},
  ): void {
    this.#send(conn, { type: MsgType.ERROR, code, error, ...ids });
    if (close) conn.close();
  }

  #onMessage(conn: Connection, state: ConnState, bytes: Uint8Array): void {
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
    const m = msg as Record<string, unknown>;
    switch (m.type) {
      case MsgType.COMMAND_BATCH:
        return this.#onBatch(conn, state, m);
      case MsgType.COMMAND:
        return this.#onCommand(conn, state, m);
      case MsgType.AUTH:
        return this.#onAuth(conn, state, m);
      default:
        this.#protocolError(
          conn,
          Code.MALFORMED,
          `unknown message type ${JSON.stringify(m.type)}`,
          true,
        );
    }
  }

  #onAuth(conn: Connection, state: ConnState, m: Record<string, unknown>): void {
    if (typeof m.client_id === "string" && m.client_id.length > 0 && m.client_id.length <= 128) {
      state.clientId = m.client_id;
    }
    if (this.#auth.verify(m.password)) {
      state.authed = true;
      this.#send(conn, { type: MsgType.AUTH_RESPONSE, code: Code.OK });
    } else {
      state.authed = false;
      this.#send(conn, {
        type: MsgType.AUTH_RESPONSE,
        code: Code.AUTH_FAILED,
        error: "authentication failed",
      });
    }
  }

  /** Checks auth (connection or per-message key). Answers and returns false when refused. */
  #authorised(state: ConnState, m: Record<string, unknown>): CodeNumber | null {
    if (state.authed) return null;
    if (m.auth_key === undefined) return Code.AUTH_REQUIRED;
    return this.#auth.verify(m.auth_key) ? null : Code.AUTH_FAILED;
  }

  #onBatch(conn: Connection, state: ConnState, m: Record<string, unknown>): void {
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
    let commands: Uint8Array;
    let count: number;
    if (m.commands_cbor instanceof Uint8Array) {
      commands = m.commands_cbor;
      count = cborArrayLength(commands);
      if (count < 0) {
        this.#protocolError(conn, Code.MALFORMED, "commands_cbor must hold a CBOR array", false, {
          batch_id: batchId,
        });
        return;
      }
    } else if (Array.isArray(m.commands)) {
      count = m.commands.length;
      commands = encodeCbor(m.commands).slice();
    } else {
      this.#protocolError(
        conn,
        Code.MALFORMED,
        "COMMAND_BATCH needs commands (array) or commands_cbor (bytes)",
        false,
        { batch_id: batchId },
      );
      return;
    }
    const denied = this.#authorised(state, m);
    const stats = this.#backend.counters;
    stats.batchesReceived++;
    stats.commandsReceived += count;
    if (denied !== null) {
      const text = denied === Code.AUTH_REQUIRED
        ? "authentication required"
        : "authentication failed";
      this.#send(conn, batchErrorResponse(batchId, count, denied, text));
      return;
    }
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
        admin.then((r) => {
          this.#send(conn, {
            type: MsgType.BATCH_RESPONSE,
            batch_id: batchId,
            codes: [r.code],
            data: [r.value],
            errors: [r.error],
          });
        });
        return;
      }
    }
    this.#backend.submit({ clientId, batchId, commands, count }, (o) => {
      if (conn.closed) return;
      if ("result" in o) this.#send(conn, batchResponse(batchId, o.result));
      else this.#send(conn, batchErrorResponse(batchId, count, o.code, o.message, o.leader));
    });
  }

  #onCommand(conn: Connection, state: ConnState, m: Record<string, unknown>): void {
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
      admin.then((r) => {
        this.#send(conn, {
          type: MsgType.COMMAND_RESPONSE,
          request_id: requestId,
          code: r.code,
          data: r.value,
          error: r.error,
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
    const commands = encodeCbor([m.command]).slice();
    const clientId = state.clientId;
    this.#backend.submit({ clientId, batchId: "c:" + requestId, commands, count: 1 }, (o) => {
      if (conn.closed) return;
      if ("result" in o) {
        const r = o.result;
        const resp: Record<string, unknown> = {
          type: MsgType.COMMAND_RESPONSE,
          request_id: requestId,
          code: r.codes[0],
          data: r.data[0] as WireValue,
        };
        if (r.errors[0] !== null) resp.error = r.errors[0];
        this.#send(conn, resp);
      } else {
        const resp: Record<string, unknown> = {
          type: MsgType.COMMAND_RESPONSE,
          request_id: requestId,
          code: o.code,
          data: null,
          error: o.message,
        };
        if (o.leader) resp.leader = o.leader;
        this.#send(conn, resp);
      }
    });
  }
}

function batchResponse(batchId: string, r: BatchResult): Record<string, unknown> {
  return {
    type: MsgType.BATCH_RESPONSE,
    batch_id: batchId,
    codes: r.codes,
    data: r.data,
    errors: r.errors,
  };
}

/** A batch response where every command failed with the same error. */
export function batchErrorResponse(
  batchId: string,
  count: number,
  code: CodeNumber,
  message: string,
  leader?: string,
): Record<string, unknown> {
  const resp: Record<string, unknown> = {
    type: MsgType.BATCH_RESPONSE,
    batch_id: batchId,
    codes: new Array(count).fill(code),
    data: new Array(count).fill(null),
    errors: new Array(count).fill(message),
  };
  if (leader) resp.leader = leader;
  return resp;
}
