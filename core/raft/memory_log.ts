/**
 * An in-memory Raft log: the {@link RaftStorageView} the core reads, plus the write methods the node
 * (or a test/simulation) uses to persist a Ready. Entry objects and their `data` are stored by
 * reference, never copied.
 *
 * Layout: `#ents[0]` is a dummy entry at the snapshot index (its term is the snapshot term), so
 * `firstIndex() = snapshot index + 1` and `term(snapshot index)` works after compaction.
 * @module
 */
import type { ConfState, Entry, HardState, RaftStorageView, Snapshot } from "./types.ts";
import { EntryType } from "./types.ts";

const EMPTY = new Uint8Array(0);

/** Thrown when a caller asks for entries that were compacted away. */
export class CompactedError extends Error {
  constructor(index: number, first: number) {
    super(`raft log: index ${index} is compacted (first available index is ${first})`);
    this.name = "CompactedError";
  }
}

/** Copies a ConfState (sorted, without duplicates). */
export function copyConfState(cs: ConfState): ConfState {
  return { voters: [...cs.voters], learners: [...cs.learners] };
}

/** An in-memory implementation of the Raft storage view with the write side the node needs. */
export class MemoryLog implements RaftStorageView {
  #hs: HardState = { term: 0, vote: 0, commit: 0 };
  #conf: ConfState;
  #snap: Snapshot;
  #ents: Entry[];

  /** Starts empty with the given membership (for a brand-new node). */
  constructor(initialConf: ConfState = { voters: [], learners: [] }) {
    this.#conf = copyConfState(initialConf);
    this.#snap = { meta: { index: 0, term: 0, conf: copyConfState(initialConf) }, data: EMPTY };
    this.#ents = [{ term: 0, index: 0, type: EntryType.Normal, data: EMPTY }];
  }

  /** Durable hard state and membership. */
  initialState(): { hardState: HardState; conf: ConfState } {
    return { hardState: { ...this.#hs }, conf: copyConfState(this.#conf) };
  }

  /** Entries in [lo, hi), at most `maxBytes` of data in total (always at least one entry). */
  entries(lo: number, hi: number, maxBytes = Infinity): Entry[] {
    const off = this.#ents[0].index;
    if (lo <= off) throw new CompactedError(lo, off + 1);
    const last = this.lastIndex();
    if (hi > last + 1) {
      throw new RangeError(`raft log: entries(${lo}, ${hi}) beyond last index ${last}`);
    }
    if (lo >= hi) return [];
    const out: Entry[] = [];
    let size = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.#ents[i - off];
      size += e.data.length;
      if (out.length > 0 && size > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** Term at `index`; the snapshot index works too. Throws {@link CompactedError} below it. */
  term(index: number): number {
    const off = this.#ents[0].index;
    if (index < off) throw new CompactedError(index, off + 1);
    const e = this.#ents[index - off];
    if (e === undefined) {
      throw new RangeError(`raft log: term(${index}) beyond last index ${this.lastIndex()}`);
    }
    return e.term;
  }

  /** First index still in the log (snapshot index + 1). */
  firstIndex(): number {
    return this.#ents[0].index + 1;
  }

  /** Index of the last entry (the snapshot index when the log is empty). */
  lastIndex(): number {
    return this.#ents[0].index + this.#ents.length - 1;
  }

  /** The latest snapshot (index 0 when none was taken). */
  snapshot(): Snapshot {
    return this.#snap;
  }

  /** Appends entries, discarding any conflicting suffix from `entries[0].index` on. */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const off = this.#ents[0].index;
    let first = entries[0].index;
    if (first > this.lastIndex() + 1) {
      throw new RangeError(
        `raft log: append at ${first} leaves a gap after last index ${this.lastIndex()}`,
      );
    }
    let k = 0;
    // Entries at or below the snapshot index are already covered by the snapshot.
    if (first <= off) {
      k = off + 1 - first;
      if (k >= entries.length) return;
      first = off + 1;
    }
    this.#ents.length = first - off; // truncate the conflicting suffix (no-op when appending)
    for (; k < entries.length; k++) this.#ents.push(entries[k]);
  }

  /** Records term/vote/commit. */
  setHardState(hs: HardState): void {
    this.#hs = { term: hs.term, vote: hs.vote, commit: hs.commit };
  }

  /** Records the membership in force. */
  setConfState(cs: ConfState): void {
    this.#conf = copyConfState(cs);
  }

  /**
   * Installs a snapshot from the leader: entries after the snapshot index are kept only when the
   * log holds the snapshot's entry with the same term; otherwise the whole log is replaced.
   */
  installSnapshot(snap: Snapshot): void {
    const { index, term } = snap.meta;
    if (index <= this.#snap.meta.index) return;
    let keep: Entry[] = [];
    if (index <= this.lastIndex() && index >= this.#ents[0].index && this.term(index) === term) {
      keep = this.#ents.slice(index - this.#ents[0].index + 1);
    }
    this.#snap = snap;
    this.#conf = copyConfState(snap.meta.conf);
    this.#ents = [{ term, index, type: EntryType.Normal, data: EMPTY }, ...keep];
    if (this.#hs.commit < index) this.#hs = { ...this.#hs, commit: index };
  }

  /**
   * Saves a snapshot taken locally at `snap.meta.index` (which must be in the log) and discards
   * entries up to `snap.meta.index - keepEntries`.
   */
  saveLocalSnapshot(snap: Snapshot, keepEntries: number): void {
    const { index } = snap.meta;
    if (index <= this.#snap.meta.index) return;
    if (index > this.lastIndex()) {
      throw new RangeError(`raft log: snapshot at ${index} beyond last index ${this.lastIndex()}`);
    }
    if (this.term(index) !== snap.meta.term) {
      throw new Error(`raft log: snapshot term ${snap.meta.term} does not match log at ${index}`);
    }
    this.#snap = snap;
    this.compact(Math.max(0, index - Math.max(0, keepEntries)));
  }

  /** Discards entries up to and including `index` (kept as the dummy entry's index/term). */
  compact(index: number): void {
    const off = this.#ents[0].index;
    if (index <= off) return;
    if (index > this.lastIndex()) {
      throw new RangeError(`raft log: compact(${index}) beyond last index ${this.lastIndex()}`);
    }
    const t = this.term(index);
    const rest = this.#ents.slice(index - off + 1);
    this.#ents = [{ term: t, index, type: EntryType.Normal, data: EMPTY }, ...rest];
  }
}
