/**
 * The event-loop block detector: a timer that should fire every {@link LOOP_SAMPLE_MS} measures
 * how late it fires. Lateness is time the loop spent on something else without yielding — a
 * long apply, a GC pause, a synchronous encode — and on a Raft node it is time without
 * heartbeats. The node keeps the longest block and a histogram of the samples (exported as
 * `tinykv_event_loop_block_seconds`, shown in INFO as `loop_block_max_ms`); the clock and timer
 * are the node's injected ones, so the simulation runs it too.
 * @module
 */
import type { Cancel, Clock, Scheduler } from "./time.ts";

/** How often the detector's timer should fire (ms). A block is seen to within this. */
export const LOOP_SAMPLE_MS = 20;

/** Upper bounds (ms) of the histogram's buckets; one more bucket counts everything above. */
export const LOOP_BLOCK_BUCKETS_MS: readonly number[] = [5, 10, 25, 50, 100, 250, 500, 1000, 2500];

/** What the detector has seen (a live object: read it, do not keep copies of its arrays). */
export interface LoopBlockStats {
  /** Samples per bucket of {@link LOOP_BLOCK_BUCKETS_MS}, plus one for larger blocks. */
  readonly counts: number[];
  /** Samples taken. */
  samples: number;
  /** Sum of the samples' lateness (ms). */
  sumMs: number;
  /** Longest block seen since start (ms). */
  maxMs: number;
}

/** Samples the event loop's lateness on the node's clock and timers. */
export class LoopMonitor {
  readonly stats: LoopBlockStats = {
    counts: new Array(LOOP_BLOCK_BUCKETS_MS.length + 1).fill(0),
    samples: 0,
    sumMs: 0,
    maxMs: 0,
  };
  readonly #clock: Clock;
  readonly #scheduler: Scheduler;
  #cancel: Cancel | null = null;
  #last = 0;

  constructor(clock: Clock, scheduler: Scheduler) {
    this.#clock = clock;
    this.#scheduler = scheduler;
  }

  start(): void {
    if (this.#cancel !== null) return;
    this.#last = this.#clock.monoMs();
    this.#cancel = this.#scheduler.interval(LOOP_SAMPLE_MS, () => this.#sample());
  }

  stop(): void {
    this.#cancel?.();
    this.#cancel = null;
  }

  /** Records one sample of `lateMs` (exposed for tests). */
  record(lateMs: number): void {
    const s = this.stats;
    const late = Math.max(0, lateMs);
    let b = 0;
    while (b < LOOP_BLOCK_BUCKETS_MS.length && late > LOOP_BLOCK_BUCKETS_MS[b]) b++;
    s.counts[b]++;
    s.samples++;
    s.sumMs += late;
    if (late > s.maxMs) s.maxMs = late;
  }

  #sample(): void {
    const now = this.#clock.monoMs();
    this.record(now - this.#last - LOOP_SAMPLE_MS);
    this.#last = now;
  }
}
