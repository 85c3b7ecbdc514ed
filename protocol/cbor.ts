/**
 * The one place that loads cbor-x. Everything else encodes and decodes through these helpers, so
 * the native-addon guard in `cbor_env.ts` always runs first.
 * @module
 */
import "./cbor_env.ts";
import { Decoder, Encoder } from "cbor-x";

// Plain CBOR (no cbor-x record extension) so any CBOR library can speak the protocol.
// `mapsAsObjects` decodes maps with string keys into plain objects.
const encoder = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false });
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });

/** Encodes one value as CBOR. The returned bytes may share a pooled buffer: copy if kept long. */
export function encodeCbor(value: unknown): Uint8Array {
  return encoder.encode(value);
}

/**
 * Encodes one value as CBOR into bytes of its own (a real copy on every runtime: on Bun the
 * encoder returns a Buffer, whose `slice()` is a view of the pooled buffer, not a copy).
 */
export function encodeCborCopy(value: unknown): Uint8Array {
  return new Uint8Array(encoder.encode(value));
}

/** Decodes exactly one CBOR value. Throws on malformed input. */
export function decodeCbor(bytes: Uint8Array): unknown {
  return decoder.decode(bytes);
}

/**
 * A second CBOR codec, for application values (client/kv_value.ts encodes Deno KV values on it):
 * every CBOR map decodes as a `Map`, a tag cbor-x does not know as a cbor-x {@link Tag}.
 */
export const valueCodec: { encode(v: unknown): Uint8Array; decode(b: Uint8Array): unknown } =
  new Encoder({ useRecords: false, mapsAsObjects: false, tagUint8Array: false });
export { Tag } from "cbor-x";
