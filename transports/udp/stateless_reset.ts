/**
 * Stateless reset tokens: HMAC-SHA256(resetKey, connection id) cut to 16 bytes. An endpoint that
 * lost a connection's state (restart, eviction) can still prove, with the same key, that it owned
 * the id, and the peer closes at once instead of waiting for the idle timeout.
 * @module
 */
import { createHmac } from "node:crypto";
import { CID_BYTES, type ConnectionId, RESET_TOKEN_BYTES, writeCid } from "./wire.ts";

/** The reset token of `cid` under `key`. */
export function resetToken(key: Uint8Array, cid: ConnectionId): Uint8Array {
  const c = new Uint8Array(CID_BYTES);
  writeCid(c, 0, cid);
  const mac = createHmac("sha256", key).update(c).digest();
  return new Uint8Array(mac.buffer, mac.byteOffset, RESET_TOKEN_BYTES).slice();
}

/** Constant-shape comparison of two tokens. */
export function tokensEqual(a: Uint8Array, b: Uint8Array, bOffset = 0): boolean {
  let diff = a.length ^ RESET_TOKEN_BYTES;
  for (let i = 0; i < RESET_TOKEN_BYTES; i++) diff |= a[i] ^ b[bOffset + i];
  return diff === 0;
}
