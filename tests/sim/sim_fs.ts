/**
 * A simulated file system for one node ({@link SimFs}): the real `wal` plugin runs on it, through
 * the node's `FileSystem` interface (core/env/fs.ts). It keeps, per file, the bytes as the node
 * sees them and the bytes a crash would leave, and applies the durability rules the interface
 * promises — and nothing more:
 * - writes and truncations reach the crash image only when an `fsync` of that file started after
 *   them completes (after a short virtual delay);
 * - creations, renames and removals reach it only when a `syncDir` of their directory completes;
 * - a crash (power loss) keeps, per file, a random prefix of the unsynced data operations, the
 *   last of which may be torn (a prefix of its bytes), and a random prefix of the unsynced
 *   namespace operations. Directories themselves (mkdirp) are durable at once.
 *
 * Each node incarnation sees the disk through {@link SimFs.open}: once that incarnation crashes,
 * its handle does nothing (its fsyncs never resolve), as a dead process's would.
 * @module
 */
import { dirname } from "node:path";
import { DirLockedError } from "../../core/env/dir_lock.ts";
import type { DirLock, FileSystem, OpenMode } from "../../core/env/fs.ts";
import type { Prng } from "./prng.ts";
import type { Scope, SimScheduler } from "./sim_env.ts";

/** An unsynced data operation on a file. */
type DataOp = { k: "write"; pos: number; bytes: Uint8Array } | { k: "trunc"; len: number };
/** An unsynced namespace operation. */
type NameOp =
  | { k: "link"; path: string; file: SimFile }
  | { k: "unlink"; path: string }
  | { k: "rename"; from: string; to: string };

/** A growable byte buffer. */
class Bytes {
  buf = new Uint8Array(256);
  len = 0;

  write(pos: number, src: Uint8Array): void {
    const end = pos + src.length;
    if (end > this.buf.length) {
      const next = new Uint8Array(Math.max(end, this.buf.length * 2));
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
    }
    if (pos > this.len) this.buf.fill(0, this.len, pos);
    this.buf.set(src, pos);
    if (end > this.len) this.len = end;
  }

  truncate(len: number): void {
    if (len < this.len) this.len = len;
    else if (len > this.len) this.write(len, new Uint8Array(0));
  }

  apply(op: DataOp): void {
    if (op.k === "write") this.write(op.pos, op.bytes);
    else this.truncate(op.len);
  }

  copy(): Bytes {
    const b = new Bytes();
    b.buf = this.buf.slice(0, Math.max(256, this.len));
    b.len = this.len;
    return b;
  }

  view(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** One file: what the node reads, what a crash would keep, and the operations in between. */
class SimFile {
  cur = new Bytes();
  dur = new Bytes();
  pending: DataOp[] = [];
  /** Operations ever made durable or lost (the stream index of `pending[0]`). */
  base = 0;
}

interface Fd {
  file: SimFile;
  path: string;
  write: boolean;
}

const FILE_NOT_FOUND = (path: string) =>
  Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), {
    code: "ENOENT",
  });

/** A node's simulated disk. */
export class SimFs {
  /** The namespace as the node sees it, and as a crash would leave it. */
  #names = new Map<string, SimFile>();
  #durNames = new Map<string, SimFile>();
  #pendingNames: NameOp[] = [];
  #dirs = new Set<string>(["/"]);
  #lockedBy: Scope | null = null;
  /** A disk that lies about fsync (for the simulation's own tests): file syncs persist nothing. */
  lies = false;
  /** A disk that loses directory syncs (for the simulation's own tests): syncDir persists nothing. */
  liesAboutDirs = false;
  readonly stats = { syncs: 0, crashes: 0, lostOps: 0, torn: 0 };

  constructor(readonly sched: SimScheduler, readonly rng: Prng) {}

  /** The file system one node incarnation sees (dead, and inert, once `scope` is). */
  open(scope: Scope): FileSystem {
    return new SimFsView(this, scope);
  }

  // ------------------------------------------------------------ used by the views

  file(path: string): SimFile | undefined {
    return this.#names.get(path);
  }

  hasDir(path: string): boolean {
    return this.#dirs.has(path);
  }

