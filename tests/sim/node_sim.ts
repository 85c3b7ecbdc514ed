/**
 * The seeded simulation of real nodes (docs/simulation.md): N nodes started with the production
 * `startNode` (its Ready driver, write path, reads, snapshots, membership, client server, peer
 * network and the idempotency/coalesce plugins) in one process, on a virtual clock and scheduler,
 * a simulated network and simulated disks ({@link ./sim_env.ts}), all driven by one PRNG seeded
 * from the seed. Clients speak the wire protocol over the simulated network and record histories;
 * a hostile client sends malformed, oversized and lying batches; faults (partitions, one-way
 * partitions, leader isolation, crashes with torn unsynced writes, connection resets, delays) run
 * on a seeded schedule. Checked: at most one leader per term, committed entries never change,
 * replicas' results equal at equal applied index (a digest chain carried in snapshots), log
 * matching, client linearizability (tests/sim/linearizability.ts) including final reads after
 * healing (every acknowledged write survived), and that the cluster serves again once healed.
 *
 * A run is a pure function of its seed: `runNodeSim(seed)` twice gives the same trace hash.
 * @module
 */
import { decodeCbor, encodeCbor } from "../../protocol/cbor.ts";
import { makeConfig } from "../../core/config/config.ts";
import { Code } from "../../protocol/codes.ts";
import type { Logger } from "../../core/config/logger.ts";
import { startNode } from "../../core/node/node.ts";
import type { TinyKVNode } from "../../core/node/types.ts";
import { definePlugin, type Plugin } from "../../core/plugin/plugin.ts";
import { MsgType } from "../../protocol/messages.ts";
import { createCoalescePlugin } from "../../plugins/coalesce/mod.ts";
import { createIdempotencyPlugin } from "../../plugins/idempotency/mod.ts";
import { type BatchItemResult, TinyKVClient } from "../../client/client.ts";
import walPlugin, { type WalStorage } from "../../plugins/wal/mod.ts";
import type { Storage } from "../../core/storage/storage.ts";
import { SimFs } from "./sim_fs.ts";
import type { Connection } from "../../transports/types.ts";
import { checkHistory, type Model, type Operation } from "./linearizability.ts";
import { Prng } from "./prng.ts";
import { checkWatches, LiveWatches } from "./watch_sim.ts";
import {
  type NetworkFaults,
  type Scope,
  SIM_EPOCH_MS,
  simClock,
  SimNetwork,
  SimScheduler,
} from "./sim_env.ts";

/** `SIM_TRACE=1` prints every traced event (with the runner: `--seed N`). */
const TRACE = !!process.env.SIM_TRACE;
const CLIENT_PORT = 7000;
const RAFT_PORT = 8000;
const MAX_BATCH_BYTES = 16 * 1024;

// ------------------------------------------------------------------------------------ model

/**
 * Inputs of the per-key model: registers (SET/GET), counters (INCR/GET) and compare-and-set
 * (`CHECK k VALUE expect | ABSENT` guarding `SET k value` in one batch: output "ok" or
 * "aborted"); "none" marks a command recorded through another one (the guarded SET).
 */
export type KvInput =
  | { kind: "put"; value: string }
  | { kind: "get" }
  | { kind: "incr" }
  | { kind: "cas"; expect: string | null; value: string }
  | { kind: "none" };

/** Register-or-counter model (a key is used one way only); outputs are strings or null. */
export const kvModel: Model<string | null, KvInput, string | null> = {
  init: () => null,
  step(state, input, output, unknown) {
    if (input.kind === "put") return { ok: true, state: input.value };
    if (input.kind === "cas") {
      const holds = state === input.expect;
      return {
        ok: unknown || output === (holds ? "ok" : "aborted"),
        state: holds ? input.value : state,
      };
    }
    if (input.kind === "incr") {
      const next = String(Number(state ?? "0") + 1);
      return { ok: unknown || output === next, state: next };
    }
    return { ok: unknown || output === state, state };
  },
  hash: (s) => (s === null ? "\u0000" : s),
};

// ------------------------------------------------------------------------------------ hashing

function fnv(h: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 16777619) >>> 0;
  return h;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function fnvStr(h: number, s: string): number {
  return fnv(h, enc.encode(s));
}

// ------------------------------------------------------------------------------------ options

/** What a seed decides. */
export interface SimPlan {
  seed: number;
  nodes: number;
  /** The lease probe runs (every third seed): leader isolated, reader on it, writer elsewhere. */
  leaseProbe: boolean;
  /** `lease_read: true` on the nodes (the probe's seeds, unless overridden). */
  leaseRead: boolean;
  coalesce: boolean;
  hostile: boolean;
  admin: boolean;
  clients: number;
  /** Virtual ms of chaos before healing. */
  chaosMs: number;
  faults: NetworkFaults;
  crashes: boolean;
}

/** The plan of a seed (every knob is derived from the seed alone). */
export function planFor(seed: number, chaosMs = 1500, leaseRead?: boolean): SimPlan {
  const r = new Prng(seed ^ 0x5eed);
  const calm = r.chance(0.2);
  return {
    seed,
    nodes: r.chance(0.2) ? 5 : 3,
    leaseProbe: seed % 3 === 0,
    leaseRead: leaseRead ?? seed % 3 === 0,
    coalesce: r.chance(0.4),
    hostile: r.chance(0.5),
    admin: r.chance(0.5),
    clients: r.int(2, 5),
    chaosMs,
    faults: {
      resetRate: calm ? 0 : r.next() * 0.01,
      minDelayMs: 0.1,
      maxDelayMs: 0.5 + r.next() * 3,
      spikeRate: calm ? 0 : r.next() * 0.05,
      spikeMs: 5 + r.next() * 60,
    },
    crashes: !calm && r.chance(0.7),
  };
}

/** Result of one seed. */
export interface SimResult {
  seed: number;
  ok: boolean;
  /** Failures (each a sentence). */
  failures: string[];
  /** Known failures waiting for a fix elsewhere (do not fail the seed). */
  expected: string[];
  /** Hash of everything observable: same seed, same hash. */
  traceHash: string;
  ops: number;
  steps: number;
  virtualMs: number;
  summary: string;
}

/** The command that replays a seed. */
export function replayCommand(seed: number): string {
  return `bun tests/sim/run_node_sim.ts --seed ${seed}`;
}

// ------------------------------------------------------------------------------------ world

