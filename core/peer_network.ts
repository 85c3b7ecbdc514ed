/**
 * Carries Raft messages between peers over the configured transport. Each node listens on its
 * raft port for inbound connections and keeps one outbound connection per peer (connected lazily,
 * reconnected with backoff). Messages to an unreachable peer are dropped — Raft retries — and the
 * peer is reported unreachable so the leader probes instead of pipelining.
 * Messages larger than a chunk (snapshots) are split into chunks and reassembled, bounded.
 * @module
 */
import { decodeCbor, encodeCbor } from "./cbor.ts";
import type { Logger } from "./logger.ts";
import { decodePeerMessage, encodePeerMessage } from "./peer_codec.ts";
import type { NodeStats } from "./plugin.ts";
import type { Message, NodeId } from "./raft/types.ts";
import type { Connection, Listener, Transport } from "../transports/types.ts";

const CHUNK_BYTES = 512 * 1024;
const CHUNK_TAG = 2;
/** Largest reassembled message (a snapshot). */
const MAX_ASSEMBLED_BYTES = 2 * 1024 * 1024 * 1024;
const RECONNECT_MS = 100;

interface Outbound {
  addr: string;
  conn: Connection | null;
  connecting: boolean;
  lastAttempt: number;
}

interface Assembly {
  id: number;
  total: number;
  parts: Uint8Array[];
  bytes: number;
}

/** Options for the peer network. */
export interface PeerNetworkOptions {
  selfId: NodeId;
  host: string;
  port: number;
  maxMessageBytes: number;
  /** Peer id → raft address `host:port` (this node included or not; it is skipped). */
  peers: Record<number, string>;
}

/** Peer connections of one node. */
export class PeerNetwork {
  readonly #transport: Transport;
  readonly #opts: PeerNetworkOptions;
  readonly #out = new Map<NodeId, Outbound>();
  readonly #assemblies = new Map<Connection, Assembly>();
  readonly #inbound = new Set<Connection>();
  readonly #onMessage: (m: Message) => void;
  readonly #onUnreachable: (id: NodeId) => void;
  readonly #onSnapshotFailed: (id: NodeId) => void;
  readonly #log: Logger;
  readonly #stats: NodeStats;
  #listener: Listener | null = null;
  #closed = false;
  #chunkSeq = 0;
  /** Test hook: peers whose traffic is dropped both ways (simulated partition). */
  readonly blocked = new Set<NodeId>();

  constructor(
    transport: Transport,
    opts: PeerNetworkOptions,
    onMessage: (m: Message) => void,
    onUnreachable: (id: NodeId) => void,
    onSnapshotFailed: (id: NodeId) => void,
    log: Logger,
    stats: NodeStats,
  ) {
    this.#transport = transport;
    this.#opts = opts;
    this.#onMessage = onMessage;
    this.#onUnreachable = onUnreachable;
    this.#onSnapshotFailed = onSnapshotFailed;
    this.#log = log;
    this.#stats = stats;
    for (const [id, addr] of Object.entries(opts.peers)) this.setPeer(Number(id), addr);
  }

  /** The bound raft port. */
  get port(): number {
    return this.#listener?.port ?? 0;
  }

  /** Starts listening for peers. */
  async listen(): Promise<void> {
    this.#listener = await this.#transport.listen(
      { host: this.#opts.host, port: this.#opts.port, maxMessageBytes: this.#opts.maxMessageBytes },
      (conn) => {
        this.#inbound.add(conn);
        return {
          onMessage: (c, bytes) => this.#receive(c, bytes),
          onError: (c, kind, detail) => {
            this.#log.warn(`peer connection ${c.remoteAddress}: ${kind}: ${detail}; closing`);
            c.close();
          },
          onClose: (c) => {
            this.#inbound.delete(c);
            this.#assemblies.delete(c);
          },
        };
      },
    );
  }

