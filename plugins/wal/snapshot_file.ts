/**
 * Snapshot files: `snap-<index>-<term>.snap` (16 hex digits each), written atomically
 * (temp file + fsync + rename + directory fsync) and verified with CRC-32C on load.
 *
 * Layout:
 * ```
 * "TKVSNAP1" (8 bytes) | crc32c u32 LE over everything after this field | metaLen u32 LE |
 * meta: index f64, term f64, voters u32, learners u32, ids f64... | data (rest of the file)
 * ```
 * @module
 */
import { crc32c } from "@node-rs/crc32";
import type { FileSystem } from "../../core/env/fs.ts";
import { join } from "node:path";
import type { Snapshot } from "../../core/raft/types.ts";

const MAGIC = new TextEncoder().encode("TKVSNAP1");
const SNAP_RE = /^snap-([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;

/** File name of the snapshot at (index, term). */
export function snapshotFileName(index: number, term: number): string {
  return `snap-${hex16(index)}-${hex16(term)}.snap`;
}

/** Parses a snapshot file name; undefined for other names. */
export function parseSnapshotFileName(name: string): { index: number; term: number } | undefined {
  const m = SNAP_RE.exec(name);
  return m ? { index: parseInt(m[1], 16), term: parseInt(m[2], 16) } : undefined;
}

/** 16 lowercase hex digits. */
export function hex16(n: number): string {
  return n.toString(16).padStart(16, "0");
}

/** Largest single write of a snapshot file. */
const WRITE_CHUNK = 1 << 20;
/**
 * A durable snapshot file is fdatasynced every this many bytes as it is written, not only once at
 * the end. The wal's group commits share the disk: one fdatasync of a 100-470 MB file hands the
 * device all of it at once, and every small fdatasync queued behind it — this node's and, on one
 * disk, the other replicas' — waits. Measured here: a process's 100 KB fdatasyncs stalled up to
 * 156-224 ms while another wrote 400 MB and fdatasynced it, at most 48 ms when the 400 MB were
 * fdatasynced every 4 MiB. In 60 s soaks (3 nodes, wal) group commits over 40 ms came on all three
 * nodes at once at the end of each snapshot's write: 19-26 per run, 1-3 with the file synced in
 * pieces (and the encoding paced, core/node/snapshots.ts).
 */
const SYNC_BYTES = 4 * WRITE_CHUNK;

function encodeHeader(snap: Snapshot): Uint8Array {
  const { voters, learners } = snap.meta.conf;
  const metaLen = 24 + 8 * (voters.length + learners.length);
  const out = new Uint8Array(16 + metaLen);
  const v = new DataView(out.buffer);
  out.set(MAGIC, 0);
  v.setUint32(12, metaLen, true);
  v.setFloat64(16, snap.meta.index, true);
  v.setFloat64(24, snap.meta.term, true);
  v.setUint32(32, voters.length, true);
  v.setUint32(36, learners.length, true);
  let p = 40;
  for (const id of voters) (v.setFloat64(p, id, true), p += 8);
  for (const id of learners) (v.setFloat64(p, id, true), p += 8);
  return out; // the CRC field (bytes 8..12) is filled in once the data is written
}

/**
 * Writes `snap` to `dir` atomically: a temp file is written and fsynced, renamed into place, and
 * the directory fsynced. When `durable` is false the fsyncs are skipped (fsync policy `off`).
 * Returns the file name.
 */
export async function writeSnapshotFile(
  fs: FileSystem,
  dir: string,
  snap: Snapshot,
  durable = true,
): Promise<string> {
  const name = snapshotFileName(snap.meta.index, snap.meta.term);
  const tmp = join(dir, name + ".tmp");
  const fd = fs.open(tmp, "w");
  try {
    const head = encodeHeader(snap);
    let crc = crc32c(head.subarray(12));
    // In chunks: Deno's FileHandle.write holds the event loop for the whole buffer (measured:
    // ~195 ms for 87 MB in one call, under 7 ms per 1 MiB chunk), which would stall commits; the
    // CRC is computed chunk by chunk too (a whole-file CRC-32C of 354 MB held the loop 51 ms).
    let off = 0;
    while (off < snap.data.length) {
      const n = Math.min(WRITE_CHUNK, snap.data.length - off);
      crc = crc32c(snap.data.subarray(off, off + n), crc);
      let done = 0;
      while (done < n) {
        done += await fs.writeAsync(fd, snap.data, off + done, n - done, head.length + off + done);
      }
      off += n;
      if (durable && off % SYNC_BYTES === 0) await fs.fsync(fd);
    }
    new DataView(head.buffer).setUint32(8, crc, true);
    let pos = 0;
    while (pos < head.length) pos += await fs.writeAsync(fd, head, pos, head.length - pos, pos);
    if (durable) await fs.fsync(fd);
  } finally {
    fs.close(fd);
  }
  fs.rename(tmp, join(dir, name));
  if (durable) await fs.syncDir(dir);
  return name;
}

/** Reads and verifies a snapshot file; throws an Error naming the file on any problem. */
export function readSnapshotFile(fs: FileSystem, path: string): Snapshot {
  let buf: Uint8Array;
  try {
    buf = fs.readFile(path);
  } catch (err) {
    throw new Error(`wal: cannot read snapshot file ${path}: ${(err as Error).message}`);
  }
  const bad = (why: string) => new Error(`wal: snapshot file ${path} is corrupt: ${why}`);
  if (buf.length < 16) throw bad(`only ${buf.length} bytes`);
  for (let i = 0; i < 8; i++) if (buf[i] !== MAGIC[i]) throw bad("bad magic");
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const metaLen = v.getUint32(12, true);
  if (metaLen < 24 || 16 + metaLen > buf.length) throw bad(`bad metadata length ${metaLen}`);
  if (crc32c(buf.subarray(12)) !== v.getUint32(8, true)) throw bad("CRC mismatch");
  const nv = v.getUint32(32, true);
  const nl = v.getUint32(36, true);
  if (24 + 8 * (nv + nl) !== metaLen) throw bad("bad membership length");
  const voters: number[] = [];
  const learners: number[] = [];
  let p = 40;
  for (let i = 0; i < nv; i++, p += 8) voters.push(v.getFloat64(p, true));
  for (let i = 0; i < nl; i++, p += 8) learners.push(v.getFloat64(p, true));
  return {
    meta: {
      index: v.getFloat64(16, true),
      term: v.getFloat64(24, true),
      conf: { voters, learners },
    },
    data: buf.subarray(16 + metaLen),
  };
}
