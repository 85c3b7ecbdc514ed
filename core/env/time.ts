/**
 * Time, timers and randomness as the node sees them. Every part of the node reads the clock and
 * starts timers only through these interfaces, so a seeded simulation can drive the real node
 * with a simulated clock and scheduler; {@link realClock}, {@link realScheduler} and
 * `Math.random` are the production implementations (and the only place in `core/node/` that
 * touches the runtime's clocks and timers).
 * @module
 */
import { clearImmediate, setImmediate } from "node:timers";

/** The node's clocks. */
export interface Clock {
  /** Wall-clock time in ms since the epoch (the leader's entry time; expiry on every replica). */
  wallMs(): number;
  /** Monotonic ms (durations, deadlines, lag); never goes backwards, unrelated to the epoch. */
  monoMs(): number;
}

/** Cancels a scheduled callback (no effect once it ran or was cancelled). */
export type Cancel = () => void;

/** Timers. Callbacks run later, never synchronously inside the call that schedules them. */
export interface Scheduler {
  /** Runs `fn` every `ms` until cancelled. */
  interval(ms: number, fn: () => void): Cancel;
  /** Runs `fn` once after `ms`. */
  timeout(ms: number, fn: () => void): Cancel;
  /** Runs `fn` once on the next turn of the event loop, after pending I/O callbacks. */
  immediate(fn: () => void): Cancel;
}

/** A random source in [0, 1), like `Math.random`. */
export type Random = () => number;

/** The runtime's clocks. */
export const realClock: Clock = {
  wallMs: () => Date.now(),
  monoMs: () => performance.now(),
};

/** The runtime's timers. */
export const realScheduler: Scheduler = {
  interval(ms, fn) {
    const t = setInterval(fn, ms);
    return () => clearInterval(t);
  },
  timeout(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
  immediate(fn) {
    const t = setImmediate(fn);
    return () => clearImmediate(t);
  },
};

/** The runtime's random source. */
export const realRandom: Random = Math.random;

/** Resolves after `ms` on `scheduler`. */
export function sleep(scheduler: Scheduler, ms: number): Promise<void> {
  return new Promise((r) => scheduler.timeout(ms, r));
}

/** Resolves on the next turn of `scheduler` (lets other work run during a long task). */
export function nextTurn(scheduler: Scheduler): Promise<void> {
  return new Promise((r) => scheduler.immediate(r));
}

/**
 * Turns for a long background task that leave most of the event loop to other work: each call
 * waits `ratio` times as long as the task worked since the previous turn ended (at most
 * `maxPauseMs`; at least one turn). With `ratio` 2 the task takes at most a third of the loop
 * however busy the node is. The time is read on `clock`, so a simulation whose clock does not
 * move while code runs gets plain turns.
 */
export function pacedTurns(
  clock: Clock,
  scheduler: Scheduler,
  ratio: number,
  maxPauseMs: number,
): () => Promise<void> {
  let last = clock.monoMs();
  return async () => {
    const pause = Math.min(maxPauseMs, (clock.monoMs() - last) * ratio);
    if (pause >= 1) await sleep(scheduler, pause);
    else await nextTurn(scheduler);
    last = clock.monoMs();
  };
}
