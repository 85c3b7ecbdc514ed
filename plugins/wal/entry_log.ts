/**
 * The WAL's in-memory view of the Raft log: a base (the index and term just before the first
 * entry held) plus the entries after it. Reads are served from here; every mutation has exactly
 * one WAL record kind, so replaying the records through the same methods rebuilds the same log.
 *
 * Entry objects (and their `data`) are kept by reference, never copied.
 * @module
 */
import { CompactedError } from "../../core/raft/memory_log.ts";
import type { Entry } from "../../core/raft/types.ts";

/** What `append` changed, so the caller can write the matching records. */
export interface AppendPlan {
  /** Index of the first entry actually appended (entries at or below the base are skipped). */
  from: number;
  /** Position in the caller's array of the entry at `from`. */
  skip: number;
  /** Set when a conflicting suffix from `from` on was discarded: the term of entry `from - 1`. */
  truncatedPrevTerm?: number;
}

/** In-memory log: entries (baseIndex, lastIndex] and the term at baseIndex. */
export class EntryLog {
  #baseIndex: number;
  #baseTerm: number;
  #ents: Entry[] = [];

  /** An empty log after (baseIndex, baseTerm). */
  constructor(baseIndex = 0, baseTerm = 0) {
    this.#baseIndex = baseIndex;
    this.#baseTerm = baseTerm;
  }

  /** Index just before the first entry held (compaction point or snapshot index). */
  get baseIndex(): number {
    return this.#baseIndex;
  }

  /** First index held (baseIndex + 1). */
  firstIndex(): number {
    return this.#baseIndex + 1;
  }

  /** Last index (baseIndex when empty). */
  lastIndex(): number {
    return this.#baseIndex + this.#ents.length;
  }

  /** Term at `index` (baseIndex works); throws {@link CompactedError} below it. */
  term(index: number): number {
    if (index === this.#baseIndex) return this.#baseTerm;
    if (index < this.#baseIndex) throw new CompactedError(index, this.#baseIndex + 1);
    const e = this.#ents[index - this.#baseIndex - 1];
    if (e === undefined) {
      throw new RangeError(`wal: term(${index}) beyond last index ${this.lastIndex()}`);
    }
    return e.term;
  }

  /** True when the log holds `index` (or it is the base) with term `term`. */
  matches(index: number, term: number): boolean {
    return index >= this.#baseIndex && index <= this.lastIndex() && this.term(index) === term;
  }

  /** Entries in [lo, hi), at most `maxBytes` of data (always at least one entry). */
  entries(lo: number, hi: number, maxBytes = Infinity): Entry[] {
    if (lo <= this.#baseIndex) throw new CompactedError(lo, this.#baseIndex + 1);
    const last = this.lastIndex();
    if (hi > last + 1) {
      throw new RangeError(`wal: entries(${lo}, ${hi}) beyond last index ${last}`);
    }
    if (lo >= hi) return [];
    const out: Entry[] = [];
    let size = 0;
    const off = this.#baseIndex + 1;
    for (let i = lo; i < hi; i++) {
      const e = this.#ents[i - off];
      size += e.data.length;
      if (out.length > 0 && size > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /**
   * Plans an append: skips entries covered by the base, detects a conflicting suffix. Throws on a
   * gap. Does not change the log; call {@link commitAppend} with the plan.
   */
  planAppend(entries: Entry[]): AppendPlan | undefined {
    if (entries.length === 0) return undefined;
    let from = entries[0].index;
    const last = this.lastIndex();
    if (from > last + 1) {
      throw new RangeError(`wal: append at ${from} leaves a gap after last index ${last}`);
    }
    let skip = 0;
    if (from <= this.#baseIndex) {
      skip = this.#baseIndex + 1 - from;
      if (skip >= entries.length) return undefined;
      from = this.#baseIndex + 1;
    }
    for (let i = skip + 1; i < entries.length; i++) {
      if (entries[i].index !== entries[i - 1].index + 1) {
        throw new RangeError(`wal: append of non-contiguous entries at ${entries[i].index}`);
      }
    }
    return from <= last ? { from, skip, truncatedPrevTerm: this.term(from - 1) } : { from, skip };
  }

  /** Applies a plan from {@link planAppend}. */
  commitAppend(entries: Entry[], plan: AppendPlan): void {
    this.#ents.length = plan.from - this.#baseIndex - 1;
    for (let k = plan.skip; k < entries.length; k++) this.#ents.push(entries[k]);
  }

  /** Replay: appends one entry, which must directly follow the last one. */
  pushNext(e: Entry): void {
    const last = this.lastIndex();
    if (e.index !== last + 1) {
      throw new Error(`entry ${e.index} does not follow last index ${last}`);
    }
    this.#ents.push(e);
  }

  /**
   * Replay of a Truncate record: drops entries from `index` on. When `index - 1` is below the base
   * (those entries were compacted), the log restarts after (index - 1, prevTerm).
   */
  truncate(index: number, prevTerm: number): void {
    const prev = index - 1;
    if (prev > this.lastIndex()) {
      throw new Error(`truncation at ${index} beyond last index ${this.lastIndex()}`);
    }
    if (prev < this.#baseIndex) {
      this.reset(prev, prevTerm);
      return;
    }
    if (this.term(prev) !== prevTerm) {
      throw new Error(
        `truncation at ${index} expects term ${prevTerm} at ${prev}, log has ${this.term(prev)}`,
      );
    }
    this.#ents.length = prev - this.#baseIndex;
  }

  /** Discards entries up to and including `index` (which becomes the base). */
  compact(index: number): void {
    if (index <= this.#baseIndex) return;
    if (index > this.lastIndex()) {
      throw new RangeError(`wal: compact(${index}) beyond last index ${this.lastIndex()}`);
    }
    const t = this.term(index);
    this.#ents.splice(0, index - this.#baseIndex);
    this.#baseIndex = index;
    this.#baseTerm = t;
  }

  /**
   * Installs a leader's snapshot at (index, term): keeps the entries after it when the log holds
   * that entry with that term, otherwise replaces the whole log. Returns true when entries were kept.
   */
  install(index: number, term: number): boolean {
    if (this.matches(index, term)) {
      this.compact(index);
      return true;
    }
    this.reset(index, term);
    return false;
  }

  /** Empties the log, restarting after (index, term). */
  reset(index: number, term: number): void {
    this.#ents = [];
    this.#baseIndex = index;
    this.#baseTerm = term;
  }
}
