/**
 * Follower forwarding: a follower serves a write batch from a client that asked for it (a Redis
 * client, or a native batch with `forward: true`) by handing it to the leader over the peer
 * connection and relaying the leader's answer — as etcd followers forward proposals — so any
 * node serves any client.
 *
 * The batch waits in this node's pending table like any other (its deadline, stop and the
 * shutdown drain apply); this part only tracks which forwarded batch went where. When the leader
 * changes, or refuses a batch because it no longer leads, the batch is sent again to the new
 * leader — or run here, if this node now leads — with the same client and batch ids, so the
 * idempotency plugin applies it at most once. A client therefore sees an error only when the
 * outcome is unknown at its deadline (TIMEOUT, "outcome unknown"), or a definite refusal.
 *
 * On the leader, a forwarded batch is checked like any client batch and submitted to the write
 * path (hooks, coalesce, idempotency, group commit); its outcome goes back to the follower.
 * @module
 */
import { checkBatch } from "../../protocol/cbor_peek.ts";
import { Code, type CodeNumber } from "../../protocol/codes.ts";
import { MAX_BATCH_COMMANDS } from "../../protocol/messages.ts";
import type { ForwardedBatch, ForwardMessage, ForwardReply } from "../peers/forward_codec.ts";
import type { ClientBatch } from "../plugin/plugin.ts";
import type { NodeId } from "../raft/types.ts";
import type { Outcome } from "../server/client_server.ts";
import type { PendingBatches } from "./pending.ts";
import type { NodeState } from "./types.ts";

/** What forwarding needs from the rest of the node. */
export interface ForwardingDeps {
  selfId: NodeId;
  state: NodeState;
  pending: PendingBatches;
  /** Sends on the peer connection; false when nothing was sent (no connection). */
  send(m: ForwardMessage): boolean;
  /** Submits a batch from a follower to this (leader) node's write path. */
  submit(batch: ClientBatch, done: (o: Outcome) => void): void;
  /** Runs an already admitted (pending) batch here: this node became leader. */
  runHere(batch: ClientBatch): void;
}

interface Sent {
  batch: ClientBatch;
  /** The leader it went to (0: parked, waiting for a leader). */
  to: NodeId;
}

/** Refusals that say the batch was not applied because the receiver does not lead. */
const NOT_LEADING: readonly number[] = [Code.NOT_LEADER, Code.UNAVAILABLE, Code.SHUTTING_DOWN];

/** The follower's table of forwarded batches, and the leader's handler for them. */
export class Forwarding {
  readonly #d: ForwardingDeps;
  /** Forwarded batches by request id (bounded: each is also in the pending table). */
  readonly #sent = new Map<number, Sent>();
  #nextId = 0;

  constructor(deps: ForwardingDeps) {
    this.#d = deps;
  }

  /** Forwarded batches waiting for their leader's answer. */
  get size(): number {
    return this.#sent.size;
  }

  /** Forwards an admitted (pending) write batch to the leader. */
  forward(batch: ClientBatch): void {
    const id = ++this.#nextId;
    const entry: Sent = { batch, to: 0 };
    this.#sent.set(id, entry);
    this.#sendTo(id, entry);
  }

  #sendTo(id: number, e: Sent): void {
    const s = this.#d.state;
    if (s.role === "leader") {
      this.#sent.delete(id);
      this.#d.runHere(e.batch);
      return;
    }
    e.to = s.leader;
    if (e.to === 0) return; // parked until a leader is known
    const b = e.batch;
    const m: ForwardedBatch = {
      kind: "batch",
      from: this.#d.selfId,
      to: e.to,
      id,
      clientId: b.clientId,
      batchId: b.batchId,
      commands: b.commands,
    };
    if (!this.#d.send(m)) e.to = 0; // no connection yet: parked, retried on the next tick
  }

  /**
   * The leader changed (or a tick passed): batches parked, or sent to another node than the
   * leader now known, go (again) to it — or run here if this node leads.
   */
  retry(): void {
    if (this.#sent.size === 0) return;
    const s = this.#d.state;
    for (const [id, e] of this.#sent) {
      if (!this.#d.pending.has(e.batch.clientId, e.batch.batchId)) {
        this.#sent.delete(id); // answered meanwhile (deadline, stop)
        continue;
      }
      if (e.to === 0 || e.to !== s.leader || s.role === "leader") this.#sendTo(id, e);
    }
  }

  /** A message from a peer: a batch to run (on the leader) or the answer to one we forwarded. */
  receive(m: ForwardMessage): void {
    if (m.kind === "batch") this.#runForPeer(m);
    else this.#answer(m);
  }

  #answer(m: ForwardReply): void {
    const e = this.#sent.get(m.id);
    if (!e || e.to !== m.from) return; // unknown, or superseded by a resend elsewhere
    const f = m.refusal;
    if (f && NOT_LEADING.includes(f.code)) {
      // Not applied there: try the next leader (the retry on tick sends it once one is known).
      e.to = 0;
      return;
    }
    this.#sent.delete(m.id);
    const b = e.batch;
    this.#d.pending.settle(
      b.clientId,
      b.batchId,
      m.result
        ? { result: m.result }
        : { code: f!.code as CodeNumber, message: f!.message, leader: f!.leader },
    );
  }

  #runForPeer(m: ForwardedBatch): void {
    const reply = (o: Outcome) => {
      const r: ForwardReply = { kind: "reply", from: this.#d.selfId, to: m.from, id: m.id };
      if ("result" in o) r.result = o.result;
      else r.refusal = { code: o.code, message: o.message, leader: o.leader };
      this.#d.send(r); // lost: the follower's deadline answers its client
    };
    // Never trust a count, from a peer either: the same walk as a client batch.
    const count = checkBatch(m.commands, MAX_BATCH_COMMANDS);
    if (count <= 0) {
      return reply({ code: Code.MALFORMED, message: "forwarded batch: malformed commands" });
    }
    this.#d.submit(
      { clientId: m.clientId, batchId: m.batchId, commands: m.commands, count },
      reply,
    );
  }

  /** Forgets every forwarded batch (stop: the pending table answers them). */
  clear(): void {
    this.#sent.clear();
  }
}
