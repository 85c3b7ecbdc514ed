/**
 * Client batches waiting for their entry to be applied, keyed by (client id, batch id). Bounded by
 * `max_pending_batches`; deadlines are swept in insertion order (they are monotonic), so expiring
 * timed-out batches costs nothing while none are due.
 * @module
 */
import type { ClientBatch } from "../plugin/plugin.ts";
import type { Outcome } from "../server/client_server.ts";

/** Called exactly once with the batch's outcome. */
export type Waiter = (outcome: Outcome) => void;

interface Pending {
  batch: ClientBatch;
  waiters: Waiter[];
  deadline: number;
  /** Index of the entry carrying it, once proposed (0 before). */
  index: number;
}

/** The key of a batch in the pending table and the idempotency cache. */
export function batchKey(clientId: string, batchId: string): string {
  return clientId + "\u0000" + batchId;
}

/**
 * Calls every waiter; one that throws (a bug in whoever answers the client: a reply writer, a
 * connection) is reported and never reaches the caller — apply, the read path or the deadline
 * sweep — so it cannot stop the other waiters or fail the node.
 */
function notify(waiters: Waiter[], outcome: Outcome, report: (err: unknown) => void): void {
  for (const w of waiters) {
    try {
      w(outcome);
    } catch (err) {
      report(err);
    }
  }
}

/** The table of batches waiting for an outcome. */
export class PendingBatches {
  readonly #map = new Map<string, Pending>();
  readonly #limit: number;
  readonly #report: (err: unknown) => void;
  #emptyWaiters: (() => void)[] = [];

  /** `report` receives what a waiter threw (default: console.error). */
  constructor(limit: number, report: (err: unknown) => void = (e) => console.error(e)) {
    this.#limit = limit;
    this.#report = report;
  }

  get size(): number {
    return this.#map.size;
  }

  /** True when no more batches may be admitted. */
  get full(): boolean {
    return this.#map.size >= this.#limit;
  }

  /**
   * Registers a waiter. Returns false if the same batch is already waiting (the waiter joins it
   * and the caller must not propose it again).
   */
  add(batch: ClientBatch, waiter: Waiter, deadline: number): boolean {
    const key = batchKey(batch.clientId, batch.batchId);
    const p = this.#map.get(key);
    if (p) {
      p.waiters.push(waiter);
      return false;
    }
    this.#map.set(key, { batch, waiters: [waiter], deadline, index: 0 });
    return true;
  }

  /** True if the batch is waiting here. */
  has(clientId: string, batchId: string): boolean {
    return this.#map.has(batchKey(clientId, batchId));
  }

  /** Answers and removes the batch if it is waiting here. */
  settle(clientId: string, batchId: string, outcome: Outcome): boolean {
    if (this.#map.size === 0) return false;
    const key = batchKey(clientId, batchId);
    const p = this.#map.get(key);
    if (!p) return false;
    this.#map.delete(key);
    notify(p.waiters, outcome, this.#report);
    this.#emptied();
    return true;
  }

  /** Answers every batch whose deadline passed. */
  expire(now: number, outcome: Outcome): number {
    let n = 0;
    for (const [key, p] of this.#map) {
      if (p.deadline > now) break;
      this.#map.delete(key);
      notify(p.waiters, outcome, this.#report);
      n++;
    }
    if (n > 0) this.#emptied();
    return n;
  }

  /** Answers every waiting batch (leadership lost, shutting down). */
  failAll(outcome: Outcome): number {
    const all = [...this.#map.values()];
    this.#map.clear();
    for (const p of all) notify(p.waiters, outcome, this.#report);
    this.#emptied();
    return all.length;
  }

  /** Resolves once no batch is waiting (at once if none is). */
  whenEmpty(): Promise<void> {
    if (this.#map.size === 0) return Promise.resolve();
    return new Promise((r) => this.#emptyWaiters.push(r));
  }

  #emptied(): void {
    if (this.#emptyWaiters.length === 0 || this.#map.size > 0) return;
    const ws = this.#emptyWaiters;
    this.#emptyWaiters = [];
    for (const w of ws) w();
  }
}
