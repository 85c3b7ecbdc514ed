/**
 * Quantiles from cumulative histogram buckets, the way Prometheus' `histogram_quantile` computes
 * them: find the bucket holding the rank and interpolate linearly inside it — except when every
 * observation lies in that one bucket: then the mean (`sum / count`) is the better estimate, and
 * the exact value of a constant distribution (all batches of 100 give p50 100, not 75).
 * @module
 */

/** Cumulative bucket counts of one histogram: `counts[i]` observations were `<= bounds[i]`. */
export interface BucketCounts {
  /** Finite upper bounds, ascending. */
  readonly bounds: readonly number[];
  /** Cumulative counts, one per bound, plus a last one for `+Inf` (= total count). */
  readonly counts: readonly number[];
  /** Sum of all observed values. */
  readonly sum: number;
}

/** `now - before`, bucket by bucket (observations made between two snapshots). */
export function bucketDelta(now: BucketCounts, before: BucketCounts | undefined): BucketCounts {
  if (!before || before.counts.length !== now.counts.length) return now;
  const counts = now.counts.map((c, i) => Math.max(0, c - before.counts[i]));
  return { bounds: now.bounds, counts, sum: Math.max(0, now.sum - before.sum) };
}

/** Total number of observations. */
export function bucketTotal(b: BucketCounts): number {
  return b.counts.length === 0 ? 0 : b.counts[b.counts.length - 1];
}

/**
 * The `q` quantile (0..1) of the observations, or null when there are none. Ranks that fall in the
 * `+Inf` bucket return the highest finite bound (as Prometheus does).
 */
export function quantile(b: BucketCounts, q: number): number | null {
  const total = bucketTotal(b);
  if (total <= 0 || b.bounds.length === 0) return null;
  const rank = Math.min(1, Math.max(0, q)) * total;
  for (let i = 0; i < b.bounds.length; i++) {
    const c = b.counts[i];
    if (c >= rank && c > 0) {
      const lower = i === 0 ? 0 : b.bounds[i - 1];
      const below = i === 0 ? 0 : b.counts[i - 1];
      const inBucket = c - below;
      if (inBucket <= 0) return b.bounds[i];
      if (inBucket === total) {
        return Math.min(b.bounds[i], Math.max(lower, b.sum / total));
      }
      return lower + (b.bounds[i] - lower) * ((rank - below) / inBucket);
    }
  }
  return b.bounds[b.bounds.length - 1];
}
