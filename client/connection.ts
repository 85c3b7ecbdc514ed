/**
 * One client connection to one server: sends encoded frames, decodes responses and hands each to
 * the request waiting for it, matched by `batch_id` / `request_id` (responses may arrive in any
 * order). Knows nothing about retries; it reports replies and lost connections.
 * @module
 */
import { decodeCbor, encodeCbor } from "../protocol/cbor.ts";
import { Code, codeName, type CodeNumber, TinyKVError } from "../protocol/codes.ts";
import {
  asServerMessage,
  type AuthRequest,
  type BatchResults,
  MsgType,
  type WireValue as Value,
} from "../protocol/messages.ts";
import type { Connection, Transport } from "../transports/types.ts";
import type { Address } from "./address.ts";
import type { ClientStats, ClientTimers } from "./types.ts";

/** A server answer for one request, in columnar form (one slot per command). */
export interface Reply extends BatchResults {
  /** With `NOT_LEADER`: the leader's client address. */
  leader?: string;
}

/** A request waiting on a connection. */
export interface Waiting {
  /** Number of commands (to fill a whole-request error reply). */
  readonly count: number;
  /** The server answered. */
  reply(r: Reply): void;
  /** The connection was lost (or refused the request) before an answer came. */
  lost(err: TinyKVError): void;
}

/** Options for {@link ClientConnection.open}. */
export interface OpenOptions {
  maxResponseBytes: number;
  connectTimeoutMs: number;
  stats: ClientStats;
  timers: ClientTimers;
}

/** Key of a batch in the waiting table. */
export function batchKey(batchId: string): string {
  return "b" + batchId;
}

/** Key of a single command in the waiting table. */
export function commandKey(requestId: string): string {
  return "c" + requestId;
}

/** A reply where every slot carries the same error. */
export function wholeFailure(
  count: number,
  code: number,
  message: string,
  leader?: string,
): Reply {
  const r: Reply = {
    codes: new Array(count).fill(code),
    data: new Array(count).fill(null),
    errors: new Array(count).fill(message),
  };
  if (leader) r.leader = leader;
  return r;
}

/** True if `x` can be a code number (unknown numbers read as `INTERNAL` via `codeName`). */
function isCode(x: unknown): x is CodeNumber {
  return typeof x === "number" && Number.isInteger(x) && x >= 0;
}

/** A live connection plus its table of waiting requests. */
export class ClientConnection {
  /** `host:port` of the server. */
  readonly endpoint: string;
  readonly #stats: ClientStats;
  readonly #waiting = new Map<string, Waiting>();
  #conn: Connection | null = null;
  #authWaiter: ((code: number, error: string) => void) | null = null;
  /** A connection-level ERROR not tied to a request; reported to waiters when the socket closes. */
  #fatal: TinyKVError | null = null;
  #closed = false;
  #drain = false;
  readonly #onClosed: (c: ClientConnection) => void;
  readonly #timers: ClientTimers;

  private constructor(
    endpoint: string,
    stats: ClientStats,
    onClosed: (c: ClientConnection) => void,
    timers: ClientTimers,
  ) {
    this.endpoint = endpoint;
    this.#stats = stats;
    this.#onClosed = onClosed;
    this.#timers = timers;
  }

  /** Opens a connection; rejects with `UNAVAILABLE` when it cannot be established in time. */
  static async open(
    transport: Transport,
    address: Address,
    endpoint: string,
    opts: OpenOptions,
    onClosed: (c: ClientConnection) => void,
  ): Promise<ClientConnection> {
    const cc = new ClientConnection(endpoint, opts.stats, onClosed, opts.timers);
    let cancel: (() => void) | undefined;
    let timedOut = false;
    const connecting = transport.connect({
      host: address.host,
      port: address.port,
      maxMessageBytes: opts.maxResponseBytes,
      noDelay: true,
    }, {
      onMessage: (_c, m) => cc.#onMessage(m),
      onError: (c, kind, detail) => {
        cc.#fatal = new TinyKVError(
          kind === "too_large" ? Code.TOO_LARGE : Code.MALFORMED,
          `bad response from ${endpoint}: ${detail}`,
        );
        c.close();
      },
      onClose: () => cc.#onSocketClosed(),
    });
    const deadline = new Promise<never>((_, reject) => {
      cancel = opts.timers.timeout(opts.connectTimeoutMs, () => {
        timedOut = true;
        reject(new Error(`no connection within ${opts.connectTimeoutMs} ms`));
      });
    });
    try {
      cc.#conn = await Promise.race([connecting, deadline]);
    } catch (err) {
      if (timedOut) connecting.then((c) => c.close(), () => {});
      throw new TinyKVError(
        Code.UNAVAILABLE,
        `cannot connect to ${endpoint}: ${(err as Error).message}`,
      );
    } finally {
      cancel?.();
    }
    if (cc.#conn.closed) cc.#onSocketClosed();
    return cc;
  }

  /** True once the socket is gone. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Requests waiting for an answer. */
  get waitingCount(): number {
    return this.#waiting.size;
  }

