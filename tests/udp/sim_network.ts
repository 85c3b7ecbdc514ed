/**
 * A seeded, virtual-time network for the sans-I/O UDP core: endpoints exchange datagrams over a
 * link that can lose, duplicate, reorder, jitter, rate-limit and black out traffic. Every run
 * replays exactly from its seed.
 * @module
 */
import { resolveUdpConfig, type UdpConfigInput } from "../../transports/udp/config.ts";
import type { PeerAddress } from "../../transports/udp/connection_core.ts";
import { UdpEndpoint } from "../../transports/udp/endpoint.ts";
import type { UdpConnectionCore } from "../../transports/udp/connection_core.ts";

/** mulberry32: floats in [0, 1) from a 32-bit seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Link behaviour (applies to both directions). */
export interface LinkOptions {
  /** One-way base delay (ms). */
  delayMs: number;
  /** Extra uniform random delay in [0, jitterMs) (ms). */
  jitterMs?: number;
  /** Probability a datagram is dropped. */
  loss?: number;
  /** Probability a datagram is delivered twice. */
  duplicate?: number;
  /** Probability a datagram is held back by `reorderDelayMs` extra. */
  reorder?: number;
  reorderDelayMs?: number;
  /** Bottleneck rate in bytes per ms (absent = unlimited). */
  bytesPerMs?: number;
  /** Bottleneck queue in bytes; datagrams beyond it are dropped (drop-tail). */
  queueBytes?: number;
  /** Windows `[start, end)` of virtual time during which everything is dropped. */
  blackouts?: [number, number][];
}

interface InFlight {
  at: number;
  seq: number;
  bytes: Uint8Array;
  from: PeerAddress;
  to: PeerAddress;
}

/** The simulated network. */
export class SimNetwork {
  now = 0;
  readonly rand: () => number;
  link: LinkOptions;
  readonly endpoints = new Map<string, UdpEndpoint>();
  readonly #addr = new Map<UdpEndpoint, PeerAddress>();
  #queue: InFlight[] = [];
  #seq = 0;
  /** Per-direction time the bottleneck is busy until. */
  readonly #busyUntil = new Map<string, number>();
  delivered = 0;
  dropped = 0;

  constructor(seed: number, link: LinkOptions) {
    this.rand = prng(seed);
    this.link = link;
  }

  /** Config input with a seeded random source. */
  config(input: UdpConfigInput): ReturnType<typeof resolveUdpConfig> {
    const r = this.rand;
    return resolveUdpConfig({
      random: () => Math.floor(r() * 0x1_0000_0000),
      resetKey: new Uint8Array(32).fill(7),
      ...input,
    });
  }

  /** Adds an endpoint at `host:port`. */
  add(endpoint: UdpEndpoint, host: string, port: number): PeerAddress {
    const a = { host, port };
    this.endpoints.set(`${host}:${port}`, endpoint);
    this.#addr.set(endpoint, a);
    return a;
  }

  /** Replaces the endpoint at an address (a restart). */
  replace(endpoint: UdpEndpoint, at: PeerAddress): void {
    this.endpoints.set(`${at.host}:${at.port}`, endpoint);
    this.#addr.set(endpoint, at);
  }

  /** Injects a raw datagram to arrive after the link delay. */
  inject(bytes: Uint8Array, from: PeerAddress, to: PeerAddress): void {
    this.#enqueue({ at: this.now + this.link.delayMs, seq: this.#seq++, bytes, from, to });
  }

