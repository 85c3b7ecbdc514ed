/**
 * TCP on Bun's native sockets (`Bun.listen` / `Bun.connect`).
 * @module
 */
import type {
  Connection,
  ConnectionHandler,
  Listener,
  Transport,
  TransportOptions,
} from "../types.ts";
import { FrameBudget } from "./frame_decoder.ts";
import { FramedConnection } from "./framed_connection.ts";

/** The small part of Bun's socket API we use (typed locally so core needs no Bun types). */
interface BunSocket {
  data: BunConnection | undefined;
  remoteAddress: string;
  write(data: Uint8Array): number;
  end(): void;
  setNoDelay?(on: boolean): void;
  pause?(): void;
  resume?(): void;
}
interface BunSocketHandler {
  open?(s: BunSocket): void;
  data?(s: BunSocket, chunk: Uint8Array): void;
  drain?(s: BunSocket): void;
  close?(s: BunSocket): void;
  error?(s: BunSocket, err: Error): void;
  connectError?(s: BunSocket, err: Error): void;
}
interface BunListener {
  port: number;
  hostname: string;
  stop(closeActive?: boolean): void;
}
interface BunApi {
  listen(o: { hostname: string; port: number; socket: BunSocketHandler }): BunListener;
  connect(o: { hostname: string; port: number; socket: BunSocketHandler }): Promise<BunSocket>;
}

const Bun = (globalThis as unknown as { Bun: BunApi }).Bun;

class BunConnection extends FramedConnection {
  readonly #socket: BunSocket;
  /** Bytes the kernel did not take yet, in order (written on drain; never merged by copying). */
  #pending: Uint8Array[] = [];
  #pendingHead = 0;
  #pendingBytes = 0;
  #endRequested = false;

  constructor(socket: BunSocket, remote: string, max: number, budget: FrameBudget | null) {
    super(remote, max, budget);
    this.#socket = socket;
  }

  protected writeRaw(bytes: Uint8Array): void {
    if (this.#pendingBytes > 0) {
      this.#pending.push(bytes);
      this.#pendingBytes += bytes.length;
      return;
    }
    const n = this.#socket.write(bytes);
    if (n < bytes.length) {
      const rest = bytes.subarray(Math.max(n, 0));
      this.#pending.push(rest);
      this.#pendingBytes += rest.length;
    }
  }

  protected pendingRaw(): number {
    return this.#pendingBytes;
  }

  protected closeRaw(): void {
    this.#endRequested = true;
    if (this.#pendingBytes === 0) this.#socket.end();
  }

  protected setReading(on: boolean): void {
    if (on) this.#socket.resume?.();
    else this.#socket.pause?.();
  }

  onDrain(): void {
    const q = this.#pending;
    if (q.length === 0) return;
    while (this.#pendingHead < q.length) {
      const b = q[this.#pendingHead];
      const n = this.#socket.write(b);
      if (n < b.length) {
        const w = Math.max(n, 0);
        q[this.#pendingHead] = b.subarray(w);
        this.#pendingBytes -= w;
        return; // the next drain goes on from here
      }
      this.#pendingBytes -= b.length;
      this.#pendingHead++;
    }
    this.#pending = [];
    this.#pendingHead = 0;
    this.#pendingBytes = 0;
    if (this.#endRequested) this.#socket.end();
  }

  onData(chunk: Uint8Array): void {
    this.received(chunk);
  }

  onSocketClose(): void {
    this.closedBySocket();
  }
}

function handlers(
  max: number,
  onOpen: (c: BunConnection, s: BunSocket) => void,
  noDelay: boolean,
  budget: FrameBudget | null = null,
): BunSocketHandler {
  return {
    open(s) {
      if (noDelay) s.setNoDelay?.(true);
      const c = new BunConnection(s, s.remoteAddress, max, budget);
      s.data = c;
      onOpen(c, s);
    },
    data(s, chunk) {
      s.data?.onData(chunk);
    },
    drain(s) {
      s.data?.onDrain();
    },
    close(s) {
      s.data?.onSocketClose();
    },
    error(s) {
      s.data?.onSocketClose();
    },
  };
}

/** TCP transport on Bun. */
export function createBunTcpTransport(): Transport {
  return {
    name: "tcp",
    listen(
      opts: TransportOptions,
      accept: (c: Connection) => ConnectionHandler,
    ): Promise<Listener> {
      const l = Bun.listen({
        hostname: opts.host,
        port: opts.port,
        socket: handlers(
          opts.maxMessageBytes,
          (c) => {
            c.setStream(opts.stream === true);
            c.attach(accept(c));
          },
          opts.noDelay !== false,
          FrameBudget.forListener(opts.maxMessageBytes),
        ),
      });
      return Promise.resolve({
        port: l.port,
        host: opts.host,
        close: () => {
          l.stop(false);
          return Promise.resolve();
        },
      });
    },
    async connect(opts: TransportOptions, handler: ConnectionHandler): Promise<Connection> {
      let conn: BunConnection | undefined;
      const socket = handlers(opts.maxMessageBytes, (c) => {
        c.setStream(opts.stream === true);
        c.attach(handler);
        conn = c;
      }, opts.noDelay !== false);
      await Bun.connect({ hostname: opts.host, port: opts.port, socket });
      if (!conn) throw new Error(`connect to ${opts.host}:${opts.port} failed`);
      return conn;
    },
  };
}
