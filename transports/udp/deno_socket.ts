/**
 * UDP sockets on Deno (`Deno.listenDatagram`). The API is unstable in Deno 2.9 and needs
 * `"unstable": ["net"]` in deno.json (TinyKV's has it) or `--unstable-net`.
 * @module
 */
import type { PeerAddress } from "./connection_core.ts";
import type {
  DatagramSocket,
  DatagramSocketEvents,
  DatagramSocketFactory,
} from "./datagram_socket.ts";

interface DenoUdpAddr {
  transport: "udp";
  hostname: string;
  port: number;
}

/** The part of Deno's DatagramConn we use (typed locally). */
interface DenoDatagramConn {
  readonly addr: DenoUdpAddr;
  send(p: Uint8Array, addr: DenoUdpAddr): Promise<number>;
  receive(p?: Uint8Array): Promise<[Uint8Array, DenoUdpAddr]>;
  close(): void;
}

interface DenoUdpApi {
  listenDatagram?(o: { transport: "udp"; hostname: string; port: number }): DenoDatagramConn;
}

/** Binds a Deno UDP socket. */
export const bindDenoSocket: DatagramSocketFactory = (
  host: string,
  port: number,
  events: DatagramSocketEvents,
): Promise<DatagramSocket> => {
  const deno = (globalThis as unknown as { Deno: DenoUdpApi }).Deno;
  if (typeof deno.listenDatagram !== "function") {
    return Promise.reject(
      new Error(
        'Deno.listenDatagram is unavailable: enable it with "unstable": ["net"] in deno.json ' +
          "or --unstable-net",
      ),
    );
  }
  const conn = deno.listenDatagram({ transport: "udp", hostname: host, port });
  let closed = false;
  const recvBuf = new Uint8Array(65_536);
  (async () => {
    while (!closed) {
      let got: [Uint8Array, DenoUdpAddr];
      try {
        got = await conn.receive(recvBuf);
      } catch (err) {
        if (!closed) events.error(err as Error);
        return;
      }
      events.datagram(got[0], got[1].hostname, got[1].port);
    }
  })();
  const addrs = new WeakMap<PeerAddress, DenoUdpAddr>();
  return Promise.resolve({
    port: conn.addr.port,
    sendBatch(bufs: Uint8Array[], to: PeerAddress[], count: number): number {
      for (let i = 0; i < count; i++) {
        let a = addrs.get(to[i]);
        if (!a) {
          a = { transport: "udp", hostname: to[i].host, port: to[i].port };
          addrs.set(to[i], a);
        }
        conn.send(bufs[i].slice(), a).catch(() => {});
      }
      return count;
    },
    close(): void {
      closed = true;
      conn.close();
    },
  });
};
