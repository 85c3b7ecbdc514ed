/**
 * The runtime-neutral half of a TCP connection: frame decoding on the way in, and on the way out a
 * queue of messages that is flushed once per tick as one contiguous write. Adapters supply only
 * the raw write and close operations of their runtime's socket.
 * @module
 */
import type { Connection, ConnectionHandler } from "../types.ts";
import { encodeFrames, type FrameBudget, FrameDecoder } from "./frame_decoder.ts";

let nextId = 1;

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

  /** @param budget the listener's cap on bytes held in partial frames (none for outgoing) */
  constructor(remoteAddress: string, maxMessageBytes: number, budget: FrameBudget | null = null) {
    this.remoteAddress = remoteAddress;
    this.#maxMessageBytes = maxMessageBytes;
    this.#budget = budget;
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

  /** Adapter: hand bytes to the socket; queues internally if the socket is busy. */
  protected abstract writeRaw(bytes: Uint8Array): void;
  /** Adapter: bytes accepted by writeRaw but not yet written to the OS. */
  protected abstract pendingRaw(): number;
  /** Adapter: close the socket once pending raw bytes are written. */
  protected abstract closeRaw(): void;

  /** Adapter: bytes arrived from the socket (may be reused by the runtime after return). */
  protected received(chunk: Uint8Array): void {
    if (this.#refused || this.#closed) return;
    const h = this.#handler;
    if (!h) return;
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
      const frames = encodeFrames(this.#queue, this.#queueBytes);
      this.#queue = [];
      this.#queueBytes = 0;
      this.writeRaw(frames);
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
