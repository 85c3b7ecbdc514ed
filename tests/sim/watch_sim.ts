/**
 * Watch checks for the node simulation (#13 item 4): live watchers through the real client
 * library run through the chaos (crashes, partitions, resets, leader changes: they resume on other
 * nodes), and after healing every node serves a watch of everything it still holds. Checked: each
 * node's stream is in revision order without duplicates, streams of different nodes hold the same
 * events at every revision they both cover, and every live watcher's stream equals those events
 * at every revision it claims complete — no gap, no repeat, the same on every replica.
 * @module
 */
import { TinyKVClient } from "../../client/client.ts";
import {
  type ClientWatcher,
  type Watcher,
  WatchError,
  type WatchEvent,
  type WatchSpec,
} from "../../client/watch.ts";
import type { TinyKVNode } from "../../core/node/types.ts";
import type { Transport } from "../../transports/types.ts";

/** What the checks need from the simulation's world. */
export interface WatchWorld {
  readonly sched: {
    readonly now: number;
    at(ms: number, fn: () => void): unknown;
    runUntil(end: number, stop?: () => boolean): Promise<unknown>;
  };
  readonly net: { transport(host: string): Transport };
  readonly slots: readonly { host: string; spare: boolean; up: boolean; node: TinyKVNode | null }[];
  fail(what: string): void;
  trace(s: string): void;
}

/** One collected stream. */
interface Stream {
  readonly name: string;
  /** Events by revision (each revision's events in order), as comparable strings. */
  readonly byRev: Map<number, string[]>;
  /** First revision asked for. */
  from: number;
  /** Complete up to this revision (the watcher's `rev`). */
  to: number;
  error: string | null;
  watcher: Watcher;
  done: boolean;
  /** The consumer waits for the next event (everything received was taken). */
  idle: boolean;
}

const key = (b: Uint8Array) => String.fromCharCode(...b);
const show = (e: WatchEvent) =>
  `${e.type} ${key(e.key)}=${
    e.value === null ? "nil" : key(e.value)
  } c${e.createRev} m${e.modRev} v${e.version}`;

function simClient(w: WatchWorld, host: string, endpoints: string[], epoch: number): TinyKVClient {
  return new TinyKVClient({
    endpoints,
    clientId: `sim-watch-${host}`,
    connectTimeoutMs: 300,
    timers: {
      now: () => epoch + w.sched.now,
      timeout: (ms, fn) => w.sched.at(ms, fn) as () => void,
      immediate: (fn) => w.sched.at(0, fn) as () => void,
    },
  }, w.net.transport(host));
}

function collect(w: WatchWorld, name: string, watcher: Watcher, from: number): Stream {
  const s: Stream = {
    name,
    byRev: new Map(),
    from,
    to: from - 1,
    error: null,
    watcher,
    done: false,
    idle: false,
  };
  let last = 0;
  const seen = new Set<string>();
  void (async () => {
    try {
      const it = watcher[Symbol.asyncIterator]();
      for (;;) {
        s.idle = true;
        const n = await it.next();
        s.idle = false;
        if (n.done) break;
        const e = n.value;
        if (e.rev < last) w.fail(`watch ${name}: revision ${e.rev} after ${last} (out of order)`);
        last = e.rev;
        const id = `${e.rev}/${key(e.key)}`;
        if (seen.has(id)) w.fail(`watch ${name}: ${id} delivered twice`);
        seen.add(id);
        let l = s.byRev.get(e.rev);
        if (l === undefined) s.byRev.set(e.rev, l = []);
        l.push(show(e));
      }
    } catch (err) {
      s.error = err instanceof WatchError ? `${err.reason}: ${err.message}` : String(err);
    }
    s.to = Math.max(s.to, watcher.rev);
    s.done = true;
  })();
  return s;
}

/** True once `s` ended, or took every event up to `rev` (then `s.to` says how far it is complete). */
function caughtUp(s: Stream, rev: number): boolean {
  const x = s.watcher as ClientWatcher;
  if (x.ended) return s.done;
  if (!s.idle || x.pending > 0) return false;
  s.to = x.rev;
  return x.rev >= rev;
}

/** Live watchers started before the chaos (through the client library, every endpoint). */
export class LiveWatches {
  readonly #w: WatchWorld;
  readonly #client: TinyKVClient;
  readonly streams: Stream[] = [];

