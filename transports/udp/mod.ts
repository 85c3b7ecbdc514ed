/**
 * TinyKV's QUIC-style reliable protocol over UDP behind the neutral `Transport` interface.
 * The protocol core (`endpoint.ts`, `connection_core.ts`) is sans-I/O; this module picks the
 * runtime's socket adapter once: `Bun.udpSocket`, `Deno.listenDatagram` (needs
 * `"unstable": ["net"]` in deno.json), or node:dgram.
 * @module
 */
import { RUNTIME } from "../runtime.ts";
import type { Transport } from "../types.ts";
import { bindBunSocket } from "./bun_socket.ts";
import type { DatagramSocketFactory } from "./datagram_socket.ts";
import { bindDenoSocket } from "./deno_socket.ts";
import { bindNodeSocket } from "./node_socket.ts";
import { createUdpTransportWith, type UdpTransportOptions } from "./udp_transport.ts";

export type { UdpTransportOptions } from "./udp_transport.ts";
export { createUdpTransportWith } from "./udp_transport.ts";
export { UdpEndpoint } from "./endpoint.ts";
export { resolveUdpConfig } from "./config.ts";
export type { UdpConfig, UdpConfigInput } from "./config.ts";
export type { ConnectionEvents, PeerAddress, UdpConnectionCore } from "./connection_core.ts";

/** The socket adapter of the current runtime. */
export const runtimeSocketFactory: DatagramSocketFactory = RUNTIME === "bun"
  ? bindBunSocket
  : RUNTIME === "deno"
  ? bindDenoSocket
  : bindNodeSocket;

/**
 * The UDP transport for the current runtime. `options` tune the protocol for every listen and
 * connect (auth token and verifier, idle timeout, windows, connection limit, reset key, …).
 */
export function createUdpTransport(options: UdpTransportOptions = {}): Transport {
  return createUdpTransportWith(runtimeSocketFactory, options);
}
