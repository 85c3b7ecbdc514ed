/**
 * The read path: read-only batches are served by ReadIndex, never through the log. Batches queue
 * until the next Ready turn, where one ReadIndex request covers them all; once Raft confirms the
 * read index (a quorum still follows this leader, or its lease holds) and the state machine has
 * applied up to it, they are executed against the local state and answered.
 * @module
 */
import type { Applier } from "./applier.ts";
import type { PendingBatches } from "./pending.ts";
import type { ClientBatch } from "../plugin/plugin.ts";
import type { ReadState } from "../raft/types.ts";
import type { ApplyContext } from "../state/types.ts";
import type { NodeState } from "./types.ts";

/** ReadIndex requests whose answer never came (lost message, leader change) are forgotten after this many. */
export const MAX_READ_REQUESTS = 1024;

/** What the read path needs from the rest of the node. */
export interface ReadsDeps {
  state: NodeState;
  pending: PendingBatches;
  /** Executes a read-only batch (with the local answers to server commands). */
  applier: Applier;
  /** Raft's readIndex. */
  readIndex(context: Uint8Array): void;
  /** The time reads are served at (the leader's entry time, not moved). */
  readTime(): number;
  /** Asks for a Ready turn. */
  schedule(): void;
}

/** ReadIndex queue, requests in flight and confirmed reads waiting for apply. */
export class Reads {
  readonly #d: ReadsDeps;
  /** Read-only batches waiting for the next ReadIndex request (one request covers them all). */
  #queue: ClientBatch[] = [];
  /** ReadIndex requests in flight: context sequence number → the batches they cover. */
  readonly #requests = new Map<number, ClientBatch[]>();
  /** Confirmed reads waiting for `applied` to reach their read index (ascending index). */
  readonly #toServe: { index: number; batches: ClientBatch[] }[] = [];
  #seq = 0;
  readonly #ctx: ApplyContext = { nowMs: 0, index: 0 };

  constructor(deps: ReadsDeps) {
    this.#d = deps;
  }

  /** Queues a read-only batch; the next Ready turn asks Raft for one read index for all. */
  enqueue(batch: ClientBatch): void {
    this.#queue.push(batch);
    this.#d.schedule();
  }

  /**
   * At the start of a Ready turn: one ReadIndex request for every queued batch. On a follower
   * (a client that asked to be served by any node) Raft forwards it to the leader; with no
   * leader known the batches wait (their deadline answers them if none comes).
   */
  requestIfQueued(): void {
    if (this.#queue.length === 0) return;
    const s = this.#d.state;
    if (s.role !== "leader" && s.leader === 0) return;
    const seq = ++this.#seq;
    const ctx = new Uint8Array(8);
    new DataView(ctx.buffer).setFloat64(0, seq);
    this.#requests.set(seq, this.#queue);
    this.#queue = [];
    if (this.#requests.size > MAX_READ_REQUESTS) {
      // The oldest request's answer was lost; its batches time out through the pending table.
      this.#requests.delete(this.#requests.keys().next().value!);
    }
    this.#d.readIndex(ctx);
  }

  /** Notes the read indexes Raft confirmed. */
  onReadStates(states: readonly ReadState[]): void {
    for (const rs of states) {
      if (rs.context.length !== 8) continue;
      const seq = new DataView(rs.context.buffer, rs.context.byteOffset, 8).getFloat64(0);
      const batches = this.#requests.get(seq);
      if (!batches) continue;
      this.#requests.delete(seq);
      this.#toServe.push({ index: rs.index, batches });
    }
  }

  /** Answers confirmed reads whose read index is applied, from the local state machine. */
  serve(): void {
    const q = this.#toServe;
    if (q.length === 0) return;
    const applied = this.#d.state.applied;
    let done = 0;
    const ctx = this.#ctx;
    ctx.nowMs = this.#d.readTime();
    ctx.index = applied;
    const { pending, applier } = this.#d;
    while (done < q.length && q[done].index <= applied) {
      for (const b of q[done].batches) {
        pending.settle(b.clientId, b.batchId, { result: applier.execute(b, ctx) });
      }
      done++;
    }
    if (done > 0) q.splice(0, done);
  }

  /**
   * The leader changed: requests in flight went to the old one and may never be answered; they
   * are asked again (of the new leader) on the next turn. Confirmed reads stay: their read index
   * was confirmed while the request was outstanding.
   */
  requeue(): void {
    if (this.#requests.size === 0) return;
    for (const batches of this.#requests.values()) for (const b of batches) this.#queue.push(b);
    this.#requests.clear();
    this.#d.schedule();
  }

  /** Forgets queued and in-flight reads (their clients are answered via the pending table). */
  drop(): void {
    this.#queue = [];
    this.#requests.clear();
    this.#toServe.length = 0;
  }
}
