/**
 * The storage conformance suite: the {@link Storage} contract (core/storage/storage.ts and the
 * `RaftStorageView` the Raft core reads) as a list of tests any storage can be run against —
 * the built-in in-memory storage, the `wal` plugin's, or yours. It needs no test framework of its
 * own: give it your runner's `test(name, fn)` (bun:test, `Deno.test`, node:test) and a factory.
 *
 * ```ts
 * // tests/my_storage.test.ts (bun test), or Deno.test in place of test under `deno test`
 * import { test } from "bun:test";
 * import { storageConformance } from "tinykv/testing.ts";
 * import { openMyStorage } from "my-storage-plugin";
 *
 * storageConformance({
 *   name: "my storage",
 *   open: (opts) => openMyStorage(opts.dataDir, opts.initialConf),
 *   test,
 * });
 * ```
 *
 * Each test gets a fresh empty directory (removed afterwards) and opens storage there with
 * `open`; for a storage whose `durable` is true (or with `reopens: true`), the suite also closes
 * and reopens it in the same directory and checks that everything synced is still there.
 * @module
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Storage, StorageOptions } from "./storage.ts";
import type { ConfState, Entry, Snapshot } from "../raft/types.ts";

/** How the suite reaches the storage under test and the test runner. */
export interface StorageConformanceOptions {
  /** Names the storage in every test name: `"<name>: append ..."`. */
  name: string;
  /**
   * Opens the storage in `opts.dataDir` (empty on the first open of a test; the same directory
   * again when the suite reopens a durable storage). `opts.initialConf` is the membership of a
   * brand-new node.
   */
  open(opts: StorageOptions): Promise<Storage> | Storage;
  /**
   * Whether data survives `close()` and a new `open()` in the same directory, so the reopen tests
   * run. Default: the storage's `durable` (set it for a storage that keeps its files but does not
   * fsync, e.g. the wal with `fsync=off`).
   */
  reopens?: boolean;
  /** The runner's test function: `test` from bun:test or node:test, or `Deno.test`. */
  test(name: string, fn: () => Promise<void>): unknown;
}

const CONF: ConfState = { voters: [1, 2, 3], learners: [] };

/** `count` entries from `first` in `term`, each with a payload naming it (bytes stay bytes). */
function entries(first: number, count: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = first; i < first + count; i++) {
    out.push({ index: i, term, type: 0, data: new TextEncoder().encode(`e${i}t${term}`) });
  }
  return out;
}

function snapshotAt(index: number, term: number, conf: ConfState = CONF): Snapshot {
  return { meta: { index, term, conf }, data: new TextEncoder().encode(`state@${index}`) };
}

/** Plain data for comparison: Uint8Arrays become arrays of numbers. */
function plain(x: unknown): unknown {
  if (x instanceof Uint8Array) return Array.from(x);
  if (Array.isArray(x)) return x.map(plain);
  if (x && typeof x === "object") {
    const keys = Object.keys(x).sort();
    return Object.fromEntries(keys.map((k) => [k, plain((x as Record<string, unknown>)[k])]));
  }
  return x;
}

