/**
 * Carries Raft messages between peers over the configured transport. Each node listens on its
 * raft port for inbound connections and keeps one outbound connection per peer (connected lazily,
 * reconnected with backoff). Messages to an unreachable peer are dropped — Raft retries — and the
 * peer is reported unreachable so the leader probes instead of pipelining.
 * Messages larger than a chunk (snapshots) are split into chunks and reassembled, bounded.
 *
 * Every connection first runs the mutual HMAC handshake of `auth.ts` (cluster secret and
 * cluster id): an inbound connection delivers no Raft message until the connecting node proved the
 * secret, and an outbound connection carries none until the accepting node did. A message on an
 * authenticated connection must come from the node id it authenticated as, be addressed to this
 * node, and come from a peer this node knows; anything else is dropped. Refusals are logged, one
 * line per remote address and kind of refusal per interval. Unauthenticated connections are limited in number and time
 * (see docs/security.md).
 * @module
 */
import { decodeCbor } from "../../protocol/cbor.ts";
import type { Logger } from "../config/logger.ts";
import { type Cancel, type Clock, realClock, realScheduler, type Scheduler } from "../env/time.ts";
import {
  ClientHandshake,
  HandshakeError,
  RateLimitedLog,
  type RefusalKind,
  ServerHandshake,
} from "./auth.ts";
import { CHUNK_TAG, decodePeerMessage, encodePeerFrames, frameBytes } from "./codec.ts";
import { decodeForward, encodeForward, type ForwardMessage, isForward } from "./forward_codec.ts";
import type { NodeStats } from "../plugin/plugin.ts";
import type { Message, NodeId } from "../raft/types.ts";
import { remoteHost } from "../../transports/address.ts";
import type { Connection, Listener, Transport } from "../../transports/types.ts";

const CHUNK_BYTES = 512 * 1024;
/** Largest reassembled message (a snapshot). */
const MAX_ASSEMBLED_BYTES = 2 * 1024 * 1024 * 1024;
const RECONNECT_MS = 100;
/**
 * Largest frame on a peer connection: a message up to a chunk is sent whole, a larger one as
 * chunks of CHUNK_BYTES plus a small header. Unauthenticated connections can make the transport
 * buffer at most this much (not the batch limit).
 */
const MAX_PEER_FRAME = CHUNK_BYTES + 1024;
/** Most inbound connections still in the handshake; more are closed at once. */
export const MAX_PREAUTH_CONNECTIONS = 16;
/** An inbound or outbound connection that has not completed the handshake by then is closed. */
export const HANDSHAKE_TIMEOUT_MS = 3000;
/** Most connections one remote address may hold in the handshake at once. */
export const MAX_PREAUTH_PER_ADDRESS = 4;
/** Refusals are logged once per remote address per this interval. */
const REFUSAL_LOG_INTERVAL_MS = 10_000;

/** State of one inbound connection. */
interface Inbound {
  /** Non-null until the connecting peer proved the secret. */
  hs: ServerHandshake | null;
  /** The node id the connection authenticated as (0 before). */
  peerId: number;
  timer: Cancel | null;
  refused: boolean;
}

interface Outbound {
  addr: string;
  /** The authenticated connection (null while connecting or handshaking). */
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
  /**
   * The cluster secret every member shares ("" = none: every peer connection is refused, which
   * suits a single node only).
   */
  secret: string;
  /** The cluster id fixed at formation; members of another cluster are refused. */
  clusterId: string;
  /** Clocks and timers (default: the runtime's). */
  clock?: Clock;
  scheduler?: Scheduler;
  /** Receives forwarded client batches and their replies (core/peers/forward_codec.ts). */
  onForward?: (m: ForwardMessage) => void;
}

