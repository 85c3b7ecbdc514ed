/**
 * One TinyKV node, composed of small parts (see docs/architecture.md):
 * - {@link ReadyDriver} (`ready.ts`): persist → send → apply → advance for each Raft Ready;
 * - {@link WritePath} (`write_path.ts`): admission, pending table, plugin hooks, proposals;
 * - {@link Reads} (`reads.ts`): ReadIndex queue, serving confirmed reads once applied;
 * - {@link Snapshots} (`snapshots.ts`): due rule, background take, restore;
 * - {@link Membership} (`membership.ts`) and {@link AdminCommands} (`admin.ts`): addresses, conf
 *   changes, ADD_NODE/REMOVE_NODE answered when their entry applies;
 * - {@link ServerCommands} (`server_commands.ts`): INFO, GET_LEADER, MEMBERS, never in the log;
 * - `applyEntries` (`apply.ts`): committed entries to membership or the Applier.
 *
 * This file only wires them: start-up (plugins, storage, transport, peers, client server, Raft),
 * the tick, leadership changes, failure and stop. Time, timers and randomness come from the
 * injected {@link Clock}, {@link Scheduler} and `random` (real ones by default).
 * @module
 */
import { Registry } from "prom-client";
import { Applier } from "./applier.ts";
import type { Config } from "../config/config.ts";
import { Code } from "../../protocol/codes.ts";
import { HookBus } from "../plugin/hooks.ts";
import { createLogger, type Logger } from "../config/logger.ts";
import { listenProblem } from "../config/os_errors.ts";
import { MemoryStorage } from "../storage/memory.ts";
import { checkClusterIdFile, checkNodeIdFile, resolveClusterSecret } from "../peers/auth.ts";
import { PeerNetwork } from "../peers/network.ts";
import { LoopMonitor } from "../env/loop_monitor.ts";
import { jsThreadTimes } from "../env/thread_times.ts";
import type { ClientBatch, NodeStats, NodeView, Plugin, PluginContext } from "../plugin/plugin.ts";
import { pluginOptionValues } from "../plugin/plugin.ts";
import { createRawNode } from "../raft/raw_node.ts";
import type { ConfState, Message, NodeId, RaftStatus, RawNode } from "../raft/types.ts";
import {
  ClientServer,
  type Outcome,
  type ServerBackend,
  type ServerOptions,
} from "../server/client_server.ts";
import { RespServer } from "../server/resp/server.ts";
import { createTcpTransport } from "../../transports/tcp/mod.ts";
import { createStateMachine } from "../state/state_machine.ts";
import type { StateMachine } from "../state/types.ts";
import type { Storage } from "../storage/storage.ts";
import { createTransport } from "../../transports/mod.ts";
import type { Transport } from "../../transports/types.ts";
import { AdminCommands } from "./admin.ts";
import { applyEntries } from "./apply.ts";
import {
  type Cancel,
  type Clock,
  type Random,
  realClock,
  realRandom,
  realScheduler,
  type Scheduler,
  sleep,
} from "../env/time.ts";
import { type FileSystem, nodeFileSystem } from "../env/fs.ts";
import { Backups } from "./backup.ts";
import { Forwarding } from "./forwarding.ts";
import { Lessor } from "./lessor.ts";
import { Membership } from "./membership.ts";
import { ReadyDriver } from "./ready.ts";
import { Reads } from "./reads.ts";
import { inLogServerCommand, isLocalCommand, ServerCommands } from "./server_commands.ts";
import { Snapshots } from "./snapshots.ts";
import { NodeState, type StartOptions, type TinyKVNode } from "./types.ts";
import { WritePath } from "./write_path.ts";
import { WatchHub } from "../server/watch.ts";
import { WatchHistory } from "../state/watch_history.ts";

const PEER_FRAME_SLACK = 8 * 1024 * 1024;

/** Committed entry bytes a Ready round applies (at least one entry); the rest on later turns. */
const APPLY_BYTES_PER_ROUND = 32 * 1024;