  constructor(w: WatchWorld, epoch: number, clientPort: number) {
    this.#w = w;
    const eps = w.slots.filter((s) => !s.spare).map((s) => `${s.host}:${clientPort}`);
    this.#client = simClient(w, "10.2.0.1", eps, epoch);
    const specs: [string, WatchSpec][] = [["all", { prefix: "", fromRev: 1 }], [
      "r0",
      { key: "r0", fromRev: 1 },
    ]];
    for (const [name, spec] of specs) {
      this.streams.push(collect(w, `live ${name}`, this.#client.watch(spec), 1));
    }
  }

  /** Ends the live watchers. */
  close(): void {
    for (const s of this.streams) s.watcher.cancel();
    void this.#client.close();
  }
}

/**
 * After healing: a watch of everything on every node (from its oldest revision), compared with
 * each other and with the live watchers' streams.
 */
export async function checkWatches(
  w: WatchWorld,
  live: LiveWatches,
  epoch: number,
  clientPort: number,
): Promise<void> {
  const finals: Stream[] = [];
  const clients: TinyKVClient[] = [];
  // The live watchers catch up with the healed cluster (all received events taken).
  const top = Math.min(
    ...w.slots.filter((s) => s.up && s.node).map((s) => s.node!.status().applied),
  );
  await w.sched.runUntil(w.sched.now + 3000, () => live.streams.every((s) => caughtUp(s, top)));
  for (const s of live.streams) {
    if (s.to < top && s.error === null) {
      w.fail(`${s.name}: did not catch up after healing (complete to ${s.to}, applied ${top})`);
    }
  }
  for (const slot of w.slots) {
    // A node without a leader (a spare removed from the cluster) refuses watches (NO_LEADER).
    if (!slot.up || slot.node === null || slot.node.status().leader === 0) continue;
    const c = simClient(w, `10.2.1.${finals.length + 1}`, [`${slot.host}:${clientPort}`], epoch);
    clients.push(c);
    const applied = slot.node.status().applied;
    let s = collect(w, `final n${slot.host}`, c.watch({ prefix: "", fromRev: 1 }), 1);
    await w.sched.runUntil(w.sched.now + 3000, () => caughtUp(s, applied));
    if (s.done && s.error?.startsWith("compacted")) {
      // A node restored from a snapshot holds only what came after it.
      const m = /is (\d+)$/.exec(s.error);
      const oldest = m ? Number(m[1]) : 1;
      s = collect(w, `final n${slot.host}`, c.watch({ prefix: "", fromRev: oldest }), oldest);
      await w.sched.runUntil(w.sched.now + 3000, () => caughtUp(s, applied));
    }
    if (s.to < applied) {
      w.fail(`watch on ${slot.host}: complete to ${s.to} only, applied ${applied} (${s.error})`);
    }
    finals.push(s);
  }
  // Every pair of final streams agrees at every revision both cover.
  const canonical = new Map<number, string>();
  const covered = (r: number) => finals.some((f) => r >= f.from && r <= f.to);
  for (const f of finals) {
    for (let r = f.from; r <= f.to; r++) {
      const here = (f.byRev.get(r) ?? []).join("; ");
      const was = canonical.get(r);
      if (was === undefined) canonical.set(r, here);
      else if (was !== here) {
        w.fail(`watch streams differ at revision ${r}: ${f.name} has [${here}], another [${was}]`);
        break;
      }
    }
  }
  // Live watchers: equal to the replicas' events at every revision they completed.
  for (const s of live.streams) {
    const single = s.name === "live r0";
    for (let r = s.from; r <= s.to; r++) {
      if (!covered(r)) continue;
      let want = canonical.get(r) ?? "";
      if (single) {
        want = want.split("; ").filter((x) => x.startsWith("put r0=") || x.startsWith("delete r0="))
          .join("; ");
      }
      const got = (s.byRev.get(r) ?? []).join("; ");
      if (got !== want) {
        w.fail(`${s.name}: revision ${r} has [${got}], the replicas [${want}] (${s.error ?? ""})`);
        break;
      }
    }
  }
  const events = finals.reduce((n, f) => n + f.byRev.size, 0);
  w.trace(
    `watch check: ${finals.length} streams, ${events} revisions with events; live to ${
      live.streams.map((s) => s.to).join(",")
    }`,
  );
  live.close();
  for (const f of finals) f.watcher.cancel();
  for (const c of clients) void c.close();
}
