/**
 * The core's view of the log: durable entries in storage plus an "unstable" tail (and possibly an
 * incoming snapshot) not yet handed to / persisted by the caller. Also tracks `committed`,
 * `applied` and `persisted` (the last index known durable and still part of this log).
 * @module
 */
import type { Entry, RaftStorageView, Snapshot } from "./types.ts";

/** Returned by {@link RaftLog.term} for an index that is compacted. */
export const COMPACTED = -1;

/** Storage + unstable tail. */
export class RaftLog {
  readonly storage: RaftStorageView;
  /** Entries not yet persisted; `unstable[0].index === offset`. */
  unstable: Entry[] = [];
  /** Index of the first unstable entry. */
  offset: number;
  /** Incoming snapshot not yet persisted. */
  pendingSnapshot: Snapshot | undefined;
  committed: number;
  applied: number;
  /**
   * Highest index handed out for applying (>= `applied` once that catches up): `ready()` hands
   * out committed entries that count as applied only at `advance()`, and entries taken while a
   * Ready is still handled must not repeat them.
   */
  applying = 0;
  /** Last index known to be durable on this node and part of this log. */
  persisted: number;
  /**
   * Last index handed to the caller for persisting (in a Ready not yet advanced), while those
   * entries are still part of this log: a conflicting append lowers it, as it lowers `persisted`.
   */
  inProgress = 0;

  constructor(storage: RaftStorageView, committed: number, applied: number) {
    this.storage = storage;
    const last = storage.lastIndex();
    this.offset = last + 1;
    this.persisted = last;
    this.committed = Math.min(committed, last);
    const snapIndex = storage.firstIndex() - 1;
    this.applied = Math.max(Math.min(applied, this.committed), snapIndex);
    if (this.committed < snapIndex) this.committed = snapIndex;
  }

  /** First index available (entries below it are compacted into a snapshot). */
  firstIndex(): number {
    if (this.pendingSnapshot) return this.pendingSnapshot.meta.index + 1;
    return this.storage.firstIndex();
  }

  /** Index of the last entry. */
  lastIndex(): number {
    if (this.unstable.length > 0) return this.offset + this.unstable.length - 1;
    if (this.pendingSnapshot) return this.pendingSnapshot.meta.index;
    return this.storage.lastIndex();
  }

  /** Term of the entry at `i`: 0 beyond the last index, {@link COMPACTED} if compacted away. */
  term(i: number): number {
    if (i >= this.offset) {
      const e = this.unstable[i - this.offset];
      return e === undefined ? 0 : e.term;
    }
    const snap = this.pendingSnapshot;
    if (snap) {
      if (i === snap.meta.index) return snap.meta.term;
      return i < snap.meta.index ? COMPACTED : 0;
    }
    const dummy = this.storage.firstIndex() - 1;
    if (i < dummy) return i === 0 ? 0 : COMPACTED;
    if (i > this.storage.lastIndex()) return 0;
    return this.storage.term(i);
  }

  /** Term of the last entry. */
  lastTerm(): number {
    return this.term(this.lastIndex());
  }

  /** True if the entry at `i` has term `t`. */
  matchTerm(i: number, t: number): boolean {
    if (i > this.lastIndex()) return false;
    const x = this.term(i);
    return x !== COMPACTED && x === t;
  }

