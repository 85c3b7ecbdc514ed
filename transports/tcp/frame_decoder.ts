/**
 * Splits a TCP byte stream into length-prefixed frames: a 4-byte big-endian length, then the
 * message. Bounded: a length above the limit is refused before any of the body is buffered, so a
 * hostile 100 MiB length prefix costs nothing; and a frame's buffer grows with the bytes that
 * actually arrive (never allocated by the claimed length up front), so a length prefix followed
 * by silence costs at most {@link FIRST_BODY_BYTES}. Decoders of one listener may share a
 * {@link FrameBudget}: the bytes all their half-received frames hold together are capped, so many
 * connections each sending most of a large frame cannot exhaust memory.
 * @module
 */

/** Why a stream was refused. */
export interface FrameError {
  kind: "too_large" | "malformed" | "busy";
  detail: string;
}

/** First buffer for a frame that arrives in pieces; it doubles as bytes arrive, up to the length. */
export const FIRST_BODY_BYTES = 16 * 1024;

/** Bytes held by the half-received frames of many decoders (one listener's connections). */
export class FrameBudget {
  /** Bytes currently held. */
  held = 0;
  /** @param max most bytes all partial frames may hold together */
  constructor(readonly max: number) {}

  /** The budget of a listener whose frames may be `maxMessageBytes` long: 4 such frames, at least 256 MiB. */
  static forListener(maxMessageBytes: number): FrameBudget {
    return new FrameBudget(Math.max(256 * 1024 * 1024, 4 * maxMessageBytes));
  }
}

/** Incremental frame decoder; one per connection. */
export class FrameDecoder {
  readonly #max: number;
  readonly #header = new Uint8Array(4);
  #headerHave = 0;
  /** Body being assembled across chunks (null when between frames); may be shorter than the frame. */
  #body: Uint8Array | null = null;
  #bodyHave = 0;
  /** Length of the frame being assembled. */
  #bodyLen = 0;

  readonly #budget: FrameBudget | null;

  /**
   * @param maxFrameBytes largest message accepted (the 4-byte prefix not included)
   * @param budget shared cap on bytes held in partial frames (none: only this frame's limit)
   */
  constructor(maxFrameBytes: number, budget: FrameBudget | null = null) {
    this.#max = maxFrameBytes;
    this.#budget = budget;
  }

  /** Takes `bytes` more from the budget, or explains why not. */
  #reserve(bytes: number): FrameError | null {
    const b = this.#budget;
    if (b === null) return null;
    if (b.held + bytes > b.max) {
      return {
        kind: "busy",
        detail: `server busy: partial frames already hold ${b.held} bytes (limit ${b.max})`,
      };
    }
    b.held += bytes;
    return null;
  }

  /** Gives back what the frame being assembled holds (when it completes, or the stream ends). */
  release(): void {
    if (this.#body !== null && this.#budget !== null) this.#budget.held -= this.#body.length;
    this.#body = null;
    this.#bodyHave = 0;
  }

  /** Bytes held for an incomplete frame. */
  get buffered(): number {
    return this.#headerHave + this.#bodyHave;
  }

  /** True while part of a frame (header or body) has arrived but not all of it. */
  get partial(): boolean {
    return this.#headerHave > 0 || this.#body !== null;
  }

  #checkLength(len: number): FrameError | null {
    if (len === 0) return { kind: "malformed", detail: "zero-length frame" };
    if (len > this.#max) {
      return {
        kind: "too_large",
        detail: `frame of ${len} bytes exceeds the limit of ${this.#max} bytes`,
      };
    }
    return null;
  }

  /**
   * Feeds one chunk; calls `onFrame` with each complete frame (a fresh copy the callee owns).
   * Returns an error (and stops) when the stream is unacceptable; the connection should close.
   */
  push(chunk: Uint8Array, onFrame: (frame: Uint8Array) => void): FrameError | null {
    let pos = 0;
    const n = chunk.length;
    while (pos < n) {
      if (this.#body !== null) {
        const take = Math.min(this.#bodyLen - this.#bodyHave, n - pos);
        if (this.#bodyHave + take > this.#body.length) {
          const size = Math.min(
            this.#bodyLen,
            Math.max(2 * this.#body.length, this.#bodyHave + take),
          );
          const refused = this.#reserve(size - this.#body.length);
          if (refused) {
            this.release();
            return refused;
          }
          const grown = new Uint8Array(size);
          grown.set(this.#body.subarray(0, this.#bodyHave));
          this.#body = grown;
        }
        this.#body.set(chunk.subarray(pos, pos + take), this.#bodyHave);
        this.#bodyHave += take;
        pos += take;
        if (this.#bodyHave === this.#bodyLen) {
          const frame = this.#body;
          this.release();
          onFrame(frame);
        }
        continue;
      }
      let len: number;
      if (this.#headerHave === 0 && n - pos >= 4) {
        len =
          ((chunk[pos] << 24) | (chunk[pos + 1] << 16) | (chunk[pos + 2] << 8) | chunk[pos + 3]) >>>
          0;
        pos += 4;
      } else {
        const take = Math.min(4 - this.#headerHave, n - pos);
        this.#header.set(chunk.subarray(pos, pos + take), this.#headerHave);
        this.#headerHave += take;
        pos += take;
        if (this.#headerHave < 4) break;
        const h = this.#header;
        len = ((h[0] << 24) | (h[1] << 16) | (h[2] << 8) | h[3]) >>> 0;
        this.#headerHave = 0;
      }
      const err = this.#checkLength(len);
      if (err) return err;
      if (n - pos >= len) {
        onFrame(chunk.slice(pos, pos + len));
        pos += len;
      } else {
        const size = Math.min(len, Math.max(FIRST_BODY_BYTES, n - pos));
        const refused = this.#reserve(size);
        if (refused) return refused;
        this.#body = new Uint8Array(size);
        this.#bodyHave = 0;
        this.#bodyLen = len;
      }
    }
    return null;
  }
}

/** Writes `messages` as frames into one contiguous buffer (one syscall for many messages). */
export function encodeFrames(messages: readonly Uint8Array[], totalPayload: number): Uint8Array {
  const out = new Uint8Array(totalPayload + 4 * messages.length);
  let p = 0;
  for (const m of messages) {
    const len = m.length;
    out[p] = len >>> 24;
    out[p + 1] = (len >>> 16) & 0xff;
    out[p + 2] = (len >>> 8) & 0xff;
    out[p + 3] = len & 0xff;
    out.set(m, p + 4);
    p += 4 + len;
  }
  return out;
}
