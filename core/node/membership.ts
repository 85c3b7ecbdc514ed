/**
 * Membership: the members' raft and client addresses, and applying what changes them: conf-change
 * entries (ADD_NODE carries `{ raft, client }` in the entry's context), the snapshot's member list,
 * and the node's own **address entries**.
 *
 * Advertised addresses: every node knows its own client address (`peer_clients[self]` when given,
 * else the host of its raft address in `peers` — the one its peers reach it at — with the client
 * port it bound). A new leader whose recorded address differs from that proposes a small
 * replicated address entry `{ id, raft, client }` for itself; every replica applies it in log
 * order, so GET_LEADER, MEMBERS and NOT_LEADER redirects give the leader's real address on every
 * node, and snapshots carry it. The raft-port−1 rule remains only as the first guess for
 * members configured by `peers` (or added by ADD_NODE without a client address) until they lead.
 * @module
 */
import { decodeCbor, encodeCbor } from "../../protocol/cbor.ts";
import type { Logger } from "../config/logger.ts";
import { decodeConfChange } from "../raft/conf_change.ts";
import type { ConfChange, ConfState, Entry, NodeId } from "../raft/types.ts";
import type { Value } from "../state/types.ts";
import type { MemberAddress } from "./types.ts";

/** First byte of an address entry (client proposals start with their version byte, 1). */
export const ADDRESS_ENTRY_TAG = 0xad;
/** Longest `host:port` accepted from an entry or a snapshot. */
const MAX_ADDRESS_CHARS = 300;

/** The guess for a member's client address: its raft port − 1. */
export function defaultClientAddr(raftAddr: string): string {
  const i = raftAddr.lastIndexOf(":");
  return `${raftAddr.slice(0, i)}:${Number(raftAddr.slice(i + 1)) - 1}`;
}

/** True for a plausible `host:port`. */
export function isHostPort(s: unknown): s is string {
  return typeof s === "string" && s.length <= MAX_ADDRESS_CHARS && /^.+:\d{1,5}$/.test(s);
}

/** Encodes an address entry announcing `id`'s addresses. */
export function encodeAddressEntry(id: NodeId, a: MemberAddress): Uint8Array {
  const body = encodeCbor({ id, raft: a.raft, client: a.client });
  const out = new Uint8Array(1 + body.length);
  out[0] = ADDRESS_ENTRY_TAG;
  out.set(body, 1);
  return out;
}

/** True when a Normal entry is an address entry (not client batches). */
export function isAddressEntry(data: Uint8Array): boolean {
  return data.length > 0 && data[0] === ADDRESS_ENTRY_TAG;
}

/** Decodes an address entry; null when it is not a valid one. */
export function decodeAddressEntry(
  data: Uint8Array,
): { id: NodeId; address: MemberAddress } | null {
  let x: unknown;
  try {
    x = decodeCbor(data.subarray(1));
  } catch {
    return null;
  }
  const o = x as { id?: unknown; raft?: unknown; client?: unknown } | null;
  if (!o || typeof o !== "object") return null;
  const id = o.id;
  if (typeof id !== "number" || !Number.isInteger(id) || id < 1 || id > 65535) return null;
  if (!isHostPort(o.raft) || !isHostPort(o.client)) return null;
  return { id, address: { raft: o.raft, client: o.client } };
}

/** Where peers' raft addresses go (the peer network). */
export interface PeerDirectory {
  setPeer(id: NodeId, raft: string): void;
  removePeer(id: NodeId): void;
}

/** The members' addresses and the changes to them. */
export class Membership {
  readonly #self: NodeId;
  readonly #log: Logger;
  readonly #members = new Map<NodeId, MemberAddress>();
  #peers: PeerDirectory | null = null;
  /** How this node's own client address is found (see `setOwn`). */
  #own: { clientOverride?: string; clientPort: number; raftFallback: string } | null = null;

  constructor(self: NodeId, log: Logger) {
    this.#self = self;
    this.#log = log;
  }

