/**
 * The data-directory lock: one process at a time may own a WAL directory.
 *
 * The lock is a kernel `flock(2)` on `<dir>/LOCK`, held (exclusive, non-blocking) for as long as
 * the WAL is open: `Deno.FsFile.tryLockSync(true)` on Deno, libc `flock` through `bun:ffi` on Bun
 * (and Node, which has neither, falls back to an O_EXCL pid file). Deno and Bun take the same
 * kernel lock, so a Deno node and a Bun node exclude each other. The kernel drops the lock when
 * the process dies, so a lock left by a `kill -9`ed process never blocks the next start. The
 * holder writes its pid into the file, only so that a refused process can name it.
 * @module
 */
import * as fs from "node:fs";
import { join } from "node:path";
import { RUNTIME } from "../../transports/runtime.ts";

/** File name of the lock inside the data directory. */
export const LOCK_FILE = "LOCK";

/** A held data-directory lock. */
export interface DirLock {
  /** Path of the lock file. */
  readonly path: string;
  /** Releases the lock (idempotent). */
  release(): void;
}

/** Thrown when another process holds the directory. */
export class DirLockedError extends Error {
  /** The holder's pid, when it could be read. */
  readonly pid: number | undefined;
  constructor(dir: string, pid: number | undefined) {
    super(
      `wal: data dir ${dir} is in use by another process${
        pid !== undefined ? ` (pid ${pid})` : ""
      } (lock ${join(dir, LOCK_FILE)}): refusing to start; give each node its own --data-dir`,
    );
    this.name = "DirLockedError";
    this.pid = pid;
  }
}

/** Reads the pid recorded in a lock file (undefined if missing or unreadable). */
function readPid(path: string): number | undefined {
  try {
    const text = fs.readFileSync(path, "utf8");
    const m = /^pid (\d{1,10})\b/.exec(text);
    const pid = m ? Number(m[1]) : NaN;
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function holderText(): string {
  return `pid ${process.pid}\nruntime ${RUNTIME}\nsince ${new Date().toISOString()}\n`;
}

// ---------------------------------------------------------------- flock, on either runtime

/** An open lock file and its flock operations. */
interface LockHandle {
  /** flock(LOCK_EX | LOCK_NB): true if acquired. */
  tryLock(): boolean;
  /** Replaces the file's contents with `text`. */
  write(text: string): void;
  unlock(): void;
  close(): void;
}

/** Takes the lock through `h` (closing it on refusal) and records this process as the holder. */
function acquire(dir: string, path: string, h: LockHandle): DirLock {
  let ok = false;
  try {
    ok = h.tryLock();
  } finally {
    if (!ok) h.close();
  }
  if (!ok) throw new DirLockedError(dir, readPid(path));
  h.write(holderText());
  return heldLock(path, () => {
    try {
      h.unlock();
    } finally {
      h.close();
    }
  });
}

/** A held lock whose `release` runs `free` once. */
function heldLock(path: string, free: () => void): DirLock {
  let held = true;
  return {
    path,
    release() {
      if (!held) return;
      held = false;
      free();
    },
  };
}

// ---------------------------------------------------------------- Deno: FsFile.tryLockSync

interface DenoFile {
  tryLockSync(exclusive?: boolean): boolean;
  unlockSync(): void;
  truncateSync(len?: number): void;
  writeSync(p: Uint8Array): number;
  close(): void;
}
interface DenoApi {
  openSync(path: string, opts: { read: boolean; write: boolean; create: boolean }): DenoFile;
}

function denoHandle(path: string): LockHandle {
  const deno = (globalThis as unknown as { Deno: DenoApi }).Deno;
  const f = deno.openSync(path, { read: true, write: true, create: true });
  return {
    tryLock: () => f.tryLockSync(true),
    write(text) {
      f.truncateSync(0);
      f.writeSync(new TextEncoder().encode(text));
    },
    unlock: () => f.unlockSync(),
    close: () => f.close(),
  };
}

// ---------------------------------------------------------------- Bun: libc flock via bun:ffi

const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;

type Flock = (fd: number, op: number) => number;
let bunFlock: Flock | undefined;

function loadBunFlock(): Flock {
  if (bunFlock) return bunFlock;
  const req = (import.meta as unknown as { require(id: string): unknown }).require;
  const ffi = req("bun:ffi") as {
    dlopen(
      path: string,
      symbols: Record<string, { args: string[]; returns: string }>,
    ): { symbols: { flock: Flock } };
    suffix: string;
  };
  const names = process.platform === "darwin"
    ? ["libc.dylib", "/usr/lib/libSystem.B.dylib"]
    : ["libc.so.6", `libc.${ffi.suffix}`];
  let last: unknown;
  for (const name of names) {
    try {
      const lib = ffi.dlopen(name, { flock: { args: ["i32", "i32"], returns: "i32" } });
      bunFlock = lib.symbols.flock;
      return bunFlock;
    } catch (err) {
      last = err;
    }
  }
  throw new Error(`wal: cannot load flock from libc (${(last as Error)?.message ?? last})`);
}

function fdHandle(path: string, flock: Flock): LockHandle {
  const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
  return {
    tryLock: () => flock(fd, LOCK_EX | LOCK_NB) === 0,
    write(text) {
      fs.ftruncateSync(fd, 0);
      fs.writeSync(fd, text, 0);
    },
    unlock: () => void flock(fd, LOCK_UN),
    close: () => fs.closeSync(fd),
  };
}

// ---------------------------------------------------------------- fallback: O_EXCL pid file

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === "EPERM";
  }
}

/**
 * Without flock (exported for tests): create the file exclusively; a file naming a dead pid — or
 * this process's own pid, left by an earlier process that had the same pid (a container's pid 1)
 * — is stale and replaced. Weaker than flock: two opens in one process are not told apart.
 */
export function lockPidFile(dir: string, path = join(dir, LOCK_FILE)): DirLock {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = fs.openSync(path, "wx", 0o644);
      fs.writeSync(fd, holderText(), 0);
      fs.closeSync(fd);
      return heldLock(path, () => {
        if (readPid(path) === process.pid) fs.rmSync(path, { force: true });
      });
    } catch (err) {
      if ((err as { code?: string }).code !== "EEXIST") throw err;
      const pid = readPid(path);
      if (pid !== undefined && pid !== process.pid && alive(pid)) {
        throw new DirLockedError(dir, pid);
      }
      fs.rmSync(path, { force: true }); // stale: its process is gone
    }
  }
  throw new DirLockedError(dir, readPid(path));
}

/**
 * Locks data directory `dir` (which must exist) for this process, or throws
 * {@link DirLockedError} naming the holder's pid if another process has it.
 */
export function lockDataDir(dir: string): DirLock {
  const path = join(dir, LOCK_FILE);
  if (RUNTIME === "deno") return acquire(dir, path, denoHandle(path));
  if (RUNTIME === "bun") return acquire(dir, path, fdHandle(path, loadBunFlock()));
  return lockPidFile(dir, path);
}
