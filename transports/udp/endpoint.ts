/**
 * A sans-I/O UDP endpoint: one socket's worth of connections, multiplexed by connection id.
 * Feed it datagrams with `handleDatagram(bytes, from, now)`, pull datagrams to send with
 * `poll(now, out)`, and call `onTimeout(now)` once `nextTimeout()` has passed. It owns the
 * handshake (version and auth checks), stateless resets for unknown ids, and the connection limit.
 * Malformed, unknown or replayed datagrams are dropped and counted, never thrown.
 * @module
 */
import type { UdpConfig } from "./config.ts";
import { type PeerAddress, UdpConnectionCore } from "./connection_core.ts";
import { resetToken, tokensEqual } from "./stateless_reset.ts";
import {
  CID_BYTES,
  cidKey,
  type ConnectionId,
  DATA_HEADER_BYTES,
  decodeReason,
  encodeReason,
  HELLO_FIXED_BYTES,
  MAX_AUTH_BYTES,
  PacketType,
  PROTOCOL_VERSION,
  readCid,
  readU16,
  readU32,
  readU64,
  RESET_BYTES,
  RESET_TOKEN_BYTES,
  WELCOME_BYTES,
  writeCid,
  writeU16,
} from "./wire.ts";

/** Why datagrams were dropped, and what the endpoint sent on its own. */
export interface EndpointStats {
  malformed: number;
  unknownConnection: number;
  duplicates: number;
  wrongAddress: number;
  resetsSent: number;
  resetsAccepted: number;
  rejectsSent: number;
}

interface ControlPacket {
  bytes: Uint8Array;
  to: PeerAddress;
}

const MAX_CONTROL_QUEUE = 256;

/** One endpoint (a socket's worth of connections). */
export class UdpEndpoint {
  readonly config: UdpConfig;
  readonly stats: EndpointStats = {
    malformed: 0,
    unknownConnection: 0,
    duplicates: 0,
    wrongAddress: 0,
    resetsSent: 0,
    resetsAccepted: 0,
    rejectsSent: 0,
  };
  /** Destination of the datagram returned by the last `poll`. */
  polledAddress: PeerAddress = { host: "", port: 0 };
  readonly #accept: ((conn: UdpConnectionCore) => void) | undefined;
  /** Connections by local cid (low 32 bits are unique among them; high bits checked). */
  readonly #byLocal = new Map<number, UdpConnectionCore>();
  /** Connections by the peer's cid (handshake de-duplication, stateless reset lookup). */
  readonly #byRemote = new Map<string, UdpConnectionCore>();
  readonly #dirty: UdpConnectionCore[] = [];
  readonly #dirtySet = new Set<UdpConnectionCore>();
  #rr = 0;
  readonly #control: ControlPacket[] = [];
  #resetBudget: number;
  #resetBudgetAt = 0;
  readonly #markDirty = (c: UdpConnectionCore): void => {
    if (this.#dirtySet.has(c)) return;
    this.#dirtySet.add(c);
    this.#dirty.push(c);
  };

  /**
   * @param config Resolved configuration.
   * @param accept Server role: called for every new connection (set `conn.events` in it).
   */
  constructor(config: UdpConfig, accept?: (conn: UdpConnectionCore) => void) {
    this.config = config;
    this.#accept = accept;
    this.#resetBudget = config.maxResetsPerSecond;
  }

  /** Live connections (including draining ones). */
  get connectionCount(): number {
    return this.#byLocal.size;
  }

  /** Every live connection. */
  connections(): UdpConnectionCore[] {
    return [...this.#byLocal.values()];
  }

  #newCid(): ConnectionId {
    for (;;) {
      const lo = this.config.random() >>> 0;
      const hi = this.config.random() >>> 0;
      if ((lo | hi) !== 0 && !this.#byLocal.has(lo)) return { hi, lo };
    }
  }

  /** Starts a client connection to `remote` (its HELLO goes out on the next poll). */
  connect(remote: PeerAddress, now: number): UdpConnectionCore {
    const cid = this.#newCid();
    const conn = new UdpConnectionCore(
      this.config,
      true,
      { host: remote.host, port: remote.port },
      cid,
      { hi: 0, lo: 0 },
      resetToken(this.config.resetKey, cid),
      now,
      this.#markDirty,
    );
    this.#byLocal.set(cid.lo, conn);
    this.#markDirty(conn);
    return conn;
  }

  /** Handles one received datagram. Never throws on bad input. */
  handleDatagram(b: Uint8Array, from: PeerAddress, now: number): void {
    if (b.length < 1 + CID_BYTES) {
      this.stats.malformed++;
      return;
    }
    switch (b[0]) {
      case PacketType.DATA:
        return this.#onData(b, from, now);
      case PacketType.HELLO:
        return this.#onHello(b, from, now);
      case PacketType.WELCOME:
        return this.#onWelcome(b, from, now);
      case PacketType.REJECT:
        return this.#onReject(b, from, now);
      case PacketType.RESET:
        return this.#onReset(b, from, now);
      default:
        this.stats.malformed++;
    }
  }

  #local(b: Uint8Array, from: PeerAddress): UdpConnectionCore | null {
    const conn = this.#byLocal.get(readU32(b, 5));
    if (!conn || conn.localCid.hi !== readU32(b, 1)) {
      this.stats.unknownConnection++;
      return null;
    }
    if (conn.remote.port !== from.port || conn.remote.host !== from.host) {
      this.stats.wrongAddress++;
      return null;
    }
    return conn;
  }

