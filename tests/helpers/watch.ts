/** Helpers for watch tests: take events from a watcher, bounded in time. */
import type { Watcher, WatchEvent } from "../../client/watch.ts";

/** Takes `n` events from `w`; cancels it and throws after `ms`. */
export async function take(w: Watcher, n: number, ms = 15_000): Promise<WatchEvent[]> {
  const out: WatchEvent[] = [];
  if (n === 0) return out;
  const it = w[Symbol.asyncIterator]();
  const timer = setTimeout(() => w.cancel(), ms);
  try {
    while (out.length < n) {
      const r = await it.next();
      if (r.done) throw new Error(`watch ended after ${out.length} of ${n} events`);
      out.push(r.value);
    }
  } finally {
    clearTimeout(timer);
  }
  return out;
}
