/**
 * Node wiring: one TinyKV node = storage + state machine + pure Raft core + peer network + client
 * server + plugins. This file owns the timers and the Ready loop (persist → send → apply → advance),
 * which is where the pure Raft core meets I/O.
 * @module
 */
import { setImmediate } from "node:timers";
import { Registry } from "prom-client";
import { Applier } from "./applier.ts";
import { decodeCbor, encodeCbor } from "./cbor.ts";
import { isReadOnlyBatch } from "./cbor_peek.ts";
import { commandName, toArgv } from "./commands.ts";
import type { Config } from "./config.ts";
import { Code, type CodeNumber } from "./errors.ts";
import { HookBus, PluginError } from "./hooks.ts";
import { createLogger, type Logger } from "./logger.ts";
import { MemoryStorage } from "./memory_storage.ts";
import { type Outcome, PendingBatches } from "./pending.ts";
import { PeerNetwork } from "./peer_network.ts";
import type {
  BatchDecision,
  ClientBatch,
  NodeStats,
  NodeView,
  Plugin,
  PluginContext,
} from "./plugin.ts";
import { encodeProposal } from "./proposal.ts";
import type { WireValue } from "./protocol.ts";
import { decodeConfChange } from "./raft/conf_change.ts";
import { createRawNode } from "./raft/raw_node.ts";
import type {
  ConfChange,
  ConfState,
  Entry,
  Message,
  NodeId,
  RaftStatus,
  RawNode,
  ReadState,
  Ready,
  Snapshot,
} from "./raft/types.ts";
import { EntryType } from "./raft/types.ts";
import { ClientServer } from "./server.ts";
import { decodeNodeSnapshot, encodeNodeSnapshotInSteps } from "./snapshot_codec.ts";
import { createStateMachine } from "./state/state_machine.ts";
import type { ApplyContext, Argv, StateMachine, Value } from "./state/types.ts";
import type { Storage } from "./storage.ts";
import { createTransport } from "../transports/mod.ts";
import type { Transport } from "../transports/types.ts";

/** Addresses of one member. */
export interface MemberAddress {
  /** Raft (peer) address, `host:port`. */
  raft: string;
  /** Client address, `host:port`. */
  client: string;
}

/** Options for {@link startNode} beyond the config. */
export interface StartOptions {
  /** Plugins to load (already imported). */
  plugins?: Plugin[];
  /** Logger to use. Default: a stderr logger at `config.log_level`. */
  logger?: Logger;
}

/** A running node. */
export interface TinyKVNode {
  /** This node's id (`node_id`). */
  readonly id: NodeId;
  /** The node's resolved configuration. */
  readonly config: Readonly<Config>;
  /** Bound client port (useful with port 0). */
  readonly clientPort: number;
  /** Bound raft port. */
  readonly raftPort: number;
  /** Raft status (term, role, leader, commit, applied, ...). */
  status(): RaftStatus;
  /** Counters (bytes, batches, ...). */
  stats(): Readonly<NodeStats>;
  /** Client address of the leader, if known. */
  leaderAddress(): string | undefined;
  /** Test hook: drop all traffic to and from these peers (simulated partition). */
  partition(peers: NodeId[]): void;
  /** Graceful stop: refuse new work, answer in-flight batches, close everything. */
  stop(): Promise<void>;
}

const PEER_FRAME_SLACK = 8 * 1024 * 1024;
/** Keys encoded per event-loop turn while a snapshot is taken (a few ms of work each). */
const SNAPSHOT_KEYS_PER_STEP = 5_000;
/** ReadIndex requests whose answer never came (lost message, leader change) are forgotten after this many. */
const MAX_READ_REQUESTS = 1024;
const SERVER_COMMANDS = new Set([
  "INFO",
  "GET_LEADER",
  "MEMBERS",
  "ADD_NODE",
  "REMOVE_NODE",
  "TRANSFER_LEADER",
]);

/** Runs a listen call; a failure names the address and, when it is taken, says so plainly. */
async function listenOrExplain(what: string, addr: string, listen: () => Promise<void>) {
  try {
    await listen();
  } catch (err) {
    const e = err as { code?: string; message: string };
    const inUse = e.code === "EADDRINUSE" || /in use/i.test(e.message);
    throw new Error(
      `cannot listen for ${what} on ${addr}: ${inUse ? "address already in use" : e.message}`,
    );
  }
}

