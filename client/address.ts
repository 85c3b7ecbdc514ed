/**
 * Client addresses (`host:port`, IPv6 as `[::1]:5210`): parsing and printing.
 * @module
 */

/** One server address. */
export interface Address {
  host: string;
  port: number;
}

/** Parses `host:port` or `[v6]:port`; throws a clear error for anything else. */
export function parseAddress(text: string): Address {
  const s = text.trim();
  let host: string;
  let portText: string;
  if (s.startsWith("[")) {
    const end = s.indexOf("]");
    if (end < 0 || s[end + 1] !== ":") throw new Error(`bad address "${text}": expected [v6]:port`);
    host = s.slice(1, end);
    portText = s.slice(end + 2);
  } else {
    const i = s.lastIndexOf(":");
    if (i <= 0) throw new Error(`bad address "${text}": expected host:port`);
    host = s.slice(0, i);
    portText = s.slice(i + 1);
  }
  const port = Number(portText);
  if (!/^[0-9]{1,5}$/.test(portText) || port < 1 || port > 65535) {
    throw new Error(`bad address "${text}": port must be 1..65535`);
  }
  return { host, port };
}

/** Prints an address as `host:port` (brackets around IPv6 hosts). */
export function formatAddress(a: Address): string {
  return a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
