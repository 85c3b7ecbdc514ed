/**
 * The sending half of the connection's one ordered byte stream. Messages are written as a 4-byte
 * big-endian length followed by their bytes into fixed-size pages (copied, so callers may reuse
 * their arrays), sent in order, retransmitted by range when lost, and released once acknowledged.
 * @module
 */
import { RangeSet } from "./range_set.ts";

const PAGE_BYTES = 64 * 1024;
const SPARE_PAGES = 4;

/** Send-side stream state. */
export class SendStream {
  /** Total bytes written (next write offset). */
  writeOffset = 0;
  /** Next byte never sent before. */
  sentOffset = 0;
  /** Every byte below this is acknowledged and released. */
  ackedFloor = 0;
  readonly #acked = new RangeSet();
  readonly #lost = new RangeSet();
  /** Pages holding `[pageBase, writeOffset)`, PAGE_BYTES each. */
  readonly #pages: Uint8Array[] = [];
  #pageBase = 0;
  readonly #spare: Uint8Array[] = [];
  readonly #len = new Uint8Array(4);

  /** Bytes retained (written but not acknowledged). */
  get retainedBytes(): number {
    return this.writeOffset - this.ackedFloor;
  }

  /** Bytes never sent yet. */
  get unsentBytes(): number {
    return this.writeOffset - this.sentOffset;
  }

  /** True when some range must be retransmitted. */
  get hasLost(): boolean {
    return this.#lost.size > 0;
  }

  /** True when everything written is acknowledged. */
  get allAcked(): boolean {
    return this.ackedFloor === this.writeOffset;
  }

  /** Appends one message (length prefix + bytes). */
  writeMessage(message: Uint8Array): void {
    const n = message.length;
    const l = this.#len;
    l[0] = (n >>> 24) & 0xff;
    l[1] = (n >>> 16) & 0xff;
    l[2] = (n >>> 8) & 0xff;
    l[3] = n & 0xff;
    this.#append(l);
    this.#append(message);
  }

  #append(src: Uint8Array): void {
    let done = 0;
    while (done < src.length) {
      const rel = this.writeOffset - this.#pageBase;
      const pageIndex = Math.floor(rel / PAGE_BYTES);
      const inPage = rel - pageIndex * PAGE_BYTES;
      if (pageIndex >= this.#pages.length) {
        this.#pages.push(this.#spare.pop() ?? new Uint8Array(PAGE_BYTES));
      }
      const take = Math.min(PAGE_BYTES - inPage, src.length - done);
      this.#pages[pageIndex].set(
        take === src.length ? src : src.subarray(done, done + take),
        inPage,
      );
      done += take;
      this.writeOffset += take;
    }
  }

  /** Copies `[offset, offset+len)` into `out` at `at`. The range must be retained. */
  copy(offset: number, len: number, out: Uint8Array, at: number): void {
    let done = 0;
    while (done < len) {
      const rel = offset + done - this.#pageBase;
      const pageIndex = Math.floor(rel / PAGE_BYTES);
      const inPage = rel - pageIndex * PAGE_BYTES;
      const take = Math.min(PAGE_BYTES - inPage, len - done);
      out.set(this.#pages[pageIndex].subarray(inPage, inPage + take), at + done);
      done += take;
    }
  }

  /**
   * The next range to (re)send, at most `maxLen` bytes; new data stops at `flowLimit`. Returns
   * the length and stores the offset in `nextOffset`; 0 when nothing is sendable.
   */
  nextRange(maxLen: number, flowLimit: number): number {
    while (this.#lost.size > 0) {
      const s = this.#lost.start(0);
      const e = Math.min(this.#lost.end(0), s + maxLen);
      this.#lost.subtract(s, e);
      if (e <= this.ackedFloor) continue;
      const start = Math.max(s, this.ackedFloor);
      this.nextOffset = start;
      return e - start;
    }
    const limit = Math.min(this.writeOffset, flowLimit, this.sentOffset + maxLen);
    if (limit <= this.sentOffset) return 0;
    this.nextOffset = this.sentOffset;
    const n = limit - this.sentOffset;
    this.sentOffset = limit;
    return n;
  }

  /** Offset of the range returned by the last `nextRange`. */
  nextOffset = 0;

  /** `[offset, offset+len)` was acknowledged. */
  onAcked(offset: number, len: number): void {
    const end = offset + len;
    if (end <= this.ackedFloor) return;
    this.#acked.add(Math.max(offset, this.ackedFloor), end);
    this.#lost.subtract(offset, end);
    if (this.#acked.size > 0 && this.#acked.start(0) <= this.ackedFloor) {
      this.ackedFloor = this.#acked.end(0);
      this.#acked.trimBelow(this.ackedFloor);
      this.#release();
    }
  }

  /** `[offset, offset+len)` was in a lost packet: queue what is not acknowledged for resend. */
  onLost(offset: number, len: number): void {
    let s = Math.max(offset, this.ackedFloor);
    const end = offset + len;
    if (end <= s) return;
    if (this.#acked.covers(s, end)) return;
    // Add the parts not acknowledged.
    for (let i = 0; i < this.#acked.size && s < end; i++) {
      const as = this.#acked.start(i);
      const ae = this.#acked.end(i);
      if (ae <= s) continue;
      if (as >= end) break;
      if (as > s) this.#lost.add(s, as);
      s = Math.max(s, ae);
    }
    if (s < end) this.#lost.add(s, end);
  }

  #release(): void {
    while (this.#pages.length > 0 && this.#pageBase + PAGE_BYTES <= this.ackedFloor) {
      const p = this.#pages.shift()!;
      if (this.#spare.length < SPARE_PAGES) this.#spare.push(p);
      this.#pageBase += PAGE_BYTES;
    }
  }

  /** Drops everything (connection closed). */
  reset(): void {
    this.#pages.length = 0;
    this.#spare.length = 0;
    this.#acked.clear();
    this.#lost.clear();
    this.#pageBase = this.writeOffset;
    this.ackedFloor = this.writeOffset;
    this.sentOffset = this.writeOffset;
  }
}