  /** Members from config: raft addresses, client addresses given or guessed (raft port − 1). */
  fromConfig(peers: Record<number, string>, peerClients: Record<number, string>): void {
    for (const [id, raft] of Object.entries(peers)) {
      this.#members.set(Number(id), {
        raft,
        client: peerClients[Number(id)] ?? defaultClientAddr(raft),
      });
    }
  }

  /** Connects the peer network (raft addresses learnt from now on are dialled). */
  attach(peers: PeerDirectory): void {
    this.#peers = peers;
  }

  /**
   * Tells membership how this node is reached: `clientOverride` (`peer_clients[self]`) when given,
   * else the host of its raft address as membership records it (or `raftFallback` before it
   * does) with the bound `clientPort`. Records itself when membership has no entry yet.
   */
  setOwn(o: { clientOverride?: string; clientPort: number; raftFallback: string }): void {
    this.#own = o;
    if (!this.#members.has(this.#self)) {
      this.#members.set(this.#self, { raft: o.raftFallback, client: this.#ownClient()! });
    }
  }

  /** This node's own client address (null before `setOwn`). */
  #ownClient(): string | null {
    const o = this.#own;
    if (!o) return null;
    if (o.clientOverride) return o.clientOverride;
    const raft = this.#members.get(this.#self)?.raft ?? o.raftFallback;
    return `${raft.slice(0, raft.lastIndexOf(":"))}:${o.clientPort}`;
  }

  /** Member ids with an address, ascending. */
  ids(): NodeId[] {
    return [...this.#members.keys()].sort((a, b) => a - b);
  }

  /** A member's client address (this node's own is always its real one). */
  clientAddress(id: NodeId): string | undefined {
    if (id === this.#self && this.#own) return this.#ownClient()!;
    return this.#members.get(id)?.client;
  }

  /** A member's recorded addresses. */
  get(id: NodeId): MemberAddress | undefined {
    return this.#members.get(id);
  }

  #set(id: NodeId, a: MemberAddress): void {
    this.#members.set(id, a);
    this.#peers?.setPeer(id, a.raft);
  }

  /** Records an address before its conf change commits (ADD_NODE on the leader dials it now). */
  expect(id: NodeId, a: MemberAddress): void {
    this.#set(id, a);
  }

  /** The members' addresses as saved in a snapshot. */
  toObject(): Record<number, MemberAddress> {
    const out: Record<number, MemberAddress> = {};
    for (const [id, a] of this.#members) out[id] = a;
    return out;
  }

  /** Takes the addresses from a restored snapshot (invalid records are skipped). */
  restore(members: Record<number, MemberAddress>): void {
    for (const [id, a] of Object.entries(members)) {
      if (!a || !isHostPort(a.raft) || !isHostPort(a.client)) continue;
      this.#set(Number(id), { raft: a.raft, client: a.client });
    }
  }

  /**
   * Applies a committed conf-change entry through `apply` (Raft's applyConfChange); returns the
   * new ConfState, or null when the entry is undecodable (every replica ignores it alike).
   */
  applyConfChange(e: Entry, apply: (cc: ConfChange) => ConfState): ConfState | null {
    let cc: ConfChange;
    try {
      cc = decodeConfChange(e.data);
    } catch (err) {
      // Every replica ignores the same bad entry, so they stay in agreement.
      this.#log.error(`entry ${e.index}: ${(err as Error).message}; ignored`);
      return null;
    }
    const cs = apply(cc);
    if (cc.type === "removeNode") {
      this.#members.delete(cc.nodeId);
      this.#peers?.removePeer(cc.nodeId);
      if (cc.nodeId === this.#self) this.#log.warn("this node was removed from the cluster");
    } else if (cc.context) {
      try {
        const addr = decodeCbor(cc.context) as MemberAddress;
        this.#set(cc.nodeId, addr);
      } catch {
        this.#log.error(`entry ${e.index}: conf change context undecodable`);
      }
    }
    this.#log.info(
      `membership: ${cc.type} ${cc.nodeId} → voters ${cs.voters.join(",")}${
        cs.learners.length ? ` learners ${cs.learners.join(",")}` : ""
      }`,
    );
    return cs;
  }

  /** Applies a committed address entry (a member's advertised addresses). */
  applyAddressEntry(e: Entry): void {
    const d = decodeAddressEntry(e.data);
    if (!d) {
      this.#log.error(`entry ${e.index}: address entry undecodable; ignored`);
      return;
    }
    const cur = this.#members.get(d.id);
    if (cur && cur.raft === d.address.raft && cur.client === d.address.client) return;
    this.#set(d.id, d.address);
    this.#log.info(`member ${d.id} advertises client ${d.address.client}, raft ${d.address.raft}`);
  }

  /**
   * The address entry this node should propose as a new leader, or null when membership already
   * records its own addresses.
   */
  announcement(): Uint8Array | null {
    const client = this.#ownClient();
    if (!client) return null;
    const cur = this.#members.get(this.#self);
    if (cur && cur.client === client) return null;
    return encodeAddressEntry(this.#self, { raft: cur?.raft ?? this.#own!.raftFallback, client });
  }

  /** MEMBERS rows: `[id, raft, client, voter|learner, leader|follower]` for every member of `conf`. */
  rows(conf: ConfState, leader: NodeId): Value[] {
    const out: Value[] = [];
    const ids = [...new Set([...conf.voters, ...conf.learners])].sort((a, b) => a - b);
    for (const id of ids) {
      const a = this.#members.get(id);
      out.push([
        id,
        a?.raft ?? "",
        this.clientAddress(id) ?? "",
        conf.learners.includes(id) ? "learner" : "voter",
        id === leader ? "leader" : "follower",
      ]);
    }
    return out;
  }
}