interface Slot {
  id: number;
  host: string;
  disk: SimFs;
  /** The live incarnation's storage (the wal on `disk`), for the checks; null while down. */
  storage: Storage | null;
  scope: Scope;
  node: TinyKVNode | null;
  up: boolean;
  starting: boolean;
  /** Committed-entry check: last index compared. */
  checked: number;
  restarts: number;
  /** Started with `join` (no membership): the target of ADD_NODE / REMOVE_NODE. */
  spare: boolean;
}

/** Error log kept for the failure report (the node logs errors only). */
function memLogger(
  lines: string[],
  prefix: string,
  now: () => number,
  fatals: string[] = [],
): Logger {
  const at = (lvl: string) => (msg: string, ...rest: unknown[]) => {
    // A node that gave up ("fatal: ...; refusing writes") is a failure of the run, whatever the
    // rest of the cluster still serves (all of them kept, not only the first 200 lines).
    if (msg.startsWith("fatal:")) fatals.push(`${now().toFixed(1)} ${prefix} ${msg}`);
    if (lines.length < 200) {
      lines.push(`${now().toFixed(1)} ${prefix} ${lvl} ${msg} ${rest.map(String).join(" ")}`);
    }
  };
  const l: Logger = {
    debug: () => {},
    info: () => {},
    warn: () => {},
    error: at("error"),
    child: (name: string) => memLogger(lines, `${prefix}[${name}]`, now, fatals),
  } as unknown as Logger;
  return l;
}

class World {
  readonly rng: Prng;
  readonly sched = new SimScheduler();
  readonly net: SimNetwork;
  readonly slots: Slot[] = [];
  readonly history: Operation<KvInput, string | null>[] = [];
  readonly failures: string[] = [];
  readonly expected: string[] = [];
  readonly logs: string[] = [];
  /** Every node's "fatal: ..." log line (a node that stopped taking writes). */
  readonly fatals: string[] = [];
  readonly leaders = new Map<number, number>();
  readonly committed = new Map<number, string>();
  readonly digests = new Map<number, number>();
  #trace = 2166136261;
  traceEvents = 0;
  ended = false;
  /** The history was checked: later outcomes are not recorded. */
  checked = false;
  readonly counts = { crashes: 0, partitions: 0, hostile: 0, admin: 0, snapshots: 0 };

  constructor(readonly plan: SimPlan) {
    this.rng = new Prng(plan.seed);
    this.net = new SimNetwork(this.sched, this.rng, plan.faults, (s) => this.trace(s));
    const voters = Array.from({ length: plan.nodes }, (_, i) => i + 1);
    // With admin commands, one spare node joins and leaves through ADD_NODE / REMOVE_NODE.
    const ids = plan.admin ? [...voters, plan.nodes + 1] : voters;
    for (const id of ids) {
      const spare = !voters.includes(id);
      this.slots.push({
        id,
        spare,
        host: `10.0.0.${id}`,
        disk: new SimFs(this.sched, this.rng),
        storage: null,
        scope: { alive: false },
        node: null,
        up: false,
        starting: false,
        checked: 0,
        restarts: 0,
      });
    }
  }

  trace(s: string): void {
    this.traceEvents++;
    if (TRACE) console.log(`${this.sched.now.toFixed(3)} ${s}`);
    this.#trace = fnvStr(this.#trace, `${this.sched.now.toFixed(3)} ${s}\n`);
  }

  get traceHash(): string {
    return this.#trace.toString(16).padStart(8, "0");
  }

  fail(what: string): void {
    if (this.failures.length < 20) {
      this.failures.push(`t=${this.sched.now.toFixed(1)}ms ${what}`);
    }
  }

  xfail(what: string): void {
    if (!this.expected.includes(what)) this.expected.push(what);
  }

  /** The configured peers: the voters (and the spare itself, for the spare). */
  peers(spare: boolean): Record<number, string> {
    const p: Record<number, string> = {};
    for (const s of this.slots) if (spare || !s.spare) p[s.id] = `${s.host}:${RAFT_PORT}`;
    return p;
  }

  peerClients(spare: boolean): Record<number, string> {
    const p: Record<number, string> = {};
    for (const s of this.slots) if (spare || !s.spare) p[s.id] = `${s.host}:${CLIENT_PORT}`;
    return p;
  }

  /** Members as the leader sees them (voters and learners). */
  members(): number[] {
    const l = this.leader();
    if (!l) return [];
    const c = l.node!.status().conf;
    return [...c.voters, ...c.learners];
  }

  // -------------------------------------------------------------- nodes

  async start(slot: Slot): Promise<void> {
    slot.starting = true;
    const scope: Scope = { alive: true };
    slot.scope = scope;
    this.net.revive(slot.host);
    const plan = this.plan;
    const config = makeConfig({
      node_id: slot.id,
      host: slot.host,
      port: CLIENT_PORT,
      raft_port: RAFT_PORT,
      peers: this.peers(slot.spare),
      peer_clients: this.peerClients(slot.spare),
      join: slot.spare,
      data_dir: `/sim/n${slot.id}`,
      wal_segment_bytes: 4096, // rotate often: segment creation, rotation and removal under crashes
      cluster_secret: "tinykv-simulation-cluster-secret",
      log_level: "error",
      tick_ms: 10,
      heartbeat_ms: 30,
      election_timeout_ms: 150,
      raft_submit_timeout_ms: 600,
      snapshot_entries: 40,
      snapshot_keep_entries: 10,
      batch_max_bytes: MAX_BATCH_BYTES,
      lease_read: plan.leaseRead,
      batch_timeout_ms: 2,
      batch_size: 20,
    });
    // The real wal plugin, on this node's simulated disk (ctx.fs), keeping the storage for checks.
    const wal: typeof walPlugin = {
      ...walPlugin,
      storage: async (opts, ctx) => {
        const st = await walPlugin.storage!(opts, ctx) as WalStorage;
        if (scope.alive) slot.storage = st;
        return st;
      },
    };
    const plugins: Plugin[] = [wal as Plugin, createIdempotencyPlugin()];
    if (plan.coalesce) plugins.push(createCoalescePlugin());
    plugins.push(this.#recorder(slot, scope));
    try {
      const node = await startNode(config, {
        clock: simClock(this.sched),
        scheduler: this.sched.scheduler(scope),
        random: () => this.rng.next(),
        transport: this.net.transport(slot.host),
        fs: slot.disk.open(scope),
        plugins,
        logger: memLogger(this.logs, `n${slot.id}`, () => this.sched.now, this.fatals),
      });
      if (!scope.alive) return; // crashed while starting
      slot.node = node;
      slot.up = true;
      slot.checked = 0;
      this.trace(`start n${slot.id}`);
    } catch (err) {
      this.fail(`node ${slot.id} failed to start: ${(err as Error).message}`);
    } finally {
      slot.starting = false;
    }
  }

  /** Power loss: timers die, connections reset, unsynced writes are lost (last one may tear). */
  crash(slot: Slot): void {
    if (!slot.up) return;
    this.counts.crashes++;
    this.trace(`crash n${slot.id}`);
    slot.scope.alive = false;
    slot.up = false;
    slot.node = null;
    slot.storage = null;
    this.net.crash(slot.host);
    slot.disk.crash();
  }

  restart(slot: Slot): void {
    if (slot.up || slot.starting) return;
    slot.restarts++;
    this.trace(`restart n${slot.id}`);
    void this.start(slot);
  }

  /** Digest chain of every replica's batch results, carried in snapshots. */
  #recorder(slot: Slot, scope: Scope): Plugin {
    let index = 0;
    let digest = 2166136261;
    return definePlugin({
      name: "sim-recorder",
      onApply: (entry, results) => {
        if (!scope.alive) return;
        digest = fnv(digest, encodeCbor([entry.index, results]));
        index = entry.index;
        const seen = this.digests.get(index);
        if (seen === undefined) this.digests.set(index, digest);
        else if (seen !== digest) {
          this.fail(`replica ${slot.id} diverged: results digest at index ${index} differs`);
        }
      },
      snapshot: () => {
        this.counts.snapshots++;
        return encodeCbor([index, digest]).slice();
      },
      restore: (data) => {
        [index, digest] = decodeCbor(data) as [number, number];
      },
    });
  }