/** After stop answered every batch, replies get this long to reach the sockets before they close. */
const STOP_FLUSH_MS = 5;

/** Runs a listen call; a failure names the address and says why in words (taken, denied). */
async function listenOrExplain(what: string, addr: string, listen: () => Promise<void>) {
  try {
    await listen();
  } catch (err) {
    const port = Number(addr.slice(addr.lastIndexOf(":") + 1));
    throw new Error(`cannot listen for ${what} on ${addr}: ${listenProblem(err, port)}`);
  }
}

/** The composition of the node's parts. */
export class Node implements TinyKVNode {
  readonly id: NodeId;
  readonly config: Readonly<Config>;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #scheduler: Scheduler;
  readonly #random: Random;
  readonly #fs: FileSystem;
  readonly #opts: StartOptions;
  readonly #stats: NodeStats = {
    bytesIn: 0,
    bytesOut: 0,
    connections: 0,
    batchesReceived: 0,
    commandsReceived: 0,
    proposals: 0,
    pendingBatches: 0,
    busyRejections: 0,
    proposalTimeouts: 0,
    leaderChanges: 0,
    keys: 0,
  };
  readonly #registry = new Registry();
  readonly #sm: StateMachine = createStateMachine();
  readonly #state = new NodeState();
  readonly #hooks: HookBus;
  readonly #membership: Membership;
  readonly #write: WritePath;
  readonly #forwarding: Forwarding;
  /** Lease deadlines and expiry proposals, on the leader. */
  readonly #lessor: Lessor;
  readonly #reads: Reads;
  readonly #snapshots: Snapshots;
  readonly #admin: AdminCommands;
  readonly #commands: ServerCommands;
  /** Applies entries; INFO/GET_LEADER/MEMBERS inside them get the deterministic error. */
  readonly #logApplier: Applier;
  #storage!: Storage;
  #raft!: RawNode;
  #driver!: ReadyDriver;
  #transport!: Transport;
  #server!: ClientServer;
  /** The RESP listener (redis_port), when enabled. */
  #resp: RespServer | null = null;
  #peers!: PeerNetwork;
  /** Watch history and watches (docs/watch.md). */
  readonly #watches: WatchHub;
  #ticker: Cancel | null = null;
  readonly #loop: LoopMonitor;
  #lastTickAt = 0;
  #lastLagWarning = 0;
  /** When a message from each peer last arrived (monotonic ms), for the quorum warning. */
  #heardAt = new Map<NodeId, number>();
  #noQuorumSince = 0;
  #lastQuorumWarning = 0;
  /** Since when (monotonic ms) this node has had no leader; 0 while it has one. */
  #leaderlessSince = 0;

  constructor(config: Config, opts: StartOptions, log: Logger) {
    this.id = config.node_id;
    this.config = Object.freeze({ ...config });
    this.#log = log;
    this.#opts = opts;
    this.#clock = opts.clock ?? realClock;
    this.#scheduler = opts.scheduler ?? realScheduler;
    this.#loop = new LoopMonitor(
      this.#clock,
      this.#scheduler,
      opts.threadTimes !== undefined ? opts.threadTimes : opts.clock ? null : jsThreadTimes(),
    );
    this.#stats.loopBlocks = this.#loop.stats;
    this.#random = opts.random ?? realRandom;
    this.#fs = opts.fs ?? nodeFileSystem;
    const state = this.#state;
    this.#membership = new Membership(this.id, log);
    this.#watches = new WatchHub(
      new WatchHistory({
        revisions: config.watch_history_revisions,
        bytes: config.watch_history_bytes,
      }),
      {
        maxPendingBytes: config.watch_max_pending_bytes,
        maxPerConnection: config.watch_max_per_connection,
        maxTotal: config.watch_max_total,
      },
      this.#scheduler,
      (conn, bytes) => {
        this.#stats.bytesOut += bytes.length + 4;
        conn.send(bytes);
      },
    );
    this.#sm.keepHistory?.(this.#watches.history);
    // deno-lint-ignore no-this-alias
    const node = this;
    const view: NodeView = {
      id: this.id,
      raftStatus: () => this.status(),
      stats: () => this.stats(),
      leaderAddress: () => this.leaderAddress(),
      get durable() {
        return node.#storage?.durable ?? false;
      },
    };
    this.#hooks = new HookBus(opts.plugins ?? [], (p) => this.#pluginContext(p, view), log);
    this.#write = new WritePath({
      config: this.config,
      state,
      hooks: this.#hooks,
      clock: this.#clock,
      stats: this.#stats,
      isRead: (name) => this.#sm.isReadOnly(name) || isLocalCommand(name),
      read: (b) => this.#reads.enqueue(b),
      propose: (data) => {
        const r = this.#raft.propose(data);
        if (typeof r === "number") this.#driver.schedule();
        return r;
      },
      clientAddress: (id) => this.#membership.clientAddress(id),
      forward: (b) => this.#forwarding.forward(b),
      report: (err) => log.error(`answering a client failed (the node carries on): ${err}`),
    });
    this.#lessor = new Lessor({
      clock: this.#clock,
      isLeader: () => state.role === "leader" && !state.stopping,
      term: () => this.#raft.status().term,
      leases: () => this.#sm.leases?.() ?? [],
      propose: (b) => this.#write.propose([b]),
      retryMs: this.config.raft_submit_timeout_ms,
    });
    this.#sm.setLeaseListener?.(this.#lessor);
    this.#forwarding = new Forwarding({
      selfId: this.id,
      state,
      pending: this.#write.pending,
      send: (m) => this.#peers.sendForward(m),
      submit: (b, done) => this.#write.submit(b, done),
      runHere: (b) => this.#write.route(b),
    });
    this.#admin = new AdminCommands({
      config: this.config,
      state,
      membership: this.#membership,
      scheduler: this.#scheduler,
      raft: () => this.#raft,
      schedule: () => this.#driver.schedule(),
    });
    this.#commands = new ServerCommands({
      id: this.id,
      config: this.config,
      state,
      sm: this.#sm,
      hooks: this.#hooks,
      membership: this.#membership,
      admin: this.#admin,
      raft: () => this.#raft,
      storage: () => this.#storage,
      stats: () => this.stats(),
      backups: new Backups({
        clock: this.#clock,
        random: this.#random,
        capture: () => this.#snapshots.capture(this.#storage, this.#raft.status().conf),
      }),
    });
    this.#logApplier = new Applier(this.#sm, this.#hooks, inLogServerCommand, (m) => log.error(m));
    this.#reads = new Reads({
      state,
      pending: this.#write.pending,
      // Reads never enter the log: INFO/GET_LEADER/MEMBERS among them are answered locally.
      applier: new Applier(this.#sm, this.#hooks, this.#commands.local, (m) => log.error(m)),
      // Lease reads are judged against the monotonic time of the request.
      readIndex: (ctx) => this.#raft.readIndex(ctx, this.#clock.monoMs()),
      readTime: () => this.#write.readTime(),
      schedule: () => this.#driver.schedule(),
    });
    this.#snapshots = new Snapshots({
      config: this.config,
      state,
      sm: this.#sm,
      hooks: this.#hooks,
      clock: this.#clock,
      scheduler: this.#scheduler,
      log,
      members: () => this.#membership.toObject(),
      restoreMembers: (m) => this.#membership.restore(m),
    });
  }

  #pluginContext(p: Plugin, view: NodeView): PluginContext {
    return {
      options: pluginOptionValues(p, this.config),
      config: this.config,
      logger: this.#log.child(p.name),
      metrics: this.#registry,
      node: view,
      clock: this.#clock,
      scheduler: this.#scheduler,
      fs: this.#fs,
      propose: (batches) => void this.#write.propose(batches),
      answer: (batch, r) => this.#write.answer(batch, r),
    };
  }

  get clientPort(): number {
    return this.#server.port;
  }

  /** The RESP listener's port (-1 when redis_port is off). */
  get redisPort(): number {
    return this.#resp?.port ?? -1;
  }

  get raftPort(): number {
    return this.#peers.port;
  }

  status(): RaftStatus {
    return this.#raft.status();
  }

  stats(): Readonly<NodeStats> {
    this.#stats.pendingBatches = this.#write.pending.size;
    this.#stats.keys = this.#sm.size();
    return this.#stats;
  }

  leaderAddress(): string | undefined {
    const l = this.#state.leader;
    return l ? this.#membership.clientAddress(l) : undefined;
  }

  partition(peers: NodeId[]): void {
    this.#peers.blocked.clear();
    for (const p of peers) this.#peers.blocked.add(p);
  }

  /** What the client server calls. */
  #backend(): ServerBackend {
    return {
      submit: (batch: ClientBatch, done: (o: Outcome) => void, forward?: boolean) =>
        this.#write.submit(batch, done, forward),
      serverCommand: (cmd: unknown) => this.#commands.dispatch(cmd),
      counters: this.#stats,
      watches: this.#watches,
    };
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
    this.#storage = await this.#openStorage(initialConf);
    if (!this.#storage.durable && voters.length > 1 && !c.join) {
      this.#log.warn(
        "cluster member without durable storage: if this node restarts it has lost its log and its " +
          "vote, and must not rejoin as the same member (REMOVE_NODE it, then add it back with " +
          "--join); use the wal plugin for members that may restart",
      );
    }
    this.#membership.fromConfig(c.peers, c.peer_clients);
    // Restore from the latest snapshot, if any.
    const snap = this.#storage.snapshot();
    if (snap.meta.index > 0) {
      this.#snapshots.restore(snap);
      this.#watches.restored(snap.meta.index);
    }
    // The cluster id is fixed at formation and a data dir belongs to one member: a storage that
    // keeps files records both beside them.
    const dir = this.#storage.dataDir;
    if (dir !== undefined) {
      checkClusterIdFile(this.#fs, dir, c.cluster_id);
      checkNodeIdFile(this.#fs, dir, this.id);
    }
    this.#transport = this.#opts.transport ?? await createTransport(c.transport);
    this.#peers = new PeerNetwork(
      this.#transport,
      {
        selfId: this.id,
        host: c.host,
        port: c.raft_port,
        maxMessageBytes: 2 * c.batch_max_bytes + PEER_FRAME_SLACK,
        peers: c.peers,
        secret: resolveClusterSecret(c),
        clusterId: c.cluster_id,
        clock: this.#clock,
        scheduler: this.#scheduler,
        onForward: (m) => {
          if (!this.#state.stopped) this.#forwarding.receive(m);
        },
      },
      (m) => this.#step(m),
      (id) => this.#raft.reportUnreachable(id),
      (id) => this.#raft.reportSnapshot(id, false),
      this.#log.child("peers"),
      this.#stats,
    );
    this.#membership.attach(this.#peers);
    // Members restored from a snapshot are dialled too (they may differ from config).
    for (const id of this.#membership.ids()) {
      const a = this.#membership.get(id);
      if (a && id !== this.id) this.#peers.setPeer(id, a.raft);
    }
    await listenOrExplain("peers", `${c.host}:${c.raft_port}`, () => this.#peers.listen());
    const serverOptions: ServerOptions = {
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
      clock: this.#clock,
      scheduler: this.#scheduler,
      random: this.#random,
    };
    this.#server = new ClientServer(this.#backend(), serverOptions, this.#log.child("server"));
    await listenOrExplain(
      "clients",
      `${c.host}:${c.port}`,
      () => this.#server.listen(this.#transport),
    );
    if (c.redis_port >= 0) {
      this.#resp = new RespServer(
        { ...this.#backend(), role: () => this.#state.role },
        { ...serverOptions, port: c.redis_port },
        this.#log.child("resp"),
      );
      // RESP is a byte stream: always TCP (the same adapters), whatever carries the native port.
      const tcp = this.#transport.name === "tcp" ? this.#transport : await createTcpTransport();
      await listenOrExplain("redis", `${c.host}:${c.redis_port}`, () => this.#resp!.listen(tcp));
    }
    this.#membership.setOwn({
      clientOverride: c.peer_clients[this.id],
      clientPort: this.#server.port,
      raftFallback: c.peers[this.id] ?? `${c.host}:${this.#peers.port}`,
    });
    this.#raft = createRawNode({
      id: this.id,
      electionTick: Math.max(2, Math.round(c.election_timeout_ms / c.tick_ms)),
      heartbeatTick: Math.max(1, Math.round(c.heartbeat_ms / c.tick_ms)),
      storage: this.#storage,
      applied: this.#state.applied,
      maxInflight: c.raft_append_batch,
      maxSizePerMsg: 4 * 1024 * 1024,
      // ~3 batches of 100 SETs per round, a turn between rounds, so applying never holds the
      // event loop for long (a follower catching up on 4 MiB at once held it 100-350 ms, its
      // ticks and heartbeats waited, and elections followed). With 256 KiB, 60 s soaks on 2
      // cores still saw loop blocks of 55-136 ms; with 32 KiB 34-35 ms, at a higher throughput.
      maxCommittedSizePerReady: APPLY_BYTES_PER_ROUND,
      preVote: true,
      checkQuorum: true,
      random: this.#random,
      leaseRead: c.lease_read,
      tickMs: c.tick_ms,
      leaseDriftMs: c.lease_drift_ms,
    });
    this.#driver = this.#readyDriver();
    const conf = this.#storage.initialState().conf;
    if (conf.voters.length === 1 && conf.voters[0] === this.id) this.#raft.campaign();
    this.#ticker = this.#scheduler.interval(c.tick_ms, () => this.#tick());
    this.#loop.start();
    this.#driver.schedule();
    await this.#hooks.start();
    this.#log.info(
      `node ${this.id} listening: clients ${c.host}:${this.#server.port}, raft ${c.host}:${this.#peers.port}` +
        (this.#resp ? `, redis ${c.host}:${this.#resp.port}` : "") +
        ` (${c.transport}), members ${this.#membership.ids().join(",")}`,
    );
  }

  /** Injected storage, else a storage plugin's, else in memory. */
  async #openStorage(initialConf: ConfState): Promise<Storage> {
    const c = this.config;
    if (this.#opts.storage) {
      this.#log.info(`storage: ${this.#opts.storage.description} (injected)`);
      return this.#opts.storage;
    }
    const provider = this.#hooks.storageProvider();
    const storage = provider
      ? await provider.plugin.storage!(
        { dataDir: c.data_dir, nodeId: this.id, initialConf },
        provider.ctx,
      )
      : new MemoryStorage(initialConf);
    if (!storage.durable) {
      this.#log.warn(
        provider
          ? `storage: ${storage.description}; not durable: a crash can lose acknowledged writes`
          : "storage: in memory only; a crash loses every write (load the wal plugin to persist)",
      );
    } else {
      this.#log.info(`storage: ${storage.description}`);
    }
    return storage;
  }

  #readyDriver(): ReadyDriver {
    return new ReadyDriver(this.#raft, this.#storage, this.#scheduler, {
      beforeRound: () => this.#reads.requestIfQueued(),
      onSoftState: (role, leader) => this.#onSoftState(role, leader),
      send: (msgs) => this.#peers.send(msgs),
      restoreSnapshot: (snap) => {
        this.#snapshots.restore(snap);
        this.#watches.restored(snap.meta.index);
        this.#admin.onRestored(snap.meta.index);
      },
      applyEntries: (entries) => {
        applyEntries({
          state: this.#state,
          applier: this.#logApplier,
          pending: this.#write.pending,
          membership: this.#membership,
          admin: this.#admin,
          snapshots: this.#snapshots,
          applyConfChange: (cc) => {
            const cs = this.#raft.applyConfChange(cc);
            this.#storage.setConfState(cs);
            return cs;
          },
          afterEntry: (index) => this.#sm.commitHistory?.(index),
        }, entries);
        this.#watches.changed();
      },
      onReadStates: (states) => this.#reads.onReadStates(states),
      serveReads: () => this.#reads.serve(),
      // Snapshot after advance: the core must know the entries are applied before compacting.
      // It is taken at the applied index but encoded and written in the background (a slice of
      // keys per turn, then the file and its fsync), so commits do not wait for it.
      afterAdvance: () =>
        this.#snapshots.maybeTake({
          storage: this.#storage,
          conf: () => this.#raft.status().conf,
          compact: (i) => this.#raft.compact(i),
        }, (err) => this.#fail(err)),
      fail: (err) => this.#fail(err),
    });
  }

  // ---------------------------------------------------------------- raft driving

  #tick(): void {
    if (this.#state.stopped) return;
    this.#watchLag();
    this.#watchQuorum();
    this.#watchLeader();
    // The core's lease lapses on this clock, not on (possibly late) ticks.
    this.#raft.tick(this.#clock.monoMs());
    this.#write.sweep();
    this.#lessor.tick();
    this.#forwarding.retry();
    this.#driver.schedule();
  }

  /**
   * Warns (at most every 10 s) when the event loop was blocked long enough to matter for Raft:
   * more than half the election timeout, so followers may start elections.
   */
  #watchLag(): void {
    const now = this.#clock.monoMs();
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

  /**
   * Warns (after 5 s, then at most every 10 s) while this node has no leader, or leads without
   * hearing from a quorum, naming the voters it has not heard from lately (2 election timeouts).
   */
  #watchQuorum(): void {
    const now = this.#clock.monoMs();
    const voters = this.#raft.status().conf.voters;
    const recent = 2 * this.config.election_timeout_ms;
    const silent = voters.filter((id) =>
      id !== this.id && !(now - (this.#heardAt.get(id) ?? -Infinity) <= recent)
    );
    const quorum = Math.floor(voters.length / 2) + 1;
    const s = this.#state;
    const ok = voters.length === 0 ||
      (s.leader !== 0 && (s.leader !== this.id || voters.length - silent.length >= quorum));
    if (ok) {
      this.#noQuorumSince = 0;
      return;
    }
    if (this.#noQuorumSince === 0) this.#noQuorumSince = now;
    const waited = now - this.#noQuorumSince;
    const last = this.#lastQuorumWarning;
    if (waited < 5_000 || (last !== 0 && now - last < 10_000)) return;
    this.#lastQuorumWarning = now;
    const who = silent.map((id) => `node ${id} (${this.#peers.peerAddress(id) ?? "no address"})`);
    this.#log.warn(
      `${s.leader === 0 ? "no leader" : "leading without a quorum"} for ${
        Math.round(waited / 1000)
      } s: a quorum is ${quorum} of voters ${voters.join(", ")}; ` +
        (who.length > 0
          ? `waiting for ${who.join(", ")}`
          : "every voter answers; waiting for an election to succeed"),
    );
  }

  /**
   * Without a leader for two election timeouts the node's history stands still: its watches end
   * (NO_LEADER) so their clients resume on a node that has one.
   */
  #watchLeader(): void {
    if (this.#state.leader !== 0) {
      this.#leaderlessSince = 0;
      this.#watches.setLeaderless(false);
      return;
    }
    const now = this.#clock.monoMs();
    if (this.#leaderlessSince === 0) this.#leaderlessSince = now;
    else if (now - this.#leaderlessSince > 2 * this.config.election_timeout_ms) {
      this.#watches.setLeaderless(true);
    }
  }

  #step(m: Message): void {
    if (this.#state.stopped) return;
    this.#heardAt.set(m.from, this.#clock.monoMs());
    this.#raft.step(m);
    this.#driver.schedule();
  }

  #onSoftState(role: RaftStatus["role"], leader: NodeId): void {
    const s = this.#state;
    const wasLeader = s.role === "leader";
    const leaderChanged = leader !== s.leader;
    s.role = role;
    if (leaderChanged) {
      s.leader = leader;
      if (leader !== 0) this.#stats.leaderChanges = (this.#stats.leaderChanges ?? 0) + 1;
      this.#log.info(
        leader === 0
          ? "no leader"
          : `leader is now node ${leader}${leader === this.id ? " (this node)" : ""}`,
      );
    }
    if (wasLeader && role !== "leader") {
      const n = this.#write.pending.failAll({
        code: Code.TIMEOUT,
        message:
          "leadership lost before the batch was applied (outcome unknown; safe to retry with the same batch id)",
        leader: this.leaderAddress(),
      });
      if (n > 0) this.#log.warn(`leadership lost: failed ${n} pending batches`);
      this.#admin.failAll("leadership lost before the change was applied");
    }
    if (wasLeader !== (role === "leader")) this.#lessor.onLeadership(role === "leader");
    if (wasLeader && role !== "leader") this.#reads.drop();
    else if (leaderChanged) this.#reads.requeue();
    // Forwarded batches go to the new leader (or run here, if this node leads now).
    if (leaderChanged) this.#forwarding.retry();
    if (!wasLeader && role === "leader") this.#scheduler.immediate(() => this.#announce());
  }

  /** As a new leader, proposes this node's advertised addresses when membership differs. */
  #announce(): void {
    if (this.#state.role !== "leader" || this.#state.stopping) return;
    const data = this.#membership.announcement();
    if (!data) return;
    if (typeof this.#raft.propose(data) === "number") this.#driver.schedule();
  }

  // ---------------------------------------------------------------- failure and stop

  #fail(err: Error): void {
    if (this.#state.fatal) return;
    this.#state.fatal = err;
    this.#log.error(`fatal: ${err.message}; refusing writes`, err);
    this.#write.pending.failAll({ code: Code.INTERNAL, message: `node failed: ${err.message}` });
  }

  async stop(): Promise<void> {
    const s = this.#state;
    if (s.stopping) return;
    s.stopping = true;
    await this.#server.stopAccepting();
    await this.#resp?.stopAccepting();
    // Give in-flight batches the submit timeout to finish: resolved when the table drains.
    let cancel: Cancel = () => {};
    await Promise.race([
      this.#write.drained(),
      new Promise<void>((r) =>
        cancel = this.#scheduler.timeout(this.config.raft_submit_timeout_ms, r)
      ),
    ]);
    cancel();
    // These were admitted and may be committed later by another leader: outcome unknown, which is
    // TIMEOUT (SHUTTING_DOWN is only for batches refused at the door, which nothing applied).
    this.#write.pending.failAll({
      code: Code.TIMEOUT,
      message: "server shutting down before the batch was applied (outcome unknown)",
    });
    this.#admin.failAll("server shutting down");
    await sleep(this.#scheduler, STOP_FLUSH_MS);
    this.#server.closeAll();
    this.#resp?.closeAll();
    this.#ticker?.();
    this.#loop.stop();
    s.stopped = true;
    await this.#driver.stop();
    await this.#snapshots.writing;
    await this.#peers.close();
    await this.#hooks.stop();
    await this.#storage.close();
    this.#log.info(`node ${this.id} stopped`);
  }
}

/** Starts a node with `config` and the given (already loaded) plugins and environment. */
export async function startNode(config: Config, options: StartOptions = {}): Promise<TinyKVNode> {
  const log = options.logger ??
    createLogger(config.log_level, "", undefined, {
      format: config.log_format,
      nodeId: config.node_id,
    });
  const node = new Node(config, options, log);
  await node.start();
  return node;
}
