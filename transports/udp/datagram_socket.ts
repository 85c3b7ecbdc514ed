/**
 * The small socket contract the UDP driver needs from a runtime: bind, receive datagrams, send a
 * batch, close. Adapters: `bun_socket.ts` (Bun.udpSocket), `deno_socket.ts` (Deno.listenDatagram),
 * `node_socket.ts` (node:dgram).
 * @module
 */
import type { PeerAddress } from "./connection_core.ts";

/** Callbacks from a socket. */
export interface DatagramSocketEvents {
  /** One datagram arrived; `bytes` may be reused by the socket after the call returns. */
  datagram(bytes: Uint8Array, host: string, port: number): void;
  /** A previously refused batch can be retried. */
  drain(): void;
  /** The socket failed (it is unusable afterwards). */
  error(err: Error): void;
  /**
   * The network reported an earlier datagram undeliverable (ICMP port/host unreachable, seen as
   * ECONNREFUSED and the like); which destination is not known. Adapters that cannot see these
   * never call it.
   */
  unreachable?(): void;
}

/** A bound UDP socket. */
export interface DatagramSocket {
  /** The bound port. */
  readonly port: number;
  /**
   * Sends `bufs[i]` to `to[i]` for `i < count`. The buffers are reused by the caller after the
   * call returns (adapters with asynchronous sends copy). Returns how many were accepted; the
   * caller retries the rest after `drain`.
   */
  sendBatch(bufs: Uint8Array[], to: PeerAddress[], count: number): number;
  /** Closes the socket. */
  close(): void;
}

/** Binds a socket on `host:port` (port 0 = ephemeral). */
export type DatagramSocketFactory = (
  host: string,
  port: number,
  events: DatagramSocketEvents,
  bufferBytes?: number,
) => Promise<DatagramSocket>;
