/**
 * The storage contract between a node and its durable log, in the spirit of hashicorp/raft's
 * LogStore + StableStore + SnapshotStore, kept as one small interface.
 *
 * The node calls `append`/`setHardState`/`applySnapshot` for each Raft Ready, then `sync()` once
 * (group commit: one fsync covers everything appended since the previous sync), and only after
 * `sync()` resolves does it send replies that promise durability (appResp, voteResp). Client
 * writes are acknowledged when their entry is applied, which needs it committed: durable on a
 * quorum, the leader's own copy counted only after its `sync()` (see `core/node/ready.ts`). `MemoryStorage` (core/storage/memory.ts) keeps everything in memory;
 * the `wal` plugin provides the durable implementation.
 * @module
 */
import type { ConfState, Entry, HardState, RaftStorageView, Snapshot } from "../raft/types.ts";

/** Durable storage for one Raft node. Read methods are synchronous (served from memory). */
export interface Storage extends RaftStorageView {
  /** Human-readable description for the startup log, e.g. `"wal at ./data (fsync=always)"`. */
  readonly description: string;
  /** True when `sync()` makes data survive a crash (false for in-memory storage). */
  readonly durable: boolean;
  /**
   * The directory this storage keeps its files in, if it keeps any. The node records the cluster
   * id and its node id there (`CLUSTER_ID`, `NODE_ID`) and refuses a dir that belongs to another.
   */
  readonly dataDir?: string;
  /**
   * Append entries. If `entries[0].index <= lastIndex()`, the conflicting suffix from that index on
   * is discarded first. Not durable until `sync()`.
   */
  append(entries: Entry[]): void;
  /** Record term/vote/commit. Not durable until `sync()`. */
  setHardState(hs: HardState): void;
  /** Record the cluster membership in force after applying a ConfChange. Not durable until `sync()`. */
  setConfState(cs: ConfState): void;
  /**
   * Install a snapshot received from the leader: replaces the log up to `snap.meta.index`
   * (discarding entries that conflict), records the snapshot durably before resolving.
   */
  applySnapshot(snap: Snapshot): Promise<void>;
  /**
   * Save a snapshot taken locally by the state machine at `snap.meta.index` and compact the log up
   * to (and including) `snap.meta.index - keepEntries`. Durable before resolving.
   */
  saveSnapshot(snap: Snapshot, keepEntries: number): Promise<void>;
  /** Make everything appended/recorded so far durable (one fsync for all of it). */
  sync(): Promise<void>;
  /** Flush and release files. */
  close(): Promise<void>;
}

/** Options a storage factory receives. */
export interface StorageOptions {
  /** Data directory (the `data_dir` option). */
  dataDir: string;
  /** This node's id. */
  nodeId: number;
  /** Initial membership for a brand-new node (used when storage is empty). */
  initialConf: ConfState;
}
