/**
 * ReadIndex bookkeeping on the leader. Requests arriving between two Readys share one heartbeat
 * round: the round's id travels as the heartbeat context, and once a quorum of voters has answered
 * a round, every request of that round and of earlier rounds is confirmed (the leader was still
 * leader when the round started, after the requests were registered).
 *
 * Each round also records when it was sent (`sentAt`, the caller's monotonic clock as last passed
 * to the core, which is never later than the real send): a quorum ack of a round proves that, at
 * `sentAt`, no other leader could have been elected yet, which is what the leader lease is
 * measured from (see `raw_node.ts`). With lease reads on, every periodic heartbeat is a round.
 * @module
 */
import type { NodeId } from "./types.ts";

/** One pending read: the commit index when it arrived, who asked, and the caller's context. */
export interface ReadRequest {
  index: number;
  from: NodeId;
  context: Uint8Array;
  round: number;
}

interface Round {
  id: number;
  acks: Set<NodeId>;
  /** Caller's monotonic time when the round was started (its heartbeats go out after that). */
  sentAt: number;
}

/** Result of {@link ReadOnlyQueue.ack}. */
export interface AckResult {
  /** Requests confirmed by this ack (in arrival order). */
  reads: ReadRequest[];
  /** `sentAt` of the newest round a quorum has now acked, or -Infinity if none. */
  sentAt: number;
}

/** Most rounds kept waiting for acks; older ones are dropped (their requests ride later rounds). */
const MAX_ROUNDS = 1024;

/** Encodes a round id as a heartbeat context (8 bytes, big-endian). */
export function encodeRound(id: number): Uint8Array {
  const b = new Uint8Array(9);
  b[0] = 0x52; // 'R'
  new DataView(b.buffer).setFloat64(1, id);
  return b;
}

/** Decodes a heartbeat context made by {@link encodeRound}, or returns 0. */
export function decodeRound(ctx: Uint8Array | undefined): number {
  if (!ctx || ctx.length !== 9 || ctx[0] !== 0x52) return 0;
  const v = new DataView(ctx.buffer, ctx.byteOffset, ctx.byteLength).getFloat64(1);
  return Number.isSafeInteger(v) && v > 0 ? v : 0;
}

/** Pending reads, grouped into heartbeat rounds. */
export class ReadOnlyQueue {
  /** Requests in arrival order (rounds are non-decreasing along the queue). */
  #queue: ReadRequest[] = [];
  #head = 0;
  /** Requests not yet assigned to a round. */
  #unsent = 0;
  #rounds: Round[] = [];
  #nextRound = 1;
  /** Bound on queued requests; beyond it new requests are dropped. */
  readonly maxPending: number;

  constructor(maxPending = 100_000) {
    this.maxPending = maxPending;
  }

  /** Number of pending requests. */
  get size(): number {
    return this.#queue.length - this.#head;
  }

  /** Adds a request; returns false if the queue is full. */
  add(index: number, from: NodeId, context: Uint8Array): boolean {
    if (this.size >= this.maxPending) return false;
    this.#queue.push({ index, from, context, round: 0 });
    this.#unsent++;
    return true;
  }

  /** True when requests wait for a heartbeat round to be started. */
  hasUnsent(): boolean {
    return this.#unsent > 0;
  }

  /**
   * Starts a round (sent at `sentAt`) for every unsent request (possibly none: a lease round);
   * returns its heartbeat context.
   */
  startRound(self: NodeId, sentAt = -Infinity): Uint8Array {
    const id = this.#nextRound++;
    for (let i = this.#queue.length - this.#unsent; i < this.#queue.length; i++) {
      this.#queue[i].round = id;
    }
    this.#unsent = 0;
    this.#rounds.push({ id, acks: new Set([self]), sentAt });
    // A leader whose rounds go unanswered: forget the oldest. Their requests stay queued and are
    // confirmed by any later round (which started after them), so nothing is answered early.
    if (this.#rounds.length > MAX_ROUNDS) this.#rounds.splice(0, this.#rounds.length - MAX_ROUNDS);
    return encodeRound(id);
  }

  /** Context of the newest round with requests still pending (for periodic heartbeats). */
  lastRoundContext(): Uint8Array | undefined {
    const r = this.#rounds[this.#rounds.length - 1];
    return r ? encodeRound(r.id) : undefined;
  }

  /**
   * Records `from`'s ack of the round in `ctx`. When `isQuorum(acks)` holds for some round, returns
   * (and removes) every request of that round and earlier ones, with that round's send time;
   * otherwise no reads and `sentAt` -Infinity.
   */
  ack(
    from: NodeId,
    ctx: Uint8Array | undefined,
    isQuorum: (acks: Set<NodeId>) => boolean,
  ): AckResult {
    const none: AckResult = { reads: [], sentAt: -Infinity };
    const id = decodeRound(ctx);
    if (id === 0) return none;
    // An ack of round `id` also proves leadership for every earlier round still pending.
    let confirmed = 0;
    let sentAt = -Infinity;
    for (const r of this.#rounds) {
      if (r.id > id) break;
      r.acks.add(from);
      if (isQuorum(r.acks)) {
        confirmed = r.id;
        sentAt = r.sentAt;
      }
    }
    if (confirmed === 0) return none;
    this.#rounds = this.#rounds.filter((r) => r.id > confirmed);
    const out: ReadRequest[] = [];
    while (this.#head < this.#queue.length) {
      const q = this.#queue[this.#head];
      if (q.round === 0 || q.round > confirmed) break;
      out.push(q);
      this.#head++;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return { reads: out, sentAt };
  }

  /** Drops everything (on losing leadership). */
  reset(): void {
    this.#queue = [];
    this.#head = 0;
    this.#unsent = 0;
    this.#rounds = [];
  }
}
