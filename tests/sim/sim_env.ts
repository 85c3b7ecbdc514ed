/**
 * The simulated world the real node runs in (see docs/simulation.md): one virtual clock and
 * scheduler ({@link SimScheduler}) and a network of TCP-like connections ({@link SimNetwork}); the
 * disks are in sim_fs.ts. Everything is driven by one seeded PRNG, so a run is a pure function of
 * its seed.
 * @module
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
import { Prng } from "./prng.ts";

// ------------------------------------------------------------------------------------ scheduler

interface Timer {
  at: number;
  seq: number;
  every: number;
  fn: () => void;
  scope: Scope;
  live: boolean;
}

/** The timers of one owner (a node incarnation); killing it drops them all (a crash). */
export interface Scope {
  alive: boolean;
}

/**
 * A virtual-time scheduler: a binary heap of timers ordered by (time, sequence). Between two
 * callbacks it lets promise jobs run (a real `setImmediate` turn), so the node's async chains
 * progress without virtual time passing. Nothing here reads a real clock.
 */
export class SimScheduler {
  now = 0;
  steps = 0;
  #seq = 0;
  #heap: Timer[] = [];
  readonly root: Scope = { alive: true };

  #push(t: Timer): void {
    const h = this.#heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  #pop(): Timer | undefined {
    const h = this.#heap;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && before(h[l], h[m])) m = l;
        if (r < h.length && before(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }

  /** Schedules `fn` at `now + ms` (and every `every` ms after, if > 0) for `scope`. */
  at(ms: number, fn: () => void, scope: Scope = this.root, every = 0): Cancel {
    const t: Timer = {
      at: this.now + Math.max(0, ms),
      seq: ++this.#seq,
      every,
      fn,
      scope,
      live: true,
    };
    this.#push(t);
    return () => t.live = false;
  }

  /** A {@link Scheduler} whose timers belong to `scope`. */
  scheduler(scope: Scope): Scheduler {
    return {
      interval: (ms, fn) => this.at(ms, fn, scope, Math.max(1, ms)),
      timeout: (ms, fn) => this.at(ms, fn, scope),
      immediate: (fn) => this.at(0, fn, scope),
    };
  }

  /**
   * Runs callbacks in virtual-time order until `end` (or until `stop()` returns true, checked
   * after each callback). Bounded by `maxSteps` callbacks in all.
   */
  async runUntil(end: number, stop: () => boolean = () => false, maxSteps = 5_000_000) {
    for (;;) {
      await settle();
      const h = this.#heap;
      if (h.length === 0 || h[0].at > end || stop()) break;
      const t = this.#pop()!;
      if (!t.live || !t.scope.alive) continue;
      this.now = Math.max(this.now, t.at);
      if (t.every > 0) {
        t.at += t.every;
        t.seq = ++this.#seq;
        this.#push(t);
      } else t.live = false;
      if (++this.steps > maxSteps) throw new Error(`sim scheduler: more than ${maxSteps} steps`);
      t.fn();
    }
    if (!stop()) this.now = Math.max(this.now, end);
    await settle();
  }
}

function before(a: Timer, b: Timer): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** Lets every promise job already queued run (one real event-loop turn). */
function settle(): Promise<void> {
  return new Promise((r) => realImmediate(r));
}

/** The node's clock on the simulated time (wall = a fixed epoch + virtual ms). */
export function simClock(s: SimScheduler, epochMs = SIM_EPOCH_MS): Clock {
  return { wallMs: () => epochMs + s.now, monoMs: () => s.now };
}

/** Wall-clock epoch of virtual time 0. */
export const SIM_EPOCH_MS = 1_700_000_000_000;

// ------------------------------------------------------------------------------------ network

/** Knobs of the simulated network (probabilities per message). */
export interface NetworkFaults {
  /** Per message: the connection resets (this and later in-flight messages are lost). */
  resetRate: number;
  /** Base one-way delay range, ms. */
  minDelayMs: number;
  maxDelayMs: number;
  /** Per message: a long delay (up to `spikeMs`), which reorders across connections. */
  spikeRate: number;
  spikeMs: number;
}

class SimConn implements Connection {
  readonly id: number;
  closed = false;
  /** Reset: in-flight messages are lost. */
  broken = false;
  /** The receiver stopped reading (a frame over the limit / malformed). */
  deaf = false;
  closeNotified = false;
  peer!: SimConn;
  handler!: ConnectionHandler;
  /** Delivery time of the last message sent (delivery is FIFO per connection). */
  lastAt = 0;
  maxMessageBytes = Infinity;

