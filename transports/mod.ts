/**
 * Picks a transport by name. TCP is the default; UDP is the QUIC-style protocol of `transports/udp`.
 * @module
 */
import type { Transport } from "./types.ts";
import { createTcpTransport } from "./tcp/mod.ts";

/** A transport for `name` on the current runtime. */
export async function createTransport(name: "tcp" | "udp"): Promise<Transport> {
  if (name === "tcp") return await createTcpTransport();
  let mod: { createUdpTransport?: () => Transport };
  try {
    mod = await import("./udp/mod.ts");
  } catch (err) {
    throw new Error(`transport udp is not available: ${(err as Error).message}`);
  }
  if (!mod.createUdpTransport) throw new Error("transport udp is not available yet");
  return mod.createUdpTransport();
}
