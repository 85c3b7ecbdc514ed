/**
 * The packet numbers received on a connection, as a bounded list of ranges: detects replays
 * (duplicates) and produces the ranges of ACK frames.
 * @module
 */

/** Ranges kept at most; below the oldest kept range every number counts as already received. */
export const MAX_ACK_RANGES = 32;

/** Received packet numbers. */
export class ReceivedPackets {
  /** Inclusive ranges, ascending: start0, end0, start1, end1, … */
  readonly #r: number[] = [];
  /** Every number below this counts as seen (ranges dropped for the bound). */
  #floor = 0;

  /** Largest number received, -1 before the first. */
  get largest(): number {
    const n = this.#r.length;
    return n === 0 ? -1 : this.#r[n - 1];
  }

  /** Number of ranges. */
  get rangeCount(): number {
    return this.#r.length >> 1;
  }

  /** True if `pn` was already received (or is too old to tell). */
  has(pn: number): boolean {
    if (pn < this.#floor) return true;
    const r = this.#r;
    for (let i = r.length - 2; i >= 0; i -= 2) {
      if (pn > r[i + 1]) return false;
      if (pn >= r[i]) return true;
    }
    return false;
  }

  /** Records `pn`; returns false when it was a duplicate. */
  insert(pn: number): boolean {
    if (this.has(pn)) return false;
    const r = this.#r;
    const n = r.length;
    if (n === 0 || pn > r[n - 1] + 1) {
      r.push(pn, pn);
    } else if (pn === r[n - 1] + 1) {
      r[n - 1] = pn;
    } else {
      // Find the range after which pn belongs.
      let i = n - 2;
      while (i >= 0 && r[i] > pn) i -= 2;
      // pn lies in the gap between range i (end < pn) and range i+2 (start > pn).
      const joinLow = i >= 0 && r[i + 1] + 1 === pn;
      const joinHigh = i + 2 < n && r[i + 2] - 1 === pn;
      if (joinLow && joinHigh) {
        r.splice(i + 1, 2);
      } else if (joinLow) {
        r[i + 1] = pn;
      } else if (joinHigh) {
        r[i + 2] = pn;
      } else {
        r.splice(i + 2, 0, pn, pn);
      }
    }
    while (r.length > MAX_ACK_RANGES * 2) {
      this.#floor = r[1] + 1;
      r.splice(0, 2);
    }
    return true;
  }

  /** Start of range `i` counted from the newest (0 = the range holding `largest`). */
  startFromTop(i: number): number {
    return this.#r[this.#r.length - 2 - 2 * i];
  }

  /** End (inclusive) of range `i` counted from the newest. */
  endFromTop(i: number): number {
    return this.#r[this.#r.length - 1 - 2 * i];
  }
}
