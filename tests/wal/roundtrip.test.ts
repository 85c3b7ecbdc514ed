import { afterEach, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import { join } from "node:path";
import { EntryType } from "../../core/raft/types.ts";
import { openWal } from "../../plugins/wal/wal.ts";
import { makeEntries, payload, plain, rmTempDir, segmentFiles, tempDir } from "./wal_helpers.ts";

const dirs: string[] = [];
function dir(tag: string): string {
  const d = tempDir(tag);
  dirs.push(d);
  return d;
}
afterEach(() => {
  while (dirs.length) rmTempDir(dirs.pop()!);
});

describe("wal round trip", () => {
  test("append, sync, reopen returns the same entries", async () => {
    const d = dir("rt");
    const w = await openWal(d, { initialConf: { voters: [1, 2, 3], learners: [] } });
    expect(w.durable).toBe(true);
    expect(w.lastIndex()).toBe(0);
    expect(w.firstIndex()).toBe(1);
    const es = makeEntries(1, 50, 1);
    es[10] = { ...es[10], type: EntryType.ConfChange };
    es[20] = { ...es[20], data: new Uint8Array(0) };
    w.append(es.slice(0, 25));
    w.append(es.slice(25));
    await w.sync();
    expect(w.entries(1, 51).length).toBe(50);
    await w.close();

    const r = await openWal(d);
    expect(r.firstIndex()).toBe(1);
    expect(r.lastIndex()).toBe(50);
    expect(plain(r.entries(1, 51))).toEqual(plain(es));
    expect(r.term(0)).toBe(0);
    expect(r.term(50)).toBe(1);
    expect(r.initialState().conf).toEqual({ voters: [1, 2, 3], learners: [] });
    expect(r.recovery.tornBytes).toBe(0);
    // maxBytes limits but always returns at least one entry.
    expect(r.entries(1, 51, 1).length).toBe(1);
    expect(r.entries(1, 51, 100).length).toBeLessThan(50);
    expect(() => r.entries(1, 52)).toThrow();
    // Appending after reopen continues the log.
    r.append(makeEntries(51, 60, 2));
    await r.sync();
    await r.close();
    const r2 = await openWal(d);
    expect(r2.lastIndex()).toBe(60);
    expect(r2.term(60)).toBe(2);
    await r2.close();
  });

  test("large entries (written straight from their data) round-trip among small ones, with rotation", async () => {
    const d = dir("large");
    const w = await openWal(d, { segmentBytes: 1 << 20 });
    const es = makeEntries(1, 12, 1);
    for (const i of [2, 5, 6, 11]) {
      es[i] = { ...es[i], data: new Uint8Array(300_000 + i).map((_, k) => (k * 31 + i) & 0xff) };
    }
    w.append(es.slice(0, 4));
    w.setHardState({ term: 1, vote: 1, commit: 3 });
    w.append(es.slice(4));
    await w.sync();
    await w.close();
    const r = await openWal(d);
    expect(r.lastIndex()).toBe(12);
    expect(plain(r.entries(1, 13))).toEqual(plain(es));
    expect(r.initialState().hardState.commit).toBe(3);
    expect(r.recovery.tornBytes).toBe(0);
    await r.close();
  });

  test("hard state and conf state are durable", async () => {
    const d = dir("hs");
    const w = await openWal(d, { initialConf: { voters: [1], learners: [] } });
    w.setHardState({ term: 3, vote: 2, commit: 0 });
    w.append(makeEntries(1, 5, 3));
    w.setHardState({ term: 3, vote: 2, commit: 4 });
    w.setConfState({ voters: [1, 2], learners: [7] });
    await w.sync();
    w.setHardState({ term: 4, vote: 0, commit: 5 });
    await w.sync();
    await w.close();
    const r = await openWal(d, { initialConf: { voters: [9], learners: [] } });
    expect(r.initialState()).toEqual({
      hardState: { term: 4, vote: 0, commit: 5 },
      conf: { voters: [1, 2], learners: [7] },
    });
    await r.close();
  });

  test("unsynced, unflushed records are not on disk; synced ones are", async () => {
    const d = dir("unsynced");
    const w = await openWal(d);
    w.append(makeEntries(1, 3, 1));
    await w.sync();
    w.append(makeEntries(4, 6, 1)); // buffered only
    // Simulate a crash: what is on disk now (copied) is what a crash would leave. (A second
    // instance on the same dir is refused: the first holds the data-dir lock.)
    const copy = dir("unsynced-copy");
    fs.cpSync(d, copy, { recursive: true });
    const r = await openWal(copy);
    expect(r.lastIndex()).toBe(3);
    await r.close();
    await w.close();
  });

  test("a second open of a data dir in use is refused with the holder's pid; close releases it", async () => {
    const d = dir("locked");
    const w = await openWal(d);
    const err = await openWal(d).then(() => undefined, (e: Error) => e);
    expect(err?.message).toBe(
      `wal: data dir ${d} is in use by another process (pid ${process.pid}) (lock ${
        join(d, "LOCK")
      }): refusing to start; give each node its own --data-dir`,
    );
    w.append(makeEntries(1, 2, 1));
    await w.close();
    const r = await openWal(d);
    expect(r.lastIndex()).toBe(2);
    await r.close();
  });

  test("conflicting suffix is truncated, survives reopen, and recovery replays it", async () => {
    const d = dir("trunc");
    const w = await openWal(d);
    w.append(makeEntries(1, 10, 1));
    await w.sync();
    w.append(makeEntries(6, 8, 2)); // overwrites 6..10 with 6..8 at term 2
    expect(w.lastIndex()).toBe(8);
    expect(w.term(6)).toBe(2);
    expect(w.term(5)).toBe(1);
    await w.sync();
    w.append(makeEntries(9, 12, 2));
    w.append(makeEntries(3, 4, 3)); // a second truncation, deeper
    await w.sync();
    await w.close();
    const r = await openWal(d);
    expect(r.lastIndex()).toBe(4);
    expect(plain(r.entries(1, 5))).toEqual(
      plain([...makeEntries(1, 2, 1), ...makeEntries(3, 4, 3)]),
    );
    expect(() => r.append(makeEntries(7, 7, 3))).toThrow(/gap/);
    // An overlapping append rewrites the suffix from its first index.
    r.append(makeEntries(4, 6, 3));
    await r.sync();
    await r.close();
    const r2 = await openWal(d);
    expect(r2.lastIndex()).toBe(6);
    expect(plain(r2.entries(4, 7))).toEqual(plain(makeEntries(4, 6, 3)));
    await r2.close();
  });

  test("segment rotation and reopen across many segments (and truncation across segments)", async () => {
    const d = dir("rot");
    const w = await openWal(d, { segmentBytes: 4096 });
    let idx = 0;
    for (let b = 0; b < 60; b++) {
      w.append(makeEntries(idx + 1, idx + 10, 1, 40));
      idx += 10;
      w.setHardState({ term: 1, vote: 1, commit: idx - 5 });
      await w.sync();
    }
    expect(segmentFiles(d).length).toBeGreaterThan(10);
    expect(w.segmentCount()).toBe(segmentFiles(d).length);
    // Truncate back across several segments.
    w.append(makeEntries(451, 470, 2, 40));
    await w.sync();
    await w.close();
    const r = await openWal(d, { segmentBytes: 4096 });
    expect(r.lastIndex()).toBe(470);
    expect(r.term(450)).toBe(1);
    expect(r.term(451)).toBe(2);
    expect(r.initialState().hardState.commit).toBe(595);
    expect(plain(r.entries(1, 471))).toEqual(
      plain([...makeEntries(1, 450, 1, 40), ...makeEntries(451, 470, 2, 40)]),
    );
    await r.close();
  });

  test("group commit: concurrent syncs share fdatasyncs", async () => {
    const d = dir("group");
    const w = await openWal(d);
    const before = w.fsyncCount;
    const writers = 20;
    const rounds = 10;
    let next = 1;
    await Promise.all(Array.from({ length: writers }, async () => {
      for (let r = 0; r < rounds; r++) {
        const es = makeEntries(next, next + 4, 1);
        next += 5;
        w.append(es);
        await w.sync();
      }
    }));
    const fsyncs = w.fsyncCount - before;
    expect(fsyncs).toBeGreaterThan(0);
    expect(fsyncs).toBeLessThan(writers * rounds);
    expect(w.lastIndex()).toBe(writers * rounds * 5);
    // A sync with nothing new performs no fdatasync.
    const n = w.fsyncCount;
    await w.sync();
    expect(w.fsyncCount).toBe(n);
    await w.close();
    const r = await openWal(d);
    expect(r.lastIndex()).toBe(writers * rounds * 5);
    await r.close();
  });

  test("fsync policies batch and off persist on close; batch syncs in the background", async () => {
    for (const fsync of ["batch", "off"] as const) {
      const d = dir(fsync);
      const w = await openWal(d, { fsync, batchIntervalMs: 5 });
      expect(w.durable).toBe(fsync === "batch");
      expect(w.description).toContain(`fsync=${fsync}`);
      w.append(makeEntries(1, 20, 1));
      await w.sync();
      if (fsync === "batch") {
        await new Promise((r) => setTimeout(r, 60));
        expect(w.fsyncCount).toBeGreaterThan(0);
      } else expect(w.fsyncCount).toBe(0);
      await w.close();
      const r = await openWal(d);
      expect(r.lastIndex()).toBe(20);
      expect([...r.entries(20, 21)[0].data]).toEqual([...payload(20, 1)]);
      await r.close();
    }
  });

  test("closed storage rejects writes; bad policy is refused", async () => {
    const d = dir("closed");
    const w = await openWal(d);
    await w.close();
    expect(() => w.append(makeEntries(1, 1, 1))).toThrow(/closed/);
    await expect(w.sync()).rejects.toThrow(/closed/);
    // deno-lint-ignore no-explicit-any
    await expect(openWal(d, { fsync: "sometimes" as any })).rejects.toThrow(/fsync policy/);
  });
});
