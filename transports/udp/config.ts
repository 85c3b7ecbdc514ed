/**
 * Tunables of the UDP protocol, with defaults suited to a LAN or loopback cluster.
 * @module
 */
import type { CongestionObserver } from "./new_reno.ts";
import { PROTOCOL_VERSION } from "./wire.ts";

/** Everything an endpoint needs to know; `resolveUdpConfig` fills the defaults. */
export interface UdpConfig {
  /** Largest message accepted from the peer. */
  maxMessageBytes: number;
  /** Close a connection that received nothing for this long (ms). */
  idleTimeoutMs: number;
  /** Send a PING after this long without sending anything ack-eliciting (ms; 0 = never). */
  keepAliveMs: number;
  /**
   * Close when ack-eliciting packets are outstanding and nothing was received for this long
   * (ms; 0 = only the idle timeout). Lets a client notice a dead server on runtimes that do not
   * report ICMP errors; connections a client opens use 3 s (see udp_transport.ts).
   */
  responseTimeoutMs: number;
  /** A client gives up the handshake after this long (ms). */
  handshakeTimeoutMs: number;
  /** RTT assumed before the first sample (ms). */
  initialRttMs: number;
  /** Longest we delay an ACK (ms); also announced as the peer's assumption. */
  maxAckDelayMs: number;
  /** Cap on one probe timeout period after backoff (ms). */
  maxPtoMs: number;
  /** Receive flow-control window in bytes (connection and its single stream). */
  receiveWindowBytes: number;
  /** `send` refuses messages once this many bytes are retained unacknowledged. */
  maxSendBufferBytes: number;
  /** Initial congestion window in packets. */
  initialWindowPackets: number;
  /** Minimum congestion window in packets. */
  minimumWindowPackets: number;
  /** Maximum congestion window in bytes. */
  maximumWindowBytes: number;
  /** Connections one endpoint holds at most (further HELLOs get REJECT "server busy"). */
  maxConnections: number;
  /** Stateless resets and rejects sent per second at most. */
  maxResetsPerSecond: number;
  /** Opaque credential the client sends in its HELLO. */
  authToken: Uint8Array;
  /** Server side: accept or refuse a HELLO's auth token. Absent = accept all. */
  verifyAuth: ((token: Uint8Array, remoteAddress: string) => boolean) | undefined;
  /** Key for stateless reset tokens; keep it across restarts so peers honor resets. */
  resetKey: Uint8Array;
  /** Random u32 source (connection ids). */
  random: () => number;
  /** Observer of congestion window changes (tests, diagnostics). */
  onCongestion: CongestionObserver | undefined;
  /** Version a client offers in its HELLO (tests exercise mismatches with it). */
  protocolVersion: number;
}

/** Options accepted where a `UdpConfig` is built; everything but `maxMessageBytes` is optional. */
export type UdpConfigInput = Partial<UdpConfig> & { maxMessageBytes: number };

function cryptoRandomU32(): number {
  const a = new Uint32Array(1);
  crypto.getRandomValues(a);
  return a[0];
}

/** Fills defaults. */
export function resolveUdpConfig(input: UdpConfigInput): UdpConfig {
  const idle = input.idleTimeoutMs ?? 30_000;
  const maxMsg = input.maxMessageBytes;
  let resetKey = input.resetKey;
  if (!resetKey) {
    resetKey = new Uint8Array(32);
    crypto.getRandomValues(resetKey);
  }
  return {
    maxMessageBytes: maxMsg,
    idleTimeoutMs: idle,
    keepAliveMs: input.keepAliveMs ?? Math.floor(idle / 3),
    responseTimeoutMs: input.responseTimeoutMs ?? 0,
    handshakeTimeoutMs: input.handshakeTimeoutMs ?? Math.min(idle, 5_000),
    initialRttMs: input.initialRttMs ?? 100,
    maxAckDelayMs: input.maxAckDelayMs ?? 5,
    maxPtoMs: input.maxPtoMs ?? 2_000,
    receiveWindowBytes: input.receiveWindowBytes ?? 4 * 1024 * 1024,
    maxSendBufferBytes: input.maxSendBufferBytes ?? Math.max(64 * 1024 * 1024, 2 * maxMsg + 8),
    initialWindowPackets: input.initialWindowPackets ?? 10,
    minimumWindowPackets: input.minimumWindowPackets ?? 2,
    maximumWindowBytes: input.maximumWindowBytes ?? 32 * 1024 * 1024,
    maxConnections: input.maxConnections ?? 1024,
    maxResetsPerSecond: input.maxResetsPerSecond ?? 64,
    authToken: input.authToken ?? new Uint8Array(0),
    verifyAuth: input.verifyAuth,
    resetKey,
    random: input.random ?? cryptoRandomU32,
    onCongestion: input.onCongestion,
    protocolVersion: input.protocolVersion ?? PROTOCOL_VERSION,
  };
}
