/**
 * Disables cbor-x's native addon (`cbor-extract`) before cbor-x is loaded.
 *
 * The addon is built on V8's own API and crashes both Bun 1.4 and Deno 2.9 when loaded, so
 * TinyKV always uses cbor-x's pure-JS path. This module must be imported before `cbor-x`; only
 * `protocol/cbor.ts` imports cbor-x, and it imports this file first.
 * @module
 */
import process from "node:process";

process.env.CBOR_NATIVE_ACCELERATION_DISABLED = "true";
