/**
 * `WalStorage`: the durable {@link Storage} of the `wal` plugin — a segmented, CRC-framed,
 * append-only log holding entries, hard state and membership, plus atomic snapshot files.
 *
 * Write path: `append`/`setHardState`/`setConfState` encode records into an in-memory buffer and
 * update the in-memory log at once (reads are synchronous and served from memory). `sync()` writes
 * the buffer with one positioned write and, with fsync policy `always`, resolves after one
 * `fdatasync` that covers every record written before it started (group commit): calls arriving
 * while an fdatasync is in flight wait for the next one, which covers all of them.
 *
 * See docs/wal.md for the file format and the recovery rules.
 * @module
 */
import { join, resolve } from "node:path";
import { type FileSystem, nodeFileSystem, writeAll } from "../../core/env/fs.ts";
import { type Cancel, realScheduler, type Scheduler } from "../../core/env/time.ts";
import type { FsyncPolicy } from "../../core/config/config.ts";
import type { ConfState, Entry, HardState, Snapshot } from "../../core/raft/types.ts";
import type { Storage } from "../../core/storage/storage.ts";
import type { EntryLog } from "./entry_log.ts";
import { RecordWriter } from "./format.ts";
import type { DirLock } from "../../core/env/dir_lock.ts";
import { recover, type RecoveredState, segmentFileName, type SegmentInfo } from "./recovery.ts";
import { parseSnapshotFileName, writeSnapshotFile } from "./snapshot_file.ts";

/** Options of {@link openWal}. */
export interface WalOptions {
  /** `always` (default): sync() resolves after fdatasync; `batch`: fdatasync at most every 10 ms; `off`: never. */
  fsync?: FsyncPolicy;
  /** Rotate to a new segment once the current one holds this many bytes (default 64 MiB). */
  segmentBytes?: number;
  /** Membership of a brand-new node (used when the directory holds no log). */
  initialConf?: ConfState;
  /** Receives recovery and error messages (default: silent). */
  logger?: WalLogger;
  /** Interval of the background fdatasync under policy `batch` (default 10 ms). */
  batchIntervalMs?: number;
  /** Write buffered records to the file once this many are pending, even before sync() (default 1 MiB). */
  flushBytes?: number;
  /** The files (default: the runtime's; the simulation passes its simulated disk). */
  fs?: FileSystem;
  /** Timers, for policy `batch` (default: the runtime's). */
  scheduler?: Scheduler;
  /** Timing observers (the wal plugin feeds its histograms); need `nowMs`. */
  observe?: WalObservers;
}

/** Durations the WAL reports, in seconds, measured with `nowMs` (a monotonic clock in ms). */
export interface WalObservers {
  nowMs: () => number;
  /** One group commit: fdatasync of the open segment(s) (and the directory when it changed). */
  fsyncSeconds?: (seconds: number) => void;
  /** One locally taken snapshot saved: file written, fsynced and renamed, log compacted. */
  snapshotSeconds?: (seconds: number) => void;
}

/** The logging the WAL needs (a core Logger fits). */
export interface WalLogger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

/** What recovery found, for the startup log and tests. */
export interface WalRecoveryInfo {
  segments: number;
  firstIndex: number;
  lastIndex: number;
  snapshotIndex: number;
  /** Bytes of torn tail truncated (0 when the log ended cleanly). */
  tornBytes: number;
}

interface Waiter {
  gen: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** Entries at least this large are written straight from their data, not copied into the buffer. */
const DIRECT_WRITE_BYTES = 256 * 1024;
const SILENT: WalLogger = { info() {}, warn() {}, error() {} };

function copyConf(cs: ConfState): ConfState {
  return { voters: [...cs.voters], learners: [...cs.learners] };
}

/** Opens (recovering or creating) the WAL in `dir`. Throws a clear Error on corruption. */
export function openWal(dir: string, options: WalOptions = {}): Promise<WalStorage> {
  try {
    return Promise.resolve(new WalStorage(dir, options));
  } catch (err) {
    return Promise.reject(err);
  }
}

/** Durable Raft storage in a directory of WAL segments and snapshot files. Use {@link openWal}. */
export class WalStorage implements Storage {
  /** Startup-log description, e.g. `wal at /data (fsync=always)`. */
  readonly description: string;
  /** True unless the fsync policy is `off`. */
  readonly durable: boolean;
  /** Absolute data directory. */
  readonly dir: string;
  /** The fsync policy in force. */
  readonly fsyncPolicy: FsyncPolicy;
  /** What recovery found when the WAL was opened. */
  readonly recovery: WalRecoveryInfo;

