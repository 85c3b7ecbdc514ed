/**
 * UDP sockets on Bun (`Bun.udpSocket`), sending batches with `sendMany`.
 * @module
 */
import type { PeerAddress } from "./connection_core.ts";
import type {
  DatagramSocket,
  DatagramSocketEvents,
  DatagramSocketFactory,
} from "./datagram_socket.ts";

/** The part of Bun's UDP socket we use (typed locally so other runtimes type-check). */
interface BunUdpSocket {
  readonly port: number;
  sendMany(packets: readonly (Uint8Array | string | number)[]): number;
  close(): void;
}

interface BunUdpApi {
  udpSocket(o: {
    hostname: string;
    port: number;
    binaryType: "uint8array";
    socket: {
      data(s: BunUdpSocket, data: Uint8Array, port: number, address: string): void;
      drain(s: BunUdpSocket): void;
      error(s: BunUdpSocket, err: Error): void;
    };
  }): Promise<BunUdpSocket>;
}

/** Binds a Bun UDP socket. */
export const bindBunSocket: DatagramSocketFactory = async (
  host: string,
  port: number,
  events: DatagramSocketEvents,
): Promise<DatagramSocket> => {
  const bun = (globalThis as unknown as { Bun: BunUdpApi }).Bun;
  const s = await bun.udpSocket({
    hostname: host,
    port,
    binaryType: "uint8array",
    socket: {
      data: (_s, data, p, address) => events.datagram(data, address, p),
      drain: () => events.drain(),
      error: (_s, err) => events.error(err),
    },
  });
  const flat: (Uint8Array | string | number)[] = [];
  return {
    port: s.port,
    sendBatch(bufs: Uint8Array[], to: PeerAddress[], count: number): number {
      flat.length = count * 3;
      for (let i = 0; i < count; i++) {
        flat[3 * i] = bufs[i];
        flat[3 * i + 1] = to[i].port;
        flat[3 * i + 2] = to[i].host;
      }
      const n = s.sendMany(flat);
      flat.length = 0;
      return n;
    },
    close: () => s.close(),
  };
};