/** Peer connections of one node. */
export class PeerNetwork {
  readonly #transport: Transport;
  readonly #opts: PeerNetworkOptions;
  readonly #out = new Map<NodeId, Outbound>();
  readonly #assemblies = new Map<Connection, Assembly>();
  readonly #inbound = new Map<Connection, Inbound>();
  #preauth = 0;
  /** Connections still in the handshake, oldest first (the oldest is closed to make room). */
  readonly #preauthConns = new Map<Connection, { st: Inbound; end(): void }>();
  readonly #refusals: RateLimitedLog;
  readonly #onMessage: (m: Message) => void;
  readonly #onUnreachable: (id: NodeId) => void;
  readonly #onSnapshotFailed: (id: NodeId) => void;
  readonly #log: Logger;
  readonly #stats: NodeStats;
  readonly #clock: Clock;
  readonly #scheduler: Scheduler;
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
    const clock = this.#clock = opts.clock ?? realClock;
    this.#scheduler = opts.scheduler ?? realScheduler;
    this.#refusals = new RateLimitedLog(
      (line) => log.warn(line),
      REFUSAL_LOG_INTERVAL_MS,
      undefined,
      () => clock.monoMs(),
    );
    for (const [id, addr] of Object.entries(opts.peers)) this.setPeer(Number(id), addr);
  }

  /** The bound raft port. */
  get port(): number {
    return this.#listener?.port ?? 0;
  }

  /** Starts listening for peers. */
  async listen(): Promise<void> {
    this.#listener = await this.#transport.listen(
      {
        host: this.#opts.host,
        port: this.#opts.port,
        maxMessageBytes: Math.min(this.#opts.maxMessageBytes, MAX_PEER_FRAME),
      },
      (conn) => this.#accept(conn),
    );
  }

  #refuse(conn: Connection, why: string, kind: RefusalKind = "stranger"): void {
    this.#refusals.log(
      `${remoteHost(conn.remoteAddress)} ${kind}`,
      `refused peer connection from ${conn.remoteAddress}: ${why}`,
    );
    conn.close();
  }

  /**
   * Any member that proved the cluster secret and id, under its own id. Not only the peers this
   * node knows: a member added by ADD_NODE may lead (or send) before this node has applied that
   * entry, and dropping it would leave this node behind that leader. Raft itself ignores
   * messages from ids outside the membership where it matters (votes, appends of an old term).
   */
  #preauthFrom(host: string): number {
    let n = 0;
    for (const c of this.#preauthConns.keys()) if (remoteHost(c.remoteAddress) === host) n++;
    return n;
  }

  #isKnown(id: NodeId): boolean {
    return id !== this.#opts.selfId;
  }

  #accept(conn: Connection) {
    const st: Inbound = { hs: null, peerId: 0, timer: null, refused: false };
    this.#inbound.set(conn, st);
    const auth = { secret: this.#opts.secret, clusterId: this.#opts.clusterId };
    if (auth.secret === "") {
      st.refused = true;
      this.#refuse(conn, "this node has no cluster secret (set --cluster-secret on every member)");
    } else if (this.#preauthFrom(remoteHost(conn.remoteAddress)) >= MAX_PREAUTH_PER_ADDRESS) {
      // One address holds at most a few handshakes: a stranger cannot crowd out members that
      // connect from other addresses (64 held connections kept a restarted member out for good).
      st.refused = true;
      this.#refuse(
        conn,
        `too many unauthenticated connections from one address (${MAX_PREAUTH_PER_ADDRESS})`,
        "limit",
      );
    } else {
      // Full: the oldest handshake makes room (a member completes its own within round trips).
      if (this.#preauth >= MAX_PREAUTH_CONNECTIONS) {
        const [oldest, ost] = this.#preauthConns.entries().next().value!;
        ost.st.refused = true;
        ost.end();
        this.#refuse(
          oldest,
          `too many unauthenticated connections (${MAX_PREAUTH_CONNECTIONS}); closing the oldest`,
          "limit",
        );
      }
      this.#preauth++;
      st.hs = new ServerHandshake(auth, this.#opts.selfId, (id) => this.#isKnown(id));
      st.timer = this.#scheduler.timeout(HANDSHAKE_TIMEOUT_MS, () => {
        st.timer = null;
        if (st.hs && !st.refused) {
          st.refused = true;
          this.#refuse(conn, `no handshake within ${HANDSHAKE_TIMEOUT_MS} ms`, "limit");
        }
      });
    }
    const endPreauth = () => {
      st.timer?.();
      st.timer = null;
      if (st.hs) this.#preauth--;
      st.hs = null;
      this.#preauthConns.delete(conn);
    };
    if (st.hs) this.#preauthConns.set(conn, { st, end: endPreauth });
    return {
      onMessage: (c: Connection, bytes: Uint8Array) => {
        if (st.refused) return;
        if (st.hs) {
          this.#stats.bytesIn += bytes.length + 4;
          try {
            const reply = st.hs.receive(bytes);
            c.send(reply);
            if (st.hs.done) {
              st.peerId = st.hs.peerId;
              endPreauth();
            }
          } catch (err) {
            st.refused = true;
            endPreauth();
            if (err instanceof HandshakeError) this.#refuse(c, err.reason, err.kind);
            else this.#refuse(c, (err as Error).message);
          }
          return;
        }
        this.#receive(c, bytes, st.peerId);
      },
      onError: (c: Connection, kind: string, detail: string) => {
        if (st.refused) {
          c.close();
          return;
        }
        if (st.hs) {
          st.refused = true;
          endPreauth();
          this.#refuse(c, `${kind}: ${detail}`);
          return;
        }
        this.#log.warn(`peer connection ${c.remoteAddress}: ${kind}: ${detail}; closing`);
        c.close();
      },
      onClose: (c: Connection) => {
        endPreauth();
        this.#inbound.delete(c);
        this.#assemblies.delete(c);
      },
    };
  }

  /** Adds or updates a peer's raft address. */
  setPeer(id: NodeId, addr: string): void {
    if (id === this.#opts.selfId) return;
    if (this.#opts.secret === "" && !this.#out.has(id)) {
      this.#log.error(
        `peer ${id} (${addr}) added, but this node has no cluster secret: all peer traffic is ` +
          "refused; restart every member with the same --cluster-secret",
      );
    }
    const cur = this.#out.get(id);
    if (cur && cur.addr === addr) return;
    cur?.conn?.close();
    this.#out.set(id, { addr, conn: null, connecting: false, lastAttempt: -Infinity });
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

  #receive(conn: Connection, bytes: Uint8Array, peerId: NodeId): void {
    this.#stats.bytesIn += bytes.length + 4;
    let whole = bytes;
    try {
      if (bytes.length > 0 && bytes[0] === 0x85 && bytes[1] === CHUNK_TAG) {
        const assembled = this.#assemble(conn, bytes);
        if (!assembled) return;
        whole = assembled;
      }
      if (isForward(whole)) return this.#receiveForward(conn, whole, peerId);
      const m = decodePeerMessage(whole);
      if (m.from !== peerId || m.to !== this.#opts.selfId || !this.#isKnown(m.from)) {
        this.#refusals.log(
          `msg ${remoteHost(conn.remoteAddress)}`,
          `dropping a ${m.type} from ${conn.remoteAddress} (authenticated as node ${peerId}) ` +
            `claiming from=${m.from} to=${m.to}: ${
              m.from !== peerId
                ? "not the node it authenticated as"
                : m.to !== this.#opts.selfId
                ? `this is node ${this.#opts.selfId}`
                : "not a member this node knows"
            }`,
        );
        return;
      }
      if (this.blocked.has(m.from)) return;
      this.#onMessage(m);
    } catch (err) {
      this.#log.warn(
        `dropping malformed peer message from ${conn.remoteAddress}: ${(err as Error).message}`,
      );
    }
  }

  #receiveForward(conn: Connection, bytes: Uint8Array, peerId: NodeId): void {
    const m = decodeForward(bytes);
    if (m.from !== peerId || m.to !== this.#opts.selfId) {
      this.#refusals.log(
        `fwd ${remoteHost(conn.remoteAddress)}`,
        `dropping a forwarded ${m.kind} from ${conn.remoteAddress} (authenticated as node ${peerId}) claiming from=${m.from} to=${m.to}`,
      );
      return;
    }
    if (this.blocked.has(m.from)) return;
    this.#opts.onForward?.(m);
  }

  /**
   * Sends a forward message to `m.to` on this node's connection to it. False when there is no
   * open connection (a connection is started for next time): nothing was sent.
   */
  sendForward(m: ForwardMessage): boolean {
    if (this.blocked.has(m.to)) return false;
    const peer = this.#out.get(m.to);
    if (!peer) return false;
    const conn = peer.conn;
    if (!conn || conn.closed) {
      peer.conn = null;
      this.#connect(m.to, peer);
      return false;
    }
    for (const f of frameBytes(encodeForward(m), CHUNK_BYTES, () => ++this.#chunkSeq)) {
      this.#stats.bytesOut += f.length + 4;
      if (!conn.send(f)) return false;
    }
    return true;
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
      // One frame, or chunk frames written straight from the entries (no intermediate copy).
      for (const f of encodePeerFrames(m, CHUNK_BYTES, () => ++this.#chunkSeq)) {
        this.#stats.bytesOut += f.length + 4;
        conn.send(f);
      }
    }
  }

  #connect(id: NodeId, peer: Outbound): void {
    const now = this.#clock.monoMs();
    if (this.#closed || peer.connecting || now - peer.lastAttempt < RECONNECT_MS) return;
    if (this.#opts.secret === "") return; // refused by every peer anyway (logged by setPeer)
    peer.connecting = true;
    peer.lastAttempt = now;
    const i = peer.addr.lastIndexOf(":");
    const host = peer.addr.slice(0, i).replace(/^\[|\]$/g, "");
    const port = Number(peer.addr.slice(i + 1));
    const hs = new ClientHandshake(
      { secret: this.#opts.secret, clusterId: this.#opts.clusterId },
      this.#opts.selfId,
      id,
    );
    let timer: Cancel | null = null;
    let failed = false;
    const fail = (conn: Connection, why: string) => {
      if (failed) return;
      failed = true;
      timer?.();
      peer.connecting = false;
      this.#refusals.log(
        `out ${peer.addr}`,
        `peer ${id} at ${peer.addr} failed authentication: ${why}; closing`,
      );
      conn.close();
    };
    // The configured limit, as before: the UDP transport sizes its send buffer from it, and an
    // outbound connection receives only the (size-checked) CHALLENGE and ACCEPT frames.
    this.#transport.connect({ host, port, maxMessageBytes: this.#opts.maxMessageBytes }, {
      onMessage: (conn, bytes) => {
        if (failed || hs.done) return; // the accepting side sends nothing after ACCEPT
        try {
          const reply = hs.receive(bytes);
          if (reply) conn.send(reply);
          if (!hs.done) return;
          timer?.();
          peer.connecting = false;
          if (this.#closed || this.#out.get(id) !== peer) conn.close();
          else peer.conn = conn;
        } catch (err) {
          fail(conn, err instanceof HandshakeError ? err.reason : (err as Error).message);
        }
      },
      onError: (conn, kind, detail) => fail(conn, `${kind}: ${detail}`),
      onClose: (conn) => {
        timer?.();
        if (!hs.done && !failed && !this.#closed) {
          fail(conn, "it closed the connection (a different cluster secret or cluster id?)");
        }
        if (peer.conn?.closed) peer.conn = null;
      },
    }).then((conn) => {
      if (this.#closed || this.#out.get(id) !== peer) {
        peer.connecting = false;
        conn.close();
        return;
      }
      conn.send(hs.hello());
      timer = this.#scheduler.timeout(HANDSHAKE_TIMEOUT_MS, () => {
        timer = null;
        if (!hs.done && !conn.closed) fail(conn, `no handshake within ${HANDSHAKE_TIMEOUT_MS} ms`);
      });
    }, () => {
      peer.connecting = false;
    });
  }

  /** Closes the listener and every connection. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#listener?.close();
    for (const p of this.#out.values()) p.conn?.close();
    for (const [c, st] of this.#inbound) {
      st.timer?.();
      c.close();
    }
  }
}