  #onData(b: Uint8Array, from: PeerAddress, now: number): void {
    if (b.length < DATA_HEADER_BYTES + 1) {
      this.stats.malformed++;
      return;
    }
    const conn = this.#byLocal.get(readU32(b, 5));
    if (!conn || conn.localCid.hi !== readU32(b, 1)) {
      this.stats.unknownConnection++;
      this.#sendReset(b, from, now);
      return;
    }
    if (conn.remote.port !== from.port || conn.remote.host !== from.host) {
      this.stats.wrongAddress++;
      return;
    }
    const dupBefore = conn.stats.duplicatesDropped;
    if (!conn.handleData(b, now)) {
      if (conn.stats.duplicatesDropped > dupBefore) this.stats.duplicates++;
      else this.stats.malformed++;
    }
    if (conn.state === "closed") this.#forget(conn);
  }

  #onHello(b: Uint8Array, from: PeerAddress, now: number): void {
    if (!this.#accept || b.length < 1 + CID_BYTES + 4) {
      this.stats.malformed++;
      return;
    }
    const clientCid = readCid(b, 1);
    const version = readU32(b, 1 + CID_BYTES);
    if (version !== PROTOCOL_VERSION) {
      this.#reject(
        clientCid,
        from,
        now,
        `version mismatch: server speaks ${PROTOCOL_VERSION}, client offered ${version}`,
      );
      return;
    }
    if (b.length < HELLO_FIXED_BYTES) {
      this.stats.malformed++;
      return;
    }
    const authLen = readU16(b, HELLO_FIXED_BYTES - 2);
    const maxData = readU64(b, 1 + CID_BYTES + 4 + RESET_TOKEN_BYTES);
    if (authLen > MAX_AUTH_BYTES || b.length !== HELLO_FIXED_BYTES + authLen || maxData < 0) {
      this.stats.malformed++;
      return;
    }
    const tokenAt = 1 + CID_BYTES + 4;
    const peerToken = b.slice(tokenAt, tokenAt + RESET_TOKEN_BYTES);
    const key = cidKey(clientCid);
    const existing = this.#byRemote.get(key);
    if (existing) {
      if (existing.remote.port !== from.port || existing.remote.host !== from.host) {
        this.stats.wrongAddress++;
        return;
      }
      if (!existing.isClient) existing.onHello(peerToken, maxData, now);
      return;
    }
    if (this.#byLocal.size >= this.config.maxConnections) {
      this.#reject(clientCid, from, now, `server busy: ${this.config.maxConnections} connections`);
      return;
    }
    const verify = this.config.verifyAuth;
    if (verify) {
      const auth = b.slice(HELLO_FIXED_BYTES, HELLO_FIXED_BYTES + authLen);
      let ok = false;
      try {
        ok = verify(auth, `${from.host}:${from.port}`);
      } catch {
        ok = false;
      }
      if (!ok) {
        this.#reject(clientCid, from, now, "authentication failed");
        return;
      }
    }
    const cid = this.#newCid();
    const conn = new UdpConnectionCore(
      this.config,
      false,
      { host: from.host, port: from.port },
      cid,
      clientCid,
      resetToken(this.config.resetKey, cid),
      now,
      this.#markDirty,
    );
    conn.onHello(peerToken, maxData, now);
    this.#byLocal.set(cid.lo, conn);
    this.#byRemote.set(key, conn);
    this.#markDirty(conn);
    try {
      this.#accept(conn);
    } catch (err) {
      conn.abort(`accept failed: ${(err as Error).message}`);
    }
  }

  #onWelcome(b: Uint8Array, from: PeerAddress, now: number): void {
    if (b.length !== WELCOME_BYTES) {
      this.stats.malformed++;
      return;
    }
    const conn = this.#local(b, from);
    if (!conn || !conn.isClient || conn.state !== "handshake") return;
    const serverCid = readCid(b, 1 + CID_BYTES);
    const at = 1 + 2 * CID_BYTES;
    const maxData = readU64(b, at + RESET_TOKEN_BYTES);
    if (maxData < 0) {
      this.stats.malformed++;
      return;
    }
    conn.onWelcome(serverCid, b.slice(at, at + RESET_TOKEN_BYTES), maxData, now);
    this.#byRemote.set(cidKey(serverCid), conn);
  }

  #onReject(b: Uint8Array, from: PeerAddress, now: number): void {
    if (b.length < 1 + CID_BYTES + 2 || b.length !== 1 + CID_BYTES + 2 + readU16(b, 9)) {
      this.stats.malformed++;
      return;
    }
    const conn = this.#local(b, from);
    if (!conn || !conn.isClient) return;
    conn.onReject(decodeReason(b.subarray(1 + CID_BYTES + 2)), now);
    if (conn.state === "closed") this.#forget(conn);
  }

  #onReset(b: Uint8Array, from: PeerAddress, now: number): void {
    if (b.length !== RESET_BYTES) {
      this.stats.malformed++;
      return;
    }
    const conn = this.#byRemote.get(cidKey(readCid(b, 1)));
    if (!conn || conn.remote.port !== from.port || conn.remote.host !== from.host) {
      this.stats.unknownConnection++;
      return;
    }
    if (!conn.peerResetToken || !tokensEqual(conn.peerResetToken, b, 1 + CID_BYTES)) {
      this.stats.malformed++;
      return;
    }
    this.stats.resetsAccepted++;
    conn.onStatelessReset(now);
    this.#forget(conn);
  }

  #takeBudget(now: number): boolean {
    const elapsed = now - this.#resetBudgetAt;
    if (elapsed > 0) {
      this.#resetBudget = Math.min(
        this.config.maxResetsPerSecond,
        this.#resetBudget + (elapsed / 1000) * this.config.maxResetsPerSecond,
      );
      this.#resetBudgetAt = now;
    }
    if (this.#resetBudget < 1 || this.#control.length >= MAX_CONTROL_QUEUE) return false;
    this.#resetBudget -= 1;
    return true;
  }

  #sendReset(b: Uint8Array, to: PeerAddress, now: number): void {
    if (!this.#takeBudget(now)) return;
    const cid = readCid(b, 1);
    const out = new Uint8Array(RESET_BYTES);
    out[0] = PacketType.RESET;
    writeCid(out, 1, cid);
    out.set(resetToken(this.config.resetKey, cid), 1 + CID_BYTES);
    this.#control.push({ bytes: out, to: { host: to.host, port: to.port } });
    this.stats.resetsSent++;
  }

  #reject(cid: ConnectionId, to: PeerAddress, now: number, reason: string): void {
    if (!this.#takeBudget(now)) return;
    const r = encodeReason(reason);
    const out = new Uint8Array(1 + CID_BYTES + 2 + r.length);
    out[0] = PacketType.REJECT;
    writeCid(out, 1, cid);
    writeU16(out, 1 + CID_BYTES, r.length);
    out.set(r, 1 + CID_BYTES + 2);
    this.#control.push({ bytes: out, to: { host: to.host, port: to.port } });
    this.stats.rejectsSent++;
  }

  #forget(conn: UdpConnectionCore): void {
    if (this.#byLocal.get(conn.localCid.lo) === conn) this.#byLocal.delete(conn.localCid.lo);
    const rk = cidKey(conn.remoteCid);
    if (this.#byRemote.get(rk) === conn) this.#byRemote.delete(rk);
  }

  /**
   * Writes the next datagram due into `out` (at least MAX_DATAGRAM_BYTES long) and returns its
   * length; its destination is then in `polledAddress`. Returns 0 when nothing is due.
   */
  poll(now: number, out: Uint8Array): number {
    const c = this.#control.shift();
    if (c) {
      out.set(c.bytes);
      this.polledAddress = c.to;
      return c.bytes.length;
    }
    const d = this.#dirty;
    while (d.length > 0) {
      if (this.#rr >= d.length) this.#rr = 0;
      const conn = d[this.#rr];
      const n = conn.writePacket(now, out);
      if (n > 0) {
        this.polledAddress = conn.remote;
        this.#rr++;
        return n;
      }
      d[this.#rr] = d[d.length - 1];
      d.pop();
      this.#dirtySet.delete(conn);
      if (conn.state === "closed") this.#forget(conn);
    }
    return 0;
  }

  /** Convenience for tests: every due datagram as a fresh copy with its destination. */
  drainDatagrams(now: number, max = 100_000): { bytes: Uint8Array; to: PeerAddress }[] {
    const out: { bytes: Uint8Array; to: PeerAddress }[] = [];
    const buf = new Uint8Array(2048);
    for (let i = 0; i < max; i++) {
      const n = this.poll(now, buf);
      if (n === 0) break;
      out.push({ bytes: buf.slice(0, n), to: this.polledAddress });
    }
    return out;
  }

  /** True when a `poll` may return something. */
  get hasPending(): boolean {
    return this.#control.length > 0 || this.#dirty.length > 0;
  }

  /** Earliest deadline of any connection (Infinity when none). */
  nextTimeout(): number {
    let t = Infinity;
    for (const c of this.#byLocal.values()) {
      const d = c.nextTimeout();
      if (d < t) t = d;
    }
    return t;
  }

  /** Runs every connection whose deadline has passed. */
  onTimeout(now: number): void {
    for (const c of this.#byLocal.values()) {
      if (c.nextTimeout() <= now) c.onTimeout(now);
      if (c.state === "closed") this.#forget(c);
    }
  }

  /** Closes every connection immediately (socket going away); sends their CLOSE frames if polled. */
  closeAll(reason: string): void {
    for (const c of this.#byLocal.values()) c.abort(reason);
  }
}