  up(): Slot[] {
    return this.slots.filter((s) => s.up && s.node);
  }

  leader(): Slot | undefined {
    return this.up().find((s) => s.node!.status().role === "leader");
  }

  // -------------------------------------------------------------- invariants

  check(): void {
    for (const s of this.up()) {
      const st = s.node!.status();
      if (st.role === "leader") {
        const other = this.leaders.get(st.term);
        if (other === undefined) this.leaders.set(st.term, s.id);
        else if (other !== s.id) {
          this.fail(`two leaders in term ${st.term}: nodes ${other} and ${s.id}`);
        }
      }
      const log = s.storage;
      if (!log) continue;
      // Entries the storage holds at or below the commit index *it* recorded: Raft's own commit
      // may run ahead of entries still in flight to storage (a stale suffix is then still there).
      const hi = Math.min(log.initialState().hardState.commit, log.lastIndex());
      for (let i = Math.max(s.checked + 1, log.firstIndex()); i <= hi; i++) {
        const e = log.entries(i, i + 1)[0];
        const h = `${e.term}:${fnv(2166136261, e.data)}`;
        const was = this.committed.get(i);
        if (was === undefined) this.committed.set(i, h);
        else if (was !== h) {
          this.fail(`committed entry ${i} changed on node ${s.id}: ${was} -> ${h}`);
        }
      }
      s.checked = Math.max(s.checked, hi);
    }
  }

  /** Log matching over every live log: same index and term → same data. */
  checkLogMatching(): void {
    const seen = new Map<string, number>();
    for (const s of this.up()) {
      const log = s.storage;
      if (!log) continue;
      for (let i = log.firstIndex(); i <= log.lastIndex(); i++) {
        const e = log.entries(i, i + 1)[0];
        const k = `${i}:${e.term}`;
        const h = fnv(2166136261, e.data);
        const was = seen.get(k);
        if (was === undefined) seen.set(k, h);
        else if (was !== h) this.fail(`log matching: entry ${k} differs on node ${s.id}`);
      }
    }
  }
}

// ------------------------------------------------------------------------------------ clients

type Reply = Record<string, unknown>;

/** A connection from a simulated client host, collecting decoded replies. */
class ClientConn {
  conn: Connection | null = null;
  closed = false;
  onReply: (r: Reply) => void = () => {};
  onClose: () => void = () => {};
}

function connectClient(w: World, from: string, addr: string): Promise<ClientConn> {
  const cc = new ClientConn();
  const i = addr.lastIndexOf(":");
  return w.net.connect(from, addr.slice(0, i), Number(addr.slice(i + 1)), 1 << 30, {
    onMessage: (_c, m) => {
      let r: unknown;
      try {
        r = decodeCbor(m);
      } catch {
        w.fail(`client ${from}: undecodable reply`);
        return;
      }
      cc.onReply(r as Reply);
    },
    onClose: () => {
      cc.closed = true;
      cc.onClose();
    },
  }).then((c) => {
    cc.conn = c;
    return cc;
  });
}

function asText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Uint8Array) return dec.decode(v);
  return String(v);
}

const NOT_APPLIED: number[] = [Code.NOT_LEADER, Code.BUSY, Code.UNAVAILABLE, Code.SHUTTING_DOWN];

interface Cmd {
  wire: string[];
  key: string;
  input: KvInput;
}

/**
 * A client of the real client server: one batch at a time, `client_id` fixed, the same batch id
 * resent after an unknown outcome (TIMEOUT, lost connection) — the idempotency plugin deduplicates
 * — and redirected on NOT_LEADER. Records each command as an operation of its key.
 */
class SimClient {
  readonly host: string;
  #endpoint: number;
  #conn: ClientConn | null = null;
  #connecting = false;
  #seq = 0;
  /** The last value this client saw or wrote per register (what its CHECKs expect; may be stale). */
  readonly #seen = new Map<string, string | null>();
  #batches = 0;
  /** The batch in flight: its writes are recorded as unknown if the run ends first. */
  inFlight: { cmds: Cmd[]; call: number } | null = null;
  /** A lease probe: stays on one node (never switches) and stops at `until`. */
  pinned = false;
  /** Never switch to this node (the lease probe's writer avoids the isolated leader). */
  avoid = -1;
  until = Infinity;
  /** What to send (default: a random mix). */
  ops: (() => { cmds: Cmd[]; readOnly: boolean }) | null = null;
  /**
   * Send through the real client library (`client/client.ts`: its endpoint list, redirects,
   * attempt timeouts, resends with the same batch id) instead of this class's own wire loop.
   */
  useLibrary = false;
  /**
   * Ask the node to serve every batch (`forward: true`): followers forward writes to the leader
   * and serve reads by a follower ReadIndex instead of redirecting.
   */
  forward = false;
  #lib: TinyKVClient | null = null;
  constructor(readonly w: World, readonly id: number, endpoint?: number) {
    this.host = `10.1.0.${id}`;
    this.#endpoint = endpoint ?? w.rng.int(0, w.slots.length);
  }

