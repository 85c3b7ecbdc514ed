/** Small helpers for tests that start servers: free loopback ports (from `tools/net.ts`) and bounded waiting. */
import { freePort as freePortOf } from "../../tools/net.ts";

export { freePortOf as freePort };

/** Polls `f` every 10 ms until it returns a value (not undefined); throws after `ms`. */
export async function waitFor<T>(what: string, f: () => T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Client and raft ports of an in-process cluster's members, and the peer maps naming them. */
export interface MemberPorts {
  ports: { client: number; raft: number }[];
  /** Node id → raft address. */
  peers: Record<number, string>;
  /** Node id → client address. */
  peerClients: Record<number, string>;
}

/** `n` members' distinct ephemeral loopback ports (ids 1..n) and their peer maps. */
export async function memberPorts(n: number, host = "127.0.0.1"): Promise<MemberPorts> {
  const ports: { client: number; raft: number }[] = [];
  const seen = new Set<number>();
  while (ports.length < n) {
    const client = await freePortOf(), raft = await freePortOf();
    if (client === raft || seen.has(client) || seen.has(raft)) continue;
    seen.add(client).add(raft);
    ports.push({ client, raft });
  }
  const peers: Record<number, string> = {};
  const peerClients: Record<number, string> = {};
  ports.forEach((p, i) => {
    peers[i + 1] = `${host}:${p.raft}`;
    peerClients[i + 1] = `${host}:${p.client}`;
  });
  return { ports, peers, peerClients };
}
