/**
 * The write path, from a client batch to a proposal: admission (stopping, failed, not leader,
 * busy), the pending table (batches waiting for their entry to apply, with a submit deadline),
 * the plugins' `onBatch`/`onPropose` hooks, and the proposal itself. Read-only batches leave here
 * for the read path. The table is answered by apply (results), the read path, plugins
 * (`ctx.answer`), the deadline sweep, leadership loss and stop.
 * @module
 */
import { isReadOnlyBatch } from "../../protocol/cbor_peek.ts";
import type { Config } from "../config/config.ts";
import { Code, type CodeNumber } from "../../protocol/codes.ts";
import type { HookBus, PluginError } from "../plugin/hooks.ts";
import { PendingBatches } from "./pending.ts";
import type { Outcome } from "../server/client_server.ts";
import type { BatchDecision, BatchResult, ClientBatch, NodeStats } from "../plugin/plugin.ts";
import { encodeProposal } from "./proposal.ts";
import type { NodeId, ProposeError } from "../raft/types.ts";
import type { Clock } from "../env/time.ts";
import type { NodeState } from "./types.ts";

/** Bytes per ms a healthy cluster is assumed to move a large batch at, at the least (8 MB/s). */
const SUBMIT_BYTES_PER_MS = 8_000;

/** What the write path needs from the rest of the node. */
export interface WritePathDeps {
  config: Readonly<Config>;
  state: NodeState;
  hooks: HookBus;
  clock: Clock;
  stats: NodeStats;
  /** True when a command (by name) only reads: batches of reads go to `read`. */
  isRead(name: Uint8Array): boolean;
  /** Hands a read-only batch to the read path. */
  read(batch: ClientBatch): void;
  /** Raft's propose: the entry index, or why it was refused. */
  propose(data: Uint8Array): number | ProposeError;
  /** Client address of a member (for NOT_LEADER redirects). */
  clientAddress(id: NodeId): string | undefined;
  /** Hands an admitted write batch to the leader (this node is a follower; core/node/forwarding.ts). */
  forward(batch: ClientBatch): void;
  /** Receives what answering a client threw (reported; it never reaches apply). */
  report?(err: unknown): void;
}

/** Admission, the pending table and proposals. */
export class WritePath {
  readonly pending: PendingBatches;
  readonly #d: WritePathDeps;
  /** Last entry time proposed: entry times never go backwards, even if the wall clock does. */
  #lastNow = 0;

  constructor(deps: WritePathDeps) {
    this.#d = deps;
    this.pending = new PendingBatches(deps.config.max_pending_batches, deps.report);
  }

  /**
   * Entry point for the client server (ServerBackend.submit). `done` is called exactly once. With
   * `forward`, a follower serves the batch instead of redirecting: reads by a follower ReadIndex,
   * writes forwarded to the leader.
   */
  submit(batch: ClientBatch, done: (o: Outcome) => void, forward = false): void {
    const refuse = this.admission(forward);
    if (refuse) return done(refuse);
    const deadline = this.#d.clock.monoMs() + this.#submitTimeoutMs(batch.commands.length);
    if (!this.pending.add(batch, done, deadline)) return;
    if (isReadOnlyBatch(batch.commands, this.#d.isRead)) {
      (batch as { readOnly?: boolean }).readOnly = true;
    }
    this.route(batch);
  }

  /**
   * Sends an admitted (pending) batch on: on the leader, or for a read, through the plugins'
   * `onBatch` to a proposal or the read path; a write on a follower to the leader.
   */
  route(batch: ClientBatch): void {
    if (this.#d.state.role !== "leader" && !batch.readOnly) return this.#d.forward(batch);
    let d: BatchDecision | Promise<BatchDecision>;
    try {
      d = this.#d.hooks.onBatch(batch);
    } catch (err) {
      this.settleError([batch], Code.INTERNAL, (err as Error).message);
      return;
    }
    if (d instanceof Promise) {
      d.then(
        (x) => this.#decide(batch, x),
        (err) => this.settleError([batch], Code.INTERNAL, (err as Error).message),
      );
    } else this.#decide(batch, d);
  }

  /** Resolves when no batch is waiting (at once if none is). */
  drained(): Promise<void> {
    return this.pending.whenEmpty();
  }

  /**
   * How long a batch of `bytes` may take from admission to apply before it is answered TIMEOUT:
   * `raft_submit_timeout_ms` plus time to move its bytes through the slowest healthy path (three
   * copies over the network, an fsync on every node, apply) at a conservative
   * `SUBMIT_BYTES_PER_MS`, so a large write within `batch_max_bytes` is never failed on a healthy
   * cluster. (The pending table sweeps deadlines in admission order, so a small batch admitted
   * behind a large one can be answered a little later than its own deadline, never earlier.)
   */
  #submitTimeoutMs(bytes: number): number {
    return this.#d.config.raft_submit_timeout_ms + Math.ceil(bytes / SUBMIT_BYTES_PER_MS);
  }

  /** Answers TIMEOUT to every batch past its deadline (called on every tick). */
  sweep(): void {
    const expired = this.pending.expire(this.#d.clock.monoMs(), {
      code: Code.TIMEOUT,
      message:
        `timeout: not applied within raft_submit_timeout_ms (${this.#d.config.raft_submit_timeout_ms} ms, plus 1 ms per 8 kB of batch) (outcome unknown; safe to retry with the same batch id)`,
    });
    this.#d.stats.proposalTimeouts += expired;
  }

