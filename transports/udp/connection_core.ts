/**
 * One connection's protocol state machine, free of sockets and timers: the endpoint feeds it
 * packets and the current time, asks it for the next packet to send, and calls `onTimeout` when
 * `nextTimeout()` passes. Implements packet numbering, ACK ranges, RFC 9002 loss detection
 * (packet threshold 3, time threshold 9/8 RTT), PTO with exponential backoff, NewReno, flow
 * control, keep-alive, idle timeout and graceful close.
 * @module
 */
import type { TransportErrorKind } from "../types.ts";
import type { UdpConfig } from "./config.ts";
import { NewReno } from "./new_reno.ts";
import { ReceivedPackets } from "./received_packets.ts";
import { RecvStream } from "./recv_stream.ts";
import { RttEstimator } from "./rtt_estimator.ts";
import { SendStream } from "./send_stream.ts";
import { SentPacketLog, SentState } from "./sent_packet_log.ts";
import {
  CID_BYTES,
  type ConnectionId,
  DATA_HEADER_BYTES,
  decodeReason,
  encodeReason,
  FrameType,
  MAX_DATAGRAM_BYTES,
  PacketType,
  readU16,
  readU32,
  readU64,
  RESET_TOKEN_BYTES,
  STREAM_FRAME_HEADER_BYTES,
  writeCid,
  writeU16,
  writeU32,
  writeU64,
} from "./wire.ts";

/** A UDP peer address. */
export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

/** Lifecycle of a connection. */
export type ConnectionState = "handshake" | "established" | "draining" | "closed";

/** What a connection reports upward (the adapter binds these to the transport handler). */
export interface ConnectionEvents {
  /** Client only: the server accepted the handshake. */
  onEstablished?(): void;
  /** A whole message arrived (owned by the receiver). */
  onMessage(message: Uint8Array): void;
  /** The peer sent something unacceptable; reading stops. */
  onError(kind: TransportErrorKind, detail: string): void;
  /** The connection is over (exactly once), with a human-readable reason. */
  onClose(reason: string): void;
}

/** Counters for diagnostics and tests. */
export interface ConnectionStats {
  packetsSent: number;
  packetsReceived: number;
  packetsLost: number;
  duplicatesDropped: number;
  ptoCount: number;
}

const PACKET_THRESHOLD = 3;
const ACK_ELICITING_THRESHOLD = 2;
const MAX_ACK_RANGES_SENT = 32;
const CLOSE_CODE_NORMAL = 0;
const CLOSE_CODE_ERROR = 1;

let nextConnectionId = 1;

/** Protocol state of one connection. */
export class UdpConnectionCore {
  /** Process-unique id. */
  readonly id: number = nextConnectionId++;
  readonly isClient: boolean;
  readonly remote: PeerAddress;
  /** The id the peer puts in packets to us. */
  readonly localCid: ConnectionId;
  /** The id we put in packets to the peer (client: known after WELCOME). */
  remoteCid: ConnectionId;
  state: ConnectionState;
  /** Why the connection ended ("" while open). */
  closeReason = "";
  events: ConnectionEvents | null = null;
  /** Our reset token for `localCid` (announced in the handshake). */
  readonly localResetToken: Uint8Array;
  /** The peer's reset token for `remoteCid`. */
  peerResetToken: Uint8Array | null = null;
  readonly stats: ConnectionStats = {
    packetsSent: 0,
    packetsReceived: 0,
    packetsLost: 0,
    duplicatesDropped: 0,
    ptoCount: 0,
  };
  readonly rtt: RttEstimator;
  readonly cc: NewReno;

  readonly #cfg: UdpConfig;
  readonly #markDirty: (c: UdpConnectionCore) => void;
  readonly #send = new SendStream();
  readonly #recv: RecvStream;
  readonly #received = new ReceivedPackets();
  readonly #sent = new SentPacketLog();
  #now: number;
  #nextPn = 0;
  #peerMaxData = 0;
  #largestAcked = -1;
  #ackElicitingInFlight = 0;
  #lastAckElicitingSent = -Infinity;
  #lossTime = Infinity;
  #ptoCount = 0;
  #probesDue = 0;
  #pingDue = false;
  // ACK generation
  #ackPending = false;
  #ackImmediate = false;
  #ackElicitingSinceAck = 0;
  #ackDeadline = Infinity;
  #largestReceivedTime = 0;
  // Liveness
  #lastReceived: number;
  readonly #createdAt: number;
  // Handshake
  #helloDue = false;
  #helloSentAt = -Infinity;
  #helloCount = 0;
  /** Server: WELCOME must be (re)sent. */
  welcomeDue = false;
  // Close
  #closeAfterFlush = false;
  #closeDue = false;
  #closeFrame: Uint8Array | null = null;
  #closeCode = CLOSE_CODE_NORMAL;
  #closeSentAt = -Infinity;
  #closeResends = 0;
  #drainDeadline = Infinity;
  #firstSampleTime = Infinity;

