/**
 * The benchmark's control plane: one direct connection per node (never through the lossy proxy,
 * never redirected) for `INFO` and `GET_LEADER`. It reads the nodes' `batches_received` and
 * `proposals` counters before and after each scenario and finds the leader for the failover
 * scenario.
 *
 * Control commands count as received batches on the node that answers them (`INFO` and
 * `GET_LEADER` arrive as `COMMAND`s), so each probe counts what it sent and
 * {@link counterDelta} subtracts those.
 * @module
 */
import { connect } from "../../client/client.ts";
import type { Client } from "../../client/types.ts";
import type { ServerCounters } from "./runner.ts";

/** One node's counters, as read by {@link NodeProbe.counters}. */
export interface NodeCounters {
  id: number;
  batchesReceived: number;
  proposals: number;
  /** Control commands this probe had sent to the node when the reading was taken (inclusive). */
  controlSent: number;
}

/** A direct control connection to one node. */
export class NodeProbe {
  readonly id: number;
  readonly endpoint: string;
  readonly #client: Client;
  #sent = 0;

  private constructor(id: number, endpoint: string, client: Client) {
    this.id = id;
    this.endpoint = endpoint;
    this.#client = client;
  }

  /** Connects to one node (no redirects: a probe always talks to the node it was opened for). */
  static async open(
    id: number,
    endpoint: string,
    transport: "tcp" | "udp",
    password?: string,
  ): Promise<NodeProbe> {
    const client = await connect({
      endpoints: [endpoint],
      transport,
      timeoutMs: 2000,
      connectTimeoutMs: 2000,
      maxRedirects: 0,
      ...(password ? { password } : {}),
    });
    return new NodeProbe(id, endpoint, client);
  }

  /** The `INFO` fields (`key:value` lines), or null when the node does not answer. */
  async info(): Promise<Record<string, string> | null> {
    this.#sent++;
    try {
      const v = await this.#client.command("INFO");
      const text = typeof v === "string" ? v : new TextDecoder().decode(v as Uint8Array);
      const out: Record<string, string> = {};
      for (const line of text.split("\n")) {
        const i = line.indexOf(":");
        if (i > 0 && !line.startsWith("#")) out[line.slice(0, i)] = line.slice(i + 1).trim();
      }
      return out;
    } catch {
      return null;
    }
  }

  /** The counters the benchmark reports, or null when the node does not answer. */
  async counters(): Promise<NodeCounters | null> {
    const info = await this.info();
    if (!info) return null;
    return {
      id: this.id,
      batchesReceived: Number(info.batches_received ?? 0),
      proposals: Number(info.proposals ?? 0),
      controlSent: this.#sent,
    };
  }

  /** The leader this node knows of (`GET_LEADER`), or null (no leader yet, or no answer). */
  async leader(): Promise<{ id: number; address: string } | null> {
    this.#sent++;
    try {
      const v = await this.#client.command("GET_LEADER");
      if (!Array.isArray(v) || v.length < 1) return null;
      const dec = new TextDecoder();
      const text = (x: unknown) => x instanceof Uint8Array ? dec.decode(x) : String(x ?? "");
      const id = Number(text(v[0]));
      return Number.isInteger(id) && id > 0 ? { id, address: text(v[1]) } : null;
    } catch {
      return null;
    }
  }

  close(): Promise<void> {
    return this.#client.close().catch(() => {});
  }
}

/** Reads every probe's counters (nodes that do not answer are left out). */
export async function readCounters(probes: readonly NodeProbe[]): Promise<NodeCounters[]> {
  const all = await Promise.all(probes.map((p) => p.counters()));
  return all.filter((c): c is NodeCounters => c !== null);
}

/**
 * Counter deltas between two readings, summed over the nodes present in both; the probes' own
 * commands between the readings (the second `INFO`, `GET_LEADER` polls) are subtracted.
 */
export function counterDelta(
  before: readonly NodeCounters[],
  after: readonly NodeCounters[],
): ServerCounters {
  let batches = 0;
  let proposals = 0;
  const nodes: number[] = [];
  for (const a of after) {
    const b = before.find((x) => x.id === a.id);
    if (!b) continue;
    nodes.push(a.id);
    batches += a.batchesReceived - b.batchesReceived - (a.controlSent - b.controlSent);
    proposals += a.proposals - b.proposals;
  }
  return {
    batchesReceived: batches,
    proposals,
    batchesPerProposal: proposals > 0 ? Number((batches / proposals).toFixed(2)) : null,
    nodes,
  };
}

/** The leader as reported by the first probe that knows one (polling until `timeoutMs`). */
export async function findLeader(
  probes: readonly NodeProbe[],
  timeoutMs: number,
  exclude?: number,
): Promise<{ id: number; address: string; by: number } | null> {
  const deadline = performance.now() + timeoutMs;
  while (true) {
    for (const p of probes) {
      if (p.id === exclude) continue;
      const l = await p.leader();
      if (l && l.id !== exclude) return { ...l, by: p.id };
    }
    if (performance.now() >= deadline) return null;
    await new Promise((r) => setTimeout(r, 5));
  }
}
