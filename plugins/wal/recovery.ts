/**
 * Recovery: rebuilds the WAL's in-memory state from the data directory on open.
 *
 * - Leftover `*.tmp` files (snapshots that were never renamed into place) are removed.
 * - The newest `snap-*.snap` is loaded and CRC-checked; a corrupt one stops startup.
 * - Segments `wal-<seq>.log` are replayed oldest first. Each must start with a Segment header
 *   record that continues the log exactly where the previous segment left it.
 * - An invalid frame in the LAST segment with no valid frame anywhere after it is a torn tail: it
 *   is truncated (with a warning). Those bytes were never acknowledged only if every write was
 *   fsynced before its ack (`wal_fsync=always`) and the disk honoured fsync; otherwise they may
 *   hold acknowledged records, and the warning says so. An invalid frame followed by valid data, or in an older
 *   segment, stops startup with an error naming the file and offset.
 * @module
 */
import type { FileSystem } from "../../core/env/fs.ts";
import { join } from "node:path";
import type { ConfState, HardState, Snapshot } from "../../core/raft/types.ts";
import { EntryLog } from "./entry_log.ts";
import { hasValidFrameAfter, RecordType, scanRecords } from "./format.ts";
import { hex16, parseSnapshotFileName, readSnapshotFile } from "./snapshot_file.ts";

const SEGMENT_RE = /^wal-([0-9a-f]{16})\.log$/;

/** File name of segment `seq`. */
export function segmentFileName(seq: number): string {
  return `wal-${hex16(seq)}.log`;
}

/** A segment file and the highest entry index written to it. */
export interface SegmentInfo {
  seq: number;
  path: string;
  /** Highest entry index written in this segment (0 when none): it may be deleted once compacted past this. */
  maxIndex: number;
}

/** Where to log recovery events. */
export interface RecoveryLogger {
  info(msg: string): void;
  warn(msg: string): void;
}

/** The state recovered from a data directory. */
export interface RecoveredState {
  log: EntryLog;
  hardState: HardState;
  conf: ConfState;
  snapshot: Snapshot;
  /** Segments found, oldest first (the last one is reopened for appending unless empty). */
  segments: SegmentInfo[];
  /** Valid length of the last segment (where appending resumes). */
  lastSegmentBytes: number;
  /** Snapshot files older than the one loaded (left over by a crash; safe to delete). */
  staleSnapshots: string[];
  /** Bytes cut off a torn tail (0 when the log ended cleanly). */
  tornBytes: number;
}

const EMPTY = new Uint8Array(0);