  start(): void {
    this.w.sched.at(this.w.rng.next() * 20, () => void this.#next());
  }

  #addr(): string {
    return `${this.w.slots[this.#endpoint].host}:${CLIENT_PORT}`;
  }

  #switch(addr?: string): void {
    if (this.pinned) {
      if (this.#conn?.closed) this.#conn = null;
      return;
    }
    const n = this.w.slots.length;
    const i = addr ? this.w.slots.findIndex((s) => `${s.host}:${CLIENT_PORT}` === addr) : -1;
    this.#endpoint = i >= 0 ? i : this.w.rng.int(0, n);
    if (this.#endpoint === this.avoid) {
      this.#endpoint = (this.avoid + 1 + this.w.rng.int(0, n - 1)) % n;
    }
    this.#conn?.conn?.close();
    this.#conn = null;
  }

  /** `SET key <unique>` (the lease probe's writer). */
  setOp(key: string): { cmds: Cmd[]; readOnly: boolean } {
    const v = `${this.id}.${++this.#seq}`;
    return {
      cmds: [{ wire: ["SET", key, v], key, input: { kind: "put", value: v } }],
      readOnly: false,
    };
  }

  #commands(): { cmds: Cmd[]; readOnly: boolean } {
    const r = this.w.rng;
    const reg = () => `r${r.int(0, 3)}`;
    const ctr = () => `c${r.int(0, 2)}`;
    const val = () => `${this.id}.${++this.#seq}`;
    const set = (k: string): Cmd => {
      const v = val();
      return { wire: ["SET", k, v], key: k, input: { kind: "put", value: v } };
    };
    const incr = (k: string): Cmd => ({ wire: ["INCR", k], key: k, input: { kind: "incr" } });
    const get = (k: string): Cmd => ({ wire: ["GET", k], key: k, input: { kind: "get" } });
    const x = r.next();
    if (x >= 0.88) {
      // Compare-and-set: CHECK guards the SET (one batch, one log entry).
      const k = reg();
      const expect = this.#seen.get(k) ?? null;
      const v = val();
      const check = expect === null ? ["CHECK", k, "ABSENT"] : ["CHECK", k, "VALUE", expect];
      return {
        cmds: [
          { wire: check, key: k, input: { kind: "cas", expect, value: v } },
          { wire: ["SET", k, v], key: k, input: { kind: "none" } },
        ],
        readOnly: false,
      };
    }
    if (x < 0.3) return { cmds: [set(reg())], readOnly: false };
    if (x < 0.5) return { cmds: [incr(ctr())], readOnly: false };
    if (x < 0.75) {
      const k = r.chance(0.5) ? reg() : ctr();
      const cmds = [get(k)];
      const k2 = reg();
      if (r.chance(0.5) && k2 !== k) cmds.push(get(k2));
      return { cmds, readOnly: true };
    }
    const a = reg();
    const b = ctr();
    const cmds = [set(a), incr(b)];
    const c = reg();
    if (c !== a) cmds.push(get(c));
    return { cmds: r.shuffle(cmds), readOnly: false };
  }

  async #next(): Promise<void> {
    const w = this.w;
    if (w.ended || w.sched.now > this.until) return;
    const { cmds, readOnly } = this.ops ? this.ops() : this.#commands();
    // Unique per client (a counter; the random part only varies the ids across seeds).
    const batchId = `b${++this.#batches}.${w.rng.int(0, 1e6)}`;
    const call = w.sched.now;
    this.inFlight = readOnly ? null : { cmds, call };
    const outcome = await this.submit(batchId, cmds.map((c) => c.wire));
    this.inFlight = null;
    const ret = w.sched.now;
    if (w.checked) return; // the history was checked already
    w.trace(`c${this.id} ${batchId} ${outcome ? JSON.stringify(outcome.codes) : "unknown"}`);
    if (!outcome) {
      // Unknown outcome: writes may take effect any time after the call (or never); reads and
      // the reads inside a write batch tell nothing.
      if (!readOnly) {
        for (const c of cmds) {
          if (c.input.kind !== "get" && c.input.kind !== "none") {
            w.history.push({ key: c.key, input: c.input, output: undefined, call, ret: Infinity });
          }
        }
      }
    } else {
      for (let i = 0; i < cmds.length; i++) {
        const c = cmds[i];
        const code = outcome.codes[i];
        if (c.input.kind === "cas") {
          // Applied whole (OK, OK) or not at all (ABORTED, ABORTED); nothing else is allowed.
          const rest = outcome.codes[i + 1];
          if ((code !== Code.OK && code !== Code.ABORTED) || rest !== code) {
            w.fail(`client ${this.id}: ${c.wire.join(" ")} + SET answered ${code}, ${rest}`);
            continue;
          }
          const applied = code === Code.OK;
          if (applied) this.#seen.set(c.key, c.input.value);
          w.history.push({
            key: c.key,
            input: c.input,
            output: applied ? "ok" : "aborted",
            call,
            ret,
          });
          continue;
        }
        if (c.input.kind === "none") continue;
        if (code !== Code.OK && !(code === Code.NOT_FOUND && c.input.kind === "get")) {
          w.fail(`client ${this.id}: ${c.wire.join(" ")} answered code ${code}`);
          continue;
        }
        const out = code === Code.NOT_FOUND ? null : asText(outcome.data[i]);
        if (c.input.kind !== "incr" && c.key.startsWith("r")) {
          this.#seen.set(c.key, c.input.kind === "put" ? c.input.value : out);
        }
        w.history.push({ key: c.key, input: c.input, output: out, call, ret });
      }
    }
    w.sched.at(w.rng.next() * 10, () => void this.#next());
  }

  /** Sends until a definite answer; null when the outcome stays unknown. */
  submit(
    batchId: string,
    commands: string[][],
  ): Promise<{ codes: number[]; data: unknown[] } | null> {
    return this.useLibrary
      ? this.#submitLibrary(batchId, commands)
      : this.#submitWire(batchId, commands);
  }

  /** Through the real client library, on the simulated network and virtual time. */
  async #submitLibrary(
    batchId: string,
    commands: string[][],
  ): Promise<{ codes: number[]; data: unknown[] } | null> {
    const w = this.w;
    const start = w.sched.now;
    this.#lib ??= new TinyKVClient({
      endpoints: w.slots.filter((s) => !s.spare).map((s) => `${s.host}:${CLIENT_PORT}`),
      clientId: `sim-client-${this.id}`,
      timeoutMs: 4000,
      attemptTimeoutMs: 400,
      connectTimeoutMs: 300,
      timers: {
        now: () => SIM_EPOCH_MS + w.sched.now,
        timeout: (ms, fn) => w.sched.at(ms, fn),
        immediate: (fn) => w.sched.at(0, fn),
      },
    }, w.net.transport(this.host));
    // A definite refusal (nothing applied: no leader yet, every node down) is retried, as an
    // application would; an unknown outcome (TIMEOUT, or a rejection) ends the operation.
    while (w.sched.now - start < 4000 && !w.ended) {
      let r: BatchItemResult[];
      try {
        r = await this.#lib.batch(commands, { batchId });
      } catch {
        return null;
      }
      const codes = r.map((x) => Code[x.code]);
      const whole = codes.every((c) => c === codes[0]);
      if (whole && NOT_APPLIED.includes(codes[0])) {
        await this.#pause(20 + w.rng.next() * 30);
        continue;
      }
      if (whole && codes[0] === Code.TIMEOUT) return null;
      return { codes, data: r.map((x) => x.value) };
    }
    return null;
  }

  async #submitWire(
    batchId: string,
    commands: string[][],
  ): Promise<{ codes: number[]; data: unknown[] } | null> {
    const w = this.w;
    const start = w.sched.now;
    const native = w.rng.chance(0.8);
    const msg = encodeCbor({
      type: MsgType.COMMAND_BATCH,
      batch_id: batchId,
      client_id: `sim-client-${this.id}`,
      ...(this.forward ? { forward: true } : {}),
      ...(native ? { commands_cbor: encodeCbor(commands).slice() } : { commands }),
    }).slice();
    let uncertain = false;
    for (let attempt = 0; attempt < 30; attempt++) {
      if (w.sched.now - start > 4000) break;
      const r = await this.#attempt(batchId, msg);
      if (r === "lost") {
        uncertain = true;
        this.#switch();
        await this.#pause(5 + w.rng.next() * 20);
        continue;
      }
      if (r === "refused") {
        this.#switch();
        await this.#pause(5 + w.rng.next() * 20);
        continue;
      }
      const codes = r.codes as number[];
      const whole = codes.length > 0 && codes.every((c) => c === codes[0]);
      if (whole && NOT_APPLIED.includes(codes[0])) {
        this.#switch(typeof r.leader === "string" ? r.leader : undefined);
        await this.#pause(codes[0] === Code.NOT_LEADER && r.leader ? 1 : 10 + w.rng.next() * 20);
        continue;
      }
      if (whole && codes[0] === Code.TIMEOUT) {
        uncertain = true;
        this.#switch(typeof r.leader === "string" ? r.leader : undefined);
        await this.#pause(5 + w.rng.next() * 20);
        continue;
      }
      return { codes, data: r.data as unknown[] };
    }
    void uncertain;
    return null;
  }

  #pause(ms: number): Promise<void> {
    return new Promise((r) => this.w.sched.at(ms, r));
  }

  async #ensure(): Promise<ClientConn | null> {
    if (this.#conn && !this.#conn.closed) return this.#conn;
    if (this.#connecting) return null;
    this.#connecting = true;
    try {
      this.#conn = await connectClient(this.w, this.host, this.#addr());
      return this.#conn;
    } catch {
      return null;
    } finally {
      this.#connecting = false;
    }
  }

  /** One send: the reply, or "lost" (connection gone / no answer in time), or "refused". */
  async #attempt(batchId: string, msg: Uint8Array): Promise<Reply | "lost" | "refused"> {
    const cc = await this.#ensure();
    if (!cc || !cc.conn) return "refused";
    const w = this.w;
    return new Promise((resolve) => {
      let done = false;
      const finish = (r: Reply | "lost") => {
        if (done) return;
        done = true;
        cancel();
        cc.onReply = () => {};
        cc.onClose = () => {};
        resolve(r);
      };
      const cancel = w.sched.at(1500, () => finish("lost"));
      cc.onReply = (r) => {
        if (r.batch_id === batchId) finish(r);
        else if (r.type === MsgType.ERROR) {
          w.fail(`client: unexpected ERROR ${JSON.stringify(r)}`);
        }
      };
      cc.onClose = () => finish("lost");
      if (!cc.conn!.send(msg)) finish("lost");
    });
  }
}

