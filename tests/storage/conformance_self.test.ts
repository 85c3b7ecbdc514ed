// The conformance suite itself: it must catch a storage that breaks the contract. Each broken
// storage below wraps the memory storage with one bug; running the suite on it must fail exactly
// the tests about that clause.
import { expect, test } from "bun:test";
import { MemoryStorage } from "../../core/storage/memory.ts";
import type { Entry } from "../../core/raft/types.ts";
import type { Storage } from "../../core/storage/storage.ts";
import { storageConformance } from "../../testing.ts";

/** Runs the suite with a collecting `test` and returns the names of the failing tests. */
async function failures(open: () => Storage, reopens = false): Promise<string[]> {
  const cases: [string, () => Promise<void>][] = [];
  storageConformance({ name: "x", open, reopens, test: (name, fn) => cases.push([name, fn]) });
  const failed: string[] = [];
  for (const [name, fn] of cases) {
    try {
      await fn();
    } catch {
      failed.push(name.replace(/^x: /, ""));
    }
  }
  return failed;
}

test("the memory storage passes every test", async () => {
  expect(await failures(() => new MemoryStorage({ voters: [1, 2, 3], learners: [] }))).toEqual([]);
});

test("a storage that appends without discarding the conflicting suffix fails", async () => {
  const open = () => {
    const s = new MemoryStorage({ voters: [1, 2, 3], learners: [] });
    const append = s.append.bind(s);
    // The bug: entries at or below lastIndex are skipped instead of replacing the suffix.
    s.append = (es: Entry[]) => append(es.filter((e) => e.index > s.lastIndex()));
    return s;
  };
  expect(await failures(open)).toContain(
    "append at or below lastIndex discards the conflicting suffix first",
  );
});

test("a storage that forgets everything on reopen fails the reopen test", async () => {
  // Memory storage claimed to reopen: a new open in the same directory starts empty.
  const failed = await failures(() => new MemoryStorage({ voters: [1, 2, 3], learners: [] }), true);
  expect(failed).toEqual(["a durable storage keeps what was synced across close and reopen"]);
});

test("a storage whose saveSnapshot does not compact fails the snapshot test", async () => {
  const open = () => {
    const s = new MemoryStorage({ voters: [1, 2, 3], learners: [] });
    const save = s.saveSnapshot.bind(s);
    s.saveSnapshot = (snap) => save(snap, Number.MAX_SAFE_INTEGER); // keeps every entry
    return s;
  };
  expect(await failures(open)).toEqual([
    "saveSnapshot keeps the snapshot and compacts the log behind it, keeping keepEntries",
  ]);
});
