/**
 * The runtime-neutral half of a TCP connection: frame decoding on the way in, and on the way out a
 * queue of messages that is flushed once per tick as one contiguous write. Adapters supply only
 * the raw write and close operations of their runtime's socket.
 * @module
 */
import type { Connection, ConnectionHandler } from "../types.ts";
import { encodeFrames, type FrameBudget, FrameDecoder } from "./frame_decoder.ts";

let nextId = 1;

/** Messages at least this large are written without being copied into a joint frame buffer. */
const LARGE_MESSAGE_BYTES = 256 * 1024;

function sumLengths(a: readonly Uint8Array[], from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) n += a[i].length;
  return n;
}

function joinChunks(a: readonly Uint8Array[], from: number, to: number): Uint8Array {
  if (to - from === 1) return a[from];
  const out = new Uint8Array(sumLengths(a, from, to));
  let p = 0;
  for (let i = from; i < to; i++) {
    out.set(a[i], p);
    p += a[i].length;
  }
  return out;
}

function lengthPrefix(len: number): Uint8Array {
  return new Uint8Array([len >>> 24, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff]);
}

/** Base class for the per-runtime TCP connections. */
export abstract class FramedConnection implements Connection {
  readonly id: number = nextId++;
  readonly remoteAddress: string;
  #closed = false;
  #handler: ConnectionHandler | null = null;
  /** Created with the first bytes (an idle connection holds no decoder). */
  #decoder: FrameDecoder | null = null;
  readonly #maxMessageBytes: number;
  readonly #budget: FrameBudget | null;
  #partialSince = 0;
  #queue: Uint8Array[] = [];
  #queueBytes = 0;
  #flushScheduled = false;
  #closeAfterFlush = false;
  /** Set once the stream was refused: further input is ignored. */
  #refused = false;

  /** Byte-stream mode (TransportOptions.stream): no framing in either direction. */
  #stream = false;

  /** @param budget the listener's cap on bytes held in partial frames (none for outgoing) */
  constructor(remoteAddress: string, maxMessageBytes: number, budget: FrameBudget | null = null) {
    this.remoteAddress = remoteAddress;
    this.#maxMessageBytes = maxMessageBytes;
    this.#budget = budget;
  }

  /** Switches to byte-stream mode (before any bytes flow; see TransportOptions.stream). */
  setStream(on: boolean): void {
    this.#stream = on;
  }

  /** Attach the handler (done once, right after accept/connect). */
  attach(handler: ConnectionHandler): void {
    this.#handler = handler;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get partialSince(): number {
    return this.#partialSince;
  }

  /**
   * Adapter: hand bytes to the socket; queues internally if the socket is busy. The bytes are the
   * caller's and must not be copied into a growing buffer (queue them as they are).
   */
  protected abstract writeRaw(bytes: Uint8Array): void;
  /** Adapter: bytes accepted by writeRaw but not yet written to the OS. */
  protected abstract pendingRaw(): number;
  /** Adapter: close the socket once pending raw bytes are written. */
  protected abstract closeRaw(): void;
  /** Adapter: stop / restart reading from the socket (back-pressure for stream protocols). */
  protected abstract setReading(on: boolean): void;

  pauseReading(): void {
    if (!this.#closed) this.setReading(false);
  }

  resumeReading(): void {
    if (!this.#closed) this.setReading(true);
  }

  /** Adapter: bytes arrived from the socket (may be reused by the runtime after return). */
  protected received(chunk: Uint8Array): void {
    if (this.#refused || this.#closed) return;
    const h = this.#handler;
    if (!h) return;
    if (this.#stream) {
      h.onMessage(this, chunk);
      return;
    }
    const decoder = this.#decoder ??= new FrameDecoder(this.#maxMessageBytes, this.#budget);
    const err = decoder.push(chunk, (frame) => {
      this.#partialSince = 0;
      if (!this.#refused) h.onMessage(this, frame);
    });
    // A half-sent frame is timed from the chunk that left it incomplete (the server closes it
    // after frame_timeout_ms); every completed frame resets the clock.
    if (decoder.partial && this.#partialSince === 0) this.#partialSince = Date.now();
    if (err) {
      this.#refused = true;
      decoder.release();
      if (h.onError) h.onError(this, err.kind, err.detail);
      else this.close();
    }
  }

  /** Adapter: the socket is gone (either side). */
  protected closedBySocket(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#decoder?.release();
    this.#queue = [];
    this.#queueBytes = 0;
    this.#handler?.onClose?.(this);
  }

  send(message: Uint8Array): boolean {
    if (this.#closed || this.#closeAfterFlush) return false;
    this.#queue.push(message);
    this.#queueBytes += message.length;
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(() => this.#flush());
    }
    return true;
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#closed) return;
    if (this.#queue.length > 0) {
      const queue = this.#queue;
      this.#queue = [];
      this.#queueBytes = 0;
      if (this.#stream) {
        // Unframed: small pieces are joined into one write, large ones written as they are.
        let from = 0;
        for (let i = 0; i < queue.length; i++) {
          if (queue[i].length < LARGE_MESSAGE_BYTES) continue;
          if (i > from) this.writeRaw(joinChunks(queue, from, i));
          this.writeRaw(queue[i]);
          from = i + 1;
        }
        if (from < queue.length) this.writeRaw(joinChunks(queue, from, queue.length));
        if (this.#closeAfterFlush) this.closeRaw();
        return;
      }
      // Small messages are joined into one write; a large one is written as its own 4-byte
      // prefix and its own bytes, never copied (a 60 MB append costs no memcpy here).
      let from = 0;
      for (let i = 0; i < queue.length; i++) {
        if (queue[i].length < LARGE_MESSAGE_BYTES) continue;
        if (i > from) this.writeRaw(encodeFrames(queue.slice(from, i), sumLengths(queue, from, i)));
        this.writeRaw(lengthPrefix(queue[i].length));
        this.writeRaw(queue[i]);
        from = i + 1;
      }
      if (from < queue.length) {
        const rest = from === 0 ? queue : queue.slice(from);
        this.writeRaw(encodeFrames(rest, sumLengths(rest, 0, rest.length)));
      }
    }
    if (this.#closeAfterFlush) this.closeRaw();
  }

  bufferedBytes(): number {
    return this.#queueBytes + this.pendingRaw();
  }

  close(): void {
    if (this.#closed || this.#closeAfterFlush) return;
    this.#closeAfterFlush = true;
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(() => this.#flush());
    }
  }
}
