/**
 * TCP on node:net, the fallback for runtimes without a native adapter (plain Node.js).
 * @module
 */
import net from "node:net";
import type {
  Connection,
  ConnectionHandler,
  Listener,
  Transport,
  TransportOptions,
} from "../types.ts";
import { FrameBudget } from "./frame_decoder.ts";
import { FramedConnection } from "./framed_connection.ts";

class NodeConnection extends FramedConnection {
  readonly #socket: net.Socket;

  constructor(socket: net.Socket, max: number, budget: FrameBudget | null) {
    const host = socket.remoteAddress ?? "";
    super(`${host.includes(":") ? `[${host}]` : host}:${socket.remotePort}`, max, budget);
    this.#socket = socket;
  }

  protected writeRaw(bytes: Uint8Array): void {
    this.#socket.write(bytes);
  }

  protected pendingRaw(): number {
    return this.#socket.writableLength;
  }

  protected closeRaw(): void {
    this.#socket.end();
  }

  protected setReading(on: boolean): void {
    if (on) this.#socket.resume();
    else this.#socket.pause();
  }

  wire(): void {
    this.#socket.on("data", (d: Uint8Array) => this.received(d));
    this.#socket.on("close", () => this.closedBySocket());
    this.#socket.on("error", () => this.closedBySocket());
  }
}

function setup(
  socket: net.Socket,
  opts: TransportOptions,
  handler: (c: NodeConnection) => ConnectionHandler,
  budget: FrameBudget | null = null,
): NodeConnection {
  socket.setNoDelay(opts.noDelay !== false);
  const c = new NodeConnection(socket, opts.maxMessageBytes, budget);
  c.setStream(opts.stream === true);
  c.attach(handler(c));
  c.wire();
  return c;
}

/** TCP transport on node:net. */
export function createNodeTcpTransport(): Transport {
  return {
    name: "tcp",
    listen(
      opts: TransportOptions,
      accept: (c: Connection) => ConnectionHandler,
    ): Promise<Listener> {
      const budget = FrameBudget.forListener(opts.maxMessageBytes);
      const server = net.createServer((s) => setup(s, opts, accept, budget));
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(opts.port, opts.host, () => {
          const addr = server.address() as net.AddressInfo;
          resolve({
            port: addr.port,
            host: opts.host,
            close: () => new Promise<void>((r) => server.close(() => r())),
          });
        });
      });
    },
    connect(opts: TransportOptions, handler: ConnectionHandler): Promise<Connection> {
      return new Promise((resolve, reject) => {
        const s = net.connect({ host: opts.host, port: opts.port });
        s.once("error", reject);
        s.once("connect", () => {
          s.off("error", reject);
          resolve(setup(s, opts, () => handler));
        });
      });
    },
  };
}