/** Reads everything in `dir` (created when missing) and returns the state to start from. */
export function recover(
  fs: FileSystem,
  dir: string,
  initialConf: ConfState,
  logger: RecoveryLogger,
): RecoveredState {
  fs.mkdirp(dir);
  const names = fs.list(dir).sort();
  for (const n of names) {
    if (/^snap-.*\.tmp$/.test(n)) {
      fs.remove(join(dir, n));
      logger.info(`removed unfinished snapshot file ${n}`);
    }
  }

  // Snapshot: the newest file wins; a corrupt newest one is an error (segments it covers are gone).
  const snaps = names.map((n) => ({ n, p: parseSnapshotFileName(n) })).filter((x) => x.p)
    .sort((a, b) => a.p!.index - b.p!.index);
  let snapshot: Snapshot | undefined;
  const staleSnapshots: string[] = [];
  if (snaps.length > 0) {
    const newest = snaps[snaps.length - 1];
    const path = join(dir, newest.n);
    snapshot = readSnapshotFile(fs, path);
    if (snapshot.meta.index !== newest.p!.index || snapshot.meta.term !== newest.p!.term) {
      throw new Error(
        `wal: snapshot file ${path} holds index ${snapshot.meta.index} term ${snapshot.meta.term}, not what its name says`,
      );
    }
    for (const s of snaps.slice(0, -1)) staleSnapshots.push(join(dir, s.n));
  }

  const segFiles = names.map((n) => ({ n, m: SEGMENT_RE.exec(n) })).filter((x) => x.m)
    .map((x) => ({ path: join(dir, x.n), seq: parseInt(x.m![1], 16) }));
  for (let i = 1; i < segFiles.length; i++) {
    if (segFiles[i].seq !== segFiles[i - 1].seq + 1) {
      throw new Error(
        `wal: segment ${segmentFileName(segFiles[i - 1].seq + 1)} is missing from ${dir} (found ${
          segmentFileName(segFiles[i - 1].seq)
        } and ${segmentFileName(segFiles[i].seq)}): refusing to start`,
      );
    }
  }

  let log: EntryLog | undefined;
  let hardState: HardState = { term: 0, vote: 0, commit: 0 };
  let conf: ConfState = { voters: [...initialConf.voters], learners: [...initialConf.learners] };
  const segments: SegmentInfo[] = [];
  let lastSegmentBytes = 0;
  let tornBytes = 0;

  for (let i = 0; i < segFiles.length; i++) {
    const { path, seq } = segFiles[i];
    const isLast = i === segFiles.length - 1;
    const buf: Uint8Array = fs.readFile(path);
    let records = 0;
    let maxIndex = 0;
    let scan;
    try {
      scan = scanRecords(buf, (rec, off) => {
        try {
          if (records++ === 0) {
            if (rec.type !== RecordType.Segment) {
              throw new Error("segment does not start with a header");
            }
            const h = rec.header;
            if (h.seq !== seq) {
              throw new Error(`header says segment ${h.seq}, file name says ${seq}`);
            }
            if (log === undefined) log = new EntryLog(h.baseIndex, h.baseTerm);
            else if (h.baseIndex !== log.lastIndex() || h.baseTerm !== log.term(log.lastIndex())) {
              throw new Error(
                `segment starts after (${h.baseIndex}, term ${h.baseTerm}) but the log before it ends at ${log.lastIndex()}`,
              );
            }
            hardState = h.hardState;
            conf = h.conf;
            return;
          }
          const l = log!;
          switch (rec.type) {
            case RecordType.Entry:
              l.pushNext(rec.entry);
              if (rec.entry.index > maxIndex) maxIndex = rec.entry.index;
              break;
            case RecordType.HardState:
              hardState = rec.hardState;
              break;
            case RecordType.Conf:
              conf = rec.conf;
              break;
            case RecordType.Truncate:
              l.truncate(rec.index, rec.prevTerm);
              break;
            case RecordType.Install:
              l.install(rec.index, rec.term);
              break;
            case RecordType.Segment:
              throw new Error("unexpected segment header in the middle of a segment");
          }
        } catch (err) {
          throw new Error(`record at offset ${off}: ${(err as Error).message}`);
        }
      });
    } catch (err) {
      throw new Error(`wal: ${path}: ${(err as Error).message}: refusing to start`);
    }
    if (scan.bad) {
      const { offset, reason } = scan.bad;
      if (!isLast) {
        throw new Error(
          `wal: corrupt record in ${path} at offset ${offset} (${reason}); newer segments follow, so this is not a torn write: refusing to start`,
        );
      }
      if (hasValidFrameAfter(buf, offset)) {
        throw new Error(
          `wal: corrupt record in ${path} at offset ${offset} (${reason}) followed by valid records: refusing to start rather than drop acknowledged data`,
        );
      }
      tornBytes = buf.length - offset;
      logger.warn(
        `torn tail in ${path} at offset ${offset} (${reason}): truncating ${tornBytes} bytes. ` +
          "With wal_fsync=always on a disk that honours fsync these were never acknowledged; " +
          "with wal_fsync=batch/off, or a disk that lied about fsync, they may include " +
          "acknowledged writes, which this node has lost (the cluster still has them if a " +
          "quorum kept them: the leader re-sends them)",
      );
      const fd = fs.open(path, "r+");
      try {
        fs.truncate(fd, offset);
        fs.fsyncSync(fd);
      } finally {
        fs.close(fd);
      }
    }
    if (records === 0) {
      if (!isLast) throw new Error(`wal: segment ${path} is empty: refusing to start`);
      // A segment whose header never reached the disk held nothing acknowledged.
      fs.remove(path);
      logger.warn(`removed empty segment ${path}`);
      continue;
    }
    segments.push({ seq, path, maxIndex });
    lastSegmentBytes = scan.validEnd;
  }

  if (log === undefined) {
    if (snapshot) {
      throw new Error(
        `wal: snapshot at index ${snapshot.meta.index} found in ${dir} but no WAL segment: the log is missing, refusing to start`,
      );
    }
    log = new EntryLog(0, 0);
  }
  if (snapshot) {
    const { index, term } = snapshot.meta;
    if (index < log.baseIndex) {
      throw new Error(
        `wal: the log in ${dir} starts after index ${log.baseIndex} but the newest snapshot is at ${index}: a snapshot file is missing, refusing to start`,
      );
    }
    if (!log.matches(index, term)) {
      // The snapshot was installed from a leader but the Install record did not reach the disk.
      logger.info(`applying snapshot at index ${index} (term ${term}) to the recovered log`);
      log.reset(index, term);
      conf = snapshot.meta.conf;
      if (hardState.commit < index) hardState = { ...hardState, commit: index };
    }
  } else if (log.baseIndex > 0) {
    throw new Error(
      `wal: the log in ${dir} starts after index ${log.baseIndex} but there is no snapshot file: refusing to start`,
    );
  }
  snapshot ??= {
    meta: { index: 0, term: 0, conf: { voters: [...conf.voters], learners: [...conf.learners] } },
    data: EMPTY,
  };
  return {
    log,
    hardState,
    conf,
    snapshot,
    segments,
    lastSegmentBytes,
    staleSnapshots,
    tornBytes,
  };
}
