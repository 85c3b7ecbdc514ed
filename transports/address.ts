/**
 * The host part of a connection's `remoteAddress` (`host:port`, `[v6]:port`, or a bare address
 * as some adapters report IPv6): what per-address limits and log lines are keyed by.
 * @module
 */

/** `host:port`, `[v6]:port` or a bare address → the host. Total: never throws. */
export function remoteHost(address: string): string {
  if (address.startsWith("[")) {
    const end = address.indexOf("]");
    return end > 0 ? address.slice(1, end) : address;
  }
  const colon = address.indexOf(":");
  return colon >= 0 && colon === address.lastIndexOf(":") ? address.slice(0, colon) : address;
}