/** Throws naming `what` when `actual` and `expected` differ as plain data. */
function equal(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(plain(actual));
  const e = JSON.stringify(plain(expected));
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

/** Throws naming `what` unless `fn` throws. */
function throws(fn: () => unknown, what: string): void {
  try {
    fn();
  } catch {
    return;
  }
  throw new Error(`${what}: expected an error, none was thrown`);
}

/** The entries of the whole log, for comparison. */
function allEntries(s: Storage): Entry[] {
  return s.entries(s.firstIndex(), s.lastIndex() + 1);
}

/** One storage in one temporary directory, reopenable. */
class Subject {
  readonly dir = mkdtempSync(join(tmpdir(), "tinykv-conformance-"));
  storage!: Storage;
  constructor(readonly options: StorageConformanceOptions) {}
  async open(): Promise<Storage> {
    const opts = { dataDir: join(this.dir, "data"), nodeId: 1, initialConf: CONF };
    this.storage = await this.options.open(opts);
    return this.storage;
  }
  async reopen(): Promise<Storage> {
    await this.storage.close();
    return await this.open();
  }
  async dispose(): Promise<void> {
    try {
      await this.storage?.close();
    } catch {
      // closed already (reopen failed half-way, or the test closed it)
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

type Case = (s: Storage, subject: Subject) => Promise<void>;

const CASES: [string, Case][] = [
  ["a new storage is empty, with the initial membership", (s) => {
    equal(s.firstIndex(), 1, "firstIndex()");
    equal(s.lastIndex(), 0, "lastIndex()");
    equal(s.term(0), 0, "term(0)");
    equal(s.entries(1, 1), [], "entries(1, 1)");
    equal(s.initialState(), { hardState: { term: 0, vote: 0, commit: 0 }, conf: CONF }, "state");
    equal(s.snapshot().meta.index, 0, "snapshot().meta.index");
    return Promise.resolve();
  }],
  ["append, then entries/term/lastIndex read it back (and maxBytes bounds a read)", async (s) => {
    s.append(entries(1, 5, 1));
    s.append(entries(6, 2, 2));
    await s.sync();
    equal(s.lastIndex(), 7, "lastIndex()");
    equal(s.firstIndex(), 1, "firstIndex()");
    equal(allEntries(s), [...entries(1, 5, 1), ...entries(6, 2, 2)], "entries(1, 8)");
    equal(s.entries(2, 4), entries(2, 2, 1), "entries(2, 4)");
    equal([1, 5, 6, 7].map((i) => s.term(i)), [1, 1, 2, 2], "terms");
    // Each payload is 4-5 bytes: a budget of 1 byte still returns one entry, 9 returns two.
    equal(s.entries(1, 8, 1).length, 1, "entries(1, 8, 1 byte) length");
    equal(s.entries(1, 8, 9).length, 2, "entries(1, 8, 9 bytes) length");
    throws(() => s.entries(1, 9), "entries beyond lastIndex + 1");
    throws(() => s.term(8), "term beyond lastIndex");
  }],
  ["append at or below lastIndex discards the conflicting suffix first", async (s) => {
    s.append(entries(1, 6, 1));
    s.append(entries(4, 2, 2)); // replaces 4..6 with 4..5 of term 2
    equal(s.lastIndex(), 5, "lastIndex() after overwrite");
    equal(allEntries(s), [...entries(1, 3, 1), ...entries(4, 2, 2)], "log after overwrite");
    s.append(entries(2, 1, 3)); // a shorter suffix shrinks the log
    equal(s.lastIndex(), 2, "lastIndex() after shrink");
    equal(allEntries(s), [...entries(1, 1, 1), ...entries(2, 1, 3)], "log after shrink");
    s.append(entries(3, 2, 3));
    await s.sync();
    equal(s.lastIndex(), 4, "lastIndex() after append");
    equal(s.term(4), 3, "term(4)");
  }],
  ["hard state and membership are recorded", async (s) => {
    s.append(entries(1, 3, 2));
    s.setHardState({ term: 2, vote: 3, commit: 2 });
    s.setConfState({ voters: [1, 2], learners: [4] });
    await s.sync();
    equal(s.initialState(), {
      hardState: { term: 2, vote: 3, commit: 2 },
      conf: { voters: [1, 2], learners: [4] },
    }, "initialState()");
    s.setHardState({ term: 3, vote: 0, commit: 3 });
    equal(s.initialState().hardState, { term: 3, vote: 0, commit: 3 }, "hard state updated");
  }],
  ["saveSnapshot keeps the snapshot and compacts the log behind it, keeping keepEntries", async (
    s,
  ) => {
    s.append(entries(1, 10, 1));
    await s.sync();
    await s.saveSnapshot(snapshotAt(8, 1), 3);
    equal(s.snapshot(), snapshotAt(8, 1), "snapshot()");
    equal(s.firstIndex(), 6, "firstIndex() (8 - 3 kept + 1)");
    equal(s.lastIndex(), 10, "lastIndex()");
    equal(allEntries(s), entries(6, 5, 1), "entries still in the log");
    equal(s.term(8), 1, "term(snapshot index)");
    throws(() => s.entries(4, 6), "entries below firstIndex");
    throws(() => s.term(4), "term of a compacted index");
    await s.saveSnapshot(snapshotAt(10, 1), 0);
    equal([s.firstIndex(), s.lastIndex(), s.term(10)], [11, 10, 1], "after a snapshot at the end");
    s.append(entries(11, 1, 2));
    equal(s.entries(11, 12), entries(11, 1, 2), "appending after compaction");
  }],
  ["applySnapshot from a leader replaces a log that does not hold its entry", async (s) => {
    s.append(entries(1, 5, 1));
    const conf = { voters: [1, 2, 3, 4], learners: [] };
    await s.applySnapshot(snapshotAt(10, 2, conf));
    equal(s.snapshot(), snapshotAt(10, 2, conf), "snapshot()");
    equal([s.firstIndex(), s.lastIndex(), s.term(10)], [11, 10, 2], "first, last, term(10)");
    equal(s.initialState().conf, conf, "membership from the snapshot");
    if (s.initialState().hardState.commit < 10) throw new Error("commit not raised to 10");
    s.append(entries(11, 2, 2));
    await s.sync();
    equal(allEntries(s), entries(11, 2, 2), "log after the snapshot");
  }],
  ["applySnapshot keeps the entries after it when the log holds its entry", async (s) => {
    s.append(entries(1, 10, 1));
    await s.applySnapshot(snapshotAt(6, 1));
    equal([s.firstIndex(), s.lastIndex()], [7, 10], "first, last");
    equal(allEntries(s), entries(7, 4, 1), "entries kept after the snapshot");
  }],
  ["a durable storage keeps what was synced across close and reopen", async (s, subject) => {
    if (!(subject.options.reopens ?? s.durable)) return; // memory storage: nothing to keep
    s.append(entries(1, 6, 1));
    s.append(entries(5, 3, 2)); // overwritten suffix must not come back
    s.setHardState({ term: 2, vote: 1, commit: 4 });
    s.setConfState({ voters: [1, 2], learners: [] });
    await s.sync();
    let r = await subject.reopen();
    equal(allEntries(r), [...entries(1, 4, 1), ...entries(5, 3, 2)], "log after reopen");
    equal(r.initialState(), {
      hardState: { term: 2, vote: 1, commit: 4 },
      conf: { voters: [1, 2], learners: [] },
    }, "state after reopen");
    await r.saveSnapshot(snapshotAt(5, 2, { voters: [1, 2], learners: [] }), 1);
    r.append(entries(8, 2, 2));
    await r.sync();
    r = await subject.reopen();
    equal(
      r.snapshot(),
      snapshotAt(5, 2, { voters: [1, 2], learners: [] }),
      "snapshot after reopen",
    );
    // Compaction is a promise about what is kept, not what is dropped: after a reopen the log may
    // start earlier (e.g. a WAL drops whole segment files only), never later, and never leaves a
    // gap after the snapshot.
    if (r.firstIndex() > 5) throw new Error(`firstIndex() ${r.firstIndex()} after reopen > 5`);
    equal([r.lastIndex(), r.term(5), r.term(9)], [9, 2, 2], "last, term(5), term(9)");
    equal(r.entries(5, 10), [...entries(5, 3, 2), ...entries(8, 2, 2)], "entries after reopen");
    await r.applySnapshot(snapshotAt(20, 3));
    await r.sync();
    r = await subject.reopen();
    equal([r.snapshot().meta.index, r.firstIndex(), r.lastIndex()], [20, 21, 20], "installed");
  }],
  ["sync resolves and close releases the storage", async (s) => {
    s.append(entries(1, 1, 1));
    await s.sync();
    await s.sync(); // nothing new: still resolves
    await s.close();
  }],
];

/**
 * Registers one test per clause of the storage contract with `options.test`. Every test opens a
 * fresh storage with `options.open` in its own temporary directory.
 */
export function storageConformance(options: StorageConformanceOptions): void {
  for (const [title, run] of CASES) {
    options.test(`${options.name}: ${title}`, async () => {
      const subject = new Subject(options);
      try {
        await run(await subject.open(), subject);
      } finally {
        await subject.dispose();
      }
    });
  }
}