function defaultClientAddr(raftAddr: string): string {
  const i = raftAddr.lastIndexOf(":");
  return `${raftAddr.slice(0, i)}:${Number(raftAddr.slice(i + 1)) - 1}`;
}

class Node implements TinyKVNode {
  readonly id: NodeId;
  readonly config: Readonly<Config>;
  readonly #log: Logger;
  readonly #statsObj: NodeStats = {
    bytesIn: 0,
    bytesOut: 0,
    connections: 0,
    batchesReceived: 0,
    commandsReceived: 0,
    proposals: 0,
    pendingBatches: 0,
    busyRejections: 0,
    proposalTimeouts: 0,
  };
  readonly #registry = new Registry();
  readonly #sm: StateMachine = createStateMachine();
  readonly #hooks: HookBus;
  readonly #applier: Applier;
  readonly #pending: PendingBatches;
  readonly #members = new Map<NodeId, MemberAddress>();
  #storage!: Storage;
  #raft!: RawNode;
  #transport!: Transport;
  #server!: ClientServer;
  #peers!: PeerNetwork;
  #ticker: ReturnType<typeof setInterval> | null = null;
  #readyScheduled = false;
  #readyRunning: Promise<void> | null = null;
  #role: RaftStatus["role"] = "follower";
  #leader: NodeId = 0;
  #applied = 0;
  #snapshotIndex = 0;
  #snapshotting = false;
  #snapshotWrite: Promise<void> = Promise.resolve();
  #bytesSinceSnapshot = 0;
  #lastSnapshotBytes = 0;
  #lastSnapshotKeys = 0;
  #lastNow = 0;
  /** Read-only batches waiting for the next ReadIndex request (one request covers them all). */
  #readQueue: ClientBatch[] = [];
  /** ReadIndex requests in flight: context sequence number → the batches they cover. */
  readonly #readRequests = new Map<number, ClientBatch[]>();
  /** Confirmed reads waiting for `applied` to reach their read index (ascending index). */
  readonly #readsToServe: { index: number; batches: ClientBatch[] }[] = [];
  #readSeq = 0;
  readonly #readCtx: ApplyContext = { nowMs: 0, index: 0 };
  #stopping = false;
  #stopped = false;
  #fatal: Error | null = null;

  constructor(config: Config, plugins: Plugin[], log: Logger) {
    this.id = config.node_id;
    this.config = Object.freeze({ ...config });
    this.#log = log;
    this.#pending = new PendingBatches(config.max_pending_batches);
    const view: NodeView = {
      id: this.id,
      raftStatus: () => this.status(),
      stats: () => this.stats(),
      leaderAddress: () => this.leaderAddress(),
      get durable() {
        return node.#storage?.durable ?? false;
      },
    };
    // deno-lint-ignore no-this-alias
    const node = this;
    this.#hooks = new HookBus(plugins, (p) => this.#pluginContext(p, view), log);
    this.#applier = new Applier(this.#sm, this.#hooks, (argv) => this.#serverCommandInBatch(argv));
  }

  #pluginContext(p: Plugin, view: NodeView): PluginContext {
    return {
      config: this.config,
      logger: this.#log.child(p.name),
      metrics: this.#registry,
      node: view,
      propose: (batches) => this.#proposeBatches(batches),
      answer: (batch, r) => {
        const o: Outcome = "codes" in r ? { result: r } : { code: r.code, message: r.message };
        this.#pending.settle(batch.clientId, batch.batchId, o);
      },
    };
  }

  get clientPort(): number {
    return this.#server.port;
  }

  get raftPort(): number {
    return this.#peers.port;
  }

  status(): RaftStatus {
    return this.#raft.status();
  }

  stats(): Readonly<NodeStats> {
    this.#statsObj.pendingBatches = this.#pending.size;
    return this.#statsObj;
  }

  leaderAddress(): string | undefined {
    return this.#leader ? this.#members.get(this.#leader)?.client : undefined;
  }

  partition(peers: NodeId[]): void {
    this.#peers.blocked.clear();
    for (const p of peers) this.#peers.blocked.add(p);
  }

  // ---------------------------------------------------------------- start-up

  async start(): Promise<void> {
    const c = this.config;
    await this.#hooks.setup();
    const peerIds = Object.keys(c.peers).map(Number);
    const voters = peerIds.length > 0 ? peerIds.sort((a, b) => a - b) : [this.id];
    // A joining node starts with no membership: it neither campaigns nor votes until the leader's
    // log (ADD_NODE, or a snapshot) tells it who the members are.
    const initialConf: ConfState = c.join ? { voters: [], learners: [] } : { voters, learners: [] };
    const provider = this.#hooks.storageProvider();
    this.#storage = provider
      ? await provider.plugin.storage!(
        { dataDir: c.data_dir, nodeId: this.id, initialConf },
        provider.ctx,
      )
      : new MemoryStorage(initialConf);
    if (!this.#storage.durable) {
      this.#log.warn(
        provider
          ? `storage: ${this.#storage.description}; not durable: a crash can lose acknowledged writes`
          : "storage: in memory only; a crash loses every write (load the wal plugin to persist)",
      );
    } else {
      this.#log.info(`storage: ${this.#storage.description}`);
    }
    if (!this.#storage.durable && voters.length > 1 && !c.join) {
      this.#log.warn(
        "cluster member without durable storage: if this node restarts it has lost its log and its " +
          "vote, and must not rejoin as the same member (REMOVE_NODE it, then add it back with " +
          "--join); use the wal plugin for members that may restart",
      );
    }
    // Membership addresses from config (raft addresses; client addresses given or raft port - 1).
    for (const [id, raft] of Object.entries(c.peers)) {
      this.#members.set(Number(id), {
        raft,
        client: c.peer_clients[Number(id)] ?? defaultClientAddr(raft),
      });
    }
    // Restore from the latest snapshot, if any.
    const snap = this.#storage.snapshot();
    if (snap.meta.index > 0) this.#restoreSnapshot(snap);
    this.#transport = await createTransport(c.transport);
    this.#peers = new PeerNetwork(
      this.#transport,
      {
        selfId: this.id,
        host: c.host,
        port: c.raft_port,
        maxMessageBytes: 2 * c.batch_max_bytes + PEER_FRAME_SLACK,
        peers: c.peers,
      },
      (m) => this.#step(m),
      (id) => this.#raft.reportUnreachable(id),
      (id) => this.#raft.reportSnapshot(id, false),
      this.#log.child("peers"),
      this.#statsObj,
    );
    await listenOrExplain("peers", `${c.host}:${c.raft_port}`, () => this.#peers.listen());
    this.#server = new ClientServer(this, {
      host: c.host,
      port: c.port,
      password: c.password,
      maxMessageBytes: c.batch_max_bytes,
      maxConnections: c.max_connections,
      maxUnauthenticated: c.max_unauthenticated_connections,
      authTimeoutMs: c.auth_timeout_ms,
      idleTimeoutMs: c.idle_timeout_ms,
      frameTimeoutMs: c.frame_timeout_ms,
      authFailureDelayMs: c.auth_failure_delay_ms,
      noDelay: c.tcp_nodelay,
      socketBufferBytes: c.socket_buffer_bytes,
    }, this.#log.child("server"));
    await listenOrExplain(
      "clients",
      `${c.host}:${c.port}`,
      () => this.#server.listen(this.#transport),
    );
    if (!this.#members.has(this.id)) {
      this.#members.set(this.id, {
        raft: `${c.host}:${this.#peers.port}`,
        client: `${c.host}:${this.#server.port}`,
      });
    }
    this.#raft = createRawNode({
      id: this.id,
      electionTick: Math.max(2, Math.round(c.election_timeout_ms / c.tick_ms)),
      heartbeatTick: Math.max(1, Math.round(c.heartbeat_ms / c.tick_ms)),
      storage: this.#storage,
      applied: this.#applied,
      maxInflight: c.raft_append_batch,
      maxSizePerMsg: 4 * 1024 * 1024,
      preVote: true,
      checkQuorum: true,
      random: Math.random,
      leaseRead: c.lease_read,
    });
    const conf = this.#storage.initialState().conf;
    if (conf.voters.length === 1 && conf.voters[0] === this.id) this.#raft.campaign();
    this.#ticker = setInterval(() => this.#tick(), c.tick_ms);
    this.#scheduleReady();
    await this.#hooks.start();
    this.#log.info(
      `node ${this.id} listening: clients ${c.host}:${this.#server.port}, raft ${c.host}:${this.#peers.port}` +
        ` (${c.transport}), members ${[...this.#members.keys()].join(",")}`,
    );
  }

  // ---------------------------------------------------------------- raft driving

  #tick(): void {
    if (this.#stopped) return;
    this.#watchLag();
    this.#raft.tick();
    const expired = this.#pending.expire(Date.now(), {
      code: Code.TIMEOUT,
      message:
        `timeout: not committed within ${this.config.raft_submit_timeout_ms} ms (outcome unknown; safe to retry with the same batch id)`,
    });
    this.#statsObj.proposalTimeouts += expired;
    this.#scheduleReady();
  }

  #lastTickAt = 0;
  #lastLagWarning = 0;

  /**
   * Warns (at most every 10 s) when the event loop was blocked long enough to matter for Raft:
   * more than half the election timeout, so followers may start elections.
   */
  #watchLag(): void {
    const now = performance.now();
    const late = this.#lastTickAt === 0 ? 0 : now - this.#lastTickAt - this.config.tick_ms;
    this.#lastTickAt = now;
    if (late > this.config.election_timeout_ms / 2 && now - this.#lastLagWarning > 10_000) {
      this.#lastLagWarning = now;
      this.#log.warn(
        `event loop blocked for ~${
          Math.round(late)
        } ms (election timeout ${this.config.election_timeout_ms} ms): ` +
          "elections may follow; is the machine overloaded?",
      );
    }
  }

  #step(m: Message): void {
    if (this.#stopped) return;
    this.#raft.step(m);
    this.#scheduleReady();
  }

  #scheduleReady(): void {
    if (this.#readyScheduled || this.#stopped) return;
    this.#readyScheduled = true;
    setImmediate(() => {
      this.#readyScheduled = false;
      if (this.#stopped) return;
      if (this.#readQueue.length > 0) this.#requestReadIndex();
      if (this.#readyRunning) return;
      this.#readyRunning = this.#runReady().finally(() => {
        this.#readyRunning = null;
        if (this.#raft.hasReady()) this.#scheduleReady();
      });
    });
  }

  async #runReady(): Promise<void> {
    try {
      while (!this.#stopped && this.#raft.hasReady()) {
        const rd = this.#raft.ready();
        await this.#handleReady(rd);
        this.#raft.advance(rd);
        // Snapshot after advance: the core must know the entries are applied before compacting.
        // It is taken at the applied index but encoded and written in the background (a slice of
        // keys per event-loop turn, then the file and its fsync), so commits do not wait for it.
        if (this.#snapshotDue()) {
          this.#snapshotWrite = this.#takeSnapshot().catch((err) => this.#fail(err as Error));
        }
      }
    } catch (err) {
      this.#fail(err as Error);
    }
  }

  async #handleReady(rd: Ready): Promise<void> {
    if (rd.softState) this.#onSoftState(rd.softState.role, rd.softState.leader);
    if (rd.leaderMessages.length) this.#peers.send(rd.leaderMessages);
    const st = this.#storage;
    if (rd.snapshot && rd.snapshot.meta.index > 0) {
      await st.applySnapshot(rd.snapshot);
      this.#restoreSnapshot(rd.snapshot);
    }
    if (rd.entries.length) st.append(rd.entries);
    if (rd.hardState) st.setHardState(rd.hardState);
    if (rd.mustSync || rd.entries.length) await st.sync();
    if (rd.messages.length) this.#peers.send(rd.messages);
    if (rd.committedEntries.length) this.#applyEntries(rd.committedEntries);
    if (rd.readStates.length) this.#onReadStates(rd.readStates);
    if (this.#readsToServe.length) this.#serveReads();
  }

  #onSoftState(role: RaftStatus["role"], leader: NodeId): void {
    const wasLeader = this.#role === "leader";
    this.#role = role;
    if (leader !== this.#leader) {
      this.#leader = leader;
      this.#log.info(
        leader === 0
          ? "no leader"
          : `leader is now node ${leader}${leader === this.id ? " (this node)" : ""}`,
      );
    }
    if (wasLeader && role !== "leader") {
      const n = this.#pending.failAll({
        code: Code.TIMEOUT,
        message:
          "leadership lost before the batch was applied (outcome unknown; safe to retry with the same batch id)",
        leader: this.leaderAddress(),
      });
      if (n > 0) this.#log.warn(`leadership lost: failed ${n} pending batches`);
    }
    if (role !== "leader") this.#dropReads();
  }

  #applyEntries(entries: Entry[]): void {
    const pending = this.#pending;
    for (const e of entries) {
      if (e.index <= this.#applied) continue;
      this.#bytesSinceSnapshot += e.data.length;
      if (e.type === EntryType.ConfChange) this.#applyConfChange(e);
      else {
        const { batches, results } = this.#applier.apply(e);
        for (let i = 0; i < batches.length; i++) {
          pending.settle(batches[i].clientId, batches[i].batchId, { result: results[i] });
        }
      }
      this.#applied = e.index;
    }
  }

  #applyConfChange(e: Entry): void {
    let cc: ConfChange;
    try {
      cc = decodeConfChange(e.data);
    } catch (err) {
      // Every replica ignores the same bad entry, so they stay in agreement.
      this.#log.error(`entry ${e.index}: ${(err as Error).message}; ignored`);
      return;
    }
    const cs = this.#raft.applyConfChange(cc);
    this.#storage.setConfState(cs);
    if (cc.type === "removeNode") {
      this.#members.delete(cc.nodeId);
      this.#peers.removePeer(cc.nodeId);
      if (cc.nodeId === this.id) this.#log.warn("this node was removed from the cluster");
    } else if (cc.context) {
      try {
        const addr = decodeCbor(cc.context) as MemberAddress;
        this.#members.set(cc.nodeId, addr);
        this.#peers.setPeer(cc.nodeId, addr.raft);
      } catch {
        this.#log.error(`entry ${e.index}: conf change context undecodable`);
      }
    }
    this.#log.info(
      `membership: ${cc.type} ${cc.nodeId} → voters ${cs.voters.join(",")}${
        cs.learners.length ? ` learners ${cs.learners.join(",")}` : ""
      }`,
    );
  }

  // ---------------------------------------------------------------- snapshots

  #membersObject(): Record<number, MemberAddress> {
    const out: Record<number, MemberAddress> = {};
    for (const [id, a] of this.#members) out[id] = a;
    return out;
  }

  /**
   * A snapshot is due after `snapshot_entries` entries *and* once the log written since the last
   * snapshot is at least as large as that snapshot: the cost of snapshotting stays proportional to
   * the data written, however large the state grows.
   */
  #snapshotDue(): boolean {
    return !this.#snapshotting &&
      this.#applied - this.#snapshotIndex >= this.config.snapshot_entries &&
      this.#bytesSinceSnapshot >= this.#lastSnapshotBytes;
  }

  /** Expected snapshot size: the last one's bytes per key times today's keys (presizes the buffer). */
  #snapshotSizeHint(): number {
    const keys = this.#lastSnapshotKeys;
    return keys > 0
      ? Math.ceil(this.#lastSnapshotBytes / keys * this.#sm.size())
      : this.#lastSnapshotBytes;
  }

  async #takeSnapshot(): Promise<void> {
    this.#snapshotting = true;
    try {
      // Everything is taken at the applied index, now; the state is then encoded a slice per
      // event-loop turn (entries applied meanwhile do not change it), so commits never wait
      // behind one long synchronous encoding.
      const index = this.#applied;
      const meta = { index, term: this.#storage.term(index), conf: this.#raft.status().conf };
      const keys = this.#sm.size();
      // Counted from here: entries applied while the snapshot is written belong to the next one.
      this.#bytesSinceSnapshot = 0;
      const t0 = performance.now();
      const data = await encodeNodeSnapshotInSteps(
        this.#sm,
        {
          plugins: this.#hooks.snapshot(),
          members: this.#membersObject(),
        },
        this.#snapshotSizeHint(),
        SNAPSHOT_KEYS_PER_STEP,
      );
      const t1 = performance.now();
      const snap: Snapshot = { meta, data };
      this.#lastSnapshotKeys = keys;
      this.#lastSnapshotBytes = data.length;
      await this.#storage.saveSnapshot(snap, this.config.snapshot_keep_entries);
      this.#raft.compact(index);
      // A leader's snapshot installed meanwhile may already be newer.
      this.#snapshotIndex = Math.max(this.#snapshotIndex, index);
      this.#log.debug(
        `snapshot at index ${index}: ${data.length} bytes, encoded in ${
          Math.round(t1 - t0)
        } ms, saved in ${Math.round(performance.now() - t1)} ms`,
      );
    } finally {
      this.#snapshotting = false;
    }
  }

  #restoreSnapshot(snap: Snapshot): void {
    const s = decodeNodeSnapshot(snap.data);
    this.#sm.restore(s.state);
    this.#hooks.restore(s.plugins);
    for (const [id, a] of Object.entries(s.members)) {
      this.#members.set(Number(id), a);
      this.#peers?.setPeer(Number(id), a.raft);
    }
    this.#applied = snap.meta.index;
    this.#snapshotIndex = snap.meta.index;
    this.#log.info(`restored snapshot at index ${snap.meta.index}`);
  }

  // ---------------------------------------------------------------- write path

  /** Entry point of the write path for the server (ServerBackend). */
  submit(batch: ClientBatch, done: (o: Outcome) => void): void {
    const refuse = this.#admission();
    if (refuse) return done(refuse);
    if (!this.#pending.add(batch, done, Date.now() + this.config.raft_submit_timeout_ms)) return;
    if (isReadOnlyBatch(batch.commands, this.#isRead)) {
      (batch as { readOnly?: boolean }).readOnly = true;
    }
    let d: BatchDecision | Promise<BatchDecision>;
    try {
      d = this.#hooks.onBatch(batch);
    } catch (err) {
      this.#settleError([batch], Code.INTERNAL, (err as Error).message);
      return;
    }
    if (d instanceof Promise) {
      d.then(
        (x) => this.#decide(batch, x),
        (err) => this.#settleError([batch], Code.INTERNAL, (err as Error).message),
      );
    } else this.#decide(batch, d);
  }

  /** Why a new batch cannot be admitted now, or null. */
  #admission(): Outcome | null {
    if (this.#stopping) return { code: Code.SHUTTING_DOWN, message: "server shutting down" };
    if (this.#fatal) return { code: Code.INTERNAL, message: `node failed: ${this.#fatal.message}` };
    if (this.#role !== "leader") {
      const leader = this.leaderAddress();
      return leader
        ? {
          code: Code.NOT_LEADER,
          message: `not leader; leader is node ${this.#leader} at ${leader}`,
          leader,
        }
        : { code: Code.UNAVAILABLE, message: "no leader elected yet; retry shortly" };
    }
    if (this.#pending.full) {
      this.#statsObj.busyRejections++;
      return {
        code: Code.BUSY,
        message: `server busy: ${this.#pending.size} batches pending (max_pending_batches)`,
      };
    }
    return null;
  }

  #decide(batch: ClientBatch, d: BatchDecision): void {
    if (!d) {
      if (batch.readOnly) this.#read(batch);
      else this.#proposeBatches([batch]);
    } else if ("respond" in d) {
      this.#pending.settle(batch.clientId, batch.batchId, { result: d.respond });
    } else if ("reject" in d) {
      this.#pending.settle(batch.clientId, batch.batchId, {
        code: d.reject.code,
        message: d.reject.message,
      });
    }
    // { defer: true }: the plugin proposes it later through ctx.propose.
  }

  #settleError(
    batches: readonly ClientBatch[],
    code: CodeNumber,
    message: string,
    leader?: string,
  ): void {
    for (const b of batches) this.#pending.settle(b.clientId, b.batchId, { code, message, leader });
  }

  #proposeBatches(batches: ClientBatch[]): void {
    if (batches.length === 0) return;
    const refuse = this.#stopping || this.#role !== "leader" ? this.#admission() : null;
    if (refuse && "code" in refuse) {
      return this.#settleError(batches, refuse.code, refuse.message, refuse.leader);
    }
    const nowMs = Math.max(Date.now(), this.#lastNow);
    this.#lastNow = nowMs;
    const data = encodeProposal(batches, nowMs);
    try {
      this.#hooks.onPropose({ batches, nowMs, data });
    } catch (err) {
      return this.#settleError(batches, Code.INTERNAL, (err as PluginError).message);
    }
    const r = this.#raft.propose(data);
    if (typeof r === "string") {
      const leader = this.leaderAddress();
      return this.#settleError(batches, Code.NOT_LEADER, `proposal refused (${r})`, leader);
    }
    this.#statsObj.proposals++;
    this.#scheduleReady();
  }

  // ---------------------------------------------------------------- read path (ReadIndex)

  readonly #isRead = (name: Uint8Array): boolean => this.#sm.isReadOnly(name);

  /** Queues a read-only batch; the next scheduled round asks Raft for one read index for all. */
  #read(batch: ClientBatch): void {
    this.#readQueue.push(batch);
    this.#scheduleReady();
  }

  #requestReadIndex(): void {
    if (this.#role !== "leader") return this.#dropReads();
    const seq = ++this.#readSeq;
    const ctx = new Uint8Array(8);
    new DataView(ctx.buffer).setFloat64(0, seq);
    this.#readRequests.set(seq, this.#readQueue);
    this.#readQueue = [];
    if (this.#readRequests.size > MAX_READ_REQUESTS) {
      // The oldest request's answer was lost; its batches time out through the pending table.
      this.#readRequests.delete(this.#readRequests.keys().next().value!);
    }
    this.#raft.readIndex(ctx);
  }

  #onReadStates(states: readonly ReadState[]): void {
    for (const rs of states) {
      if (rs.context.length !== 8) continue;
      const seq = new DataView(rs.context.buffer, rs.context.byteOffset, 8).getFloat64(0);
      const batches = this.#readRequests.get(seq);
      if (!batches) continue;
      this.#readRequests.delete(seq);
      this.#readsToServe.push({ index: rs.index, batches });
    }
  }

  /** Answers confirmed reads whose read index is applied, from the local state machine. */
  #serveReads(): void {
    const q = this.#readsToServe;
    let done = 0;
    const ctx = this.#readCtx;
    ctx.nowMs = Math.max(Date.now(), this.#lastNow);
    ctx.index = this.#applied;
    while (done < q.length && q[done].index <= this.#applied) {
      for (const b of q[done].batches) {
        this.#pending.settle(b.clientId, b.batchId, { result: this.#applier.execute(b, ctx) });
      }
      done++;
    }
    if (done > 0) q.splice(0, done);
  }

  /** Forgets queued and in-flight reads (their clients are answered via the pending table). */
  #dropReads(): void {
    this.#readQueue = [];
    this.#readRequests.clear();
    this.#readsToServe.length = 0;
  }

  // ---------------------------------------------------------------- server commands

  /** ServerBackend: the counters the server updates. */
  get counters(): NodeStats {
    return this.#statsObj;
  }

  #info(): string {
    const s = this.#raft.status();
    const st = this.stats();
    return [
      "# Server",
      `node_id:${this.id}`,
      `transport:${this.config.transport}`,
      `storage:${this.#storage.description}`,
      `durable:${this.#storage.durable}`,
      "# Raft",
      `role:${s.role}`,
      `term:${s.term}`,
      `leader:${s.leader}`,
      `leader_address:${this.leaderAddress() ?? ""}`,
      `commit_index:${s.commit}`,
      `applied_index:${s.applied}`,
      `last_index:${s.lastIndex}`,
      `voters:${s.conf.voters.join(",")}`,
      `learners:${s.conf.learners.join(",")}`,
      "# Stats",
      `connections:${st.connections}`,
      `batches_received:${st.batchesReceived}`,
      `commands_received:${st.commandsReceived}`,
      `proposals:${st.proposals}`,
      `pending_batches:${st.pendingBatches}`,
      `bytes_in:${st.bytesIn}`,
      `bytes_out:${st.bytesOut}`,
      `keys:${this.#sm.size()}`,
      "# Plugins",
      `plugins:${this.#hooks.plugins.map((p) => p.name).join(",")}`,
    ].join("\n");
  }

  #members_(): Value[] {
    const conf = this.#raft.status().conf;
    const out: Value[] = [];
    const ids = [...new Set([...conf.voters, ...conf.learners])].sort((a, b) => a - b);
    for (const id of ids) {
      const a = this.#members.get(id);
      out.push([
        id,
        a?.raft ?? "",
        a?.client ?? "",
        conf.learners.includes(id) ? "learner" : "voter",
        id === this.#leader ? "leader" : "",
      ]);
    }
    return out;
  }

  /** Local server commands (read-only ones may appear in batches). */
  #serverCommandInBatch(argv: Argv): { code: number; value: Value; error: string | null } | null {
    const name = commandName(argv);
    if (!SERVER_COMMANDS.has(name)) return null;
    switch (name) {
      case "INFO":
        return { code: Code.OK, value: this.#info(), error: null };
      case "GET_LEADER":
        return this.#leader
          ? { code: Code.OK, value: [this.#leader, this.leaderAddress() ?? ""], error: null }
          : { code: Code.UNAVAILABLE, value: null, error: "no leader elected yet" };
      case "MEMBERS":
        return { code: Code.OK, value: this.#members_(), error: null };
      default:
        return {
          code: Code.SYNTAX,
          value: null,
          error: `${name} must be sent on its own, not inside a batch with other commands`,
        };
    }
  }

  /** ServerBackend: handles a lone server command. */
  serverCommand(
    cmd: unknown,
  ): Promise<{ code: CodeNumber; value: WireValue; error: string | null }> | null {
    if (cmd === undefined) return null;
    const argv = toArgv(cmd);
    if (typeof argv === "string" || argv[0].length < 4 || argv[0].length > 15) return null;
    const name = commandName(argv);
    if (!SERVER_COMMANDS.has(name)) return null;
    return this.#adminCommand(name, argv).then(
      (r) => r,
      (err) => ({ code: Code.INTERNAL, value: null, error: (err as Error).message }),
    );
  }

  async #adminCommand(
    name: string,
    argv: Argv,
  ): Promise<{ code: CodeNumber; value: WireValue; error: string | null }> {
    const dec = new TextDecoder();
    const args = argv.slice(1).map((a) => dec.decode(a));
    const local = this.#serverCommandInBatch(argv);
    if (local && local.code !== Code.SYNTAX) {
      return local as { code: CodeNumber; value: WireValue; error: string | null };
    }
    const syntax = (msg: string) => ({ code: Code.SYNTAX as CodeNumber, value: null, error: msg });
    if (this.#role !== "leader") {
      const leader = this.leaderAddress();
      return {
        code: leader ? Code.NOT_LEADER : Code.UNAVAILABLE,
        value: leader ?? null,
        error: leader ? `not leader; leader is at ${leader}` : "no leader",
      };
    }
    const id = Number(args[0]);
    if (!Number.isInteger(id) || id < 1 || id > 65535) {
      return syntax(`${name} needs a node id (1..65535)`);
    }
    if (name === "TRANSFER_LEADER") {
      if (!this.#raft.status().conf.voters.includes(id)) return syntax(`node ${id} is not a voter`);
      this.#raft.transferLeader(id);
      this.#scheduleReady();
      return { code: Code.OK, value: "OK", error: null };
    }
    let cc: ConfChange;
    if (name === "ADD_NODE") {
      const raft = args[1];
      if (!raft || !/^.+:\d+$/.test(raft)) {
        return syntax("ADD_NODE id raft_host:port [client_host:port] [LEARNER]");
      }
      const client = args[2] && /^.+:\d+$/.test(args[2]) ? args[2] : defaultClientAddr(raft);
      const learner = args.some((a) => a.toUpperCase() === "LEARNER");
      cc = {
        type: learner ? "addLearner" : "addVoter",
        nodeId: id,
        context: encodeCbor({ raft, client }).slice(),
      };
      this.#members.set(id, { raft, client });
      this.#peers.setPeer(id, raft);
    } else {
      cc = { type: "removeNode", nodeId: id };
    }
    const r = this.#raft.proposeConfChange(cc);
    if (typeof r === "string") {
      return {
        code: r === "conf_change_pending" ? Code.BUSY : Code.NOT_LEADER,
        value: null,
        error: `membership change refused: ${r}`,
      };
    }
    this.#scheduleReady();
    const deadline = Date.now() + Math.max(this.config.raft_submit_timeout_ms, 5000);
    while (this.#applied < r) {
      if (Date.now() > deadline) {
        return {
          code: Code.TIMEOUT,
          value: null,
          error: "membership change not applied in time (outcome unknown)",
        };
      }
      await new Promise((res) => setTimeout(res, 5));
    }
    return { code: Code.OK, value: "OK", error: null };
  }

  // ---------------------------------------------------------------- failure and stop

  #fail(err: Error): void {
    if (this.#fatal) return;
    this.#fatal = err;
    this.#log.error(`fatal: ${err.message}; refusing writes`, err);
    this.#pending.failAll({ code: Code.INTERNAL, message: `node failed: ${err.message}` });
  }

  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    await this.#server.stopAccepting();
    // Give in-flight batches the submit timeout to finish.
    const until = Date.now() + this.config.raft_submit_timeout_ms;
    while (this.#pending.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    // These were admitted and may be committed later by another leader: outcome unknown, which is
    // TIMEOUT (SHUTTING_DOWN is only for batches refused at the door, which nothing applied).
    this.#pending.failAll({
      code: Code.TIMEOUT,
      message: "server shutting down before the batch was applied (outcome unknown)",
    });
    await new Promise((r) => setTimeout(r, 5));
    this.#server.closeAll();
    if (this.#ticker) clearInterval(this.#ticker);
    this.#stopped = true;
    await this.#readyRunning;
    await this.#snapshotWrite;
    await this.#peers.close();
    await this.#hooks.stop();
    await this.#storage.close();
    this.#log.info(`node ${this.id} stopped`);
  }
}

/** Starts a node with `config` and the given (already loaded) plugins. */
export async function startNode(config: Config, options: StartOptions = {}): Promise<TinyKVNode> {
  const log = options.logger ?? createLogger(config.log_level);
  const node = new Node(config, options.plugins ?? [], log);
  await node.start();
  return node;
}
