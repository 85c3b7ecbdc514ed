/**
 * TCP on Deno's native sockets (`Deno.listen` / `Deno.connect`).
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

/**
 * Read buffers: an idle connection reads into a small one; a read that fills it switches the
 * connection to a large one (allocated then, kept while the connection lives). 10,000 idle
 * connections thus hold 10,000 × 1 KiB, not 10,000 × 64 KiB.
 */
const SMALL_READ = 1024;
const LARGE_READ = 64 * 1024;

/** Pending chunks are joined into writes of up to this many bytes. */
const JOIN_BYTES = 256 * 1024;

function join(chunks: readonly Uint8Array[], from: number, to: number, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let p = 0;
  for (let i = from; i < to; i++) {
    out.set(chunks[i], p);
    p += chunks[i].length;
  }
  return out;
}

class DenoConnection extends FramedConnection {
  readonly #conn: Deno.TcpConn;
  #writing: Promise<void> | null = null;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #endRequested = false;

  constructor(conn: Deno.TcpConn, max: number, budget: FrameBudget | null) {
    const a = conn.remoteAddr;
    super(`${a.hostname.includes(":") ? `[${a.hostname}]` : a.hostname}:${a.port}`, max, budget);
    this.#conn = conn;
  }

  protected writeRaw(bytes: Uint8Array): void {
    this.#pending.push(bytes);
    this.#pendingBytes += bytes.length;
    if (!this.#writing) this.#writing = this.#writeLoop();
  }

  async #writeLoop(): Promise<void> {
    try {
      while (this.#pending.length > 0) {
        const chunks = this.#pending;
        this.#pending = [];
        // Runs of small chunks are joined into one write; large ones are written as they are
        // (never copied into a joint buffer).
        for (let i = 0; i < chunks.length;) {
          let j = i + 1;
          let bytes = chunks[i].length;
          while (j < chunks.length && bytes + chunks[j].length <= JOIN_BYTES) {
            bytes += chunks[j].length;
            j++;
          }
          const buf = j === i + 1 ? chunks[i] : join(chunks, i, j, bytes);
          let off = 0;
          while (off < buf.length) off += await this.#conn.write(buf.subarray(off));
          this.#pendingBytes -= buf.length;
          i = j;
        }
      }
    } catch {
      this.#shutdown();
      return;
    } finally {
      this.#writing = null;
    }
    if (this.#endRequested) this.#shutdown();
  }

  protected pendingRaw(): number {
    return this.#pendingBytes;
  }

  protected closeRaw(): void {
    this.#endRequested = true;
    if (!this.#writing) this.#shutdown();
  }

  /** While paused, the read loop waits here before its next read. */
  #paused: Promise<void> | null = null;
  #unpause: (() => void) | null = null;

  protected setReading(on: boolean): void {
    if (on) {
      const go = this.#unpause;
      this.#paused = null;
      this.#unpause = null;
      go?.();
    } else if (this.#paused === null) {
      this.#paused = new Promise((r) => this.#unpause = r);
    }
  }

  #shutdown(): void {
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    this.closedBySocket();
    this.setReading(true); // a paused read loop ends
  }

  async readLoop(): Promise<void> {
    let buf = new Uint8Array(SMALL_READ);
    try {
      while (!this.closed) {
        if (this.#paused !== null) await this.#paused;
        if (this.closed) break;
        const n = await this.#conn.read(buf);
        if (n === null) break;
        this.received(buf.subarray(0, n));
        if (n === buf.length && buf.length < LARGE_READ) buf = new Uint8Array(LARGE_READ);
      }
    } catch {
      // reset by peer or closed locally
    }
    this.#shutdown();
  }
}

function setup(
  conn: Deno.TcpConn,
  opts: TransportOptions,
  handler: (c: DenoConnection) => ConnectionHandler,
  budget: FrameBudget | null = null,
): DenoConnection {
  if (opts.noDelay !== false) conn.setNoDelay(true);
  const c = new DenoConnection(conn, opts.maxMessageBytes, budget);
  c.setStream(opts.stream === true);
  c.attach(handler(c));
  void c.readLoop();
  return c;
}

/** TCP transport on Deno. */
export function createDenoTcpTransport(): Transport {
  return {
    name: "tcp",
    listen(
      opts: TransportOptions,
      accept: (c: Connection) => ConnectionHandler,
    ): Promise<Listener> {
      const l = Deno.listen({ hostname: opts.host, port: opts.port, transport: "tcp" });
      let open = true;
      const budget = FrameBudget.forListener(opts.maxMessageBytes);
      (async () => {
        try {
          for await (const conn of l) setup(conn, opts, accept, budget);
        } catch (err) {
          if (open) console.error("tcp listener failed:", err);
        }
      })();
      return Promise.resolve({
        port: (l.addr as Deno.NetAddr).port,
        host: opts.host,
        close: () => {
          open = false;
          try {
            l.close();
          } catch {
            // already closed
          }
          return Promise.resolve();
        },
      });
    },
    async connect(opts: TransportOptions, handler: ConnectionHandler): Promise<Connection> {
      const conn = await Deno.connect({ hostname: opts.host, port: opts.port, transport: "tcp" });
      return setup(conn, opts, () => handler);
    },
  };
}