// ------------------------------------------------------------------------------------ admin

/**
 * Server commands sent on their own: TRANSFER_LEADER, ADD_NODE / REMOVE_NODE of the spare node
 * (as a voter or a learner), MEMBERS, INFO, GET_LEADER.
 */
async function adminOnce(w: World, n: number): Promise<void> {
  const up = w.up();
  if (up.length === 0) return;
  const target = w.rng.chance(0.7) ? (w.leader() ?? w.rng.pick(up)) : w.rng.pick(up);
  const r = w.rng.next();
  const voter = w.rng.pick(w.slots).id;
  const spare = w.slots.find((s) => s.spare)!;
  const add = [
    "ADD_NODE",
    String(spare.id),
    `${spare.host}:${RAFT_PORT}`,
    `${spare.host}:${CLIENT_PORT}`,
    ...(w.rng.chance(0.5) ? ["LEARNER"] : []),
  ];
  const cmd = r < 0.3
    ? ["TRANSFER_LEADER", String(voter)]
    : r < 0.45
    ? add
    : r < 0.55
    ? ["REMOVE_NODE", String(spare.id)]
    : r < 0.7
    ? ["MEMBERS"]
    : r < 0.85
    ? ["INFO"]
    : ["GET_LEADER"];
  let cc: ClientConn;
  try {
    cc = await connectClient(w, "10.2.0.1", `${target.host}:${CLIENT_PORT}`);
  } catch {
    return;
  }
  const batchId = `admin${n}`;
  const reply = await new Promise<Reply | null>((resolve) => {
    const cancel = w.sched.at(2000, () => resolve(null));
    cc.onReply = (m) => {
      cancel();
      resolve(m);
    };
    cc.onClose = () => {
      cancel();
      resolve(null);
    };
    cc.conn!.send(encodeCbor({ type: MsgType.COMMAND_BATCH, batch_id: batchId, commands: [cmd] }));
  });
  cc.conn?.close();
  w.counts.admin++;
  if (!reply) return; // the node crashed or the connection reset
  const codes = reply.codes as number[] | undefined;
  w.trace(`admin ${cmd.join(" ")} -> ${JSON.stringify(codes)}`);
  if (reply.batch_id !== batchId || !codes || codes.length !== 1) {
    w.fail(`admin ${cmd.join(" ")}: bad reply ${JSON.stringify(reply)}`);
    return;
  }
  // No leader (UNAVAILABLE) is fine; TRANSFER_LEADER on a follower or to a non-voter too; a
  // membership change may be refused (BUSY: one pending; NOT_LEADER) or end unknown (TIMEOUT).
  const c0 = codes[0];
  const ok = c0 === Code.OK || c0 === Code.UNAVAILABLE ||
    (cmd[0] === "TRANSFER_LEADER" && (c0 === Code.NOT_LEADER || c0 === Code.SYNTAX)) ||
    (cmd[0].endsWith("_NODE") &&
      (c0 === Code.BUSY || c0 === Code.NOT_LEADER || c0 === Code.TIMEOUT));
  if (!ok) w.fail(`admin ${cmd.join(" ")}: code ${codes[0]} ${String(reply.errors)}`);
}

