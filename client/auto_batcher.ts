/**
 * The auto-batching pipeline: concurrent `command()` calls are queued and leave together as one
 * `COMMAND_BATCH` frame — when `maxBatch` commands are queued, or after `maxDelayMs` (0: on the
 * next event-loop turn). At most `maxInflightFrames` frames await their answers; further commands
 * wait in a queue bounded by `maxQueued`, beyond which `command()` rejects with `BUSY`. A CHECK or
 * IFREV that would open a frame leaves in a frame of its own (it would guard the rest).
 * @module
 */
import { encodeCbor } from "../protocol/cbor.ts";
import { Code, TinyKVError } from "../protocol/codes.ts";
import type { WireValue as Value } from "../protocol/messages.ts";
import { estimateCommandBytes } from "./batch_frames.ts";
import type { Reply } from "./connection.ts";
import type { Arg, ClientTimers } from "./types.ts";

/** Resolved auto-batch settings. */
export interface AutoBatchSettings {
  maxBatch: number;
  maxDelayMs: number;
  maxInflightFrames: number;
  maxQueued: number;
  /** Largest encoded commands payload per frame. */
  maxPayloadBytes: number;
}

/** Sends one frame of encoded commands; resolves to its reply (or rejects for the whole frame). */
export type FrameSender = (commandsCbor: Uint8Array, count: number) => Promise<Reply>;

interface Queued {
  args: Arg[];
  bytes: number;
  resolve: (v: Value) => void;
  reject: (e: TinyKVError) => void;
}

/** Turns a reply slot into a value or an error (`NOT_FOUND` is a success with a null value). */
export function slotOutcome(r: Reply, i: number): Value | TinyKVError {
  const code = r.codes[i];
  if (code === Code.OK || code === Code.NOT_FOUND) return r.data[i] ?? null;
  return new TinyKVError(
    code as TinyKVError["code"],
    r.errors[i] ?? "command failed",
    r.leader,
  );
}

/** True if `name` is CHECK or IFREV (any case): first in a batch, it guards the rest. */
function isGuard(name: Arg | undefined): boolean {
  if (name === undefined || name.length !== 5) return false;
  const s = typeof name === "string" ? name : String.fromCharCode(...name);
  return /^(check|ifrev)$/i.test(s);
}

/** Coalesces single commands into batch frames. */
export class AutoBatcher {
  readonly #s: AutoBatchSettings;
  readonly #send: FrameSender;
  #queue: Queued[] = [];
  #head = 0;
  #inflight = 0;
  #scheduled = false;
  #timer: (() => void) | null = null;
  readonly #timers: ClientTimers;
  #closed = false;
  /** Frames sent so far (for tests and stats). */
  framesSent = 0;

  constructor(settings: AutoBatchSettings, send: FrameSender, timers: ClientTimers) {
    this.#s = settings;
    this.#send = send;
    this.#timers = timers;
  }

  /** Commands waiting for a frame. */
  get queued(): number {
    return this.#queue.length - this.#head;
  }

  /** Frames awaiting answers. */
  get inflight(): number {
    return this.#inflight;
  }

  /** Queues one command. */
  enqueue(args: Arg[]): Promise<Value> {
    if (this.#closed) {
      return Promise.reject(new TinyKVError(Code.UNAVAILABLE, "client is closed"));
    }
    if (this.queued >= this.#s.maxQueued) {
      return Promise.reject(
        new TinyKVError(
          Code.BUSY,
          `client auto-batch queue full (${this.queued} commands waiting, ${this.#inflight} frames in flight); slow down or raise autoBatch.maxQueued`,
        ),
      );
    }
    const bytes = estimateCommandBytes(args);
    if (bytes > this.#s.maxPayloadBytes) {
      return Promise.reject(
        new TinyKVError(
          Code.TOO_LARGE,
          `command of about ${bytes} bytes exceeds maxBatchBytes (${this.#s.maxPayloadBytes})`,
        ),
      );
    }
    return new Promise<Value>((resolve, reject) => {
      this.#queue.push({ args, bytes, resolve, reject });
      if (this.queued >= this.#s.maxBatch) this.#pump();
      else this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    const run = () => {
      this.#scheduled = false;
      this.#timer = null;
      this.#pump();
    };
    if (this.#s.maxDelayMs > 0) this.#timer = this.#timers.timeout(this.#s.maxDelayMs, run);
    else this.#timers.immediate(run);
  }

  /** Sends frames while commands wait and frame slots are free. */
  #pump(): void {
    while (this.queued > 0 && this.#inflight < this.#s.maxInflightFrames && !this.#closed) {
      const items: Queued[] = [];
      let bytes = 9;
      while (this.#head < this.#queue.length && items.length < this.#s.maxBatch) {
        const q = this.#queue[this.#head];
        if (items.length > 0 && bytes + q.bytes > this.#s.maxPayloadBytes) break;
        items.push(q);
        bytes += q.bytes;
        this.#head++;
        // A guard (CHECK, IFREV) first in a frame would guard the commands that happen to join
        // it: it leaves alone, so concurrent commands mean what they mean one by one.
        if (items.length === 1 && isGuard(q.args[0])) break;
      }
      if (this.#head === this.#queue.length) {
        this.#queue = [];
        this.#head = 0;
      } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      this.#sendFrame(items);
    }
  }

  #sendFrame(items: Queued[]): void {
    this.#inflight++;
    this.framesSent++;
    const commands = new Array<Arg[]>(items.length);
    for (let i = 0; i < items.length; i++) commands[i] = items[i].args;
    let sent: Promise<Reply>;
    try {
      sent = this.#send(encodeCbor(commands), items.length);
    } catch (err) {
      sent = Promise.reject(err);
    }
    sent.then((r) => {
      for (let i = 0; i < items.length; i++) {
        const out = slotOutcome(r, i);
        if (out instanceof TinyKVError) items[i].reject(out);
        else items[i].resolve(out);
      }
    }, (err: unknown) => {
      const e = err instanceof TinyKVError
        ? err
        : new TinyKVError(Code.INTERNAL, (err as Error).message);
      for (const it of items) it.reject(e);
    }).finally(() => {
      this.#inflight--;
      // Whatever is queued now has waited for a free slot already: send it without more delay.
      this.#pump();
    });
  }

  /** Rejects everything still queued (frames in flight are settled by the client). */
  close(): void {
    this.#closed = true;
    if (this.#timer) this.#timer();
    const err = new TinyKVError(Code.UNAVAILABLE, "client closed before the command was sent");
    for (let i = this.#head; i < this.#queue.length; i++) this.#queue[i].reject(err);
    this.#queue = [];
    this.#head = 0;
  }
}
