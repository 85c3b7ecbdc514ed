/**
 * Wire constants and allocation-free big-endian byte helpers of the UDP protocol.
 *
 * Packet types (first byte): HELLO (client → server handshake), WELCOME (server accepts), REJECT
 * (server refuses: version, auth, busy), DATA (numbered packet carrying frames), RESET (stateless
 * reset of an unknown connection id). See docs/udp-transport.md for the layouts.
 * @module
 */

/** The protocol version this implementation speaks. */
export const PROTOCOL_VERSION = 1;
/** Largest UDP payload we ever send or accept. */
export const MAX_DATAGRAM_BYTES = 1200;
/** Connection id length in bytes. */
export const CID_BYTES = 8;
/** Stateless reset token length in bytes. */
export const RESET_TOKEN_BYTES = 16;
/** Largest auth token a HELLO may carry. */
export const MAX_AUTH_BYTES = 512;

/** Packet type bytes. */
export const PacketType = {
  HELLO: 0x51,
  WELCOME: 0x52,
  REJECT: 0x53,
  DATA: 0x54,
  RESET: 0x55,
} as const;

/** Frame type bytes inside a DATA packet. */
export const FrameType = {
  PING: 0x01,
  ACK: 0x02,
  STREAM: 0x03,
  MAX_DATA: 0x04,
  CLOSE: 0x05,
} as const;

/** DATA header: type, destination cid, 8-byte packet number. */
export const DATA_HEADER_BYTES = 1 + CID_BYTES + 8;
/** STREAM frame header: type, 8-byte offset, 2-byte length. */
export const STREAM_FRAME_HEADER_BYTES = 1 + 8 + 2;
/** HELLO fixed part: type, client cid, version, reset token, max data, auth length. */
export const HELLO_FIXED_BYTES = 1 + CID_BYTES + 4 + RESET_TOKEN_BYTES + 8 + 2;
/** WELCOME: type, client cid, server cid, reset token, max data. */
export const WELCOME_BYTES = 1 + CID_BYTES + CID_BYTES + RESET_TOKEN_BYTES + 8;
/** RESET: type, cid, token. */
export const RESET_BYTES = 1 + CID_BYTES + RESET_TOKEN_BYTES;

const TWO_32 = 0x1_0000_0000;

/** Reads a big-endian u16. */
export function readU16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

/** Reads a big-endian u32. */
export function readU32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/** Reads a big-endian u64 that must fit in 53 bits; returns -1 when it does not. */
export function readU64(b: Uint8Array, o: number): number {
  const hi = readU32(b, o);
  if (hi > 0x1f_ffff) return -1;
  return hi * TWO_32 + readU32(b, o + 4);
}

/** Writes a big-endian u16. */
export function writeU16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}

/** Writes a big-endian u32. */
export function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 0xff;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

/** Writes a big-endian u64 from a non-negative safe integer. */
export function writeU64(b: Uint8Array, o: number, v: number): void {
  writeU32(b, o, Math.floor(v / TWO_32));
  writeU32(b, o + 4, v >>> 0);
}

/** A connection id as two u32 halves (no allocation for lookups). */
export interface ConnectionId {
  readonly hi: number;
  readonly lo: number;
}

/** Reads a connection id. */
export function readCid(b: Uint8Array, o: number): ConnectionId {
  return { hi: readU32(b, o), lo: readU32(b, o + 4) };
}

/** Writes a connection id. */
export function writeCid(b: Uint8Array, o: number, cid: ConnectionId): void {
  writeU32(b, o, cid.hi);
  writeU32(b, o + 4, cid.lo);
}

/** A printable form of a connection id (for logs and handshake maps). */
export function cidKey(cid: ConnectionId): string {
  return cid.hi.toString(16).padStart(8, "0") + cid.lo.toString(16).padStart(8, "0");
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });

/** UTF-8 bytes of a reason string, cut to at most `max` bytes. */
export function encodeReason(reason: string, max = 256): Uint8Array {
  const bytes = encoder.encode(reason);
  return bytes.length > max ? bytes.subarray(0, max) : bytes;
}

/** Decodes a UTF-8 reason string (invalid sequences become U+FFFD). */
export function decodeReason(b: Uint8Array): string {
  return decoder.decode(b);
}