  readonly #segmentBytes: number;
  readonly #flushBytes: number;
  readonly #batchMs: number;
  readonly #logger: WalLogger;
  readonly #fs: FileSystem;
  readonly #scheduler: Scheduler;
  readonly #w = new RecordWriter();
  #log: EntryLog;
  #hs: HardState;
  #conf: ConfState;
  #snap: Snapshot;
  #segments: SegmentInfo[];
  #fd: number;
  #segSize: number;
  /** Generation of bytes written to files (bumped per write); `#synced` is the one made durable. */
  #written = 0;
  #synced = 0;
  #syncing = false;
  #fsyncs = 0;
  readonly #observe: WalObservers | undefined;
  #waiters: Waiter[] = [];
  #retiring: number[] = [];
  #dirDirty = false;
  #timer: Cancel | undefined;
  #failed: Error | undefined;
  #closed = false;
  #snapChain: Promise<void> = Promise.resolve();
  /** The data-directory lock, held from before recovery until close. */
  readonly #lock: DirLock;

  /** Recovers the WAL in `dir` synchronously. Prefer {@link openWal}. */
  constructor(dir: string, options: WalOptions = {}) {
    this.dir = resolve(dir);
    this.fsyncPolicy = options.fsync ?? "always";
    this.#observe = options.observe;
    if (!["always", "batch", "off"].includes(this.fsyncPolicy)) {
      throw new Error(`wal: fsync policy must be always, batch or off (got ${this.fsyncPolicy})`);
    }
    this.durable = this.fsyncPolicy !== "off";
    this.#segmentBytes = options.segmentBytes ?? 64 * 1024 * 1024;
    this.#flushBytes = options.flushBytes ?? 1 << 20;
    this.#batchMs = options.batchIntervalMs ?? 10;
    this.#logger = options.logger ?? SILENT;
    const fs = this.#fs = options.fs ?? nodeFileSystem;
    this.#scheduler = options.scheduler ?? realScheduler;
    this.description = `wal at ${this.dir} (fsync=${this.fsyncPolicy})`;

    // Lock the directory before recovery reads (and may truncate) anything in it.
    fs.mkdirp(this.dir);
    this.#lock = fs.lock(this.dir);
    let r: RecoveredState;
    try {
      r = recover(fs, this.dir, options.initialConf ?? { voters: [], learners: [] }, this.#logger);
    } catch (err) {
      this.#lock.release();
      throw err;
    }
    this.#log = r.log;
    this.#hs = r.hardState;
    this.#conf = r.conf;
    this.#snap = r.snapshot;
    this.#segments = r.segments;
    for (const p of r.staleSnapshots) fs.remove(p);
    const last = this.#segments[this.#segments.length - 1];
    if (last === undefined) {
      this.#fd = -1;
      this.#segSize = 0;
      this.#openSegment(1);
      fs.fsyncSync(this.#fd);
      fs.syncDirSync(this.dir);
      this.#dirDirty = false;
      this.#synced = this.#written;
    } else {
      this.#fd = fs.open(last.path, "r+");
      this.#segSize = r.lastSegmentBytes;
    }
    this.recovery = {
      segments: this.#segments.length,
      firstIndex: this.#log.firstIndex(),
      lastIndex: this.#log.lastIndex(),
      snapshotIndex: this.#snap.meta.index,
      tornBytes: r.tornBytes,
    };
  }

  // ------------------------------------------------------------------ reads (from memory)

  /** Hard state and membership as last recorded. */
  initialState(): { hardState: HardState; conf: ConfState } {
    return { hardState: { ...this.#hs }, conf: copyConf(this.#conf) };
  }

  /** Entries in [lo, hi), at most `maxBytes` of data (at least one entry if any). */
  entries(lo: number, hi: number, maxBytes?: number): Entry[] {
    return this.#log.entries(lo, hi, maxBytes);
  }

  /** Term at `index` (the compaction/snapshot base works too); throws if compacted. */
  term(index: number): number {
    return this.#log.term(index);
  }

  /** First index held. */
  firstIndex(): number {
    return this.#log.firstIndex();
  }

  /** Last index held. */
  lastIndex(): number {
    return this.#log.lastIndex();
  }

  /** The latest snapshot (index 0 when none). */
  snapshot(): Snapshot {
    return this.#snap;
  }

  /** Storage: where the node keeps its identity files (the wal's own directory). */
  get dataDir(): string {
    return this.dir;
  }

  /** Group commits performed so far (each is one fdatasync per open segment file). */
  get fsyncCount(): number {
    return this.#fsyncs;
  }

  /** Number of segment files currently making up the log. */
  segmentCount(): number {
    return this.#segments.length;
  }

  // ------------------------------------------------------------------ writes

  /** Appends entries (discarding a conflicting suffix first: a Truncate record). Durable after sync(). */
  append(entries: Entry[]): void {
    this.#checkWritable();
    const plan = this.#log.planAppend(entries);
    if (plan === undefined) return;
    const w = this.#w;
    if (plan.truncatedPrevTerm !== undefined) w.truncate(plan.from, plan.truncatedPrevTerm);
    for (let k = plan.skip; k < entries.length; k++) {
      const e = entries[k];
      if (e.data.length < DIRECT_WRITE_BYTES) w.entry(e);
      else this.#writeDirect(e);
    }
    this.#log.commitAppend(entries, plan);
    const seg = this.#segments[this.#segments.length - 1];
    if (this.#log.lastIndex() > seg.maxIndex) seg.maxIndex = this.#log.lastIndex();
    if (w.length >= this.#flushBytes) this.#flush();
  }

  /** Records term/vote/commit (skipped when unchanged). Durable after sync(). */
  setHardState(hs: HardState): void {
    this.#checkWritable();
    const cur = this.#hs;
    if (cur.term === hs.term && cur.vote === hs.vote && cur.commit === hs.commit) return;
    this.#hs = { term: hs.term, vote: hs.vote, commit: hs.commit };
    this.#w.hardState(this.#hs);
  }

  /** Records the membership in force. Durable after sync(). */
  setConfState(cs: ConfState): void {
    this.#checkWritable();
    this.#conf = copyConf(cs);
    this.#w.conf(this.#conf);
  }

  /**
   * Makes everything recorded so far durable per the fsync policy: `always` resolves after one
   * fdatasync shared by all concurrent callers; `batch` and `off` resolve once written.
   */
  sync(): Promise<void> {
    try {
      this.#checkWritable();
      this.#flush();
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.fsyncPolicy === "always") return this.#durableUpTo(this.#written);
    if (this.fsyncPolicy === "batch" && this.#timer === undefined && this.#written > this.#synced) {
      this.#timer = this.#scheduler.timeout(this.#batchMs, () => {
        this.#timer = undefined;
        this.#kick();
      });
    }
    return Promise.resolve();
  }

  /**
   * Saves a locally taken snapshot (atomic file), then compacts the in-memory log up to
   * `snap.meta.index - keepEntries` and deletes segments whose entries are all covered.
   */
  saveSnapshot(snap: Snapshot, keepEntries: number): Promise<void> {
    return this.#serial(async () => {
      this.#checkWritable();
      const { index, term } = snap.meta;
      if (index <= this.#snap.meta.index) return;
      if (index > this.#log.lastIndex()) {
        throw new RangeError(
          `wal: snapshot at ${index} beyond last index ${this.#log.lastIndex()}`,
        );
      }
      if (this.#log.term(index) !== term) {
        throw new Error(`wal: snapshot term ${term} does not match the log at ${index}`);
      }
      const obs = this.#observe;
      const t0 = obs?.snapshotSeconds ? obs.nowMs() : 0;
      const name = await writeSnapshotFile(this.#fs, this.dir, snap, this.durable);
      this.#checkWritable();
      this.#snap = snap;
      const c = Math.min(index - Math.max(0, keepEntries), this.#log.lastIndex());
      if (c > this.#log.baseIndex) this.#log.compact(c);
      await this.#removeCovered(name);
      if (obs?.snapshotSeconds) obs.snapshotSeconds(Math.max(0, obs.nowMs() - t0) / 1000);
    });
  }

  /**
   * Installs a leader's snapshot: atomic snapshot file, then an Install record (entries after it
   * are kept only if the log holds the snapshot's entry with its term); durable before resolving.
   */
  applySnapshot(snap: Snapshot): Promise<void> {
    return this.#serial(async () => {
      this.#checkWritable();
      const { index, term } = snap.meta;
      if (index <= this.#snap.meta.index) return;
      const name = await writeSnapshotFile(this.#fs, this.dir, snap, this.durable);
      this.#checkWritable();
      this.#log.install(index, term);
      this.#w.install(index, term);
      this.#conf = copyConf(snap.meta.conf);
      this.#w.conf(this.#conf);
      if (this.#hs.commit < index) {
        this.#hs = { ...this.#hs, commit: index };
        this.#w.hardState(this.#hs);
      }
      this.#snap = snap;
      this.#flush();
      await this.#removeCovered(name);
    });
  }

  /** Writes and fsyncs what is pending (unless policy `off`), then closes the files. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#snapChain.catch(() => {});
    let err: unknown;
    try {
      if (this.#failed === undefined) {
        this.#flush();
        if (this.durable) await this.#durableUpTo(this.#written);
      }
    } catch (e) {
      err = e;
    }
    this.#closed = true;
    this.#timer?.();
    this.#timer = undefined;
    for (const fd of this.#retiring) this.#fs.close(fd);
    this.#retiring = [];
    try {
      this.#fs.close(this.#fd);
    } finally {
      this.#lock.release();
    }
    if (err !== undefined) throw err;
  }

  // ------------------------------------------------------------------ internals

  #checkWritable(): void {
    if (this.#failed) {
      throw new Error(`wal: storage failed earlier and is unusable: ${this.#failed.message}`);
    }
    if (this.#closed) throw new Error("wal: storage is closed");
  }

  #serial(fn: () => Promise<void>): Promise<void> {
    const run = this.#snapChain.then(fn, fn);
    this.#snapChain = run.catch(() => {});
    return run;
  }

  /** Creates segment `seq` with its header record and makes it current. */
  #openSegment(seq: number): void {
    const path = join(this.dir, segmentFileName(seq));
    const fd = this.#fs.open(path, "wx");
    const last = this.#log.lastIndex();
    const w = new RecordWriter(256);
    w.segment({
      seq,
      baseIndex: last,
      baseTerm: this.#log.term(last),
      hardState: this.#hs,
      conf: this.#conf,
    });
    writeAll(this.#fs, fd, w.bytes(), 0);
    this.#fd = fd;
    this.#segSize = w.length;
    this.#segments.push({ seq, path, maxIndex: 0 });
    this.#dirDirty = true;
    this.#written++;
  }

  /**
   * Writes a large entry's record straight from its data (after what is buffered): no copy into
   * the record buffer, which would also grow to twice the entry's size.
   */
  #writeDirect(e: Entry): void {
    this.#flush();
    try {
      const head = RecordWriter.entryHead(e);
      writeAll(this.#fs, this.#fd, head, this.#segSize);
      writeAll(this.#fs, this.#fd, e.data, this.#segSize + head.length);
      this.#segSize += head.length + e.data.length;
      this.#written++;
    } catch (err) {
      this.#fail(err as Error);
      throw this.#failed;
    }
    // Rotation, if the segment is now full, happens on the next flush (as for buffered records).
  }

  /** Writes the buffered records to the current segment; rotates when it is full. */
  #flush(): void {
    const w = this.#w;
    if (w.length === 0) return;
    try {
      writeAll(this.#fs, this.#fd, w.bytes(), this.#segSize);
      this.#segSize += w.length;
      w.reset();
      this.#written++;
      if (this.#segSize >= this.#segmentBytes) {
        const old = this.#fd;
        // The old segment's tail is made durable before the next segment exists: a crash must
        // not keep the new segment's header (chained after its last entry) but lose that tail,
        // which recovery refuses (seen in the node simulation).
        if (this.durable) this.#fs.fsyncSync(old);
        this.#openSegment(this.#segments[this.#segments.length - 1].seq + 1);
        if (this.durable) this.#retiring.push(old);
        else this.#fs.close(old);
      }
    } catch (err) {
      this.#fail(err as Error);
      throw this.#failed;
    }
  }

  /** Resolves once generation `gen` is durable (group commit: waiters share fdatasyncs). */
  #durableUpTo(gen: number): Promise<void> {
    if (this.#synced >= gen) return Promise.resolve();
    if (this.#failed) {
      return Promise.reject(new Error(`wal: sync failed: ${this.#failed.message}`));
    }
    return new Promise((resolve, reject) => {
      this.#waiters.push({ gen, resolve, reject });
      this.#kick();
    });
  }

  /** Starts one fdatasync covering everything written so far, unless one is in flight. */
  #kick(): void {
    if (this.#syncing || this.#failed) return;
    if (this.#synced >= this.#written) {
      this.#settle();
      return;
    }
    this.#syncing = true;
    const gen = this.#written;
    const retiring = this.#retiring;
    this.#retiring = [];
    const dirDirty = this.#dirDirty;
    this.#dirDirty = false;
    const fds = [...retiring, this.#fd];
    this.#fsyncs++;
    const fs = this.#fs;
    const obs = this.#observe;
    const t0 = obs?.fsyncSeconds ? obs.nowMs() : 0;
    Promise.all(fds.map((fd) => fs.fsync(fd)))
      .then(() => (dirDirty ? fs.syncDir(this.dir) : undefined))
      .then(() => {
        if (obs?.fsyncSeconds) obs.fsyncSeconds(Math.max(0, obs.nowMs() - t0) / 1000);
        for (const fd of retiring) fs.close(fd);
        this.#synced = gen;
        this.#syncing = false;
        this.#settle();
        if (this.#waiters.length > 0) this.#kick();
      }, (err: Error) => {
        this.#syncing = false;
        this.#fail(err);
      });
  }

  #settle(): void {
    if (this.#waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const w of this.#waiters) {
      if (w.gen <= this.#synced) w.resolve();
      else still.push(w);
    }
    this.#waiters = still;
  }

  /** An I/O error leaves the files in an unknown state: refuse all further writes (no retry of fsync). */
  #fail(err: Error): void {
    if (this.#failed) return;
    this.#failed = err;
    this.#logger.error(`wal: I/O error, storage is now unusable: ${err.message}`);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(new Error(`wal: sync failed: ${err.message}`));
  }

  /**
   * After a snapshot file named `keep` is durable: makes all records durable, then deletes the
   * oldest segments whose entries are all at or below the log's base, and older snapshot files.
   */
  async #removeCovered(keep: string): Promise<void> {
    const activeSeq = this.#segments[this.#segments.length - 1].seq;
    this.#flush();
    if (this.durable) await this.#durableUpTo(this.#written);
    const base = this.#log.baseIndex;
    let changed = false;
    while (
      this.#segments.length > 1 && this.#segments[0].seq < activeSeq &&
      this.#segments[0].maxIndex <= base
    ) {
      const seg = this.#segments.shift()!;
      // Asynchronously: unlinking a large file holds the caller while its blocks are freed.
      await this.#fs.removeAsync(seg.path);
      changed = true;
    }
    const keepIndex = parseSnapshotFileName(keep)!.index;
    for (const n of this.#fs.list(this.dir)) {
      const p = parseSnapshotFileName(n);
      if (p && p.index < keepIndex) {
        await this.#fs.removeAsync(join(this.dir, n));
        changed = true;
      }
    }
    if (changed && this.durable) await this.#fs.syncDir(this.dir);
  }
}