  constructor(
    cfg: UdpConfig,
    isClient: boolean,
    remote: PeerAddress,
    localCid: ConnectionId,
    remoteCid: ConnectionId,
    localResetToken: Uint8Array,
    now: number,
    markDirty: (c: UdpConnectionCore) => void,
  ) {
    this.#cfg = cfg;
    this.isClient = isClient;
    this.remote = remote;
    this.localCid = localCid;
    this.remoteCid = remoteCid;
    this.localResetToken = localResetToken;
    this.#now = now;
    this.#createdAt = now;
    this.#lastReceived = now;
    this.#markDirty = markDirty;
    this.rtt = new RttEstimator(cfg.initialRttMs);
    this.cc = new NewReno({
      maxDatagramBytes: MAX_DATAGRAM_BYTES,
      initialWindowPackets: cfg.initialWindowPackets,
      minimumWindowPackets: cfg.minimumWindowPackets,
      maximumWindowBytes: cfg.maximumWindowBytes,
    }, cfg.onCongestion);
    this.#recv = new RecvStream(cfg.receiveWindowBytes, cfg.maxMessageBytes, {
      message: (m) => this.events?.onMessage(m),
      tooLarge: (size) =>
        this.events?.onError(
          "too_large",
          `message of ${size} bytes exceeds maxMessageBytes ${cfg.maxMessageBytes}`,
        ),
    });
    if (isClient) {
      this.state = "handshake";
      this.#helloDue = true;
    } else {
      this.state = "established";
      this.welcomeDue = true;
    }
  }

  /** Bytes written by `send` and not yet acknowledged by the peer. */
  bufferedBytes(): number {
    return this.#send.retainedBytes;
  }

  /** Bytes the receiver may still accept before the peer's credit runs out. */
  get peerMaxData(): number {
    return this.#peerMaxData;
  }

  /** Our advertised receive limit (stream offset). */
  get localMaxData(): number {
    return this.#recv.maxData;
  }

  /** True once `close()` was called or the connection ended. */
  get closing(): boolean {
    return this.#closeAfterFlush || this.state === "draining" || this.state === "closed";
  }

  /** Queues one message. False when closing/closed or the send buffer is full. */
  send(message: Uint8Array): boolean {
    if (this.closing) return false;
    if (this.#send.retainedBytes + message.length + 4 > this.#cfg.maxSendBufferBytes) return false;
    this.#send.writeMessage(message);
    this.#markDirty(this);
    return true;
  }

  /** Graceful close: flush what is queued, then send CLOSE with `reason`. */
  close(reason = "closed"): void {
    if (this.closing) return;
    if (this.state === "handshake") {
      this.#terminate(`closed before handshake: ${reason}`);
      return;
    }
    this.#closeAfterFlush = true;
    this.#closeFrame = encodeReason(reason);
    this.#closeCode = CLOSE_CODE_NORMAL;
    this.#maybeFinishClose();
    this.#markDirty(this);
  }

  /** Immediate close with an error CLOSE frame (protocol violation or local abort). */
  abort(reason: string): void {
    if (this.state === "draining" || this.state === "closed") return;
    if (this.state === "handshake") {
      this.#terminate(reason);
      return;
    }
    this.#closeFrame = encodeReason(reason);
    this.#closeCode = CLOSE_CODE_ERROR;
    this.#enterDraining(reason, true);
  }

  #maybeFinishClose(): void {
    if (this.#closeAfterFlush && this.state === "established" && this.#send.allAcked) {
      this.#enterDraining("closed locally", true);
    }
  }

  #enterDraining(reason: string, sendClose: boolean): void {
    this.state = "draining";
    this.#closeDue = sendClose;
    // Long enough for the CLOSE resends (after 1, 2 and 4 PTO) plus stray packets.
    this.#drainDeadline = this.#now + 8 * this.rtt.ptoBase(this.#cfg.maxAckDelayMs);
    this.#releaseBuffers();
    this.#fireClose(reason);
    this.#markDirty(this);
  }

  /** Ends the connection without sending anything (idle timeout, reset, handshake failure). */
  #terminate(reason: string): void {
    if (this.state === "closed") return;
    const wasDraining = this.state === "draining";
    this.state = "closed";
    this.#releaseBuffers();
    if (!wasDraining) this.#fireClose(reason);
    this.#markDirty(this);
  }

  #fireClose(reason: string): void {
    if (this.closeReason !== "") return;
    this.closeReason = reason;
    this.events?.onClose(reason);
  }

  #releaseBuffers(): void {
    this.#send.reset();
    this.#recv.reset();
    this.#sent.clear();
    this.#ackElicitingInFlight = 0;
    this.cc.bytesInFlight = 0;
    this.#lossTime = Infinity;
  }

  // ---------------------------------------------------------------- incoming

  /** Client: the server's WELCOME arrived. */
  onWelcome(serverCid: ConnectionId, token: Uint8Array, maxData: number, now: number): void {
    this.#now = now;
    if (this.state !== "handshake") return;
    this.remoteCid = serverCid;
    this.peerResetToken = token;
    this.#peerMaxData = maxData;
    this.#lastReceived = now;
    if (this.#helloCount === 1) this.rtt.update(now - this.#helloSentAt, 0);
    this.state = "established";
    this.events?.onEstablished?.();
    this.#markDirty(this);
  }

  /** Client: the server refused the handshake. */
  onReject(reason: string, now: number): void {
    this.#now = now;
    if (this.state !== "handshake") return;
    this.#terminate(`rejected by server: ${reason}`);
  }

  /** Server: the client's HELLO (first or repeated) arrived with its credit. */
  onHello(token: Uint8Array, maxData: number, now: number): void {
    this.#now = now;
    this.peerResetToken = token;
    if (maxData > this.#peerMaxData) this.#peerMaxData = maxData;
    this.#lastReceived = now;
    if (this.state === "established") {
      this.welcomeDue = true;
      this.#markDirty(this);
    }
  }

  /** A valid stateless reset for this connection arrived. */
  onStatelessReset(now: number): void {
    this.#now = now;
    this.#terminate("stateless reset by peer");
  }

  /** A DATA packet for this connection; returns false when it was dropped. */
  handleData(b: Uint8Array, now: number): boolean {
    this.#now = now;
    if (this.state === "closed") return false;
    if (b.length < DATA_HEADER_BYTES) return false;
    const pn = readU64(b, 1 + CID_BYTES);
    if (pn < 0) return false;
    if (this.state === "handshake") return false; // cannot ack before knowing the server's cid
    if (this.#received.has(pn)) {
      this.stats.duplicatesDropped++;
      return false;
    }
    if (!this.#frames(b, now, false)) return false;
    const largestBefore = this.#received.largest;
    this.#received.insert(pn);
    this.stats.packetsReceived++;
    this.#lastReceived = now;
    if (this.state === "draining") {
      // Answer stray packets with our CLOSE again (at most once per RTT).
      if (this.#closeFrame && now - this.#closeSentAt >= this.rtt.smoothedRtt) {
        this.#closeDue = true;
        this.#markDirty(this);
      }
      return true;
    }
    const eliciting = this.#frames(b, now, true);
    if (this.state !== "established") return true;
    if (pn === this.#received.largest) this.#largestReceivedTime = now;
    if (eliciting) {
      this.#ackPending = true;
      this.#ackElicitingSinceAck++;
      if (pn !== largestBefore + 1 || this.#received.rangeCount > 1) this.#ackImmediate = true;
      if (this.#ackElicitingSinceAck >= ACK_ELICITING_THRESHOLD) this.#ackImmediate = true;
      if (this.#ackDeadline === Infinity) this.#ackDeadline = now + this.#cfg.maxAckDelayMs;
    }
    this.#markDirty(this);
    return true;
  }

  /**
   * Walks the frames of a DATA packet. With `apply` false only validates (returns false on any
   * malformed frame); with `apply` true acts on them and returns whether any was ack-eliciting.
   */
  #frames(b: Uint8Array, now: number, apply: boolean): boolean {
    let p = DATA_HEADER_BYTES;
    let eliciting = false;
    const n = b.length;
    if (p >= n) return false;
    while (p < n) {
      const t = b[p++];
      switch (t) {
        case FrameType.PING:
          eliciting = true;
          break;
        case FrameType.ACK: {
          if (p + 8 + 4 + 1 + 4 > n) return false;
          const largest = readU64(b, p);
          const delayUs = readU32(b, p + 8);
          const count = b[p + 12] + 1;
          const first = readU32(b, p + 13);
          p += 17;
          if (largest < 0 || first > largest) return false;
          if (p + (count - 1) * 8 > n) return false;
          let start = largest - first;
          let q = p;
          for (let i = 1; i < count; i++) {
            const gap = readU32(b, q);
            const len = readU32(b, q + 4);
            q += 8;
            const end = start - gap - 1;
            if (gap < 1 || end - len < 0) return false;
            start = end - len;
          }
          if (apply) this.#onAck(b, p - 17, count, now, delayUs / 1000);
          p = q;
          break;
        }
        case FrameType.STREAM: {
          if (p + 10 > n) return false;
          const offset = readU64(b, p);
          const len = readU16(b, p + 8);
          p += 10;
          if (offset < 0 || p + len > n) return false;
          if (apply && this.state === "established") {
            const r = this.#recv.onData(offset, b, p, len);
            if (r === "flow_control") {
              this.abort(
                `flow control violation: data to ${offset + len} over ${this.#recv.maxData}`,
              );
              return eliciting;
            }
          }
          p += len;
          eliciting = true;
          break;
        }
        case FrameType.MAX_DATA: {
          if (p + 8 > n) return false;
          const v = readU64(b, p);
          p += 8;
          if (v < 0) return false;
          if (apply && v > this.#peerMaxData) {
            this.#peerMaxData = v;
          }
          eliciting = true;
          break;
        }
        case FrameType.CLOSE: {
          if (p + 3 > n) return false;
          const code = b[p];
          const len = readU16(b, p + 1);
          p += 3;
          if (p + len > n) return false;
          if (apply && this.state === "established") {
            const why = decodeReason(b.subarray(p, p + len));
            const text = code === CLOSE_CODE_NORMAL
              ? `closed by peer: ${why}`
              : `closed by peer with error: ${why}`;
            this.#closeFrame = null;
            this.#enterDraining(text, false);
          }
          p += len;
          break;
        }
        default:
          return false;
      }
    }
    return apply ? eliciting : true;
  }

  #onAck(b: Uint8Array, at: number, count: number, now: number, ackDelay: number): void {
    const largest = readU64(b, at);
    if (largest >= this.#nextPn) return; // acks something never sent: ignore
    const inFlightBefore = this.cc.bytesInFlight;
    const appLimited = inFlightBefore < this.cc.cwnd / 2;
    let p = at + 13;
    let end = largest;
    let start = largest - readU32(b, p);
    p += 4;
    let newlyAcked = false;
    const log = this.#sent;
    for (let i = 0; i < count; i++) {
      if (i > 0) {
        const gap = readU32(b, p);
        const len = readU32(b, p + 4);
        p += 8;
        end = start - gap - 1;
        start = end - len;
      }
      const lo = Math.max(start, log.base);
      const hi = Math.min(end, log.base + log.length - 1);
      for (let pn = hi; pn >= lo; pn--) {
        const rec = log.get(pn);
        if (rec === null || rec.state !== SentState.SENT) continue;
        rec.state = SentState.ACKED;
        newlyAcked = true;
        if (rec.ackEliciting) {
          this.#ackElicitingInFlight--;
          this.cc.onAcked(now, rec.size, rec.timeSent, appLimited);
        }
        if (rec.streamLen > 0) this.#send.onAcked(rec.streamOffset, rec.streamLen);
        if (pn === largest && rec.ackEliciting) {
          this.rtt.update(now - rec.timeSent, Math.min(ackDelay, this.#cfg.maxAckDelayMs));
          if (this.#firstSampleTime === Infinity) this.#firstSampleTime = rec.timeSent;
        }
      }
    }
    if (largest > this.#largestAcked) this.#largestAcked = largest;
    if (!newlyAcked) return;
    this.#ptoCount = 0;
    this.#detectLoss(now);
    this.#sent.compact();
    this.#maybeFinishClose();
    this.#markDirty(this);
  }

  #detectLoss(now: number): void {
    const lossDelay = this.rtt.lossDelay();
    const log = this.#sent;
    const last = Math.min(this.#largestAcked, log.base + log.length - 1);
    this.#lossTime = Infinity;
    let anyLost = false;
    let largestLostTime = -Infinity;
    // Persistent congestion: a run of ack-eliciting losses with nothing acked or outstanding between.
    let runStart = Infinity;
    let runEnd = -Infinity;
    let longestRun = 0;
    for (let pn = log.base; pn <= last; pn++) {
      const rec = log.get(pn);
      if (rec === null) continue;
      if (rec.state === SentState.ACKED) {
        runStart = Infinity;
        continue;
      }
      if (rec.state === SentState.LOST) continue;
      if (this.#largestAcked - pn >= PACKET_THRESHOLD || rec.timeSent + lossDelay <= now) {
        rec.state = SentState.LOST;
        anyLost = true;
        this.stats.packetsLost++;
        if (rec.timeSent > largestLostTime) largestLostTime = rec.timeSent;
        if (rec.ackEliciting) {
          this.#ackElicitingInFlight--;
          this.cc.onRemovedFromFlight(rec.size);
          if (runStart === Infinity) runStart = rec.timeSent;
          runEnd = rec.timeSent;
          if (runStart >= this.#firstSampleTime && runEnd - runStart > longestRun) {
            longestRun = runEnd - runStart;
          }
        }
        if (rec.streamLen > 0) this.#send.onLost(rec.streamOffset, rec.streamLen);
        if (rec.maxData >= 0 && rec.maxData === this.#recv.maxData) this.#recv.maxDataDue = true;
      } else {
        runStart = Infinity;
        const t = rec.timeSent + lossDelay;
        if (t < this.#lossTime) this.#lossTime = t;
      }
    }
    if (!anyLost) return;
    this.cc.onCongestionEvent(now, largestLostTime);
    const pcDuration = this.rtt.ptoBase(this.#cfg.maxAckDelayMs) * 3;
    if (this.rtt.hasSample && longestRun > pcDuration) this.cc.onPersistentCongestion(now);
  }

  // ---------------------------------------------------------------- timers

  #ptoDeadline(): number {
    if (this.#ackElicitingInFlight <= 0) return Infinity;
    const period = Math.min(
      this.rtt.ptoBase(this.#cfg.maxAckDelayMs) * 2 ** this.#ptoCount,
      Math.max(this.#cfg.maxPtoMs, this.rtt.ptoBase(this.#cfg.maxAckDelayMs)),
    );
    return this.#lastAckElicitingSent + period;
  }

  /** A CLOSE we sent is repeated 3 times with backoff (it is not acknowledged). */
  #closeResendDeadline(): number {
    if (!this.#closeFrame || this.#closeResends >= 3 || this.#closeSentAt === -Infinity) {
      return Infinity;
    }
    return this.#closeSentAt +
      this.rtt.ptoBase(this.#cfg.maxAckDelayMs) * 2 ** this.#closeResends;
  }

  #helloDeadline(): number {
    const period = Math.min(
      2 * this.#cfg.initialRttMs * 2 ** (this.#helloCount - 1),
      this.#cfg.maxPtoMs,
    );
    return this.#helloSentAt + period;
  }

  /** Earliest time at which `onTimeout` has work (Infinity when none). */
  nextTimeout(): number {
    switch (this.state) {
      case "closed":
        return Infinity;
      case "draining":
        return Math.min(this.#drainDeadline, this.#closeResendDeadline());
      case "handshake":
        return Math.min(
          this.#helloDue ? this.#now : this.#helloDeadline(),
          this.#createdAt + this.#cfg.handshakeTimeoutMs,
        );
    }
    let t = this.#lastReceived + this.#cfg.idleTimeoutMs;
    if (this.#lossTime < t) t = this.#lossTime;
    else {
      const pto = this.#ptoDeadline();
      if (pto < t) t = pto;
    }
    if (this.#ackPending && this.#ackDeadline < t) t = this.#ackDeadline;
    if (this.#cfg.keepAliveMs > 0 && this.#ackElicitingInFlight <= 0) {
      const k = Math.max(this.#lastAckElicitingSent, this.#lastReceived) + this.#cfg.keepAliveMs;
      if (k < t) t = k;
    }
    if (this.#cfg.responseTimeoutMs > 0 && this.#ackElicitingInFlight > 0) {
      const r = this.#lastReceived + this.#cfg.responseTimeoutMs;
      if (r < t) t = r;
    }
    return t;
  }

  /** Acts on every deadline that has passed. */
  onTimeout(now: number): void {
    this.#now = now;
    switch (this.state) {
      case "closed":
        return;
      case "draining":
        if (now >= this.#drainDeadline) this.#terminate("drained");
        else if (now >= this.#closeResendDeadline()) {
          this.#closeResends++;
          this.#closeDue = true;
          this.#markDirty(this);
        }
        return;
      case "handshake":
        if (now >= this.#createdAt + this.#cfg.handshakeTimeoutMs) {
          this.#terminate(`handshake timeout after ${this.#cfg.handshakeTimeoutMs} ms`);
          return;
        }
        if (now >= this.#helloDeadline()) {
          this.#helloDue = true;
          this.#markDirty(this);
        }
        return;
    }
    if (now >= this.#lastReceived + this.#cfg.idleTimeoutMs) {
      this.#terminate(`idle timeout after ${this.#cfg.idleTimeoutMs} ms`);
      return;
    }
    const rto = this.#cfg.responseTimeoutMs;
    if (rto > 0 && this.#ackElicitingInFlight > 0 && now >= this.#lastReceived + rto) {
      this.#terminate(
        `peer not responding: nothing received for ${rto} ms with packets outstanding`,
      );
      return;
    }
    if (this.#lossTime <= now) {
      this.#detectLoss(now);
      this.#sent.compact();
      this.#markDirty(this);
    } else if (this.#lossTime === Infinity && now >= this.#ptoDeadline()) {
      this.#ptoCount++;
      this.stats.ptoCount++;
      this.#probesDue = 2;
      this.#markDirty(this);
    }
    if (this.#ackPending && now >= this.#ackDeadline) {
      this.#ackImmediate = true;
      this.#markDirty(this);
    }
    if (this.#cfg.keepAliveMs > 0 && this.#ackElicitingInFlight <= 0) {
      const k = Math.max(this.#lastAckElicitingSent, this.#lastReceived) + this.#cfg.keepAliveMs;
      if (now >= k) {
        this.#pingDue = true;
        this.#markDirty(this);
      }
    }
  }

  // ---------------------------------------------------------------- outgoing

  /** Writes the next packet into `out` (≥ MAX_DATAGRAM_BYTES); returns its length or 0. */
  writePacket(now: number, out: Uint8Array): number {
    this.#now = now;
    switch (this.state) {
      case "closed":
        return 0;
      case "handshake":
        if (!this.#helloDue) return 0;
        return this.#writeHello(now, out);
      case "draining":
        if (!this.#closeDue) return 0;
        this.#closeDue = false;
        return this.#writeClosePacket(now, out);
    }
    if (this.welcomeDue) {
      this.welcomeDue = false;
      return this.#writeWelcome(out);
    }
    return this.#writeData(now, out);
  }

  #writeHello(now: number, out: Uint8Array): number {
    const auth = this.#cfg.authToken;
    out[0] = PacketType.HELLO;
    writeCid(out, 1, this.localCid);
    writeU32(out, 1 + CID_BYTES, this.#cfg.protocolVersion);
    let p = 1 + CID_BYTES + 4;
    out.set(this.localResetToken, p);
    p += RESET_TOKEN_BYTES;
    writeU64(out, p, this.#recv.maxData);
    p += 8;
    writeU16(out, p, auth.length);
    p += 2;
    out.set(auth, p);
    p += auth.length;
    this.#helloDue = false;
    this.#helloSentAt = now;
    this.#helloCount++;
    this.stats.packetsSent++;
    return p;
  }

  #writeWelcome(out: Uint8Array): number {
    out[0] = PacketType.WELCOME;
    writeCid(out, 1, this.remoteCid);
    writeCid(out, 1 + CID_BYTES, this.localCid);
    let p = 1 + 2 * CID_BYTES;
    out.set(this.localResetToken, p);
    p += RESET_TOKEN_BYTES;
    writeU64(out, p, this.#recv.maxData);
    this.stats.packetsSent++;
    return p + 8;
  }

  #writeHeader(out: Uint8Array): number {
    out[0] = PacketType.DATA;
    writeCid(out, 1, this.remoteCid);
    writeU64(out, 1 + CID_BYTES, this.#nextPn);
    return DATA_HEADER_BYTES;
  }

  #writeClosePacket(now: number, out: Uint8Array): number {
    const reason = this.#closeFrame ?? new Uint8Array(0);
    let p = this.#writeHeader(out);
    out[p++] = FrameType.CLOSE;
    out[p++] = this.#closeCode;
    writeU16(out, p, reason.length);
    p += 2;
    out.set(reason, p);
    p += reason.length;
    this.#nextPn++;
    this.#closeSentAt = now;
    this.stats.packetsSent++;
    return p;
  }

  #writeAck(now: number, out: Uint8Array, p: number): number {
    const r = this.#received;
    const count = Math.min(r.rangeCount, MAX_ACK_RANGES_SENT);
    const largest = r.largest;
    out[p++] = FrameType.ACK;
    writeU64(out, p, largest);
    writeU32(
      out,
      p + 8,
      Math.min(0xffff_ffff, Math.round((now - this.#largestReceivedTime) * 1000)),
    );
    out[p + 12] = count - 1;
    writeU32(out, p + 13, largest - r.startFromTop(0));
    p += 17;
    for (let i = 1; i < count; i++) {
      writeU32(out, p, r.startFromTop(i - 1) - r.endFromTop(i) - 1);
      writeU32(out, p + 4, r.endFromTop(i) - r.startFromTop(i));
      p += 8;
    }
    this.#ackPending = false;
    this.#ackImmediate = false;
    this.#ackElicitingSinceAck = 0;
    this.#ackDeadline = Infinity;
    return p;
  }

  #writeData(now: number, out: Uint8Array): number {
    const wantAck = this.#ackPending && (this.#ackImmediate || now >= this.#ackDeadline);
    const probe = this.#probesDue > 0;
    const room = probe || this.cc.bytesInFlight < this.cc.cwnd;
    const send = this.#send;
    const hasWork = room && (
      this.#recv.maxDataDue || this.#pingDue || probe || send.hasLost ||
      (send.sentOffset < send.writeOffset && send.sentOffset < this.#peerMaxData)
    );
    if (!wantAck && !hasWork) return 0;
    const pn = this.#nextPn;
    let p = this.#writeHeader(out);
    let wroteAck = false;
    if (this.#ackPending && this.#received.largest >= 0) {
      p = this.#writeAck(now, out, p);
      wroteAck = true;
    }
    let eliciting = false;
    let maxDataSent = -1;
    let streamOffset = 0;
    let streamLen = 0;
    if (hasWork) {
      if (this.#recv.maxDataDue) {
        out[p++] = FrameType.MAX_DATA;
        maxDataSent = this.#recv.maxData;
        writeU64(out, p, maxDataSent);
        p += 8;
        this.#recv.maxDataDue = false;
        eliciting = true;
      }
      if (this.#pingDue) {
        out[p++] = FrameType.PING;
        this.#pingDue = false;
        eliciting = true;
      }
      const space = MAX_DATAGRAM_BYTES - p - STREAM_FRAME_HEADER_BYTES;
      if (space > 0) {
        const n = send.nextRange(space, this.#peerMaxData);
        if (n > 0) {
          streamOffset = send.nextOffset;
          streamLen = n;
          out[p++] = FrameType.STREAM;
          writeU64(out, p, streamOffset);
          writeU16(out, p + 8, n);
          p += 10;
          send.copy(streamOffset, n, out, p);
          p += n;
          eliciting = true;
        }
      }
      if (probe) {
        this.#probesDue--;
        if (!eliciting) {
          out[p++] = FrameType.PING;
          eliciting = true;
        }
      }
    }
    if (!eliciting && !wroteAck) return 0;
    this.#nextPn++;
    this.stats.packetsSent++;
    if (eliciting) {
      const rec = this.#sent.add(pn);
      rec.timeSent = now;
      rec.size = p;
      rec.ackEliciting = true;
      rec.streamOffset = streamOffset;
      rec.streamLen = streamLen;
      rec.maxData = maxDataSent;
      this.#ackElicitingInFlight++;
      this.#lastAckElicitingSent = now;
      this.cc.onSent(p);
    }
    return p;
  }

  /** True when the connection may have something to send right now. */
  wantsToSend(): boolean {
    if (this.state === "handshake") return this.#helloDue;
    if (this.state === "draining") return this.#closeDue;
    return this.state === "established";
  }
}
