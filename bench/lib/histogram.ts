/**
 * Latency histograms for the benchmark: hdr-histogram-js with its pure-JS implementation (the
 * WebAssembly build is not used, so Bun and Deno behave the same). Values are microseconds.
 * @module
 */
import * as hdr from "hdr-histogram-js";

/** Latency percentiles in milliseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** A latency recorder (microsecond resolution, up to 2 minutes). */
export class LatencyRecorder {
  readonly #h = hdr.build({
    useWebAssembly: false,
    bitBucketSize: 64,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000,
    numberOfSignificantValueDigits: 3,
  });

  /** Records one latency given in milliseconds. */
  record(ms: number): void {
    const us = Math.round(ms * 1000);
    this.#h.recordValue(us < 1 ? 1 : us > 120_000_000 ? 120_000_000 : us);
  }

  /** Adds every value of `other`. */
  add(other: LatencyRecorder): void {
    this.#h.add(other.#h);
  }

  /** Number of recorded values. */
  get count(): number {
    return this.#h.totalCount;
  }

  /** Percentile in ms (0 when empty). */
  percentileMs(p: number): number {
    return this.#h.totalCount === 0 ? 0 : this.#h.getValueAtPercentile(p) / 1000;
  }

  /** p50 / p99 / p99.9 / max / mean in ms. */
  summary(): LatencySummary {
    const h = this.#h;
    const empty = h.totalCount === 0;
    return {
      count: h.totalCount,
      p50: this.percentileMs(50),
      p99: this.percentileMs(99),
      p999: this.percentileMs(99.9),
      max: empty ? 0 : h.maxValue / 1000,
      mean: empty ? 0 : h.mean / 1000,
    };
  }

  /** Forgets every value. */
  reset(): void {
    this.#h.reset();
  }
}
