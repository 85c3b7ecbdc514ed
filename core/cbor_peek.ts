/**
 * Reads the element count of a CBOR array from its header without decoding the array, so the
 * server can size a batch's response while the commands stay encoded.
 * @module
 */

/** The length of the definite-length CBOR array in `bytes`, or -1 if `bytes` does not start with one. */
export function cborArrayLength(bytes: Uint8Array): number {
  if (bytes.length === 0) return -1;
  const b = bytes[0];
  if (b >> 5 !== 4) return -1; // major type 4 = array
  const info = b & 0x1f;
  if (info < 24) return info;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (info === 24 && bytes.length >= 2) return bytes[1];
  if (info === 25 && bytes.length >= 3) return view.getUint16(1);
  if (info === 26 && bytes.length >= 5) return view.getUint32(1);
  return -1; // 64-bit or indefinite lengths are not accepted for batches
}
