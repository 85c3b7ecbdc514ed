/**
 * A fixed-size ring of periodic samples of cumulative counters. Rates and ratios over a recent
 * window are differences between the newest sample (or live values) and an older one, so the hot
 * path only adds to plain counters and never touches time buckets.
 * @module
 */

/** Anything with a timestamp (ms). */
export interface Timed {
  readonly t: number;
}

/** Bounded ring of samples, oldest overwritten first. */
export class SampleRing<S extends Timed> {
  readonly #items: (S | undefined)[];
  #next = 0;
  #size = 0;

  /** @param capacity how many samples are kept (at least 2). */
  constructor(capacity: number) {
    this.#items = new Array(Math.max(2, Math.floor(capacity)));
  }

  /** Number of samples held. */
  get size(): number {
    return this.#size;
  }

  /** Adds a sample (timestamps must not go backwards). */
  push(s: S): void {
    this.#items[this.#next] = s;
    this.#next = (this.#next + 1) % this.#items.length;
    if (this.#size < this.#items.length) this.#size++;
  }

  /** The `i`-th newest sample (0 = newest), or undefined. */
  back(i: number): S | undefined {
    if (i < 0 || i >= this.#size) return undefined;
    const n = this.#items.length;
    return this.#items[(this.#next - 1 - i + n * 2) % n];
  }

  /** The oldest sample, or undefined. */
  oldest(): S | undefined {
    return this.back(this.#size - 1);
  }

  /**
   * The newest sample taken at or before `t`; if every sample is newer, the oldest one (so a window
   * shortly after start-up covers what exists).
   */
  atOrBefore(t: number): S | undefined {
    for (let i = 0; i < this.#size; i++) {
      const s = this.back(i)!;
      if (s.t <= t) return s;
    }
    return this.oldest();
  }

  /** Samples from oldest to newest. */
  toArray(): S[] {
    const out: S[] = [];
    for (let i = this.#size - 1; i >= 0; i--) out.push(this.back(i)!);
    return out;
  }
}

/** `(now - then) / seconds`, or 0 when no time passed. */
export function ratePerSecond(now: number, then: number, dtMs: number): number {
  if (!(dtMs > 0)) return 0;
  return Math.max(0, now - then) / (dtMs / 1000);
}
