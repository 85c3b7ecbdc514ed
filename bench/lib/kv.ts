/**
 * The "kv-atomic-100" benchmark: atomic operations of 100 mutations with one check each (the
 * worker's guard key at the versionstamp it last wrote; with `conflictRate` a share of commits
 * checks a stale versionstamp and fails), through a `Deno.Kv`-shaped API: TinyKV's `openKv`
 * against a cluster, or a local `Deno.openKv` doing exactly the same, so the two can be compared
 * in one run (bench/kv.ts).
 * @module
 */
import { mulberry32, seededBytes } from "./prng.ts";

/** What the workload needs of a store (TinyKV's `Kv` and `Deno.Kv` both fit). */
export interface AtomicKv {
  atomic(): {
    check(c: { key: (string | number)[]; versionstamp: string | null }): unknown;
    set(key: (string | number)[], value: unknown): unknown;
    commit(): Promise<{ ok: boolean; versionstamp?: string }>;
  };
}

/** Workload options. */
export interface KvAtomicOptions {
  /** Concurrent workers (each with its own guard key). Default 10. */
  workers?: number;
  /** Mutations per atomic operation (the guard's set included). Default 100. */
  batch?: number;
  /** Run time in ms. */
  durationMs: number;
  /** Share of commits that check a stale versionstamp (and fail). Default 0. */
  conflictRate?: number;
  /** Value bytes per mutation. Default 100. */
  valueBytes?: number;
  /** PRNG seed. Default 1. */
  seed?: number;
}

/** What one run measured. */
export interface KvAtomicResult {
  commits: number;
  /** Commits whose check failed (all from the injected conflicts). */
  conflicts: number;
  /** Mutations applied per second (commits that succeeded × batch / s). */
  mutationsPerSec: number;
  /** Atomic operations (successful or not) per second. */
  commitsPerSec: number;
  /** Median and 99th percentile commit latency in ms. */
  p50Ms: number;
  p99Ms: number;
}

/** One run's result from its start time, commit latencies (sorted here) and counts. */
function summary(
  start: number,
  lat: number[],
  commits: number,
  conflicts: number,
  applied: number,
): KvAtomicResult {
  const secs = (Date.now() - start) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p: number) =>
    lat.length === 0 ? 0 : lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  return {
    commits,
    conflicts,
    mutationsPerSec: applied / secs,
    commitsPerSec: commits / secs,
    p50Ms: q(0.5),
    p99Ms: q(0.99),
  };
}

/** Runs the workload against `kv` for `durationMs`. */
export async function runKvAtomic(kv: AtomicKv, o: KvAtomicOptions): Promise<KvAtomicResult> {
  const workers = o.workers ?? 10;
  const batch = o.batch ?? 100;
  const conflictRate = o.conflictRate ?? 0;
  const value = seededBytes(o.valueBytes ?? 100, o.seed ?? 1);
  const rnd = mulberry32(o.seed ?? 1);
  const end = Date.now() + o.durationMs;
  const lat: number[] = [];
  let commits = 0, conflicts = 0, applied = 0;
  const start = Date.now();
  await Promise.all(Array.from({ length: workers }, async (_, w) => {
    const guard = ["bench", w, "guard"];
    let stamp: string | null = null;
    let seq = 0;
    while (Date.now() < end) {
      const a = kv.atomic();
      const stale = conflictRate > 0 && stamp !== null && rnd() < conflictRate;
      a.check({ key: guard, versionstamp: stale ? "00000000000000000000" : stamp });
      a.set(guard, seq);
      for (let i = 1; i < batch; i++) a.set(["bench", w, (seq * batch + i) % 10_000], value);
      const t0 = performance.now();
      const r = await a.commit();
      lat.push(performance.now() - t0);
      commits++;
      seq++;
      if (r.ok) {
        stamp = r.versionstamp ?? null;
        applied += batch;
      } else conflicts++;
    }
  }));
  return summary(start, lat, commits, conflicts, applied);
}

/** What the plain reference needs of a client (TinyKV's `Client`). */
export interface BatchClient {
  batch(commands: (string | Uint8Array)[][]): Promise<unknown>;
}

/**
 * The reference the issue measures atomic batches against: plain batch-100 SETs (no check, no
 * KV encoding) by the same number of workers, as mutations per second.
 */
export async function runPlainBatch(c: BatchClient, o: KvAtomicOptions): Promise<KvAtomicResult> {
  const workers = o.workers ?? 10;
  const batch = o.batch ?? 100;
  const value = seededBytes(o.valueBytes ?? 100, o.seed ?? 1);
  const end = Date.now() + o.durationMs;
  const lat: number[] = [];
  let commits = 0;
  const start = Date.now();
  await Promise.all(Array.from({ length: workers }, async (_, w) => {
    let seq = 0;
    while (Date.now() < end) {
      const cmds: (string | Uint8Array)[][] = [];
      for (let i = 0; i < batch; i++) cmds.push(["SET", `plain:${w}:${seq++ % 10_000}`, value]);
      const t0 = performance.now();
      await c.batch(cmds);
      lat.push(performance.now() - t0);
      commits++;
    }
  }));
  return summary(start, lat, commits, 0, commits * batch);
}
