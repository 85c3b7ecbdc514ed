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
      error(s: BunUdpSocket, err: Error | undefined): void;
    };
  }): Promise<BunUdpSocket>;
}

const UNREACHABLE = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "EHOSTDOWN"]);

/** True for what Bun reports when the network bounced an earlier datagram (ICMP). */
function isUnreachable(err: unknown): boolean {
  return err === undefined || err === null ||
    UNREACHABLE.has(String((err as { code?: unknown }).code));
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
      // Bun calls this with no error object for an ICMP error of an earlier datagram.
      error: (_s, err) => isUnreachable(err) ? events.unreachable?.() : events.error(err!),
    },
  });
  const flat: (Uint8Array | string | number)[] = [];
  return {
    port: s.port,
    sendBatch(bufs: Uint8Array[], to: PeerAddress[], count: number): number {
      // On loopback, a datagram to a closed port draws an ICMP error at once, and Bun reports it
      // on the socket's next send: `sendMany` throws (ECONNREFUSED, nothing sent) or stops short
      // at the datagram after the dead peer's. So: send what is left until all is sent or the
      // socket is full (0 sent: wait for drain); after a throw retry once (the error is consumed
      // by then), and drop a datagram that throws twice, as the network would lose it.
      let done = 0;
      let retried = false;
      while (done < count) {
        const n = count - done;
        flat.length = n * 3;
        for (let i = 0; i < n; i++) {
          flat[3 * i] = bufs[done + i];
          flat[3 * i + 1] = to[done + i].port;
          flat[3 * i + 2] = to[done + i].host;
        }
        let sent: number;
        try {
          sent = s.sendMany(flat);
        } catch (err) {
          if (isUnreachable(err)) events.unreachable?.();
          if (retried) done++;
          retried = !retried;
          continue;
        }
        retried = false;
        if (sent <= 0) break;
        done += sent;
      }
      flat.length = 0;
      return done;
    },
    close: () => s.close(),
  };
};
