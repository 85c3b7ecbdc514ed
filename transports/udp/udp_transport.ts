/**
 * The UDP transport behind the neutral `Transport` interface: one socket per listener (many
 * connections multiplexed by connection id) or per client connection, one timer per endpoint set
 * to the earliest protocol deadline, and batched sends once per event-loop turn.
 * @module
 */
import { setImmediate } from "node:timers";
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { createHash } from "node:crypto";
import type {
  Connection,
  ConnectionHandler,
  Listener,
  Transport,
  TransportOptions,
} from "../types.ts";
import { resolveUdpConfig, type UdpConfigInput } from "./config.ts";
import type { PeerAddress, UdpConnectionCore } from "./connection_core.ts";
import type { DatagramSocket, DatagramSocketFactory } from "./datagram_socket.ts";
import { UdpEndpoint } from "./endpoint.ts";
import { MAX_DATAGRAM_BYTES } from "./wire.ts";

/** Transport-wide protocol options (everything of `UdpConfig` except per-call `maxMessageBytes`). */
export type UdpTransportOptions = Omit<Partial<UdpConfigInput>, "maxMessageBytes">;

const BATCH = 64;
const MAX_PACKETS_PER_TURN = 1024;
/** Keep-alive of connections this side opened (ms); listeners keep the configured default. */
const CLIENT_KEEPALIVE_MS = 300;
/**
 * A connection this side opened closes when packets stay unanswered this long: how a client
 * notices a dead server where the runtime reports no ICMP errors (Deno, node:dgram).
 */
const CLIENT_RESPONSE_TIMEOUT_MS = 3_000;
/** ICMP errors in a row (nothing received in between) that close an established connection. */
const UNREACHABLE_STREAK_TO_CLOSE = 3;
/** A blocked send is retried after this long even if the socket signals no drain (ms). */
const DRAIN_FALLBACK_MS = 20;

const now = (): number => performance.now();

/** Drives one endpoint: socket in, timer, batched socket out. */
class EndpointDriver {
  readonly endpoint: UdpEndpoint;
  socket: DatagramSocket | null = null;
  readonly #arena = new Uint8Array(BATCH * MAX_DATAGRAM_BYTES);
  readonly #slots: Uint8Array[] = [];
  readonly #views: Uint8Array[] = new Array(BATCH);
  readonly #to: PeerAddress[] = new Array(BATCH);
  /** Packets written into the batch but not yet accepted by the socket. */
  #queued = 0;
  #blocked = false;
  #flushScheduled = false;
  /** > 0 while inside the driver (datagram handling, flush): handlers may call back into it. */
  #depth = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #timerAt = Infinity;
  #drainFallback: ReturnType<typeof setTimeout> | null = null;
  #closed = false;
  /** Close the socket once no connection is left. */
  closeWhenEmpty = false;
  onSocketClosed: (() => void) | null = null;

  constructor(endpoint: UdpEndpoint) {
    this.endpoint = endpoint;
    for (let i = 0; i < BATCH; i++) {
      this.#slots.push(this.#arena.subarray(i * MAX_DATAGRAM_BYTES, (i + 1) * MAX_DATAGRAM_BYTES));
    }
  }

