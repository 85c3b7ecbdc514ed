/**
 * A UDP proxy for tests and benchmarks: forwards datagrams between clients and one server while dropping a
 * seeded fraction and holding some back (reordering). Each client address gets its own upstream
 * socket, so the server sees one address per client. Uses the runtime's socket adapter.
 *
 * The target may be unknown when the proxy starts (`target: null`, datagrams from clients are
 * dropped until `setTarget`), so a cluster can be configured with proxy addresses before its
 * nodes have bound their ephemeral ports.
 * @module
 */
import type { PeerAddress } from "../transports/udp/connection_core.ts";
import type { DatagramSocket } from "../transports/udp/datagram_socket.ts";
import { runtimeSocketFactory } from "../transports/udp/mod.ts";

/** Proxy settings. */
export interface LossyProxyOptions {
  /** Where datagrams from clients go (null: nowhere yet, see `setTarget`). */
  target: PeerAddress | null;
  /** Fraction of datagrams dropped in each direction (0..1). */
  dropRate: number;
  /** Fraction of datagrams delayed by `reorderDelayMs` (so later ones overtake them). */
  reorderRate?: number;
  reorderDelayMs?: number;
  /** Seed of the drop/reorder decisions. */
  seed: number;
  /** Address to listen on (default 127.0.0.1, ephemeral port). */
  host?: string;
}

/** Counters of what the proxy did. */
export interface LossyProxyStats {
  forwarded: number;
  dropped: number;
  reordered: number;
}

/** A running proxy. */
export interface LossyProxy {
  readonly host: string;
  readonly port: number;
  readonly stats: LossyProxyStats;
  /** Changes the drop rate (e.g. 1 for a blackout). */
  setDropRate(rate: number): void;
  /** Sets where datagrams from clients go from now on. */
  setTarget(target: PeerAddress): void;
  /**
   * Takes the proxy down like the process behind it (its port closes, so senders get ICMP port
   * unreachable and its upstream connections are forgotten) or brings it back on the same port.
   */
  setDown(down: boolean): Promise<void>;
  /** Closes every socket and pending timer. */
  close(): void;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Starts a lossy proxy in front of `opts.target`. */
export async function startLossyProxy(opts: LossyProxyOptions): Promise<LossyProxy> {
  const host = opts.host ?? "127.0.0.1";
  const rand = mulberry32(opts.seed);
  let dropRate = opts.dropRate;
  let target = opts.target;
  const stats: LossyProxyStats = { forwarded: 0, dropped: 0, reordered: 0 };
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const upstreams = new Map<string, Promise<DatagramSocket>>();
  let closed = false;
  let down = false;

  const forward = (socket: DatagramSocket, bytes: Uint8Array, to: PeerAddress): void => {
    if (closed || down) return;
    if (rand() < dropRate) {
      stats.dropped++;
      return;
    }
    const copy = bytes.slice();
    const send = () => {
      if (closed || down) return;
      stats.forwarded++;
      socket.sendBatch([copy], [to], 1);
    };
    if (opts.reorderRate && rand() < opts.reorderRate) {
      stats.reordered++;
      const t = setTimeout(() => {
        timers.delete(t);
        send();
      }, opts.reorderDelayMs ?? 5);
      timers.add(t);
    } else {
      send();
    }
  };

  const noop = () => {};
  const frontEvents = {
    datagram(bytes: Uint8Array, h: string, p: number) {
      const key = `${h}:${p}`;
      let up = upstreams.get(key);
      if (!up) {
        const client = { host: h, port: p };
        up = runtimeSocketFactory(host, 0, {
          datagram: (b) => forward(front, b, client),
          drain: noop,
          error: noop,
        });
        upstreams.set(key, up);
      }
      const to = target;
      if (!to) return;
      const copy = bytes.slice();
      up.then((s) => forward(s, copy, to), noop);
    },
    drain: noop,
    error: noop,
  };
  let front: DatagramSocket = await runtimeSocketFactory(host, 0, frontEvents);
  const port = front.port;

  const closeSockets = () => {
    for (const t of timers) clearTimeout(t);
    timers.clear();
    front.close();
    for (const up of upstreams.values()) up.then((s) => s.close(), noop);
    upstreams.clear();
  };

  return {
    host,
    port,
    stats,
    setDropRate(rate: number) {
      dropRate = rate;
    },
    setTarget(t: PeerAddress) {
      target = t;
    },
    async setDown(d: boolean) {
      if (d === down || closed) return;
      down = d;
      if (d) closeSockets();
      else front = await runtimeSocketFactory(host, port, frontEvents);
    },
    close() {
      if (closed) return;
      closed = true;
      if (!down) closeSockets();
    },
  };
}