  /** Raft's "at least as up to date" check for a candidate's last entry. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const t = this.lastTerm();
    return lastTerm > t || (lastTerm === t && lastIndex >= this.lastIndex());
  }

  /**
   * Entries in [lo, hi) limited to `maxEntries` and `maxBytes` (at least one if any). Returns
   * undefined if `lo` is compacted.
   */
  slice(lo: number, hi: number, maxEntries: number, maxBytes: number): Entry[] | undefined {
    if (lo < this.firstIndex()) return undefined;
    hi = Math.min(hi, this.lastIndex() + 1, lo + Math.max(1, maxEntries));
    if (lo >= hi) return [];
    let out: Entry[];
    if (lo < this.offset) {
      out = this.storage.entries(lo, Math.min(hi, this.offset), maxBytes);
      if (hi <= this.offset || out.length < Math.min(hi, this.offset) - lo) {
        return out;
      }
    } else {
      out = [];
    }
    let size = 0;
    for (const e of out) size += e.data.length;
    for (let i = Math.max(lo, this.offset); i < hi; i++) {
      const e = this.unstable[i - this.offset];
      size += e.data.length;
      if (out.length > 0 && size > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** Appends new entries at the end (leader). Returns the new last index. */
  append(ents: Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0].index;
    if (after <= this.committed) {
      throw new Error(
        `raft: refusing to overwrite committed index ${after} (commit ${this.committed})`,
      );
    }
    if (after === this.offset + this.unstable.length) {
      for (const e of ents) this.unstable.push(e);
    } else if (after <= this.offset) {
      this.offset = after;
      this.unstable = ents.slice();
    } else {
      this.unstable = this.unstable.slice(0, after - this.offset);
      for (const e of ents) this.unstable.push(e);
    }
    if (this.persisted >= after) this.persisted = after - 1;
    if (this.inProgress >= after) this.inProgress = after - 1;
    return this.lastIndex();
  }

  /**
   * Follower append: if the entry at `prevIndex` has `prevTerm`, merges `ents` (truncating from the
   * first conflict) and returns the last index covered by this message; else returns -1.
   */
  maybeAppend(prevIndex: number, prevTerm: number, commit: number, ents: Entry[]): number {
    if (!this.matchTerm(prevIndex, prevTerm)) return -1;
    const lastNew = prevIndex + ents.length;
    // Find the first entry not already in the log with the same term.
    let k = 0;
    for (; k < ents.length; k++) {
      const e = ents[k];
      if (e.index < this.firstIndex()) continue; // compacted: committed, matches
      if (!this.matchTerm(e.index, e.term)) break;
    }
    if (k < ents.length) this.append(k === 0 ? ents : ents.slice(k));
    this.commitTo(Math.min(commit, lastNew));
    return lastNew;
  }

  /** Raises the commit index (never lowers it; never beyond the last index). */
  commitTo(c: number): void {
    if (c > this.committed) this.committed = Math.min(c, this.lastIndex());
  }

  /**
   * For fast backtracking: the largest index <= `index` whose term is <= `term`, with that term
   * (term 0 if the search reached the compacted prefix).
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let i = Math.min(index, this.lastIndex()); i >= 0; i--) {
      const t = this.term(i);
      if (t === COMPACTED) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
    }
    return { index: 0, term: 0 };
  }

  /** Replaces the log by an incoming snapshot (not yet persisted). */
  restore(s: Snapshot): void {
    this.pendingSnapshot = s;
    this.unstable = [];
    this.offset = s.meta.index + 1;
    this.committed = s.meta.index;
    this.persisted = 0;
  }

  /** The latest snapshot: the incoming one if pending, else the stored one. */
  snapshot(): Snapshot {
    return this.pendingSnapshot ?? this.storage.snapshot();
  }

  /** The persisted part now ends at (`i`, `t`): drop it from the unstable tail. */
  stableTo(i: number, t: number): void {
    if (i < this.offset) return;
    const e = this.unstable[i - this.offset];
    if (e === undefined || e.term !== t) return;
    this.unstable = this.unstable.slice(i + 1 - this.offset);
    this.offset = i + 1;
    this.persisted = Math.max(this.persisted, i);
  }

  /** The pending snapshot at `index` is now persisted. */
  stableSnapTo(index: number): void {
    if (this.pendingSnapshot && this.pendingSnapshot.meta.index === index) {
      this.pendingSnapshot = undefined;
      if (this.persisted < index) this.persisted = index;
    }
  }

  /** First index of the committed entries not yet applied. */
  firstUnapplied(): number {
    return Math.max(this.applied + 1, this.applying + 1, this.firstIndex());
  }

  /** True when there are committed entries to hand out for applying. */
  hasNextCommitted(): boolean {
    return this.pendingSnapshot === undefined && this.committed >= this.firstUnapplied();
  }

  /** Committed, unapplied entries (size-limited), up to index `upTo` if given. */
  nextCommitted(maxBytes: number, upTo = this.committed): Entry[] {
    if (!this.hasNextCommitted()) return [];
    const lo = this.firstUnapplied();
    const hi = Math.min(upTo, this.committed) + 1;
    if (lo >= hi) return [];
    return this.slice(lo, hi, Number.MAX_SAFE_INTEGER, maxBytes) ?? [];
  }
}
