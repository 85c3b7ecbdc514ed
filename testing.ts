/**
 * Test helpers for TinyKV plugin authors, runnable under `bun test` and `deno test` alike.
 *
 * - {@link storageConformance}: the storage contract as a test suite; run it against your storage
 *   plugin's `Storage` (it is run against the built-in memory storage and the `wal` plugin).
 * @module
 */
export { storageConformance } from "./core/storage/conformance.ts";
export type { StorageConformanceOptions } from "./core/storage/conformance.ts";
export type { Storage, StorageOptions } from "./core/storage/storage.ts";
export type {
  ConfState,
  Entry,
  EntryType,
  HardState,
  NodeId,
  RaftStorageView,
  Snapshot,
  SnapshotMeta,
} from "./core/raft/types.ts";
