/**
 * A deterministic environment for the real node without sockets or real time: a manual
 * {@link FakeScheduler} (timers fire only when the test advances time), a {@link Clock} that reads
 * its time, and an in-memory {@link MemoryNetwork} transport whose listeners are reached by
 * `host:port` and whose messages are delivered on the scheduler's next turn.
 */
import { setImmediate as realImmediate } from "node:timers";
import type { Cancel, Clock, Scheduler } from "../../core/env/time.ts";
import type {
  Connection,
  ConnectionHandler,
  Listener,
  Transport,
  TransportOptions,
} from "../../transports/types.ts";

interface Timer {
  at: number;
  seq: number;
  every: number;
  fn: () => void;
  live: boolean;
}

/** Timers that run only when the test calls `run`. Counts what was scheduled. */
export class FakeScheduler implements Scheduler {
  now = 0;
  #seq = 0;
  #timers: Timer[] = [];
  #immediates: Timer[] = [];
  /** Every `timeout` requested (ms), for assertions. */
  readonly timeouts: number[] = [];

  interval(ms: number, fn: () => void): Cancel {
    const t = { at: this.now + ms, seq: ++this.#seq, every: Math.max(1, ms), fn, live: true };
    this.#timers.push(t);
    return () => t.live = false;
  }

  timeout(ms: number, fn: () => void): Cancel {
    this.timeouts.push(ms);
    const t = { at: this.now + ms, seq: ++this.#seq, every: 0, fn, live: true };
    this.#timers.push(t);
    return () => t.live = false;
  }

  immediate(fn: () => void): Cancel {
    const t = { at: this.now, seq: ++this.#seq, every: 0, fn, live: true };
    this.#immediates.push(t);
    return () => t.live = false;
  }

  /** Timers still waiting (not cancelled). */
  get pendingTimers(): number {
    return this.#timers.filter((t) => t.live).length;
  }

  /**
   * Advances time by `ms`: runs immediates (and the promise jobs they start) until none are left,
   * then the earliest due timer, and so on. Bounded: throws after `maxSteps` callbacks.
   */
  async run(ms: number, maxSteps = 1_000_000): Promise<void> {
    const end = this.now + ms;
    let steps = 0;
    for (;;) {
      await settle();
      if (this.#immediates.length > 0) {
        const batch = this.#immediates;
        this.#immediates = [];
        for (const t of batch) if (t.live) t.fn();
      } else {
        this.#timers = this.#timers.filter((t) => t.live);
        let next: Timer | undefined;
        for (const t of this.#timers) {
          if (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq)) next = t;
        }
        if (!next || next.at > end) break;
        this.now = Math.max(this.now, next.at);
        if (next.every > 0) next.at += next.every;
        else next.live = false;
        next.fn();
      }
      if (++steps > maxSteps) throw new Error(`fake scheduler: more than ${maxSteps} steps`);
    }
    this.now = end;
    await settle();
  }

  /** Runs until `pred` holds, `step` ms at a time, at most `ms` of fake time. */
  async until(what: string, pred: () => boolean, ms = 10_000, step = 5): Promise<void> {
    const end = this.now + ms;
    while (!pred()) {
      if (this.now >= end) throw new Error(`timed out (fake ${ms} ms) waiting for ${what}`);
      await this.run(step);
    }
  }
}

/** Lets promise jobs (and real I/O callbacks already due) run. */
function settle(): Promise<void> {
  return new Promise((r) => realImmediate(r));
}

/** A clock reading the fake scheduler's time (wall = a fixed epoch + it). */
export function fakeClock(s: FakeScheduler, epochMs = 1_700_000_000_000): Clock {
  return { wallMs: () => epochMs + s.now, monoMs: () => s.now };
}

class MemConn implements Connection {
  static #ids = 0;
  readonly id = ++MemConn.#ids;
  closed = false;
  peer!: MemConn;
  handler!: ConnectionHandler;
  constructor(readonly remoteAddress: string, readonly net: MemoryNetwork) {}

  send(message: Uint8Array): boolean {
    if (this.closed) return false;
    const to = this.peer;
    const copy = message.slice();
    this.net.scheduler.immediate(() => {
      if (!to.closed) to.handler.onMessage(to, copy);
    });
    return true;
  }

  bufferedBytes(): number {
    return 0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const peer = this.peer;
    this.net.scheduler.immediate(() => {
      this.handler.onClose?.(this);
      if (!peer.closed) {
        peer.closed = true;
        peer.handler.onClose?.(peer);
      }
    });
  }
}

/** An in-memory network: one `Transport` per node, all sharing the listeners' address book. */
export class MemoryNetwork {
  readonly #listeners = new Map<string, (c: Connection) => ConnectionHandler>();
  #nextPort = 20_000;
  constructor(readonly scheduler: FakeScheduler) {}

  /** A transport on this network. */
  transport(): Transport {
    return {
      name: "tcp",
      listen: (opts: TransportOptions, accept): Promise<Listener> => {
        const port = opts.port || this.#nextPort++;
        const key = `${opts.host}:${port}`;
        if (this.#listeners.has(key)) return Promise.reject(new Error(`${key}: address in use`));
        this.#listeners.set(key, accept);
        return Promise.resolve({
          port,
          host: opts.host,
          close: () => {
            this.#listeners.delete(key);
            return Promise.resolve();
          },
        });
      },
      connect: (opts: TransportOptions, handler: ConnectionHandler): Promise<Connection> => {
        const accept = this.#listeners.get(`${opts.host}:${opts.port}`);
        if (!accept) {
          return Promise.reject(new Error(`connection refused: ${opts.host}:${opts.port}`));
        }
        const a = new MemConn(`${opts.host}:${opts.port}`, this);
        const b = new MemConn("mem:client", this);
        a.peer = b;
        b.peer = a;
        a.handler = handler;
        b.handler = accept(b);
        return Promise.resolve(a);
      },
    };
  }

  /** A client connection to `host:port` collecting decoded replies with `decode`. */
  connect(addr: string): { conn: Connection; received: Uint8Array[] } {
    const i = addr.lastIndexOf(":");
    const accept = this.#listeners.get(addr);
    if (!accept) throw new Error(`nothing listens on ${addr}`);
    const received: Uint8Array[] = [];
    const a = new MemConn(addr, this);
    const b = new MemConn(`mem:${addr.slice(0, i)}`, this);
    a.peer = b;
    b.peer = a;
    a.handler = { onMessage: (_c, m) => received.push(m) };
    b.handler = accept(b);
    return { conn: a, received };
  }
}
