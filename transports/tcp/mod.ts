/**
 * The TCP transport: length-prefixed frames over the runtime's native sockets.
 * @module
 */
import { RUNTIME } from "../runtime.ts";
import type { Transport } from "../types.ts";

/** The TCP transport for the current runtime (Bun.listen, Deno.listen, or node:net). */
export async function createTcpTransport(): Promise<Transport> {
  if (RUNTIME === "bun") return (await import("./bun_adapter.ts")).createBunTcpTransport();
  if (RUNTIME === "deno") return (await import("./deno_adapter.ts")).createDenoTcpTransport();
  return (await import("./node_adapter.ts")).createNodeTcpTransport();
}
