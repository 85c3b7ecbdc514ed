/**
 * UDP sockets on node:dgram (fallback for runtimes without a native adapter).
 * @module
 */
import { createSocket } from "node:dgram";
import type { PeerAddress } from "./connection_core.ts";
import type {
  DatagramSocket,
  DatagramSocketEvents,
  DatagramSocketFactory,
} from "./datagram_socket.ts";

/** Binds a node:dgram socket. */
export const bindNodeSocket: DatagramSocketFactory = (
  host: string,
  port: number,
  events: DatagramSocketEvents,
  bufferBytes?: number,
): Promise<DatagramSocket> => {
  const s = createSocket({
    type: host.includes(":") ? "udp6" : "udp4",
    recvBufferSize: bufferBytes,
    sendBufferSize: bufferBytes,
  });
  return new Promise((resolve, reject) => {
    s.once("error", reject);
    s.bind(port, host, () => {
      s.off("error", reject);
      s.on("error", (err) => events.error(err));
      s.on("message", (msg, rinfo) => events.datagram(msg, rinfo.address, rinfo.port));
      resolve({
        port: s.address().port,
        sendBatch(bufs: Uint8Array[], to: PeerAddress[], count: number): number {
          for (let i = 0; i < count; i++) s.send(bufs[i].slice(), to[i].port, to[i].host);
          return count;
        },
        close: () => s.close(),
      });
    });
  });
};
