/**
 * The leader's lessor: decides when leases expire and has the log apply it (the state side is
 * core/state/leases.ts). Only the leader acts; followers hear the same events and ignore them.
 *
 * - Deadlines are on the leader's monotonic clock (the node's injected {@link Clock}): when a
 *   GRANT or KEEPALIVE applies here, the lease's deadline becomes now + ttl.
 * - On each tick, leases past their deadline are expired by proposing `LEASE EXPIRE id rev`
 *   (at most {@link MAX_EXPIRES_PER_ENTRY} leases holding at most
 *   {@link MAX_EXPIRE_KEYS_PER_ENTRY} keys together in one entry) through the normal write path; `rev` is
 *   the lease's renewal revision, so an expiry that raced a keepalive applies as a no-op. Until
 *   the entry applies, the lease is re-proposed every `retryMs` (a lost proposal; a duplicate is
 *   a no-op).
 * - On becoming leader, no lease has a deadline until this leader's `LEASE REFRESH` applies
 *   (proposed at its first tick; it follows every entry of earlier terms): then every lease gets
 *   now + ttl, so none expires early across a leader change (etcd's rule). Leases renewed by
 *   entries applied before it get now + ttl from their own apply. When the state holds no lease
 *   at that first tick, no refresh is proposed (a cluster that does not use leases gets no extra
 *   entry): any lease that shows up later does so by a GRANT applied here, with its own deadline.
 * - The proposals are ordinary batches of client `tinykv-lessor` ({@link LESSOR_CLIENT_ID}):
 *   plugins see them like any other.
 * - On losing leadership every deadline is dropped.
 *
 * So, on a healthy leader, a lease expires between ttl and ttl + one tick + one commit after its
 * last renewal applied; across a leader change, at most ttl + the time to elect a leader and
 * commit its refresh later than that (docs/leases.md states the bound), and never earlier.
 * @module
 */
import { encodeCborCopy } from "../../protocol/cbor.ts";
import type { Clock } from "../env/time.ts";
import type { ClientBatch } from "../plugin/plugin.ts";
import { MAX_LEASE_KEYS } from "../state/leases.ts";
import type { LeaseInfo, LeaseListener } from "../state/types.ts";

/** The client id of the lessor's proposals. */
export const LESSOR_CLIENT_ID = "tinykv-lessor";
/** Most leases one expiry entry revokes (more wait for the next tick). */
export const MAX_EXPIRES_PER_ENTRY = 256;
/**
 * Most keys the leases expired in one entry hold together (a lease with more, up to
 * MAX_LEASE_KEYS, goes alone), so one entry's apply deletes a bounded number of keys.
 */
export const MAX_EXPIRE_KEYS_PER_ENTRY = MAX_LEASE_KEYS;

/** What the lessor needs from the node. */
export interface LessorDeps {
  clock: Clock;
  /** True while this node leads (and is not stopping). */
  isLeader(): boolean;
  /** The current Raft term (makes the proposals' batch ids unique across leaders). */
  term(): number;
  /** The state machine's leases. */
  leases(): Iterable<LeaseInfo>;
  /** Proposes one batch through the write path; false if refused. */
  propose(batch: ClientBatch): boolean;
  /** How long a proposal may take to apply before it is made again (ms). */
  retryMs: number;
}

interface Deadline {
  at: number;
  rev: number;
}

/** Lease deadlines on the leader, and the proposals that expire them. */
export class Lessor implements LeaseListener {
  readonly #d: LessorDeps;
  readonly #deadlines = new Map<number, Deadline>();
  /** No deadline is before this (a lower bound: renewals only make deadlines later). */
  #earliest = Infinity;
  /** When to propose (again) this leader's LEASE REFRESH; -1 once it applied, or not leading. */
  #refreshAt = -1;
  #seq = 0;

  constructor(deps: LessorDeps) {
    this.#d = deps;
  }

  /** Leases with a deadline (the leader's view; empty on followers). */
  get size(): number {
    return this.#deadlines.size;
  }

  /** The node's role changed: deadlines are dropped; a new leader first refreshes. */
  onLeadership(leader: boolean): void {
    this.#deadlines.clear();
    this.#earliest = Infinity;
    this.#refreshAt = leader ? 0 : -1;
  }

  renewed(id: number, ttlSeconds: number, rev: number): void {
    if (!this.#d.isLeader()) return;
    this.#set(id, this.#d.clock.monoMs() + ttlSeconds * 1000, rev);
  }

  revoked(id: number): void {
    this.#deadlines.delete(id);
  }

  reset(): void {
    if (!this.#d.isLeader()) return;
    this.#refreshAt = -1;
    this.#deadlines.clear();
    this.#earliest = Infinity;
    const now = this.#d.clock.monoMs();
    for (const l of this.#d.leases()) this.#set(l.id, now + l.ttl * 1000, l.renewRev);
  }

  #set(id: number, at: number, rev: number): void {
    const d = this.#deadlines.get(id);
    if (d === undefined) this.#deadlines.set(id, { at, rev });
    else {
      d.at = at;
      d.rev = rev;
    }
    if (at < this.#earliest) this.#earliest = at;
  }

  /** Called on every node tick: proposes the refresh and the expiries that are due. */
  tick(): void {
    const d = this.#d;
    if (!d.isLeader()) return;
    const now = d.clock.monoMs();
    if (this.#refreshAt >= 0 && now >= this.#refreshAt) {
      if (this.#noLeases()) this.#refreshAt = -1; // nothing to refresh: no entry at all
      else {
        this.#refreshAt = now + d.retryMs;
        this.#propose("refresh", [["LEASE", "REFRESH"]]);
      }
    }
    if (now < this.#earliest) return;
    const due: string[][] = [];
    let earliest = Infinity;
    let keys = 0;
    let counts: Map<number, number> | null = null;
    for (const [id, dl] of this.#deadlines) {
      if (dl.at <= now && due.length < MAX_EXPIRES_PER_ENTRY && keys < MAX_EXPIRE_KEYS_PER_ENTRY) {
        counts ??= this.#keyCounts();
        const n = counts.get(id) ?? 0;
        // The entry's keys stay bounded (one lease always goes); the rest wait for the next tick.
        if (due.length === 0 || keys + n <= MAX_EXPIRE_KEYS_PER_ENTRY) {
          keys += n;
          due.push(["LEASE", "EXPIRE", String(id), String(dl.rev)]);
          dl.at = now + d.retryMs; // made again if it has not applied by then
        }
      }
      if (dl.at < earliest) earliest = dl.at;
    }
    this.#earliest = earliest;
    if (due.length > 0) this.#propose("expire", due);
  }

  /** Keys attached per lease id (read only on a tick where some lease is due). */
  #keyCounts(): Map<number, number> {
    const m = new Map<number, number>();
    for (const l of this.#d.leases()) m.set(l.id, l.keys?.size ?? 0);
    return m;
  }

  /**
   * True when the state holds no lease. Then a new leader needs no refresh: every lease it will
   * know comes from a GRANT applied from now on, which gives it a deadline of its own.
   */
  #noLeases(): boolean {
    for (const _ of this.#d.leases()) return false;
    return true;
  }

  #propose(what: string, commands: string[][]): void {
    this.#d.propose({
      clientId: LESSOR_CLIENT_ID,
      batchId: `${what}:${this.#d.term()}:${++this.#seq}`,
      commands: encodeCborCopy(commands),
      count: commands.length,
    });
  }
}