  /**
   * Sends `AUTH` (password may be empty: the message then only registers `client_id`) and waits for
   * the answer. Resolves to the code and message.
   */
  auth(
    password: string,
    clientId: string,
    timeoutMs: number,
  ): Promise<{ code: number; error: string }> {
    return new Promise((resolve, reject) => {
      const cancel = this.#timers.timeout(timeoutMs, () => {
        this.#authWaiter = null;
        reject(
          new TinyKVError(Code.TIMEOUT, `no AUTH answer from ${this.endpoint} in ${timeoutMs} ms`),
        );
      });
      this.#authWaiter = (code, error) => {
        cancel();
        this.#authWaiter = null;
        resolve({ code, error });
      };
      const auth: AuthRequest = { type: MsgType.AUTH, password, client_id: clientId };
      this.#write(encodeCbor(auth));
    });
  }

  /** Registers `w` under `key` and sends the frame. Reports `lost` at once if the socket is gone. */
  send(key: string, frame: Uint8Array, w: Waiting): void {
    if (this.#closed || this.#conn === null) {
      w.lost(this.#lostError());
      return;
    }
    this.#waiting.set(key, w);
    this.#write(frame);
  }

  /** Stops waiting for `key` (its request timed out or moved elsewhere). */
  forget(key: string): void {
    if (this.#waiting.delete(key) && this.#drain && this.#waiting.size === 0) this.close();
  }

  /** Closes once nothing waits any more (used when the client moved to another endpoint). */
  drain(): void {
    this.#drain = true;
    if (this.#waiting.size === 0) this.close();
  }

  /** Closes the socket; waiting requests get `lost`. */
  close(): void {
    if (this.#conn && !this.#conn.closed) this.#conn.close();
    else this.#onSocketClosed();
  }

  #write(frame: Uint8Array): void {
    this.#stats.bytesSent += frame.length + 4;
    this.#stats.framesSent++;
    this.#conn!.send(frame);
  }

  #lostError(): TinyKVError {
    return this.#fatal ??
      new TinyKVError(Code.UNAVAILABLE, `connection to ${this.endpoint} lost before an answer`);
  }

  #onSocketClosed(): void {
    if (this.#closed) return;
    this.#closed = true;
    const err = this.#lostError();
    if (this.#authWaiter) this.#authWaiter(err.code, err.message);
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    for (const w of waiting) w.lost(err);
    this.#onClosed(this);
  }

  #take(key: string): Waiting | undefined {
    const w = this.#waiting.get(key);
    if (w) {
      this.#waiting.delete(key);
      if (this.#drain && this.#waiting.size === 0) queueMicrotask(() => this.close());
    }
    return w;
  }

  #onMessage(bytes: Uint8Array): void {
    this.#stats.bytesReceived += bytes.length + 4;
    this.#stats.framesReceived++;
    let raw: Record<string, unknown>;
    try {
      const m = decodeCbor(bytes);
      if (typeof m !== "object" || m === null || Array.isArray(m)) throw new Error("not a map");
      raw = m as Record<string, unknown>;
    } catch (err) {
      this.#fatal = new TinyKVError(
        Code.MALFORMED,
        `undecodable response from ${this.endpoint}: ${(err as Error).message}`,
      );
      this.close();
      return;
    }
    const msg = asServerMessage(raw);
    if (msg === null) return; // unknown message types are ignored (forward compatibility)
    const leader = "leader" in msg && typeof msg.leader === "string" && msg.leader !== ""
      ? msg.leader
      : undefined;
    switch (msg.type) {
      case MsgType.BATCH_RESPONSE: {
        const w = typeof msg.batch_id === "string" ? this.#take(batchKey(msg.batch_id)) : undefined;
        if (!w) return; // late answer to a request that timed out
        const { codes, data, errors } = msg;
        if (
          !Array.isArray(codes) || !Array.isArray(data) || !Array.isArray(errors) ||
          codes.length !== w.count || data.length !== w.count || errors.length !== w.count ||
          !codes.every(isCode)
        ) {
          w.reply(wholeFailure(w.count, Code.MALFORMED, "malformed BATCH_RESPONSE from server"));
          return;
        }
        const r: Reply = { codes, data: data as Value[], errors: errors as (string | null)[] };
        if (leader) r.leader = leader;
        w.reply(r);
        return;
      }
      case MsgType.COMMAND_RESPONSE: {
        const w = typeof msg.request_id === "string"
          ? this.#take(commandKey(msg.request_id))
          : undefined;
        if (!w) return;
        const code = isCode(msg.code) ? msg.code : Code.MALFORMED;
        const r: Reply = {
          codes: [code],
          data: [(msg.data ?? null) as Value],
          errors: [typeof msg.error === "string" ? msg.error : null],
        };
        if (leader) r.leader = leader;
        w.reply(r);
        return;
      }
      case MsgType.AUTH_RESPONSE: {
        const code = isCode(msg.code) ? msg.code : Code.MALFORMED;
        this.#authWaiter?.(code, typeof msg.error === "string" ? msg.error : "");
        return;
      }
      case MsgType.ERROR: {
        const code = isCode(msg.code) ? msg.code : Code.INTERNAL;
        const text = typeof msg.error === "string" ? msg.error : codeName(code);
        let w: Waiting | undefined;
        if (typeof msg.batch_id === "string") w = this.#take(batchKey(msg.batch_id));
        else if (typeof msg.request_id === "string") w = this.#take(commandKey(msg.request_id));
        if (w) {
          w.reply(wholeFailure(w.count, code, text, leader));
          return;
        }
        // Not tied to a request: the server closes the connection after it.
        this.#fatal = new TinyKVError(code, `${this.endpoint}: ${text}`, leader);
        if (this.#authWaiter) this.#authWaiter(code, text);
        return;
      }
    }
  }
}