  #enqueue(f: InFlight): void {
    const q = this.#queue;
    let lo = 0;
    let hi = q.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (q[mid].at < f.at || (q[mid].at === f.at && q[mid].seq < f.seq)) lo = mid + 1;
      else hi = mid;
    }
    q.splice(lo, 0, f);
  }

  #transmit(bytes: Uint8Array, from: PeerAddress, to: PeerAddress): void {
    const l = this.link;
    const r = this.rand;
    for (const [s, e] of l.blackouts ?? []) {
      if (this.now >= s && this.now < e) {
        this.dropped++;
        return;
      }
    }
    if (l.loss && r() < l.loss) {
      this.dropped++;
      return;
    }
    let at = this.now + l.delayMs;
    if (l.bytesPerMs) {
      const key = `${from.host}:${from.port}>${to.host}:${to.port}`;
      const busy = Math.max(this.#busyUntil.get(key) ?? 0, this.now);
      const backlog = (busy - this.now) * l.bytesPerMs;
      if (backlog + bytes.length > (l.queueBytes ?? Infinity)) {
        this.dropped++;
        return;
      }
      const done = busy + bytes.length / l.bytesPerMs;
      this.#busyUntil.set(key, done);
      at = done + l.delayMs;
    }
    if (l.jitterMs) at += r() * l.jitterMs;
    if (l.reorder && r() < l.reorder) at += l.reorderDelayMs ?? 3 * l.delayMs;
    this.#enqueue({ at, seq: this.#seq++, bytes, from, to });
    if (l.duplicate && r() < l.duplicate) {
      this.#enqueue({ at: at + r() * 2 * l.delayMs, seq: this.#seq++, bytes, from, to });
    }
  }

  /** Sends everything the endpoints have due. */
  flush(): void {
    const buf = new Uint8Array(1500);
    for (const ep of this.endpoints.values()) {
      const from = this.#addr.get(ep)!;
      for (let i = 0; i < 100_000; i++) {
        const n = ep.poll(this.now, buf);
        if (n === 0) break;
        this.#transmit(buf.slice(0, n), from, ep.polledAddress);
      }
    }
  }

  /**
   * Runs until `done()` holds, virtual time passes `maxTime`, or nothing remains to happen.
   * Returns true when `done()` held.
   */
  run(done: () => boolean, maxTime: number, maxSteps = 2_000_000): boolean {
    let sameTimeSteps = 0;
    let lastNow = -1;
    for (let step = 0; step < maxSteps; step++) {
      if (this.now === lastNow) {
        if (++sameTimeSteps > 10_000) throw new Error(`livelock: time stuck at ${this.now}`);
      } else {
        sameTimeSteps = 0;
        lastNow = this.now;
      }
      if (done()) return true;
      this.flush();
      let t = this.#queue.length > 0 ? this.#queue[0].at : Infinity;
      for (const ep of this.endpoints.values()) t = Math.min(t, ep.nextTimeout());
      if (t === Infinity || t > maxTime) {
        this.now = Math.max(this.now, Math.min(t, maxTime));
        return done();
      }
      if (t > this.now) this.now = t;
      while (this.#queue.length > 0 && this.#queue[0].at <= this.now) {
        const f = this.#queue.shift()!;
        const ep = this.endpoints.get(`${f.to.host}:${f.to.port}`);
        if (!ep) continue;
        this.delivered++;
        ep.handleDatagram(f.bytes, f.from, this.now);
      }
      for (const ep of this.endpoints.values()) {
        if (ep.nextTimeout() <= this.now) ep.onTimeout(this.now);
      }
    }
    return done();
  }
}

/** Records what a connection delivered. */
export class Recorder {
  readonly messages: Uint8Array[] = [];
  readonly errors: string[] = [];
  closeReason: string | null = null;
  established = false;

  /** Binds to a core connection. */
  attach(conn: UdpConnectionCore, onMessage?: (m: Uint8Array) => void): void {
    conn.events = {
      onEstablished: () => {
        this.established = true;
      },
      onMessage: (m) => {
        this.messages.push(m);
        onMessage?.(m);
      },
      onError: (kind, detail) => {
        this.errors.push(`${kind}: ${detail}`);
      },
      onClose: (reason) => {
        this.closeReason = reason;
      },
    };
  }
}

/** A deterministic message: 4-byte index, then bytes derived from index and seed. */
export function makeMessage(index: number, size: number, seed: number): Uint8Array {
  const m = new Uint8Array(size);
  let x = (index * 2654435761 + seed) >>> 0;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    m[i] = x >>> 24;
  }
  if (size >= 4) new DataView(m.buffer).setUint32(0, index);
  return m;
}

/** Message sizes from 1 byte to several hundred KB (a few large ones, fragmented). */
export function messageSizes(count: number, rand: () => number): number[] {
  const sizes: number[] = [];
  for (let i = 0; i < count; i++) {
    const r = rand();
    if (i === 0) sizes.push(1);
    else if (i === 1) sizes.push(300 * 1024);
    else if (r < 0.6) sizes.push(1 + Math.floor(rand() * 200));
    else if (r < 0.9) sizes.push(1000 + Math.floor(rand() * 5000));
    else if (r < 0.97) sizes.push(20_000 + Math.floor(rand() * 60_000));
    else sizes.push(100_000 + Math.floor(rand() * 300_000));
  }
  return sizes;
}

/** True when two byte arrays are equal. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
