/**
 * The packets a connection sent and has not yet resolved (acknowledged or declared lost), indexed
 * by packet number in a ring. Records are recycled to avoid per-packet allocation.
 * @module
 */

/** A sent packet's state. */
export const SentState = { SENT: 0, ACKED: 1, LOST: 2 } as const;

/** What one sent packet carried (enough to react to its ack or loss). */
export interface SentPacket {
  pn: number;
  timeSent: number;
  size: number;
  /** Counts toward bytes in flight and the PTO (any frame other than ACK). */
  ackEliciting: boolean;
  state: number;
  /** STREAM range carried (len 0 = none). */
  streamOffset: number;
  streamLen: number;
  /** MAX_DATA value carried (-1 = none). */
  maxData: number;
}

/** Ring of sent packets keyed by packet number. */
export class SentPacketLog {
  #ring: (SentPacket | null)[] = new Array(64).fill(null);
  #head = 0;
  #count = 0;
  /** Packet number stored at the head slot. */
  base = 0;
  readonly #pool: SentPacket[] = [];

  /** Number of slots from `base` (including resolved or unrecorded ones). */
  get length(): number {
    return this.#count;
  }

  /** A blank record for packet `pn` (must be the next number: base + length or later). */
  add(pn: number): SentPacket {
    if (this.#count === 0) this.base = pn;
    while (this.base + this.#count < pn) this.#push(null);
    const p = this.#pool.pop() ?? {
      pn: 0,
      timeSent: 0,
      size: 0,
      ackEliciting: false,
      state: 0,
      streamOffset: 0,
      streamLen: 0,
      maxData: -1,
    };
    p.pn = pn;
    p.state = SentState.SENT;
    p.streamOffset = 0;
    p.streamLen = 0;
    p.maxData = -1;
    p.ackEliciting = false;
    this.#push(p);
    return p;
  }

  #push(p: SentPacket | null): void {
    if (this.#count === this.#ring.length) {
      const bigger: (SentPacket | null)[] = new Array(this.#ring.length * 2).fill(null);
      for (let i = 0; i < this.#count; i++) {
        bigger[i] = this.#ring[(this.#head + i) % this.#ring.length];
      }
      this.#ring = bigger;
      this.#head = 0;
    }
    this.#ring[(this.#head + this.#count) % this.#ring.length] = p;
    this.#count++;
  }

  /** The record of `pn`, or null when unknown, unrecorded or already popped. */
  get(pn: number): SentPacket | null {
    const i = pn - this.base;
    if (i < 0 || i >= this.#count) return null;
    return this.#ring[(this.#head + i) % this.#ring.length];
  }

  /** Pops resolved and empty slots from the front, recycling their records. */
  compact(): void {
    while (this.#count > 0) {
      const p = this.#ring[this.#head];
      if (p !== null && p.state === SentState.SENT) break;
      if (p !== null && this.#pool.length < 1024) this.#pool.push(p);
      this.#ring[this.#head] = null;
      this.#head = (this.#head + 1) % this.#ring.length;
      this.#count--;
      this.base++;
    }
  }

  /** Forgets everything. */
  clear(): void {
    this.#ring.fill(null);
    this.#head = 0;
    this.#count = 0;
  }
}