  mkdirp(dir: string): void {
    for (let d = dir; !this.#dirs.has(d); d = dirname(d)) this.#dirs.add(d);
  }

  list(dir: string): string[] {
    if (!this.#dirs.has(dir)) throw FILE_NOT_FOUND(dir);
    const out: string[] = [];
    for (const p of this.#names.keys()) if (dirname(p) === dir) out.push(p.slice(dir.length + 1));
    for (const d of this.#dirs) {
      if (d !== dir && dirname(d) === dir) out.push(d.slice(dir.length + 1));
    }
    return out;
  }

  create(path: string): SimFile {
    if (!this.#dirs.has(dirname(path))) throw FILE_NOT_FOUND(path);
    const f = new SimFile();
    this.#names.set(path, f);
    this.#pendingNames.push({ k: "link", path, file: f });
    return f;
  }

  remove(path: string): void {
    if (!this.#names.delete(path)) return;
    this.#pendingNames.push({ k: "unlink", path });
  }

  rename(from: string, to: string): void {
    const f = this.#names.get(from);
    if (f === undefined) throw FILE_NOT_FOUND(from);
    this.#names.delete(from);
    this.#names.set(to, f);
    this.#pendingNames.push({ k: "rename", from, to });
  }

  dataOp(f: SimFile, op: DataOp): void {
    f.cur.apply(op);
    f.pending.push(op);
  }

  /** Makes `f`'s operations so far durable after a virtual delay; resolves (if alive) then. */
  fsync(f: SimFile, scope: Scope): Promise<void> {
    this.stats.syncs++;
    const target = f.base + f.pending.length;
    return this.#later(scope, () => {
      const n = this.lies ? 0 : Math.max(0, target - f.base);
      for (const op of f.pending.splice(0, n)) f.dur.apply(op);
      f.base += n;
    });
  }

  fsyncNow(f: SimFile): void {
    if (this.lies) return;
    for (const op of f.pending) f.dur.apply(op);
    f.base += f.pending.length;
    f.pending = [];
  }

  /** Makes the namespace operations so far in `dir` durable (after a delay unless `now`). */
  syncDir(dir: string, scope: Scope | null): Promise<void> {
    this.stats.syncs++;
    const ops = this.#pendingNames.slice();
    const run = () => {
      if (this.liesAboutDirs) return;
      for (const op of ops) {
        const i = this.#pendingNames.indexOf(op);
        if (i < 0 || dirname(op.k === "rename" ? op.to : op.path) !== dir) continue;
        this.#pendingNames.splice(i, 1);
        this.#applyName(op);
      }
    };
    if (scope === null) {
      run();
      return Promise.resolve();
    }
    return this.#later(scope, run);
  }

  lock(dir: string, scope: Scope): DirLock {
    if (this.#lockedBy?.alive) throw new DirLockedError(dir, undefined);
    this.#lockedBy = scope;
    return {
      path: `${dir}/LOCK`,
      release: () => {
        if (this.#lockedBy === scope) this.#lockedBy = null;
      },
    };
  }

  /** Power loss: each file keeps a random prefix of its unsynced operations (the last may tear). */
  crash(): void {
    this.stats.crashes++;
    this.#lockedBy = null;
    const files = new Set<SimFile>([...this.#names.values(), ...this.#durNames.values()]);
    for (const op of this.#pendingNames) if (op.k === "link") files.add(op.file);
    for (const f of files) {
      const u = f.pending;
      f.base += u.length;
      f.pending = [];
      if (u.length > 0) {
        const keep = this.rng.int(0, u.length + 1);
        this.stats.lostOps += u.length - keep;
        for (let i = 0; i < keep; i++) {
          const op = u[i];
          if (i === keep - 1 && op.k === "write" && op.bytes.length > 1 && this.rng.chance(0.3)) {
            const cut = this.rng.int(1, op.bytes.length);
            f.dur.apply({ k: "write", pos: op.pos, bytes: op.bytes.subarray(0, cut) });
            this.stats.torn++;
          } else f.dur.apply(op);
        }
      }
      f.cur = f.dur.copy();
    }
    const ns = this.#pendingNames;
    this.#pendingNames = [];
    const keep = this.rng.int(0, ns.length + 1);
    this.stats.lostOps += ns.length - keep;
    for (let i = 0; i < keep; i++) this.#applyName(ns[i]);
    this.#names = new Map(this.#durNames);
  }

  #applyName(op: NameOp): void {
    if (op.k === "link") this.#durNames.set(op.path, op.file);
    else if (op.k === "unlink") this.#durNames.delete(op.path);
    else {
      const f = this.#durNames.get(op.from);
      if (f === undefined) return; // renamed a file whose creation was never made durable
      this.#durNames.delete(op.from);
      this.#durNames.set(op.to, f);
    }
  }

  #later(scope: Scope, fn: () => void): Promise<void> {
    // Mostly 0.05-0.53 ms; one in 20 takes 2-10 ms (a disk shared with other writers), so that
    // messages arrive, and entries commit, while a node still awaits its fsync.
    const r = this.rng.next();
    const ms = r < 0.95 ? 0.05 + r * 0.5 : 2 + (r - 0.95) * 160;
    return new Promise((resolve) => {
      this.sched.at(ms, () => {
        if (!scope.alive) return;
        fn();
        resolve();
      }, scope);
    });
  }
}

/** What one node incarnation sees of a {@link SimFs}. */
class SimFsView implements FileSystem {
  readonly #fds = new Map<number, Fd>();
  #next = 3;

  constructor(readonly disk: SimFs, readonly scope: Scope) {}

  #fd(fd: number): Fd {
    const f = this.#fds.get(fd);
    if (f === undefined) {
      throw Object.assign(new Error("EBADF: bad file descriptor"), { code: "EBADF" });
    }
    return f;
  }

  get #dead(): boolean {
    return !this.scope.alive;
  }

  mkdirp(dir: string): void {
    if (!this.#dead) this.disk.mkdirp(dir);
  }
  list(dir: string): string[] {
    return this.disk.list(dir);
  }
  exists(path: string): boolean {
    return this.disk.file(path) !== undefined || this.disk.hasDir(path);
  }
  isDirectory(path: string): boolean {
    return this.disk.hasDir(path);
  }
  readFile(path: string): Uint8Array {
    const f = this.disk.file(path);
    if (f === undefined) throw FILE_NOT_FOUND(path);
    return f.cur.view();
  }
  open(path: string, mode: OpenMode): number {
    let f = this.disk.file(path);
    if (mode === "wx" && f !== undefined) {
      throw Object.assign(new Error(`EEXIST: file already exists, open '${path}'`), {
        code: "EEXIST",
      });
    }
    if (f === undefined) {
      if (mode === "r" || mode === "r+") throw FILE_NOT_FOUND(path);
      f = this.disk.create(path);
    } else if (mode === "w") this.disk.dataOp(f, { k: "trunc", len: 0 });
    const fd = this.#next++;
    this.#fds.set(fd, { file: f, path, write: mode !== "r" });
    return fd;
  }
  write(fd: number, bytes: Uint8Array, off: number, len: number, pos: number): number {
    const f = this.#fd(fd);
    if (this.#dead) return len;
    if (!f.write) throw Object.assign(new Error("EBADF: not open for writing"), { code: "EBADF" });
    this.disk.dataOp(f.file, { k: "write", pos, bytes: bytes.slice(off, off + len) });
    return len;
  }
  writeAsync(
    fd: number,
    bytes: Uint8Array,
    off: number,
    len: number,
    pos: number,
  ): Promise<number> {
    try {
      return Promise.resolve(this.write(fd, bytes, off, len, pos));
    } catch (err) {
      return Promise.reject(err);
    }
  }
  truncate(fd: number, len: number): void {
    const f = this.#fd(fd);
    if (!this.#dead) this.disk.dataOp(f.file, { k: "trunc", len });
  }
  fsync(fd: number): Promise<void> {
    const f = this.#fd(fd);
    if (this.#dead) return new Promise(() => {});
    return this.disk.fsync(f.file, this.scope);
  }
  fsyncSync(fd: number): void {
    const f = this.#fd(fd);
    if (!this.#dead) this.disk.fsyncNow(f.file);
  }
  close(fd: number): void {
    this.#fd(fd);
    this.#fds.delete(fd);
  }
  rename(from: string, to: string): void {
    if (!this.#dead) this.disk.rename(from, to);
  }
  remove(path: string): void {
    if (!this.#dead) this.disk.remove(path);
  }
  removeAsync(path: string): Promise<void> {
    if (this.#dead) return new Promise(() => {});
    this.disk.remove(path);
    return Promise.resolve();
  }
  syncDir(dir: string): Promise<void> {
    if (this.#dead) return new Promise(() => {});
    return this.disk.syncDir(dir, this.scope);
  }
  syncDirSync(dir: string): void {
    if (!this.#dead) void this.disk.syncDir(dir, null);
  }
  lock(dir: string): DirLock {
    return this.disk.lock(dir, this.scope);
  }
}