  onDatagram(bytes: Uint8Array, host: string, port: number): void {
    if (this.#closed) return;
    this.unreachableStreak = 0;
    this.#depth++;
    try {
      this.endpoint.handleDatagram(bytes, { host, port }, now());
    } finally {
      this.#depth--;
    }
    this.schedule();
  }

  /** Socket errors seen (ICMP unreachable and the like; the protocol's timers handle them). */
  socketErrors = 0;
  lastSocketError = "";

  onSocketError(err: Error | undefined): void {
    this.socketErrors++;
    this.lastSocketError = err?.message ?? "socket error";
  }

  /** ICMP errors reported by the socket (destination unknown). */
  unreachableReports = 0;
  /** ICMP errors reported since the last datagram received. */
  unreachableStreak = 0;
  /** What to do about them (a client connection's socket: see `connect`). */
  onUnreachableReport: (() => void) | null = null;

  onUnreachable(): void {
    this.unreachableReports++;
    this.unreachableStreak++;
    this.onUnreachableReport?.();
  }

  onDrain(): void {
    if (this.#drainFallback !== null) clearTimeout(this.#drainFallback);
    this.#drainFallback = null;
    this.#blocked = false;
    this.schedule();
  }

  schedule(): void {
    if (this.#flushScheduled || this.#closed) return;
    this.#flushScheduled = true;
    setImmediate(this.#flush);
  }

  /**
   * Sends what is due at once, unless called from inside the driver (a handler reacting to a
   * datagram or timer), where it waits for the next turn. `close()` uses it so the CLOSE frame
   * leaves even if the process exits right after closing (a node's `stop()` is followed by
   * `process.exit`, possibly before any setImmediate callback runs).
   */
  flushNow(): void {
    if (this.#depth === 0 && !this.#closed && this.socket) {
      // Only what is already due is written: no timers run here, so no handler is called back
      // from inside the caller's code; the scheduled turn below does the rest.
      this.#depth++;
      try {
        this.#flushBody(false);
      } finally {
        this.#depth--;
      }
    }
    this.schedule();
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false;
    if (this.#closed || !this.socket) return;
    this.#depth++;
    try {
      this.#flushBody(true);
    } finally {
      this.#depth--;
    }
  };

  #flushBody(timers: boolean): void {
    const socket = this.socket!;
    const t = now();
    const ep = this.endpoint;
    if (timers && ep.nextTimeout() <= t) ep.onTimeout(t);
    let sent = 0;
    while (!this.#blocked && sent < MAX_PACKETS_PER_TURN) {
      while (this.#queued < BATCH) {
        const slot = this.#slots[this.#queued];
        const n = ep.poll(t, slot);
        if (n === 0) break;
        this.#views[this.#queued] = n === slot.length ? slot : slot.subarray(0, n);
        this.#to[this.#queued] = ep.polledAddress;
        this.#queued++;
      }
      if (this.#queued === 0) break;
      let accepted: number;
      try {
        accepted = socket.sendBatch(this.#views, this.#to, this.#queued);
      } catch (err) {
        // An adapter should not throw (ICMP errors of dead peers are reported on later sends);
        // if one does, the batch counts as lost datagrams, which the protocol retransmits.
        this.onSocketError(err as Error);
        accepted = this.#queued;
      }
      sent += accepted;
      if (accepted < this.#queued) {
        // Keep the rest (move it to the front) and wait for drain.
        const rest = this.#queued - accepted;
        for (let i = 0; i < rest; i++) {
          const len = this.#views[accepted + i].length;
          this.#slots[i].set(this.#views[accepted + i]);
          this.#views[i] = this.#slots[i].subarray(0, len);
          this.#to[i] = this.#to[accepted + i];
        }
        this.#queued = rest;
        this.#blocked = true;
        // Normally `drain` unblocks; retry anyway after a while, so a socket that stopped short
        // for another reason than a full buffer (and will not signal drain) cannot stall the
        // endpoint and every connection on it.
        this.#drainFallback ??= setTimeout(() => {
          this.#drainFallback = null;
          if (this.#blocked) this.onDrain();
        }, DRAIN_FALLBACK_MS);
        break;
      }
      this.#queued = 0;
    }
    // More may be due: continue next turn so received datagrams get processed in between.
    if (!this.#blocked && sent >= MAX_PACKETS_PER_TURN) this.schedule();
    if (this.closeWhenEmpty && ep.connectionCount === 0 && this.#queued === 0) {
      this.shutdown();
      return;
    }
    this.#arm(t);
  }

  #arm(t: number): void {
    const next = this.endpoint.nextTimeout();
    if (next === Infinity) {
      if (this.#timer !== null) {
        clearTimeout(this.#timer);
        this.#timer = null;
        this.#timerAt = Infinity;
      }
      return;
    }
    if (this.#timer !== null && this.#timerAt <= next) return; // fires early, then re-arms
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timerAt = next;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#timerAt = Infinity;
      this.schedule();
    }, Math.max(0, Math.ceil(next - t)));
  }

  shutdown(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#drainFallback !== null) clearTimeout(this.#drainFallback);
    this.#drainFallback = null;
    this.socket?.close();
    this.onSocketClosed?.();
  }
}

/** A connection as the transport's users see it. */
class UdpConnection implements Connection {
  readonly id: number;
  readonly remoteAddress: string;
  readonly #core: UdpConnectionCore;
  readonly #driver: EndpointDriver;

  constructor(core: UdpConnectionCore, driver: EndpointDriver) {
    this.#core = core;
    this.#driver = driver;
    this.id = core.id;
    this.remoteAddress = `${core.remote.host}:${core.remote.port}`;
  }

  get closed(): boolean {
    return this.#core.closing;
  }

  /** Why the connection ended ("" while open): idle timeout, closed by peer: …, reset, … */
  get closeReason(): string {
    return this.#core.closeReason;
  }

  send(message: Uint8Array): boolean {
    const ok = this.#core.send(message);
    if (ok) this.#driver.schedule();
    return ok;
  }

  bufferedBytes(): number {
    return this.#core.bufferedBytes();
  }

  close(): void {
    this.#core.close();
    this.#driver.flushNow();
  }

  /** Routes core events to the handler; handler exceptions abort the connection. */
  bind(handler: ConnectionHandler, onEstablished?: () => void): void {
    const core = this.#core;
    const guard = (what: string, fn: () => void): void => {
      try {
        fn();
      } catch (err) {
        console.error(`udp connection ${this.id}: ${what} handler threw:`, err);
        core.abort(`${what} handler failed`);
        this.#driver.schedule();
      }
    };
    core.events = {
      onEstablished,
      onMessage: (m) => guard("message", () => handler.onMessage(this, m)),
      onError: (kind, detail) =>
        guard("error", () => {
          if (handler.onError) handler.onError(this, kind, detail);
          else this.close();
        }),
      onClose: () => guard("close", () => handler.onClose?.(this)),
    };
  }
}

/**
 * The default stateless-reset key of a listener: derived from its bound address, so a process
 * restarted on the same address (a node after a crash or restart) answers its predecessor's
 * connections with RESETs they accept, and they close at once (then reconnect) instead of waiting
 * for the idle timeout. This gives away nothing a listener's traffic does not: reset tokens travel
 * in clear in WELCOME anyway, and forging a RESET still takes the connection's random 64-bit id.
 * Pass `resetKey` to use a secret key instead (the same one across restarts).
 */
export function listenerResetKey(host: string, port: number): Uint8Array {
  const h = createHash("sha256").update(`tinykv udp stateless reset v1 ${host} ${port}`).digest();
  return new Uint8Array(h.buffer, h.byteOffset, h.length).slice();
}

async function resolveHost(host: string): Promise<string> {
  if (isIP(host) !== 0) return host;
  return (await lookup(host)).address;
}

/** Builds the UDP `Transport` on a given socket factory. */
export function createUdpTransportWith(
  bind: DatagramSocketFactory,
  options: UdpTransportOptions = {},
): Transport {
  return {
    name: "udp",
    async listen(
      opts: TransportOptions,
      accept: (c: Connection) => ConnectionHandler,
    ): Promise<Listener> {
      let accepting = true;
      // The socket is bound first: the default reset key depends on the bound port. Datagrams
      // arriving before the endpoint exists are dropped (the peer resends).
      let driver: EndpointDriver | null = null;
      const socket = await bind(opts.host, opts.port, {
        datagram: (b, h, p) => driver?.onDatagram(b, h, p),
        drain: () => driver?.onDrain(),
        error: (err) => driver?.onSocketError(err),
        unreachable: () => driver?.onUnreachable(),
      }, opts.socketBufferBytes);
      const config = resolveUdpConfig({
        ...options,
        maxMessageBytes: opts.maxMessageBytes,
        resetKey: options.resetKey ?? listenerResetKey(opts.host, socket.port),
      });
      const d: EndpointDriver = new EndpointDriver(
        new UdpEndpoint(config, (core) => {
          const conn = new UdpConnection(core, d);
          if (!accepting) {
            core.abort("listener closed");
            return;
          }
          conn.bind(accept(conn));
        }),
      );
      d.socket = socket;
      driver = d;
      const port = socket.port;
      return {
        port,
        host: opts.host,
        close(): Promise<void> {
          accepting = false;
          d.closeWhenEmpty = true;
          d.schedule();
          return Promise.resolve();
        },
      };
    },

    async connect(opts: TransportOptions, handler: ConnectionHandler): Promise<Connection> {
      const host = await resolveHost(opts.host);
      // Client side: a short keep-alive. A server killed after acknowledging a request's packets
      // but before answering leaves nothing to retransmit, so only a PING draws the ICMP errors
      // that reveal it (see below); with the 10 s default a client waited out its request timeout.
      const config = resolveUdpConfig({
        keepAliveMs: CLIENT_KEEPALIVE_MS,
        responseTimeoutMs: CLIENT_RESPONSE_TIMEOUT_MS,
        ...options,
        maxMessageBytes: opts.maxMessageBytes,
      });
      const driver = new EndpointDriver(new UdpEndpoint(config));
      driver.socket = await bind(host.includes(":") ? "::" : "0.0.0.0", 0, {
        datagram: (b, h, p) => driver.onDatagram(b, h, p),
        drain: () => driver.onDrain(),
        error: (err) => driver.onSocketError(err),
        unreachable: () => driver.onUnreachable(),
      }, opts.socketBufferBytes);
      driver.closeWhenEmpty = true;
      const core = driver.endpoint.connect({ host, port: opts.port }, now());
      const conn = new UdpConnection(core, driver);
      // This socket sends to the server only, so ICMP errors are about the server. During the
      // handshake one means nothing listens there: fail at once, like a refused TCP connect,
      // instead of retrying HELLO until the handshake timeout. Once established, a few in a row
      // with nothing received in between mean the server process is gone (kill -9, crash: no
      // CLOSE was sent): close, so the user reconnects or fails over now rather than after the
      // idle timeout. (ICMP is unauthenticated; so is everything else in this protocol, which is
      // for trusted networks only.) Only adapters that see ICMP errors report them (Bun's).
      driver.onUnreachableReport = () => {
        if (core.state === "handshake") {
          core.abort("connection refused (ICMP port unreachable)");
        } else if (
          core.state === "established" && driver.unreachableStreak >= UNREACHABLE_STREAK_TO_CLOSE
        ) {
          core.abort(
            `peer unreachable (${driver.unreachableStreak} ICMP port unreachable, nothing received)`,
          );
        } else return;
        driver.schedule();
      };
      return await new Promise<Connection>((resolve, reject) => {
        let established = false;
        conn.bind({
          onMessage: (c, m) => handler.onMessage(c, m),
          onError: (c, k, d) => handler.onError ? handler.onError(c, k, d) : c.close(),
          onClose: (c) => {
            if (established) handler.onClose?.(c);
            else {
              reject(
                new Error(`udp connect to ${opts.host}:${opts.port} failed: ${conn.closeReason}`),
              );
            }
          },
        }, () => {
          established = true;
          resolve(conn);
        });
        driver.schedule();
      });
    },
  };
}