// ------------------------------------------------------------------------------------ hostile

interface HostileCase {
  name: string;
  /** The bytes to send (a whole transport message), or "malformed" for a bad frame. */
  frame: (w: World) => Uint8Array | "malformed";
}

let hostileSeq = 0;

/** A batch with a fresh id (the idempotency plugin must not answer it from an earlier one). */
function batch(extra: Record<string, unknown>): Uint8Array {
  const n = ++hostileSeq;
  return encodeCbor({
    type: MsgType.COMMAND_BATCH,
    batch_id: `h${n}`,
    client_id: `hostile-${n}`,
    ...extra,
  }).slice();
}

/** Every one must get an error reply; the cluster must keep serving. */
export const HOSTILE_CASES: readonly HostileCase[] = [
  { name: "garbage bytes", frame: () => new Uint8Array([0xff, 0x00, 0x13, 0x37, 0x42]) },
  { name: "truncated CBOR", frame: () => new Uint8Array([0xa2, 0x64, 0x74]) },
  { name: "CBOR array, not a map", frame: () => encodeCbor([3, "h"]).slice() },
  { name: "unknown message type", frame: () => encodeCbor({ type: 99 }).slice() },
  {
    name: "batch without batch_id",
    frame: () => encodeCbor({ type: 3, commands: [["GET", "k"]] }),
  },
  {
    name: "batch_id of the wrong type",
    frame: () => encodeCbor({ type: 3, batch_id: 7, commands: [] }),
  },
  { name: "commands not an array", frame: () => batch({ commands: "SET k v" }) },
  {
    name: "commands_cbor not an array",
    frame: () => batch({ commands_cbor: new Uint8Array([0x05]) }),
  },
  { name: "commands_cbor not bytes", frame: () => batch({ commands_cbor: 17 }) },
  { name: "command args of the wrong type", frame: () => batch({ commands: [[1, 2, 3]] }) },
  { name: "command nested arrays", frame: () => batch({ commands: [["GET", ["x"]]] }) },
  { name: "command with no name", frame: () => batch({ commands: [[]] }) },
  { name: "SET with missing args", frame: () => batch({ commands: [["SET"]] }) },
  {
    name: "count lie: claims 3 commands, holds 1",
    frame: () => batch({ commands_cbor: new Uint8Array([0x83, 0x81, 0x63, 0x47, 0x45, 0x54]) }),
  },
  {
    name: "poison count: claims 4096 commands, holds none",
    frame: () => batch({ commands_cbor: new Uint8Array([0x99, 0x10, 0x00]) }),
  },
  {
    name: "poison pill: claims 2^32-1 commands (9a ff ff ff ff)",
    frame: () => batch({ commands_cbor: new Uint8Array([0x9a, 0xff, 0xff, 0xff, 0xff]) }),
  },
  {
    name: "oversized batch (over batch_max_bytes)",
    frame: () => batch({ commands: [["SET", "big", "x".repeat(MAX_BATCH_BYTES + 100)]] }),
  },
  { name: "malformed transport frame", frame: () => "malformed" },
];

/** Most commands an error reply may list (a reply never allocates by an untrusted count). */
const MAX_ERROR_CODES = 16;

async function hostileOnce(w: World, c: HostileCase): Promise<void> {
  const up = w.up();
  if (up.length === 0) return;
  const target = w.rng.pick(up);
  let cc: ClientConn;
  try {
    cc = await connectClient(w, "10.3.0.1", `${target.host}:${CLIENT_PORT}`);
  } catch {
    return;
  }
  w.counts.hostile++;
  hostileSeq = w.counts.hostile * 1000;
  const frame = c.frame(w);
  const restarts = target.restarts;
  const reply = await new Promise<Reply | null>((resolve) => {
    const cancel = w.sched.at(2500, () => resolve(null));
    cc.onReply = (m) => {
      cancel();
      resolve(m);
    };
    cc.onClose = () => w.sched.at(50, () => resolve(null));
    if (frame === "malformed") {
      (w.net as unknown as { sendMalformed(c: Connection): void }).sendMalformed(cc.conn!);
    } else cc.conn!.send(frame);
  });
  cc.conn?.close();
  // The node crashed or the network reset the connection meanwhile: inconclusive.
  if (!target.up || target.restarts !== restarts) return;
  if (!reply && (cc.conn as unknown as { broken?: boolean }).broken) return;
  const problem = hostileProblem(reply);
  w.trace(`hostile ${c.name} -> ${problem ?? "ok"}`);
  if (TRACE) console.log(JSON.stringify(reply)?.slice(0, 300));
  if (problem === null) return;
  w.fail(`hostile "${c.name}": ${problem}`);
}

function hostileProblem(r: Reply | null): string | null {
  if (!r) return "no reply";
  if (r.type === MsgType.ERROR) return r.code === Code.OK ? "ERROR with code OK" : null;
  if (r.type === MsgType.BATCH_RESPONSE) {
    const codes = r.codes as number[];
    if (!Array.isArray(codes) || codes.length === 0) return "batch reply without codes";
    if (codes.length > MAX_ERROR_CODES) {
      return `reply lists ${codes.length} codes (allocated by the claimed count)`;
    }
    if (codes.some((x) => x === Code.OK)) return `accepted: codes ${JSON.stringify(codes)}`;
    return null;
  }
  return `unexpected reply type ${String(r.type)}`;
}

