/**
 * In-memory {@link Storage}: everything lives in a {@link MemoryLog}; `sync()` resolves at once and
 * nothing survives a restart (`durable = false`). Used when no storage plugin (e.g. `wal`) is loaded.
 * @module
 */
import { MemoryLog } from "../raft/memory_log.ts";
import type { ConfState, Entry, HardState, Snapshot } from "../raft/types.ts";
import type { Storage } from "./storage.ts";

/** Storage that keeps the Raft log, hard state and snapshots in memory only. */
export class MemoryStorage implements Storage {
  /** Startup-log description. */
  readonly description = "in-memory (not durable)";
  /** In-memory storage never survives a crash. */
  readonly durable = false;
  readonly #log: MemoryLog;
  #closed = false;

  /** Creates empty storage with the initial membership. */
  constructor(initialConf: ConfState) {
    this.#log = new MemoryLog(initialConf);
  }

  /** Hard state and membership. */
  initialState(): { hardState: HardState; conf: ConfState } {
    return this.#log.initialState();
  }

  /** Entries in [lo, hi), size-limited (at least one entry if any). */
  entries(lo: number, hi: number, maxBytes?: number): Entry[] {
    return this.#log.entries(lo, hi, maxBytes);
  }

  /** Term at `index` (the snapshot index works); throws if compacted. */
  term(index: number): number {
    return this.#log.term(index);
  }

  /** First index in the log. */
  firstIndex(): number {
    return this.#log.firstIndex();
  }

  /** Last index in the log. */
  lastIndex(): number {
    return this.#log.lastIndex();
  }

  /** Latest snapshot (index 0 when none). */
  snapshot(): Snapshot {
    return this.#log.snapshot();
  }

  /** Appends entries, truncating a conflicting suffix first. */
  append(entries: Entry[]): void {
    this.#checkOpen();
    this.#log.append(entries);
  }

  /** Records term/vote/commit. */
  setHardState(hs: HardState): void {
    this.#checkOpen();
    this.#log.setHardState(hs);
  }

  /** Records the membership in force. */
  setConfState(cs: ConfState): void {
    this.#checkOpen();
    this.#log.setConfState(cs);
  }

  /** Installs a snapshot received from the leader. */
  applySnapshot(snap: Snapshot): Promise<void> {
    this.#checkOpen();
    this.#log.installSnapshot(snap);
    return Promise.resolve();
  }

  /** Saves a locally taken snapshot and compacts the log behind it, keeping `keepEntries`. */
  saveSnapshot(snap: Snapshot, keepEntries: number): Promise<void> {
    this.#checkOpen();
    this.#log.saveLocalSnapshot(snap, keepEntries);
    return Promise.resolve();
  }

  /** Nothing to flush: resolves immediately. */
  sync(): Promise<void> {
    return Promise.resolve();
  }

  /** Marks the storage closed; later writes throw. */
  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error("memory storage is closed");
  }
}
