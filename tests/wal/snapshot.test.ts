import { afterEach, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import { join } from "node:path";
import type { Snapshot } from "../../core/raft/types.ts";
import { snapshotFileName, writeSnapshotFile } from "../../plugins/wal/snapshot_file.ts";
import { nodeFileSystem } from "../../core/env/fs.ts";
import { openWal } from "../../plugins/wal/wal.ts";
import { makeEntries, plain, rmTempDir, segmentFiles, tempDir } from "./wal_helpers.ts";

const dirs: string[] = [];
function dir(tag: string): string {
  const d = tempDir(tag);
  dirs.push(d);
  return d;
}
afterEach(() => {
  while (dirs.length) rmTempDir(dirs.pop()!);
});

function snap(index: number, term: number, voters = [1, 2, 3], size = 1000): Snapshot {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 13 + index) & 0xff;
  return { meta: { index, term, conf: { voters, learners: [4] } }, data };
}

function snapFiles(d: string): string[] {
  return fs.readdirSync(d).filter((n) => n.startsWith("snap-")).sort();
}

describe("wal snapshots", () => {
  test("saveSnapshot compacts and deletes only fully covered segments; reopen", async () => {
    const d = dir("save");
    const w = await openWal(d, { segmentBytes: 2048 });
    for (let i = 0; i < 40; i++) {
      w.append(makeEntries(i * 10 + 1, i * 10 + 10, 1, 30));
      await w.sync();
    }
    w.setHardState({ term: 1, vote: 1, commit: 400 });
    await w.sync();
    const segsBefore = segmentFiles(d).length;
    expect(segsBefore).toBeGreaterThan(10);

    await w.saveSnapshot(snap(200, 1), 50);
    expect(w.firstIndex()).toBe(151);
    expect(w.term(150)).toBe(1);
    expect(() => w.term(149)).toThrow(/compacted/);
    expect(() => w.entries(150, 160)).toThrow(/compacted/);
    expect(w.snapshot().meta.index).toBe(200);
    expect(snapFiles(d)).toEqual([snapshotFileName(200, 1)]);
    const segsAfter = segmentFiles(d).length;
    expect(segsAfter).toBeLessThan(segsBefore);
    expect(segsAfter).toBe(w.segmentCount());
    await w.close();

    // Every remaining entry >= 151 is still readable after reopen; entries 151.. intact.
    const r = await openWal(d, { segmentBytes: 2048 });
    expect(r.firstIndex()).toBeLessThanOrEqual(151);
    expect(r.lastIndex()).toBe(400);
    expect(plain(r.entries(151, 401))).toEqual(plain(makeEntries(151, 400, 1, 30)));
    expect(r.snapshot().meta).toEqual(snap(200, 1).meta);
    expect([...r.snapshot().data]).toEqual([...snap(200, 1).data]);
    expect(r.initialState().hardState.commit).toBe(400);

    // A second snapshot replaces the first file and compacts further.
    await r.saveSnapshot(snap(390, 1), 0);
    expect(snapFiles(d)).toEqual([snapshotFileName(390, 1)]);
    expect(r.firstIndex()).toBe(391);
    expect(segmentFiles(d).length).toBeLessThanOrEqual(2);
    r.append(makeEntries(401, 410, 2, 30));
    await r.sync();
    await r.close();
    const r2 = await openWal(d, { segmentBytes: 2048 });
    expect(r2.snapshot().meta.index).toBe(390);
    expect(r2.lastIndex()).toBe(410);
    expect(r2.term(390)).toBe(1);
    expect(plain(r2.entries(r2.firstIndex(), 411)).at(-1)!.term).toBe(2);
    await r2.close();
  });

  test("covered segments and older snapshot files are removed without blocking the event loop", async () => {
    // Unlinking a large file holds the thread while the file system frees its blocks (64 ms for
    // 300 MB on ext4 with discard): the wal removes them through removeAsync, never remove().
    const d = dir("async-remove");
    const sync: string[] = [];
    const async: string[] = [];
    const fsSpy = {
      ...nodeFileSystem,
      remove: (p: string) => (sync.push(p), nodeFileSystem.remove(p)),
      removeAsync: (p: string) => (async.push(p), nodeFileSystem.removeAsync(p)),
    };
    const w = await openWal(d, { segmentBytes: 2048, fs: fsSpy });
    for (let i = 0; i < 40; i++) {
      w.append(makeEntries(i * 10 + 1, i * 10 + 10, 1, 30));
      await w.sync();
    }
    w.setHardState({ term: 1, vote: 1, commit: 400 });
    await w.sync();
    await w.saveSnapshot(snap(200, 1), 50);
    await w.saveSnapshot(snap(300, 1), 50);
    await w.close();
    expect(async.some((p) => /wal-[0-9a-f]{16}\.log$/.test(p))).toBe(true);
    expect(async.some((p) => p.includes(snapshotFileName(200, 1)))).toBe(true);
    expect(sync).toEqual([]);
    for (const p of async) expect(fs.existsSync(p)).toBe(false);
  });

  test("a large snapshot file is fdatasynced in pieces as it is written, not once at the end", async () => {
    // One fdatasync of a several-hundred-MB file hands the disk all of it at once, and every wal
    // group commit on that disk waits behind it (100-200 ms measured): the file is synced every
    // 4 MiB instead, each piece covering only what was written since the previous one.
    const d = dir("chunked-sync");
    const events: string[] = [];
    let written = 0;
    const fsSpy = {
      ...nodeFileSystem,
      writeAsync: (fd: number, b: Uint8Array, off: number, len: number, pos: number) => {
        written += len;
        return nodeFileSystem.writeAsync(fd, b, off, len, pos);
      },
      fsync: (fd: number) => (events.push(`sync@${written}`), nodeFileSystem.fsync(fd)),
    };
    const size = 13 * 1024 * 1024 + 5;
    await writeSnapshotFile(fsSpy, d, snap(40, 2, [1, 2, 3], size));
    const MiB = 1024 * 1024;
    // Three syncs while the data is written (after 4, 8 and 12 MiB of it), then the final one.
    expect(events.length).toBe(4);
    const at = events.map((e) => Number(e.slice(5)));
    expect(at.slice(0, 3)).toEqual([4 * MiB, 8 * MiB, 12 * MiB]);
    expect(at[3]).toBeGreaterThan(size);
    const back = fs.readFileSync(join(d, snapshotFileName(40, 2)));
    expect(back.length).toBeGreaterThan(size);
  });

  test("recovery from a first segment whose Truncate goes below its base", async () => {
    const d = dir("truncbase");
    // segmentBytes 1: every flush rotates, so each sync() ends a segment.
    const w = await openWal(d, { segmentBytes: 1 });
    w.append(makeEntries(1, 10, 1)); // S1: 1..10, then S2 starts after (10, 1)
    await w.sync();
    w.append(makeEntries(8, 30, 2)); // S2: Truncate(8, prevTerm 1), 8..30
    w.setHardState({ term: 2, vote: 1, commit: 30 });
    await w.sync();
    await w.saveSnapshot(snap(20, 2), 0); // deletes S1 only (S2 holds entries above 20)
    expect(segmentFiles(d).length).toBe(2);
    await w.close();
    const r = await openWal(d, { segmentBytes: 1 });
    expect(r.firstIndex()).toBe(8);
    expect(r.term(7)).toBe(1);
    expect(plain(r.entries(8, 31))).toEqual(plain(makeEntries(8, 30, 2)));
    expect(r.snapshot().meta.index).toBe(20);
    await r.close();
  });

  test("saveSnapshot rejects a snapshot beyond the log or with the wrong term", async () => {
    const d = dir("savebad");
    const w = await openWal(d);
    w.append(makeEntries(1, 10, 2));
    await w.sync();
    await expect(w.saveSnapshot(snap(11, 2), 0)).rejects.toThrow(/beyond/);
    await expect(w.saveSnapshot(snap(5, 1), 0)).rejects.toThrow(/term/);
    await w.saveSnapshot(snap(5, 2), 0);
    await w.saveSnapshot(snap(4, 2), 0); // older: ignored
    expect(w.snapshot().meta.index).toBe(5);
    await w.close();
  });

  test("applySnapshot with a conflicting log replaces it; reopen and continue", async () => {
    const d = dir("apply");
    const w = await openWal(d, { segmentBytes: 2048 });
    w.append(makeEntries(1, 30, 1, 40));
    w.setHardState({ term: 1, vote: 1, commit: 10 });
    await w.sync();
    await w.applySnapshot(snap(50, 3, [1, 2]));
    expect(w.firstIndex()).toBe(51);
    expect(w.lastIndex()).toBe(50);
    expect(w.term(50)).toBe(3);
    expect(w.initialState().hardState.commit).toBe(50);
    expect(w.initialState().conf).toEqual({ voters: [1, 2], learners: [4] });
    w.append(makeEntries(51, 60, 3, 40));
    await w.sync();
    await w.close();
    const r = await openWal(d, { segmentBytes: 2048 });
    expect(r.firstIndex()).toBe(51);
    expect(r.lastIndex()).toBe(60);
    expect(r.term(50)).toBe(3);
    expect(r.snapshot().meta.index).toBe(50);
    expect(r.initialState().hardState.commit).toBe(50);
    expect(r.initialState().conf).toEqual({ voters: [1, 2], learners: [4] });
    await r.close();
  });

  test("applySnapshot matching the log keeps the entries after it", async () => {
    const d = dir("applykeep");
    const w = await openWal(d);
    w.append(makeEntries(1, 30, 2));
    await w.sync();
    await w.applySnapshot(snap(20, 2));
    expect(w.firstIndex()).toBe(21);
    expect(w.lastIndex()).toBe(30);
    await w.close();
    const r = await openWal(d);
    expect(r.firstIndex()).toBe(21);
    expect(plain(r.entries(21, 31))).toEqual(plain(makeEntries(21, 30, 2)));
    await r.close();
  });

  test("a snapshot file whose Install record never reached the log is applied on recovery", async () => {
    const d = dir("lostinstall");
    const w = await openWal(d);
    w.append(makeEntries(1, 10, 1));
    await w.sync();
    await w.close();
    // Crash between "snapshot file durable" and "Install record durable".
    await writeSnapshotFile(nodeFileSystem, d, snap(40, 2));
    const r = await openWal(d);
    expect(r.snapshot().meta.index).toBe(40);
    expect(r.lastIndex()).toBe(40);
    expect(r.firstIndex()).toBe(41);
    expect(r.initialState().hardState.commit).toBe(40);
    await r.close();
  });

  test("corrupt or missing snapshot files stop startup with a clear error", async () => {
    const d = dir("snapbad");
    const w = await openWal(d, { segmentBytes: 1024 });
    for (let i = 0; i < 20; i++) {
      w.append(makeEntries(i * 5 + 1, i * 5 + 5, 1, 40));
      await w.sync();
    }
    await w.saveSnapshot(snap(90, 1), 0);
    await w.close();
    const p = join(d, snapshotFileName(90, 1));
    const good = fs.readFileSync(p);
    const bad = Uint8Array.from(good);
    bad[bad.length - 10] ^= 0x40;
    fs.writeFileSync(p, bad);
    await expect(openWal(d)).rejects.toThrow(/snap-0+5a-0+1\.snap is corrupt: CRC mismatch/);
    fs.writeFileSync(p, good.subarray(0, 10));
    await expect(openWal(d)).rejects.toThrow(/is corrupt/);
    fs.rmSync(p);
    await expect(openWal(d)).rejects.toThrow(/no snapshot file/);
    fs.writeFileSync(p, good);
    // A leftover temp file from an interrupted snapshot write is removed.
    fs.writeFileSync(join(d, snapshotFileName(95, 1) + ".tmp"), new Uint8Array(7));
    const r = await openWal(d);
    expect(snapFiles(d)).toEqual([snapshotFileName(90, 1)]);
    await r.close();
    // Segments deleted while a snapshot remains: the log is missing.
    for (const s of segmentFiles(d)) fs.rmSync(s);
    await expect(openWal(d)).rejects.toThrow(/no WAL segment/);
  });
});