// ------------------------------------------------------------------------------------ faults

/**
 * The lease case (issue 9 item 4): the leader is cut off from its peers while a reader stays
 * connected to it and a writer follows the new leader. With `lease_read`, a read the old leader
 * serves after the new leader acknowledged a write is stale, which the checker rejects.
 */
function leaseProbe(w: World, clients: SimClient[]): void {
  const at = 300 + w.rng.next() * 200;
  w.sched.at(at, () => {
    const l = w.leader();
    if (!l || w.ended) return;
    const hosts = w.slots.map((s) => s.host);
    for (const h of hosts) if (h !== l.host) w.net.block(l.host, h), w.net.block(h, l.host);
    w.counts.partitions++;
    w.trace(`lease probe: isolate n${l.id}`);
    const li = w.slots.indexOf(l);
    const reader = new SimClient(w, 50, li);
    reader.pinned = true;
    reader.until = w.sched.now + 500;
    reader.ops = () => ({
      cmds: [{ wire: ["GET", "r0"], key: "r0", input: { kind: "get" } }],
      readOnly: true,
    });
    const writer = new SimClient(w, 51, (li + 1) % w.slots.length);
    writer.until = reader.until;
    writer.avoid = li;
    writer.ops = () => writer.setOp("r0");
    clients.push(reader, writer);
    reader.start();
    writer.start();
    w.sched.at(600, () => {
      w.net.heal();
      w.trace("lease probe: heal");
    });
  });
}

function scheduleFaults(w: World): void {
  const plan = w.plan;
  const hosts = w.slots.map((s) => s.host);
  let t = plan.leaseProbe ? 1100 : 100 + w.rng.next() * 200;
  while (t < plan.chaosMs) {
    const at = t;
    w.sched.at(at, () => {
      if (w.ended) return;
      const x = w.rng.next();
      const down = w.slots.filter((s) => !s.up);
      if (x < 0.25) {
        // Isolate the leader from its peers (clients still reach it): the lease case.
        const l = w.leader() ?? w.rng.pick(w.slots);
        for (const h of hosts) if (h !== l.host) w.net.block(l.host, h), w.net.block(h, l.host);
        w.counts.partitions++;
        w.trace(`isolate n${l.id}`);
      } else if (x < 0.4) {
        const a = w.rng.pick(hosts), b = w.rng.pick(hosts);
        if (a !== b) w.net.block(a, b);
        w.counts.partitions++;
        w.trace(`one-way ${a}>${b}`);
      } else if (x < 0.55) {
        const minority = w.rng.shuffle([...hosts]).slice(0, Math.floor(hosts.length / 2));
        for (const a of minority) {
          for (const b of hosts) if (!minority.includes(b)) w.net.block(a, b), w.net.block(b, a);
        }
        w.counts.partitions++;
        w.trace(`split ${minority.join(",")}`);
      } else if (x < 0.75) {
        w.net.heal();
        w.trace("heal");
      } else if (plan.crashes && down.length === 0 && w.rng.chance(0.2)) {
        // Power loss of the whole cluster (issue 9's kill -9 of every node).
        w.trace("crash all");
        for (const s of w.slots) w.crash(s);
        w.sched.at(50 + w.rng.next() * 200, () => {
          for (const s of w.slots) w.restart(s);
        });
      } else if (plan.crashes && down.length === 0) {
        const s = w.rng.chance(0.5) ? (w.leader() ?? w.rng.pick(w.slots)) : w.rng.pick(w.slots);
        w.crash(s);
        w.sched.at(50 + w.rng.next() * 400, () => w.restart(s));
      } else {
        for (const s of down) w.restart(s);
      }
    });
    t += 80 + w.rng.next() * 250;
  }
}

// ------------------------------------------------------------------------------------ run

interface Saved {
  now: typeof Date.now;
  perfNow: typeof performance.now;
  random: typeof Math.random;
  setTimeout: typeof globalThis.setTimeout;
  setInterval: typeof globalThis.setInterval;
}

/**
 * While a seed runs, the runtime's clocks, timers and `Math.random` fail the run if the node calls
 * them: everything the node does must come through its injected clock, scheduler, random source,
 * transport and file system, or the run would not be a function of its seed. (They still work,
 * so the failure is reported rather than a crash. The harness itself reads only `w.sched`.)
 */
function guardGlobals(w: World): Saved {
  const g = globalThis as unknown as Record<string, unknown>;
  const saved: Saved = {
    now: Date.now,
    perfNow: performance.now.bind(performance),
    random: Math.random,
    setTimeout: globalThis.setTimeout,
    setInterval: globalThis.setInterval,
  };
  const caught = (what: string) => {
    const stack = new Error().stack ?? "";
    // The simulation replaces the transport as a whole: a call from a real transport comes from
    // something else in this process (e.g. a UDP cluster of another test file still flushing).
    if (stack.includes("/transports/udp/") || stack.includes("/transports/tcp/")) return;
    const at = stack.split("\n").slice(2, 5).map((l) => l.trim()).join(" < ");
    w.fail(`the node used the runtime's ${what} (not injected): ${at}`);
  };
  Date.now = () => (caught("Date.now"), saved.now());
  performance.now = () => (caught("performance.now"), saved.perfNow());
  Math.random = () => (caught("Math.random"), saved.random());
  type Timer = (...a: unknown[]) => unknown;
  g.setTimeout = (
    ...a: unknown[]
  ) => (caught("setTimeout"), (saved.setTimeout as unknown as Timer)(...a));
  g.setInterval = (
    ...a: unknown[]
  ) => (caught("setInterval"), (saved.setInterval as unknown as Timer)(...a));
  return saved;
}

function restoreGlobals(p: Saved): void {
  Date.now = p.now;
  performance.now = p.perfNow;
  Math.random = p.random;
  globalThis.setTimeout = p.setTimeout;
  globalThis.setInterval = p.setInterval;
}