  /** Adds or updates a peer's raft address. */
  setPeer(id: NodeId, addr: string): void {
    if (id === this.#opts.selfId) return;
    const cur = this.#out.get(id);
    if (cur && cur.addr === addr) return;
    cur?.conn?.close();
    this.#out.set(id, { addr, conn: null, connecting: false, lastAttempt: 0 });
  }

  /** Forgets a peer (removed from the cluster). */
  removePeer(id: NodeId): void {
    this.#out.get(id)?.conn?.close();
    this.#out.delete(id);
  }

  /** Raft address of a peer, if known. */
  peerAddress(id: NodeId): string | undefined {
    return this.#out.get(id)?.addr;
  }

  #receive(conn: Connection, bytes: Uint8Array): void {
    this.#stats.bytesIn += bytes.length + 4;
    let whole = bytes;
    try {
      if (bytes.length > 0 && bytes[0] === 0x85 && bytes[1] === CHUNK_TAG) {
        const assembled = this.#assemble(conn, bytes);
        if (!assembled) return;
        whole = assembled;
      }
      const m = decodePeerMessage(whole);
      if (m.to !== this.#opts.selfId || this.blocked.has(m.from)) return;
      this.#onMessage(m);
    } catch (err) {
      this.#log.warn(
        `dropping malformed peer message from ${conn.remoteAddress}: ${(err as Error).message}`,
      );
    }
  }

  #assemble(conn: Connection, bytes: Uint8Array): Uint8Array | null {
    const [, id, seq, total, part] = decodeCbor(bytes) as [
      number,
      number,
      number,
      number,
      Uint8Array,
    ];
    if (typeof total !== "number" || total > MAX_ASSEMBLED_BYTES || !(part instanceof Uint8Array)) {
      throw new Error("bad chunk");
    }
    let a = this.#assemblies.get(conn);
    if (!a || a.id !== id || seq === 0) {
      a = { id, total, parts: [], bytes: 0 };
      this.#assemblies.set(conn, a);
    }
    if (seq !== a.parts.length) throw new Error("chunk out of order");
    a.parts.push(part);
    a.bytes += part.length;
    if (a.bytes > a.total) throw new Error("chunk overflow");
    if (a.bytes < a.total) return null;
    this.#assemblies.delete(conn);
    const out = new Uint8Array(a.total);
    let p = 0;
    for (const x of a.parts) {
      out.set(x, p);
      p += x.length;
    }
    return out;
  }

  /**
   * Sends messages (best effort; Raft retransmits what is lost). A snapshot that cannot be sent
   * (peer unreachable or partitioned) is reported, so the leader retries it instead of waiting for
   * its snapshot timeout; success is acknowledged by the follower's own `snapResp`.
   */
  send(msgs: readonly Message[]): void {
    for (const m of msgs) {
      const isSnapshot = m.type === "snap";
      if (this.blocked.has(m.to)) {
        if (isSnapshot) this.#onSnapshotFailed(m.to);
        continue;
      }
      const peer = this.#out.get(m.to);
      if (!peer) continue;
      const conn = peer.conn;
      if (!conn || conn.closed) {
        peer.conn = null;
        this.#connect(m.to, peer);
        this.#onUnreachable(m.to);
        if (isSnapshot) this.#onSnapshotFailed(m.to);
        continue;
      }
      const bytes = encodePeerMessage(m);
      if (bytes.length <= CHUNK_BYTES) {
        this.#stats.bytesOut += bytes.length + 4;
        conn.send(bytes);
      } else {
        this.#sendChunked(conn, bytes.slice());
      }
    }
  }

  #sendChunked(conn: Connection, bytes: Uint8Array): void {
    const id = ++this.#chunkSeq;
    for (let seq = 0, off = 0; off < bytes.length; seq++, off += CHUNK_BYTES) {
      const chunk = encodeCbor([
        CHUNK_TAG,
        id,
        seq,
        bytes.length,
        bytes.subarray(off, off + CHUNK_BYTES),
      ]);
      this.#stats.bytesOut += chunk.length + 4;
      conn.send(chunk);
    }
  }

  #connect(id: NodeId, peer: Outbound): void {
    const now = Date.now();
    if (this.#closed || peer.connecting || now - peer.lastAttempt < RECONNECT_MS) return;
    peer.connecting = true;
    peer.lastAttempt = now;
    const i = peer.addr.lastIndexOf(":");
    const host = peer.addr.slice(0, i).replace(/^\[|\]$/g, "");
    const port = Number(peer.addr.slice(i + 1));
    this.#transport.connect({ host, port, maxMessageBytes: this.#opts.maxMessageBytes }, {
      onMessage: () => {},
      onClose: () => {
        if (peer.conn?.closed) peer.conn = null;
      },
    }).then((conn) => {
      peer.connecting = false;
      if (this.#closed || this.#out.get(id) !== peer) conn.close();
      else peer.conn = conn;
    }, () => {
      peer.connecting = false;
    });
  }

  /** Closes the listener and every connection. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#listener?.close();
    for (const p of this.#out.values()) p.conn?.close();
    for (const c of this.#inbound) c.close();
  }
}