  constructor(
    readonly net: SimNetwork,
    readonly localHost: string,
    readonly remoteHost: string,
    readonly remoteAddress: string,
  ) {
    this.id = net.nextConnId();
  }

  send(message: Uint8Array): boolean {
    if (this.closed) return false;
    this.net.send(this, message.slice());
    return true;
  }

  bufferedBytes(): number {
    return 0;
  }

  close(): void {
    this.net.close(this, false);
  }
}

interface ListenerEntry {
  host: string;
  port: number;
  maxMessageBytes: number;
  accept: (c: Connection) => ConnectionHandler;
}

/**
 * A network of TCP-like connections between named hosts, honouring the Transport contract: each
 * connection delivers whole messages, in order, at most once. So loss is a connection reset (the
 * message and everything still in flight on that connection are lost; both ends see `onClose`),
 * reordering happens across connections (independent delays, spikes), and duplication is what the
 * endpoints do on top (Raft retransmits, clients resend a batch on a new connection). Partitions
 * are directed host pairs: a message across a blocked direction resets its connection and a
 * connect across one (either direction) is refused.
 */
export class SimNetwork {
  readonly #listeners = new Map<string, ListenerEntry>();
  readonly #conns = new Set<SimConn>();
  readonly #blocked = new Set<string>();
  readonly #down = new Set<string>();
  #nextPort = 40_000;
  #connIds = 0;
  /** Counters for the run summary. */
  readonly stats = { sent: 0, delivered: 0, resets: 0, refused: 0 };

  constructor(
    readonly sched: SimScheduler,
    readonly rng: Prng,
    public faults: NetworkFaults,
    readonly trace: (s: string) => void,
  ) {}

  /** Connection ids are per network, so a run does not depend on earlier runs in the process. */
  nextConnId(): number {
    return ++this.#connIds;
  }

  /** Blocks messages from `a` to `b`. */
  block(a: string, b: string): void {
    this.#blocked.add(`${a}>${b}`);
  }

  /** Removes every partition. */
  heal(): void {
    this.#blocked.clear();
  }

  blocked(a: string, b: string): boolean {
    return this.#blocked.has(`${a}>${b}`);
  }

