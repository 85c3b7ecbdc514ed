/**
 * NewReno congestion control (RFC 9002 §7): slow start, congestion avoidance, one window
 * reduction per recovery period, and collapse to the minimum window on persistent congestion.
 * @module
 */

/** Why the congestion window changed (recorded in traces). */
export type CongestionEvent = "ack" | "loss" | "persistent_congestion";

/** Observer for congestion window changes (tests record traces with it). */
export type CongestionObserver = (
  now: number,
  cwnd: number,
  ssthresh: number,
  event: CongestionEvent,
) => void;

/** Window limits in bytes. */
export interface NewRenoLimits {
  /** Datagram size used for window arithmetic. */
  maxDatagramBytes: number;
  /** Initial window in packets (default 10). */
  initialWindowPackets: number;
  /** Smallest window in packets (default 2). */
  minimumWindowPackets: number;
  /** Largest window in bytes. */
  maximumWindowBytes: number;
}

/** NewReno state for one connection. */
export class NewReno {
  /** Congestion window in bytes. */
  cwnd: number;
  /** Slow start threshold in bytes (Infinity until the first loss). */
  ssthresh = Infinity;
  /** Bytes sent, ack-eliciting, not yet acked or declared lost. */
  bytesInFlight = 0;
  /** Send time of the packet that started the current recovery period (-Infinity if none). */
  recoveryStartTime = -Infinity;
  /** Bytes acked in congestion avoidance not yet turned into window growth. */
  #avoidanceCredit = 0;
  readonly #limits: NewRenoLimits;
  readonly #observer: CongestionObserver | undefined;

  constructor(limits: NewRenoLimits, observer?: CongestionObserver) {
    this.#limits = limits;
    this.#observer = observer;
    this.cwnd = limits.initialWindowPackets * limits.maxDatagramBytes;
  }

  /** The smallest window in bytes. */
  get minimumWindow(): number {
    return this.#limits.minimumWindowPackets * this.#limits.maxDatagramBytes;
  }

  /** True while the window is below the slow start threshold. */
  get inSlowStart(): boolean {
    return this.cwnd < this.ssthresh;
  }

  /** Room left in the window. */
  available(): number {
    return this.cwnd - this.bytesInFlight;
  }

  /** A packet of `bytes` was sent (ack-eliciting, counted in flight). */
  onSent(bytes: number): void {
    this.bytesInFlight += bytes;
  }

  /** A packet sent at `sentTime` was acknowledged. */
  onAcked(now: number, bytes: number, sentTime: number, appLimited: boolean): void {
    this.bytesInFlight = Math.max(0, this.bytesInFlight - bytes);
    if (sentTime <= this.recoveryStartTime) return;
    if (appLimited) return;
    const before = this.cwnd;
    if (this.cwnd < this.ssthresh) {
      this.cwnd += bytes;
    } else {
      this.#avoidanceCredit += bytes;
      if (this.#avoidanceCredit >= this.cwnd) {
        this.#avoidanceCredit -= this.cwnd;
        this.cwnd += this.#limits.maxDatagramBytes;
      }
    }
    if (this.cwnd > this.#limits.maximumWindowBytes) this.cwnd = this.#limits.maximumWindowBytes;
    if (this.cwnd !== before) this.#observer?.(now, this.cwnd, this.ssthresh, "ack");
  }

  /** A packet left flight without being acked (lost); only frees window. */
  onRemovedFromFlight(bytes: number): void {
    this.bytesInFlight = Math.max(0, this.bytesInFlight - bytes);
  }

  /**
   * Packets were declared lost; `largestLostSentTime` is the send time of the newest of them.
   * Starts a recovery period unless one already covers that packet.
   */
  onCongestionEvent(now: number, largestLostSentTime: number): void {
    if (largestLostSentTime <= this.recoveryStartTime) return;
    this.recoveryStartTime = now;
    this.ssthresh = Math.max(Math.floor(this.cwnd / 2), this.minimumWindow);
    this.cwnd = this.ssthresh;
    this.#avoidanceCredit = 0;
    this.#observer?.(now, this.cwnd, this.ssthresh, "loss");
  }

  /** Persistent congestion was detected: collapse to the minimum window. */
  onPersistentCongestion(now: number): void {
    this.cwnd = this.minimumWindow;
    this.recoveryStartTime = -Infinity;
    this.#avoidanceCredit = 0;
    this.#observer?.(now, this.cwnd, this.ssthresh, "persistent_congestion");
  }
}
