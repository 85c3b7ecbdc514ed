/**
 * How the thread that runs JavaScript spent its time: on a CPU, or runnable but waiting for one.
 *
 * An event-loop block (see `loop_monitor.ts`) is either the node's own work — a long apply, a GC
 * pause — or time the thread was ready to run and the kernel gave the CPU to someone else: other
 * processes, or the runtime's own GC helper threads. Measured on the 2-core test machine with
 * three nodes and a benchmark client, most blocks over 50 ms were the second kind: in a 97 ms
 * block the JS thread ran 28 ms and waited 86 ms for a CPU, while V8's concurrent marking of a
 * 400 MB heap kept the node's other threads busy. The two kinds call for different fixes (fewer
 * processes per core, or less work per turn), so the node records both.
 *
 * On Linux the kernel keeps both per thread in `/proc/thread-self/schedstat` ("on-CPU ns,
 * run-queue wait ns, timeslices"); elsewhere, or where the file is missing, there is nothing to
 * read and the node records block lengths only. Reading costs one small synchronous `pread` per
 * sample of the detector (50 per second).
 * @module
 */
import * as fs from "node:fs";

/** A thread's cumulative times (ms since the thread started). */
export interface ThreadSample {
  /** Time on a CPU. */
  runMs: number;
  /** Time runnable but waiting for a CPU (the kernel's run-queue delay). */
  waitMs: number;
}

/** A source of {@link ThreadSample}s for the thread that runs JavaScript. */
export interface ThreadTimes {
  /** The times now, or null when they cannot be read. */
  sample(): ThreadSample | null;
}

/** Parses `/proc/<pid>/task/<tid>/schedstat` ("run_ns wait_ns slices"); null if malformed. */
export function parseSchedstat(text: string): ThreadSample | null {
  const m = /^(\d+) (\d+) \d+\s*$/.exec(text);
  if (m === null) return null;
  return { runMs: Number(m[1]) / 1e6, waitMs: Number(m[2]) / 1e6 };
}

const SCHEDSTAT = "/proc/thread-self/schedstat";

let shared: ThreadTimes | null | undefined;

/**
 * This JS thread's times from Linux's schedstat, or null where the file cannot be opened or parsed
 * (other systems, kernels without schedstats). One descriptor per thread, opened on first use and
 * kept (every node of a process shares it): `thread-self` is whichever thread opens the file, and
 * the descriptor keeps pointing at it, so it is opened here, on the thread that runs JavaScript
 * (a worker has its own module instance, hence its own).
 */
export function jsThreadTimes(): ThreadTimes | null {
  if (shared === undefined) shared = open();
  return shared;
}

function open(): ThreadTimes | null {
  let fd: number;
  try {
    fd = fs.openSync(SCHEDSTAT, "r");
  } catch {
    return null;
  }
  const buf = new Uint8Array(96);
  const read = (): ThreadSample | null => {
    try {
      const n = fs.readSync(fd, buf, 0, buf.length, 0);
      let s = "";
      for (let i = 0; i < n; i++) s += String.fromCharCode(buf[i]);
      return parseSchedstat(s);
    } catch {
      return null;
    }
  };
  if (read() === null) {
    fs.closeSync(fd);
    return null;
  }
  return { sample: read };
}