  /** A host crashed: its listeners go, its connections reset. */
  crash(host: string): void {
    this.#down.add(host);
    for (const [k, l] of this.#listeners) if (l.host === host) this.#listeners.delete(k);
    for (const c of [...this.#conns]) {
      if (c.localHost === host || c.remoteHost === host) this.close(c, true);
    }
  }

  /** A crashed host is back (its node will listen again). */
  revive(host: string): void {
    this.#down.delete(host);
  }

  #delay(): number {
    const f = this.faults;
    let d = f.minDelayMs + this.rng.next() * (f.maxDelayMs - f.minDelayMs);
    if (this.rng.chance(f.spikeRate)) d += this.rng.next() * f.spikeMs;
    return d;
  }

  send(c: SimConn, msg: Uint8Array): void {
    this.stats.sent++;
    if (this.blocked(c.localHost, c.remoteHost) || this.rng.chance(this.faults.resetRate)) {
      this.close(c, true);
      return;
    }
    const at = Math.max(c.lastAt, this.sched.now + this.#delay());
    c.lastAt = at;
    const to = c.peer;
    this.sched.at(at - this.sched.now, () => {
      if (c.broken || to.closed || to.deaf) return;
      if (msg.length > to.maxMessageBytes) {
        to.deaf = true;
        to.handler.onError?.(to, "too_large", `${msg.length} bytes > ${to.maxMessageBytes}`);
        return;
      }
      this.stats.delivered++;
      to.handler.onMessage(to, msg);
    });
  }

  /**
   * Delivers `msg` to the receiving end as a frame the transport could not parse
   * (`onError("malformed")`), as a TCP transport does for a bad length prefix.
   */
  sendMalformed(c: SimConn): void {
    const to = c.peer;
    const at = Math.max(c.lastAt, this.sched.now + this.#delay());
    c.lastAt = at;
    this.sched.at(at - this.sched.now, () => {
      if (c.broken || to.closed || to.deaf) return;
      to.deaf = true;
      to.handler.onError?.(to, "malformed", "bad frame header");
    });
  }

  /** Closes `c` (graceful: after what is in flight; reset: now, in-flight lost). */
  close(c: SimConn, reset: boolean): void {
    if (c.closed && !reset) return;
    const p = c.peer;
    if (reset) {
      if (c.broken && p.broken) return;
      this.stats.resets++;
      c.broken = p.broken = true;
    }
    c.closed = true;
    this.#conns.delete(c);
    this.#conns.delete(p);
    const notify = (x: SimConn) => {
      if (x.closeNotified) return;
      x.closeNotified = true;
      x.closed = true;
      x.handler.onClose?.(x);
    };
    // Our side learns at once (next turn); the peer after the last message in flight (or a
    // delay, for a reset).
    this.sched.at(0, () => notify(c));
    const at = reset ? this.sched.now + this.#delay() : Math.max(c.lastAt, this.sched.now) + 0.01;
    this.sched.at(at - this.sched.now, () => notify(p));
  }

  /** The transport of one host. */
  transport(host: string): Transport {
    return {
      name: "tcp",
      listen: (opts: TransportOptions, accept): Promise<Listener> => {
        const port = opts.port || this.#nextPort++;
        const key = `${opts.host}:${port}`;
        if (this.#listeners.has(key)) return Promise.reject(new Error(`${key}: address in use`));
        this.#listeners.set(key, {
          host: opts.host,
          port,
          maxMessageBytes: opts.maxMessageBytes,
          accept,
        });
        return Promise.resolve({
          port,
          host: opts.host,
          close: () => {
            if (this.#listeners.get(key)?.accept === accept) this.#listeners.delete(key);
            return Promise.resolve();
          },
        });
      },
      connect: (opts: TransportOptions, handler: ConnectionHandler): Promise<Connection> =>
        this.connect(host, opts.host, opts.port, opts.maxMessageBytes, handler),
    };
  }

  /** Connects from `from` to `host:port` after a network delay (refused across a partition). */
  connect(
    from: string,
    host: string,
    port: number,
    maxMessageBytes: number,
    handler: ConnectionHandler,
  ): Promise<Connection> {
    const key = `${host}:${port}`;
    return new Promise((resolve, reject) => {
      this.sched.at(2 * this.#delay(), () => {
        const l = this.#listeners.get(key);
        if (
          !l || this.#down.has(from) || this.blocked(from, host) || this.blocked(host, from)
        ) {
          this.stats.refused++;
          reject(new Error(`connection refused: ${key}`));
          return;
        }
        const a = new SimConn(this, from, host, key);
        const b = new SimConn(this, host, from, `${from}:${1024 + (a.id % 60000)}`);
        a.peer = b;
        b.peer = a;
        a.handler = handler;
        a.maxMessageBytes = maxMessageBytes;
        b.maxMessageBytes = l.maxMessageBytes;
        this.#conns.add(a);
        this.#conns.add(b);
        b.handler = l.accept(b);
        resolve(a);
      });
    });
  }
}