/** Runs one seed and checks everything; never throws. */
export async function runNodeSim(
  seed: number,
  chaosMs?: number,
  leaseRead?: boolean,
  /** For the simulation's own tests: disks whose file fsync (or directory fsync) persists nothing. */
  lyingDisks: false | "fsync" | "dirs" = false,
): Promise<SimResult> {
  const plan = planFor(seed, chaosMs, leaseRead);
  const w = new World(plan);
  for (const s of w.slots) {
    s.disk.lies = lyingDisks === "fsync";
    s.disk.liesAboutDirs = lyingDisks === "dirs";
  }
  const saved = guardGlobals(w);
  try {
    await simulate(w);
  } catch (err) {
    w.fail(`threw: ${(err as Error).stack ?? err}`);
  } finally {
    restoreGlobals(saved);
  }
  // A lying disk may leave a node with a log it must refuse to use; an honest one never may.
  if (lyingDisks === false && w.fatals.length > 0) w.fail(`a node failed: ${w.fatals[0]}`);
  const failures = w.failures;
  const s = w.net.stats;
  return {
    seed,
    ok: failures.length === 0,
    failures,
    expected: w.expected,
    traceHash: w.traceHash,
    ops: w.history.length,
    steps: w.sched.steps,
    virtualMs: Math.round(w.sched.now),
    summary:
      `${plan.nodes} nodes${plan.leaseRead ? ", lease reads" : ""}${
        plan.coalesce ? ", coalesce" : ""
      }; ${w.history.length} ops, ${w.counts.crashes} crashes, ${w.counts.partitions} partitions, ` +
      `${s.resets} resets, ${w.counts.snapshots} snapshots, ${w.counts.hostile} hostile, ` +
      `${w.counts.admin} admin; ${w.sched.steps} steps, ${Math.round(w.sched.now)} virtual ms`,
  };
}

async function simulate(w: World): Promise<void> {
  const plan = w.plan;
  const sched = w.sched;
  for (const s of w.slots) await w.start(s);
  sched.at(5, () => w.check(), sched.root, 5);
  scheduleFaults(w);
  const clients = Array.from({ length: plan.clients }, (_, i) => new SimClient(w, i + 1));
  // Every second client is the real client library; the others drive the wire protocol directly.
  for (let i = 1; i < clients.length; i += 2) clients[i].useLibrary = true;
  // The first client asks whichever node it talks to to serve it (follower forwarding and reads).
  clients[0].forward = true;
  for (const c of clients) c.start();
  const watches = new LiveWatches(w, SIM_EPOCH_MS, CLIENT_PORT);
  if (plan.leaseProbe) leaseProbe(w, clients);
  if (plan.admin) {
    let n = 0;
    const tick = () => {
      if (w.ended || sched.now > plan.chaosMs) return;
      void adminOnce(w, ++n);
      sched.at(50 + w.rng.next() * 150, tick);
    };
    sched.at(200, tick);
  }
  if (plan.hostile) {
    let i = 0;
    const tick = () => {
      if (w.ended || sched.now > plan.chaosMs) return;
      void hostileOnce(w, HOSTILE_CASES[i++ % HOSTILE_CASES.length]);
      sched.at(30 + w.rng.next() * 60, tick);
    };
    sched.at(150, tick);
  }
  await sched.runUntil(plan.chaosMs, () => w.failures.length > 0);
  if (w.failures.length > 0) return;

  // Heal: no partitions, no resets, every node up; the cluster must serve again.
  w.net.heal();
  w.net.faults = { ...plan.faults, resetRate: 0, spikeRate: 0 };
  for (const s of w.slots) w.restart(s);
  w.trace("heal all");
  // Let clients finish what they are doing (their retries end within ~4 s).
  w.ended = true;
  const healStart = sched.now;
  await sched.runUntil(healStart + 6000, () => {
    if (w.failures.length > 0) return true;
    const up = w.up();
    if (up.length < w.slots.length) return false;
    const l = w.leader();
    if (!l) return false;
    const commit = l.node!.status().commit;
    const members = w.members();
    return up.every((s) => !members.includes(s.id) || s.node!.status().applied >= commit);
  });
  if (w.failures.length > 0) return;
  const leader = w.leader();
  if (!leader || w.up().length < w.slots.length) {
    w.fail("cluster did not recover within 6 s of healing (no leader or nodes down)");
    return;
  }
  // Final reads of every key (acknowledged writes survived the crashes) and one write: serving.
  const finalClient = new SimClient(w, 99);
  const keys = ["r0", "r1", "r2", "c0", "c1"];
  const call = sched.now;
  let outcome: { codes: number[]; data: unknown[] } | null | undefined;
  void finalClient.submit("final", keys.map((k) => ["GET", k])).then((o) => outcome = o);
  await sched.runUntil(sched.now + 5000, () => outcome !== undefined);
  if (!outcome) {
    w.fail("final reads got no answer within 5 s of recovery");
    return;
  }
  for (let i = 0; i < keys.length; i++) {
    const code = outcome.codes[i];
    if (code !== Code.OK && code !== Code.NOT_FOUND) {
      w.fail(`final GET ${keys[i]}: code ${code}`);
      continue;
    }
    w.history.push({
      key: keys[i],
      input: { kind: "get" },
      output: code === Code.NOT_FOUND ? null : asText(outcome.data[i]),
      call,
      ret: sched.now,
    });
  }
  // Everyone converged: same applied index → same digest (checked on apply), and log matching.
  w.check();
  w.checkLogMatching();
  await checkWatches(w, watches, SIM_EPOCH_MS, CLIENT_PORT);
  const applied = w.up().map((s) => s.node!.status().applied);
  w.trace(`final applied ${applied.join(",")} history ${w.history.length}`);
  // Writes still in flight (a client retrying) may take effect later or never: unknown.
  for (const c of clients) {
    for (const cmd of c.inFlight?.cmds ?? []) {
      if (cmd.input.kind === "get" || cmd.input.kind === "none") continue;
      w.history.push({
        key: cmd.key,
        input: cmd.input,
        output: undefined,
        call: c.inFlight!.call,
        ret: Infinity,
      });
    }
  }
  w.checked = true;
  const r = checkHistory(kvModel, w.history);
  if (!r.ok) {
    w.fail(`history of key ${r.key}: ${r.reason}`);
    if (process.env.SIM_DEBUG) {
      for (const op of w.history.filter((o) => o.key === r.key)) {
        console.log(
          `  ${op.call.toFixed(1)}..${op.ret.toFixed(1)} ${
            JSON.stringify(op.input)
          } -> ${op.output}`,
        );
      }
      for (const l of w.logs) console.log(`  log: ${l}`);
    }
  }
  // Stop every node gracefully (exercises stop under the simulation).
  const stops = w.up().map((s) => s.node!.stop());
  let stopped = false;
  void Promise.all(stops).then(() => stopped = true);
  await sched.runUntil(sched.now + 3000, () => stopped);
  if (!stopped) w.fail("stop() did not finish within 3 s");
}
