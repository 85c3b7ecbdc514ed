import { afterEach, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import { basename } from "node:path";
import { scanRecords } from "../../plugins/wal/format.ts";
import { openWal } from "../../plugins/wal/wal.ts";
import {
  makeEntries,
  plain,
  recordingLogger,
  rmTempDir,
  segmentFiles,
  tempDir,
} from "./wal_helpers.ts";

const dirs: string[] = [];
function dir(tag: string): string {
  const d = tempDir(tag);
  dirs.push(d);
  return d;
}
afterEach(() => {
  while (dirs.length) rmTempDir(dirs.pop()!);
});

/** Offsets of every record in a segment file. */
function recordOffsets(path: string): number[] {
  const offs: number[] = [];
  const res = scanRecords(fs.readFileSync(path), (_r, off) => offs.push(off));
  expect(res.bad).toBeUndefined();
  return offs;
}

/** A WAL with one segment: header, 20 single-entry records (index 1..20, 100-byte payloads). */
async function oneSegment(d: string): Promise<string> {
  const w = await openWal(d);
  for (let i = 1; i <= 20; i++) {
    w.append(makeEntries(i, i, 1, 100));
    await w.sync();
  }
  await w.close();
  const segs = segmentFiles(d);
  expect(segs.length).toBe(1);
  return segs[0];
}

describe("wal corruption and torn tails", () => {
  test("a flipped byte in a middle record stops startup naming file and offset", async () => {
    const d = dir("mid");
    const seg = await oneSegment(d);
    const offs = recordOffsets(seg);
    const victim = offs[10];
    const buf = fs.readFileSync(seg);
    buf[victim + 40] ^= 0x01;
    fs.writeFileSync(seg, buf);
    const err = await openWal(d).then(() => undefined, (e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toContain(seg);
    expect(err!.message).toContain(`offset ${victim}`);
    expect(err!.message).toMatch(/CRC mismatch.*followed by valid records/);
    // The file was left untouched.
    expect(fs.readFileSync(seg).length).toBe(buf.length);
  });

  test("a corrupted length field in a middle record is not mistaken for a torn tail", async () => {
    const d = dir("midlen");
    const seg = await oneSegment(d);
    const offs = recordOffsets(seg);
    const buf = fs.readFileSync(seg);
    buf[offs[5] + 4] ^= 0x20; // length field
    fs.writeFileSync(seg, buf);
    await expect(openWal(d)).rejects.toThrow(new RegExp(`offset ${offs[5]}`));
  });

  test("corruption in an older segment (even its last record) stops startup", async () => {
    const d = dir("older");
    const w = await openWal(d, { segmentBytes: 1024 });
    for (let i = 1; i <= 40; i++) {
      w.append(makeEntries(i, i, 1, 100));
      await w.sync();
    }
    await w.close();
    const segs = segmentFiles(d);
    expect(segs.length).toBeGreaterThan(2);
    const offs = recordOffsets(segs[0]);
    const buf = fs.readFileSync(segs[0]);
    buf[offs[offs.length - 1] + 20] ^= 0xff;
    fs.writeFileSync(segs[0], buf);
    await expect(openWal(d)).rejects.toThrow(
      new RegExp(`${basename(segs[0])} at offset ${offs[offs.length - 1]}.*not a torn write`),
    );
  });

  test("truncating at every offset within the last record recovers the earlier records", async () => {
    const d = dir("torn");
    const seg = await oneSegment(d);
    const pristine = fs.readFileSync(seg);
    const offs = recordOffsets(seg);
    const lastStart = offs[offs.length - 1];
    const expected = plain(makeEntries(1, 19, 1, 100));
    let cases = 0;
    for (let cut = lastStart + 1; cut < pristine.length; cut++) {
      fs.writeFileSync(seg, pristine.subarray(0, cut));
      const logger = recordingLogger();
      const w = await openWal(d, { logger });
      expect(w.lastIndex()).toBe(19);
      expect(w.recovery.tornBytes).toBe(cut - lastStart);
      const warn = logger.lines.find((l) => l.startsWith("WARN torn tail") && l.includes(seg));
      expect(warn).toBeDefined();
      // Honest: the cut bytes are unacknowledged only under fsync=always on an honest disk.
      expect(warn).not.toContain("unacknowledged data");
      expect(warn).toContain("may include acknowledged writes");
      expect(fs.statSync(seg).size).toBe(lastStart);
      expect(plain(w.entries(1, 20))).toEqual(expected);
      // Appending after recovery works and survives a reopen.
      w.append(makeEntries(20, 21, 2, 50));
      await w.sync();
      await w.close();
      const r = await openWal(d);
      expect(r.lastIndex()).toBe(21);
      expect(r.term(21)).toBe(2);
      expect(r.recovery.tornBytes).toBe(0);
      await r.close();
      cases++;
    }
    expect(cases).toBe(pristine.length - lastStart - 1);
  });

  test("a flipped byte in the last record is a torn tail", async () => {
    const d = dir("lastflip");
    const seg = await oneSegment(d);
    const offs = recordOffsets(seg);
    const buf = fs.readFileSync(seg);
    buf[buf.length - 3] ^= 0x10;
    fs.writeFileSync(seg, buf);
    const w = await openWal(d);
    expect(w.lastIndex()).toBe(19);
    expect(fs.statSync(seg).size).toBe(offs[offs.length - 1]);
    await w.close();
  });

  test("garbage or zeros appended at the end are truncated", async () => {
    for (const fill of ["garbage", "zeros"]) {
      const d = dir(fill);
      const seg = await oneSegment(d);
      const size = fs.statSync(seg).size;
      const junk = new Uint8Array(333);
      if (fill === "garbage") {
        for (let i = 0; i < junk.length; i++) junk[i] = (i * 97 + 13) & 0xff;
      }
      fs.appendFileSync(seg, junk);
      const logger = recordingLogger();
      const w = await openWal(d, { logger });
      expect(w.lastIndex()).toBe(20);
      expect(w.recovery.tornBytes).toBe(333);
      expect(logger.lines.filter((l) => l.startsWith("WARN")).length).toBe(1);
      expect(fs.statSync(seg).size).toBe(size);
      await w.close();
    }
  });

  test("a new segment whose header was torn is removed; the log continues", async () => {
    const d = dir("torn-header");
    const w = await openWal(d, { segmentBytes: 1024 });
    for (let i = 1; i <= 15; i++) {
      w.append(makeEntries(i, i, 1, 100));
      await w.sync();
    }
    await w.close();
    const segs = segmentFiles(d);
    const last = segs[segs.length - 1];
    // Keep only a few bytes of the last segment (its header was being written).
    const lastOffs = recordOffsets(last);
    const firstEntryInLast = lastOffs.length - 1; // entries recorded in the last segment
    fs.writeFileSync(last, fs.readFileSync(last).subarray(0, 5));
    const r = await openWal(d, { segmentBytes: 1024 });
    expect(r.lastIndex()).toBe(15 - firstEntryInLast);
    r.append(makeEntries(r.lastIndex() + 1, 20, 1, 100));
    await r.sync();
    await r.close();
    const r2 = await openWal(d, { segmentBytes: 1024 });
    expect(plain(r2.entries(1, 21))).toEqual(plain(makeEntries(1, 20, 1, 100)));
    await r2.close();
  });

  test("a missing segment in the middle stops startup", async () => {
    const d = dir("gap");
    const w = await openWal(d, { segmentBytes: 1024 });
    for (let i = 1; i <= 40; i++) {
      w.append(makeEntries(i, i, 1, 100));
      await w.sync();
    }
    await w.close();
    const segs = segmentFiles(d);
    fs.rmSync(segs[1]);
    await expect(openWal(d)).rejects.toThrow(/is missing/);
  });
});
