/**
 * A sorted set of disjoint half-open integer ranges `[start, end)`, merged on insert. Used for the
 * acknowledged and the lost byte ranges of the send stream.
 * @module
 */

/** Sorted disjoint ranges with merge-on-add and subtract. */
export class RangeSet {
  /** Flat array: start0, end0, start1, end1, … ascending. */
  #r: number[] = [];

  /** Number of ranges. */
  get size(): number {
    return this.#r.length >> 1;
  }

  /** Start of range `i`. */
  start(i: number): number {
    return this.#r[i << 1];
  }

  /** End (exclusive) of range `i`. */
  end(i: number): number {
    return this.#r[(i << 1) + 1];
  }

  /** Removes every range. */
  clear(): void {
    this.#r.length = 0;
  }

  /** Adds `[start, end)`, merging with neighbours. */
  add(start: number, end: number): void {
    if (end <= start) return;
    const r = this.#r;
    const n = r.length;
    // Fast path: append after (or merge into) the last range.
    if (n === 0 || start > r[n - 1]) {
      r.push(start, end);
      return;
    }
    if (start >= r[n - 2]) {
      if (end > r[n - 1]) r[n - 1] = end;
      return;
    }
    // General case: find the first range whose end >= start.
    let i = 0;
    while (i < n && r[i + 1] < start) i += 2;
    let j = i;
    let s = start;
    let e = end;
    while (j < n && r[j] <= e) {
      if (r[j] < s) s = r[j];
      if (r[j + 1] > e) e = r[j + 1];
      j += 2;
    }
    r.splice(i, j - i, s, e);
  }

  /** Removes `[start, end)` from the set. */
  subtract(start: number, end: number): void {
    if (end <= start) return;
    const r = this.#r;
    let i = 0;
    while (i < r.length && r[i + 1] <= start) i += 2;
    while (i < r.length && r[i] < end) {
      const s = r[i];
      const e = r[i + 1];
      const parts: number[] = [];
      if (s < start) parts.push(s, start);
      if (e > end) parts.push(end, e);
      r.splice(i, 2, ...parts);
      i += parts.length;
    }
  }

  /** True when `[start, end)` is entirely inside one range. */
  covers(start: number, end: number): boolean {
    const r = this.#r;
    for (let i = 0; i < r.length; i += 2) {
      if (r[i] <= start && end <= r[i + 1]) return true;
      if (r[i] > start) return false;
    }
    return false;
  }

  /** Removes and returns nothing; drops ranges entirely below `floor` and trims the one across it. */
  trimBelow(floor: number): void {
    const r = this.#r;
    let k = 0;
    while (k < r.length && r[k + 1] <= floor) k += 2;
    if (k > 0) r.splice(0, k);
    if (r.length > 0 && r[0] < floor) r[0] = floor;
  }
}
