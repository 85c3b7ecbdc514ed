/**
 * The event-loop block detector: a timer that should fire every {@link LOOP_SAMPLE_MS} measures
 * how late it fires. Lateness is time the loop spent on something else without yielding — a
 * long apply, a GC pause, a synchronous encode — and on a Raft node it is time without
 * heartbeats. The node keeps the longest block and a histogram of the samples (exported as
 * `tinykv_event_loop_block_seconds`, shown in INFO as `loop_block_max_ms`); the clock and timer
 * are the node's injected ones, so the simulation runs it too.
 *
 * Given the JS thread's times (`thread_times.ts`, Linux), each sample also splits its lateness
 * into time the thread ran and time it was runnable but waited for a CPU: the node keeps the total
 * wait and the wait within its longest block, so an operator can tell a node busy with its own
 * work from a machine short of cores.
 * @module
 */
import type { Cancel, Clock, Scheduler } from "./time.ts";
import type { ThreadSample, ThreadTimes } from "./thread_times.ts";

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
  /**
   * Of the longest block, the time the JS thread was runnable but waited for a CPU (ms; 0 where
   * thread times cannot be read).
   */
  maxWaitMs: number;
  /** Time the JS thread waited for a CPU since the detector started (ms; 0 without thread times). */
  waitMs: number;
}

/** Samples the event loop's lateness on the node's clock and timers. */
export class LoopMonitor {
  readonly stats: LoopBlockStats = {
    counts: new Array(LOOP_BLOCK_BUCKETS_MS.length + 1).fill(0),
    samples: 0,
    sumMs: 0,
    maxMs: 0,
    maxWaitMs: 0,
    waitMs: 0,
  };
  readonly #clock: Clock;
  readonly #scheduler: Scheduler;
  #cancel: Cancel | null = null;
  readonly #times: ThreadTimes | null;
  #last = 0;
  #lastTimes: ThreadSample | null = null;

  /** `times`: the JS thread's run and wait times, when the platform gives them. */
  constructor(clock: Clock, scheduler: Scheduler, times: ThreadTimes | null = null) {
    this.#clock = clock;
    this.#scheduler = scheduler;
    this.#times = times;
  }

  start(): void {
    if (this.#cancel !== null) return;
    this.#last = this.#clock.monoMs();
    this.#lastTimes = this.#times?.sample() ?? null;
    this.#cancel = this.#scheduler.interval(LOOP_SAMPLE_MS, () => this.#sample());
  }

  stop(): void {
    this.#cancel?.();
    this.#cancel = null;
  }

  /**
   * Records one sample of `lateMs`, of which the JS thread waited `waitMs` for a CPU during the
   * sample's interval (exposed for tests).
   */
  record(lateMs: number, waitMs = 0): void {
    const s = this.stats;
    const late = Math.max(0, lateMs);
    const wait = Math.max(0, waitMs);
    s.waitMs += wait;
    let b = 0;
    while (b < LOOP_BLOCK_BUCKETS_MS.length && late > LOOP_BLOCK_BUCKETS_MS[b]) b++;
    s.counts[b]++;
    s.samples++;
    s.sumMs += late;
    if (late > s.maxMs) {
      s.maxMs = late;
      // The interval was LOOP_SAMPLE_MS + late long; the wait cannot have been more of the block.
      s.maxWaitMs = Math.min(wait, late);
    }
  }

  #sample(): void {
    const now = this.#clock.monoMs();
    const t = this.#times?.sample() ?? null;
    const prev = this.#lastTimes;
    this.#lastTimes = t;
    this.record(now - this.#last - LOOP_SAMPLE_MS, t && prev ? t.waitMs - prev.waitMs : 0);
    this.#last = now;
  }
}
