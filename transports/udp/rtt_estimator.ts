/**
 * Round-trip time estimation as in RFC 9002 §5: latest, min, smoothed RTT and RTT variance.
 * @module
 */

/** Timer granularity in milliseconds (lower bound for loss delay and PTO variance). */
export const TIMER_GRANULARITY_MS = 1;

/** Tracks RTT samples for one connection. Times are milliseconds. */
export class RttEstimator {
  /** The most recent sample (after ack-delay adjustment). */
  latestRtt = 0;
  /** Smallest sample seen (never adjusted by ack delay). */
  minRtt = Infinity;
  /** Exponentially smoothed RTT. */
  smoothedRtt: number;
  /** Mean deviation of the RTT. */
  rttVar: number;
  /** True once at least one sample arrived. */
  hasSample = false;

  /** @param initialRttMs RTT assumed before the first sample. */
  constructor(initialRttMs: number) {
    this.smoothedRtt = initialRttMs;
    this.rttVar = initialRttMs / 2;
  }

  /**
   * Adds a sample: `rawRtt` measured from send to ack receipt, `ackDelay` as reported by the peer
   * (already capped at its max ack delay by the caller).
   */
  update(rawRtt: number, ackDelay: number): void {
    if (rawRtt < 0) return;
    this.latestRtt = rawRtt;
    if (rawRtt < this.minRtt) this.minRtt = rawRtt;
    if (!this.hasSample) {
      this.hasSample = true;
      this.smoothedRtt = rawRtt;
      this.rttVar = rawRtt / 2;
      return;
    }
    let adjusted = rawRtt;
    if (rawRtt >= this.minRtt + ackDelay) adjusted = rawRtt - ackDelay;
    this.rttVar = 0.75 * this.rttVar + 0.25 * Math.abs(this.smoothedRtt - adjusted);
    this.smoothedRtt = 0.875 * this.smoothedRtt + 0.125 * adjusted;
  }

  /** The base probe timeout (before backoff): srtt + max(4·rttvar, granularity) + maxAckDelay. */
  ptoBase(maxAckDelay: number): number {
    return this.smoothedRtt + Math.max(4 * this.rttVar, TIMER_GRANULARITY_MS) + maxAckDelay;
  }

  /** Time threshold for loss: 9/8 · max(srtt, latest), at least the granularity. */
  lossDelay(): number {
    return Math.max((9 / 8) * Math.max(this.smoothedRtt, this.latestRtt), TIMER_GRANULARITY_MS);
  }
}
