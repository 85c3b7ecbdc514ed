/**
 * The receiving half of the ordered byte stream: reassembles out-of-order STREAM frames within the
 * advertised flow-control window, parses length-prefixed messages, and grants new credit
 * (MAX_DATA) as bytes are consumed. Messages over `maxMessageBytes` are refused, never buffered.
 * @module
 */

/** Outcome of accepting one STREAM frame. */
export type RecvResult = "ok" | "flow_control";

/** Receive-side callbacks. */
export interface RecvSink {
  message(msg: Uint8Array): void;
  tooLarge(size: number): void;
}

interface Fragment {
  offset: number;
  bytes: Uint8Array;
}

/** Receive-side stream state. */
export class RecvStream {
  /** Next in-order byte expected. */
  readOffset = 0;
  /** Largest offset (exclusive) the peer may send up to. */
  maxData: number;
  /** Set when a larger `maxData` must be advertised. */
  maxDataDue = false;
  /** True once a too-large message was refused: further bytes are discarded. */
  refused = false;
  readonly #window: number;
  readonly #maxMessage: number;
  readonly #pending: Fragment[] = [];
  #pendingBytes = 0;
  // Message parser state.
  #hdr = 0;
  #hdrCount = 0;
  #msg: Uint8Array | null = null;
  #msgPos = 0;
  readonly #sink: RecvSink;

  constructor(windowBytes: number, maxMessageBytes: number, sink: RecvSink) {
    this.#window = windowBytes;
    this.maxData = windowBytes;
    this.#maxMessage = maxMessageBytes;
    this.#sink = sink;
  }

  /** Bytes held out of order. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** Accepts `src[start, start+len)` at stream `offset`. */
  onData(offset: number, src: Uint8Array, start: number, len: number): RecvResult {
    const end = offset + len;
    if (end > this.maxData) return "flow_control";
    if (end <= this.readOffset) return "ok";
    if (offset <= this.readOffset) {
      const skip = this.readOffset - offset;
      this.#consume(src, start + skip, len - skip);
      this.#drainPending();
    } else {
      if (this.#pendingBytes + len > 2 * this.#window) return "ok"; // resent later
      this.#insertPending(offset, src.slice(start, start + len));
    }
    this.#updateCredit();
    return "ok";
  }

  #insertPending(offset: number, bytes: Uint8Array): void {
    const p = this.#pending;
    let i = p.length;
    while (i > 0 && p[i - 1].offset > offset) i--;
    if (i > 0 && p[i - 1].offset === offset && p[i - 1].bytes.length >= bytes.length) return;
    p.splice(i, 0, { offset, bytes });
    this.#pendingBytes += bytes.length;
  }

  #drainPending(): void {
    const p = this.#pending;
    while (p.length > 0 && p[0].offset <= this.readOffset) {
      const f = p.shift()!;
      this.#pendingBytes -= f.bytes.length;
      const end = f.offset + f.bytes.length;
      if (end <= this.readOffset) continue;
      const skip = this.readOffset - f.offset;
      this.#consume(f.bytes, skip, f.bytes.length - skip);
    }
  }

  #updateCredit(): void {
    if (this.readOffset + this.#window - this.maxData >= this.#window / 2) {
      this.maxData = this.readOffset + this.#window;
      this.maxDataDue = true;
    }
  }

  #consume(src: Uint8Array, start: number, len: number): void {
    this.readOffset += len;
    if (this.refused) return;
    let i = start;
    const end = start + len;
    while (i < end) {
      if (this.#msg === null) {
        while (this.#hdrCount < 4 && i < end) {
          this.#hdr = this.#hdr * 256 + src[i++];
          this.#hdrCount++;
        }
        if (this.#hdrCount < 4) return;
        const size = this.#hdr;
        this.#hdr = 0;
        this.#hdrCount = 0;
        if (size > this.#maxMessage) {
          this.refused = true;
          this.#pending.length = 0;
          this.#pendingBytes = 0;
          this.#sink.tooLarge(size);
          return;
        }
        if (size === 0) {
          this.#sink.message(new Uint8Array(0));
          continue;
        }
        this.#msg = new Uint8Array(size);
        this.#msgPos = 0;
      }
      const msg = this.#msg;
      const take = Math.min(msg.length - this.#msgPos, end - i);
      msg.set(src.subarray(i, i + take), this.#msgPos);
      this.#msgPos += take;
      i += take;
      if (this.#msgPos === msg.length) {
        this.#msg = null;
        this.#sink.message(msg);
        if (this.refused) return;
      }
    }
  }

  /** Drops buffered state (connection closed). */
  reset(): void {
    this.#pending.length = 0;
    this.#pendingBytes = 0;
    this.#msg = null;
    this.refused = true;
  }
}