  /** The leader's address, if known (for redirects). */
  #leaderAddress(): string | undefined {
    const l = this.#d.state.leader;
    return l ? this.#d.clientAddress(l) : undefined;
  }

  /** Why a new batch cannot be admitted now (on a follower: unless `forward`), or null. */
  admission(forward = false): Outcome | null {
    const s = this.#d.state;
    if (s.stopping) return { code: Code.SHUTTING_DOWN, message: "server shutting down" };
    if (s.fatal) return { code: Code.INTERNAL, message: `node failed: ${s.fatal.message}` };
    if (forward && s.role !== "leader" && s.leader === 0) {
      return { code: Code.UNAVAILABLE, message: "no leader elected yet; retry shortly" };
    }
    if (s.role !== "leader" && !forward) {
      const leader = this.#leaderAddress();
      return leader
        ? {
          code: Code.NOT_LEADER,
          message: `not leader; leader is node ${s.leader} at ${leader}`,
          leader,
        }
        : { code: Code.UNAVAILABLE, message: "no leader elected yet; retry shortly" };
    }
    if (this.pending.full) {
      this.#d.stats.busyRejections++;
      return {
        code: Code.BUSY,
        message: `server busy: ${this.pending.size} batches pending (max_pending_batches)`,
      };
    }
    return null;
  }

  #decide(batch: ClientBatch, d: BatchDecision): void {
    if (!d) {
      if (batch.readOnly) this.#d.read(batch);
      else this.propose([batch]);
    } else if ("respond" in d) {
      this.pending.settle(batch.clientId, batch.batchId, { result: d.respond });
    } else if ("reject" in d) {
      this.pending.settle(batch.clientId, batch.batchId, {
        code: d.reject.code,
        message: d.reject.message,
      });
    }
    // { defer: true }: the plugin proposes it later through ctx.propose.
  }

  /** A plugin's `ctx.answer`. */
  answer(batch: ClientBatch, r: BatchResult | { code: CodeNumber; message: string }): void {
    const o: Outcome = "codes" in r ? { result: r } : { code: r.code, message: r.message };
    this.pending.settle(batch.clientId, batch.batchId, o);
  }

  /** Answers every batch in `batches` with one error. */
  settleError(
    batches: readonly ClientBatch[],
    code: CodeNumber,
    message: string,
    leader?: string,
  ): void {
    for (const b of batches) this.pending.settle(b.clientId, b.batchId, { code, message, leader });
  }

  /** The leader's entry time for a new proposal (wall clock, never decreasing). */
  entryTime(): number {
    const nowMs = Math.max(this.#d.clock.wallMs(), this.#lastNow);
    this.#lastNow = nowMs;
    return nowMs;
  }

  /** The time reads are served at: like `entryTime`, without moving it. */
  readTime(): number {
    return Math.max(this.#d.clock.wallMs(), this.#lastNow);
  }

  /** Proposes `batches` as one entry (also a plugin's `ctx.propose`). Returns true if proposed. */
  propose(batches: ClientBatch[]): boolean {
    if (batches.length === 0) return false;
    const s = this.#d.state;
    const refuse = s.stopping || s.role !== "leader" ? this.admission() : null;
    if (refuse && "code" in refuse) {
      this.settleError(batches, refuse.code, refuse.message, refuse.leader);
      return false;
    }
    const nowMs = this.entryTime();
    const data = encodeProposal(batches, nowMs);
    try {
      this.#d.hooks.onPropose({ batches, nowMs, data });
    } catch (err) {
      this.settleError(batches, Code.INTERNAL, (err as PluginError).message);
      return false;
    }
    const r = this.#d.propose(data);
    if (typeof r === "string") {
      this.settleError(batches, Code.NOT_LEADER, `proposal refused (${r})`, this.#leaderAddress());
      return false;
    }
    this.#d.stats.proposals++;
    return true;
  }
}
