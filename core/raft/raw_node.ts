/**
 * The pure Raft node ({@link RawNode}): leader election with pre-vote and check-quorum, pipelined
 * log replication with per-follower progress, ReadIndex, single-node membership changes, leader
 * transfer and snapshots. No timers, sockets, clock or randomness: see `types.ts` for the contract.
 *
 * Shape (after etcd-io/raft, written from scratch): `step` does the term bookkeeping common to all
 * roles, then hands the message to one step function per role. Proposals and commit-index updates
 * are coalesced: they mark the leader "dirty" and the AppendEntries go out once, when the caller
 * collects the next Ready, so a burst of proposals becomes one message per follower.
 * @module
 */
import { applyToConfState, encodeConfChange } from "./conf_change.ts";
import { COMPACTED, RaftLog } from "./log.ts";
import { Progress } from "./progress.ts";
import { committedIndex, quorumSize, voteResult } from "./quorum.ts";
import { ReadOnlyQueue } from "./read_only.ts";
import {
  type ConfChange,
  type ConfState,
  type Entry,
  EntryType,
  type HardState,
  type Message,
  type MessageType,
  type NodeId,
  type ProposeError,
  type RaftConfig,
  type RaftStatus,
  type RawNode,
  type ReadState,
  type Ready,
  type Role,
  type SoftState,
} from "./types.ts";

const EMPTY = new Uint8Array(0);

/** Context marking a vote request caused by leader transfer (voters in a lease still answer it). */
export const TRANSFER_CONTEXT: Uint8Array = new TextEncoder().encode("transfer");

/** A follower stuck in snapshot state this many election timeouts is probed again. */
const SNAPSHOT_TIMEOUT_ELECTIONS = 10;

function isTransfer(ctx: Uint8Array | undefined): boolean {
  if (!ctx || ctx.length !== TRANSFER_CONTEXT.length) return false;
  for (let i = 0; i < ctx.length; i++) if (ctx[i] !== TRANSFER_CONTEXT[i]) return false;
  return true;
}

/**
 * Lease length in ms: a follower that acknowledged a heartbeat refuses votes until `electionTick`
 * of its ticks have passed, the first of which may come right after the heartbeat, so at least
 * `(electionTick - 1) * tickMs` of real time (ticks only ever come late); minus the drift margin.
 * 0 (lease reads off) without `leaseRead`, `checkQuorum` or a valid `tickMs`.
 */
function leaseLength(cfg: RaftConfig): number {
  if (cfg.leaseRead !== true || !cfg.checkQuorum) return 0;
  const tick = cfg.tickMs;
  if (typeof tick !== "number" || !Number.isFinite(tick) || tick <= 0) return 0;
  const drift = cfg.leaseDriftMs ?? tick;
  if (typeof drift !== "number" || !Number.isFinite(drift) || drift < 0) return 0;
  return Math.max(0, (cfg.electionTick - 1) * tick - drift);
}

function isIndex(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
}

/** Creates a Raft node from `cfg`, restoring hard state, log and membership from `cfg.storage`. */
export function createRawNode(cfg: RaftConfig): RawNode {
  return new RaftNode(cfg);
}

/** The Raft state machine. Prefer {@link createRawNode}; the class is exported for tests. */
export class RaftNode implements RawNode {
  readonly id: NodeId;
  readonly #cfg: RaftConfig;
  readonly #log: RaftLog;
  #term = 0;
  #vote: NodeId = 0;
  #lead: NodeId = 0;
  #role: Role = "follower";
  #voters = new Set<NodeId>();
  #learners = new Set<NodeId>();
  readonly #prs = new Map<NodeId, Progress>();
  readonly #votes = new Map<NodeId, boolean>();
  #msgs: Message[] = [];
  #earlyMsgs: Message[] = [];
  #readStates: ReadState[] = [];
  #electionElapsed = 0;
  #heartbeatElapsed = 0;
  #randomizedTimeout = 0;
  #leadTransferee: NodeId = 0;
  #pendingConfIndex = 0;
  readonly #readOnly = new ReadOnlyQueue();
  /** Read requests waiting for the leader's first commit in its term. */
  #pendingReads: { from: NodeId; context: Uint8Array }[] = [];
  /** New entries to replicate (flushed when the Ready is collected). */
  #dirtyAppend = false;
  /** The commit index moved: tell followers (flushed when the Ready is collected). */
  #dirtyCommit = false;
  /** Bootstrap conf entries written by this process (already in force; ignored by elections). */
  #bootstrapEnd = 0;
  /** Newest monotonic time the caller passed in (ms; -Infinity until one is given). */
  #now = -Infinity;
  /** Leader with lease reads: lease reads are answered while `#now < #leaseUntil`. */
  #leaseUntil = -Infinity;
  /** A TimeoutNow went out this term: the target may be elected at once, so no more leases. */
  #leaseRevoked = false;
  /** Lease length in ms (0: lease reads off); see {@link RaftConfig.leaseRead}. */
  readonly #leaseMs: number;
  /** Ticks since this node started (for the start-up vote guard). */
  #ticksSinceStart = 0;
  #prevSoft: SoftState;
  #prevHard: HardState;

  constructor(cfg: RaftConfig) {
    if (!isIndex(cfg.id) || cfg.id === 0) {
      throw new RangeError("raft: id must be a positive integer");
    }
    if (!(cfg.electionTick > cfg.heartbeatTick && cfg.heartbeatTick >= 1)) {
      throw new RangeError("raft: need electionTick > heartbeatTick >= 1");
    }
    if (!(cfg.maxInflight >= 1) || !(cfg.maxSizePerMsg >= 1)) {
      throw new RangeError("raft: maxInflight and maxSizePerMsg must be >= 1");
    }
    this.id = cfg.id;
    this.#cfg = cfg;
    this.#leaseMs = leaseLength(cfg);
    const { hardState, conf } = cfg.storage.initialState();
    this.#log = new RaftLog(cfg.storage, hardState.commit, cfg.applied);
    this.#term = hardState.term;
    this.#vote = hardState.vote;
    this.#setConf(conf);
    this.#becomeFollower(this.#term, 0);
    this.#prevSoft = { leader: 0, role: "follower" };
    this.#prevHard = { ...hardState };
    const st = cfg.storage;
    if (st.lastIndex() === 0 && st.firstIndex() === 1 && hardState.term === 0) {
      this.#bootstrap(conf);
    }
  }

  /**
   * A brand-new member of a brand-new cluster writes its initial membership into the log as
   * committed ConfChange entries at term 1 (identical on every initial member, which all start
   * from the same ConfState), so a node added later learns the full membership by replaying the
   * log. A node joining an existing cluster starts with an empty ConfState and skips this.
   */
  #bootstrap(conf: ConfState): void {
    if (conf.voters.length === 0) return;
    const changes: ConfChange[] = [
      ...[...conf.voters].sort((a, b) => a - b).map((id): ConfChange => ({
        type: "addVoter",
        nodeId: id,
      })),
      ...[...conf.learners].sort((a, b) => a - b).map((id): ConfChange => ({
        type: "addLearner",
        nodeId: id,
      })),
    ];
    const ents: Entry[] = changes.map((cc, i) => ({
      term: 1,
      index: i + 1,
      type: EntryType.ConfChange,
      data: encodeConfChange(cc),
    }));
    this.#log.append(ents);
    this.#log.committed = ents.length;
    this.#term = 1;
    this.#bootstrapEnd = ents.length;
  }

  // ------------------------------------------------------------------ public API

  /** Advance logical time by one tick; `nowMs` (monotonic) times the leader lease. */
  tick(nowMs?: number): void {
    this.#observe(nowMs);
    if (this.#ticksSinceStart < this.#cfg.electionTick) this.#ticksSinceStart++;
    if (this.#role === "leader") this.#tickLeader();
    else this.#tickElection();
  }

  /** Feed a message from a peer. Malformed messages and messages for other nodes are dropped. */
  step(m: Message): void {
    if (!this.#valid(m)) return;
    if (m.term > this.#term) {
      if (m.type === "vote" || m.type === "preVote") {
        // Heard from a leader within the (minimum) election timeout: it may still hold a lease.
        // A node that just started does not know whom it acknowledged before: with lease reads it
        // waits one election timeout too (a restart must not cut a lease it helped grant short).
        const startGuard = this.#cfg.leaseRead === true &&
          this.#ticksSinceStart < this.#cfg.electionTick;
        const inLease = this.#cfg.checkQuorum && (this.#lead !== 0 || startGuard) &&
          this.#electionElapsed < this.#cfg.electionTick;
        // A live leader exists: ignore the disruptive candidate (unless it is a transfer).
        if (inLease && !isTransfer(m.context)) return;
      }
      if (m.type === "preVote") {
        // Pre-vote never changes our term.
      } else if (m.type === "preVoteResp" && !m.reject) {
        // A granted pre-vote carries the term we would campaign at; not a newer term.
      } else if (m.type === "app" || m.type === "heartbeat" || m.type === "snap") {
        this.#becomeFollower(m.term, m.from);
      } else {
        this.#becomeFollower(m.term, 0);
      }
    } else if (m.term < this.#term) {
      if (
        (this.#cfg.checkQuorum || this.#cfg.preVote) &&
        (m.type === "heartbeat" || m.type === "app")
      ) {
        // Tell a stale leader about the newer term so it steps down.
        this.#send({ ...this.#msg("appResp", m.from) });
      } else if (m.type === "preVote") {
        const r = this.#msg("preVoteResp", m.from);
        r.reject = true;
        this.#send(r);
      }
      return;
    }
    if (m.type === "vote" || m.type === "preVote") {
      this.#handleVoteRequest(m);
      return;
    }
    switch (this.#role) {
      case "leader":
        this.#stepLeader(m);
        break;
      case "candidate":
      case "precandidate":
        this.#stepCandidate(m);
        break;
      case "follower":
        this.#stepFollower(m);
        break;
    }
  }

  /** Propose opaque data as one Normal entry. */
  propose(data: Uint8Array): number | ProposeError {
    const err = this.#checkPropose();
    if (err) return err;
    return this.#appendLocal(EntryType.Normal, data);
  }

  /** Propose a membership change (one at a time). */
  proposeConfChange(cc: ConfChange): number | ProposeError {
    const err = this.#checkPropose();
    if (err) return err;
    if (this.#pendingConfIndex > this.#log.applied) return "conf_change_pending";
    if (!isIndex(cc.nodeId) || cc.nodeId === 0) return "dropped";
    const next = applyToConfState(this.#confState(), cc);
    if (next.voters.length === 0) return "dropped";
    const index = this.#appendLocal(EntryType.ConfChange, encodeConfChange(cc));
    this.#pendingConfIndex = index;
    return index;
  }

  /** Apply a committed ConfChange (the caller does this in log order); returns the new membership. */
  applyConfChange(cc: ConfChange): ConfState {
    const cs = applyToConfState(this.#confState(), cc);
    this.#setConf(cs);
    if (this.#role === "leader") {
      if (!this.#voters.has(this.id)) {
        // Removed or demoted: tell followers the commit index (so they apply the change too),
        // then step down; the remaining voters elect a new leader.
        this.#bcastHeartbeat(undefined);
        this.#becomeFollower(this.#term, 0);
      } else {
        if (this.#leadTransferee !== 0 && !this.#voters.has(this.#leadTransferee)) {
          this.#leadTransferee = 0;
        }
        if (this.#maybeCommit()) this.#dirtyCommit = true;
        this.#dirtyAppend = true;
      }
    }
    return this.#confState();
  }

  /**
   * Start a linearizable read; a ReadState carrying `context` appears in a later Ready. `nowMs`
   * (monotonic, as for `tick`) lets a leader answer at once within its lease.
   */
  readIndex(context: Uint8Array, nowMs?: number): void {
    if (this.#role === "leader") {
      this.#handleReadRequest(this.id, context, this.#freshNow(nowMs));
    } else if (this.#lead !== 0) {
      const m = this.#msg("readIndex", this.#lead);
      m.context = context;
      this.#send(m);
    }
    // No known leader: the request is dropped; the caller times out and retries.
  }

  /** Leader: transfer leadership to `to`. On a follower the request is forwarded to the leader. */
  transferLeader(to: NodeId): void {
    if (this.#role === "leader") {
      this.#handleTransfer(to);
    } else if (this.#lead !== 0) {
      const m = this.#msg("transferLeader", this.#lead);
      m.index = to;
      this.#send(m);
    }
  }

  /** Start an election now. */
  campaign(): void {
    this.#hup(false);
  }

  /** True when there is something to persist, send or apply. */
  hasReady(): boolean {
    this.#flush();
    const log = this.#log;
    if (this.#msgs.length > 0 || this.#earlyMsgs.length > 0) return true;
    if (log.unstable.length > 0 || log.pendingSnapshot !== undefined) return true;
    if (this.#readStates.length > 0 || log.hasNextCommitted()) return true;
    const s = this.#prevSoft;
    if (s.leader !== this.#lead || s.role !== this.#role) return true;
    const h = this.#prevHard;
    return h.term !== this.#term || h.vote !== this.#vote || h.commit !== log.committed;
  }

  /** Collects what to persist, send and apply. Call `advance(rd)` when done with it. */
  ready(): Ready {
    this.#flush();
    const log = this.#log;
    const entries = log.unstable.slice();
    if (entries.length > 0) log.inProgress = entries[entries.length - 1].index;
    const snapshot = log.pendingSnapshot;
    const committedEntries = log.nextCommitted(this.#applyBytes());
    if (committedEntries.length > 0) {
      log.applying = committedEntries[committedEntries.length - 1].index;
    }
    const rd: Ready = {
      entries,
      committedEntries,
      messages: this.#msgs,
      earlyMessages: this.#earlyMsgs,
      readStates: this.#readStates,
      mustSync: entries.length > 0 || snapshot !== undefined,
    };
    if (snapshot) rd.snapshot = snapshot;
    const s = this.#prevSoft;
    if (s.leader !== this.#lead || s.role !== this.#role) {
      this.#prevSoft = { leader: this.#lead, role: this.#role };
      rd.softState = { ...this.#prevSoft };
    }
    const h = this.#prevHard;
    if (h.term !== this.#term || h.vote !== this.#vote || h.commit !== log.committed) {
      if (h.term !== this.#term || h.vote !== this.#vote) rd.mustSync = true;
      this.#prevHard = { term: this.#term, vote: this.#vote, commit: log.committed };
      rd.hardState = { ...this.#prevHard };
    }
    this.#msgs = [];
    this.#earlyMsgs = [];
    this.#readStates = [];
    return rd;
  }

  /**
   * Takes the messages that may be sent before persisting (see {@link Ready.earlyMessages}) without
   * a Ready: the caller may call it while it still handles a Ready (awaiting its fsync), so a
   * leader's heartbeats and new appends, and a follower's heartbeat replies, do not wait for a
   * slow disk. Proposals since the last Ready are sent as appends first.
   */
  takeEarlyMessages(): Message[] {
    this.#flush();
    const out = this.#earlyMsgs;
    if (out.length > 0) this.#earlyMsgs = [];
    return out;
  }

  /**
   * Committed entries that may be applied while a Ready is still handled (its own committed
   * entries applied, its fsync awaited): a leader whose followers acknowledged during its fsync
   * answers those clients at once instead of after the fsync. Only entries already handed out for
   * persisting (the state machine must never be ahead of this node's storage: a snapshot taken at
   * the applied index needs its entries there), only normal ones, up to the first membership
   * change (that one waits for a Ready), and none while a snapshot is pending. The caller applies
   * them before calling the core again; they count as applied at once.
   */
  takeCommittedEntries(): Entry[] {
    const log = this.#log;
    const ents = log.nextCommitted(this.#applyBytes(), Math.max(log.persisted, log.inProgress));
    let n = 0;
    while (n < ents.length && ents[n].type === EntryType.Normal) n++;
    if (n === 0) return [];
    const out = n === ents.length ? ents : ents.slice(0, n);
    log.applying = log.applied = out[n - 1].index;
    return out;
  }

  /**
   * Read states confirmed since the last `ready()` (or the last call), handed out while a Ready is
   * still handled so that reads need not wait for its fsync.
   */
  takeReadStates(): ReadState[] {
    const out = this.#readStates;
    if (out.length > 0) this.#readStates = [];
    return out;
  }

  #applyBytes(): number {
    return this.#cfg.maxCommittedSizePerReady ?? this.#cfg.maxSizePerMsg;
  }

  /** The caller has persisted, sent and applied `rd`. */
  advance(rd: Ready): void {
    const log = this.#log;
    if (rd.snapshot) {
      log.stableSnapTo(rd.snapshot.meta.index);
      if (log.applied < rd.snapshot.meta.index) log.applied = rd.snapshot.meta.index;
    }
    const n = rd.entries.length;
    if (n > 0) {
      const last = rd.entries[n - 1];
      log.stableTo(last.index, last.term);
    }
    const c = rd.committedEntries.length;
    if (c > 0) {
      const last = rd.committedEntries[c - 1].index;
      if (last > log.applied) log.applied = last;
    }
    if (this.#role === "leader") {
      // The leader counts its own log only once persisted.
      const self = this.#prs.get(this.id);
      if (self && self.maybeUpdate(log.persisted) && this.#maybeCommit()) {
        this.#dirtyCommit = true;
      }
    }
  }

  /** Snapshot delivery to `to` finished (ok) or failed. */
  reportSnapshot(to: NodeId, ok: boolean): void {
    if (this.#role !== "leader") return;
    const pr = this.#prs.get(to);
    if (!pr || pr.state !== "snapshot") return;
    if (!ok) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    // Wait for the next heartbeat response before probing again.
    pr.probeSent = true;
  }

  /** `to` could not be reached: stop pipelining to it and probe instead. */
  reportUnreachable(to: NodeId): void {
    if (this.#role !== "leader") return;
    const pr = this.#prs.get(to);
    if (pr && pr.state === "replicate") pr.becomeProbe();
  }

  /**
   * The caller took a snapshot at `index` and compacted its storage. The core reads the first
   * index from storage on demand; here it checks the index and, on a leader, re-examines
   * followers (one that now needs compacted entries is sent the snapshot).
   */
  compact(index: number): void {
    if (!isIndex(index) || index > this.#log.applied) {
      throw new RangeError(`raft: compact(${index}) beyond applied index ${this.#log.applied}`);
    }
    if (this.#role === "leader") this.#dirtyAppend = true;
  }

  /** Status for INFO, metrics and tests. */
  status(): RaftStatus {
    const log = this.#log;
    const st: RaftStatus = {
      id: this.id,
      term: this.#term,
      vote: this.#vote,
      commit: log.committed,
      applied: log.applied,
      lastIndex: log.lastIndex(),
      role: this.#role,
      leader: this.#lead,
      conf: this.#confState(),
    };
    if (this.#role === "leader") {
      const progress: NonNullable<RaftStatus["progress"]> = {};
      for (const [id, pr] of this.#prs) {
        progress[id] = { match: pr.match, next: pr.next, state: pr.state };
      }
      st.progress = progress;
    }
    return st;
  }

  /** Term of the entry at `index` in this node's log: 0 beyond the end, -1 if compacted. */
  logTerm(index: number): number {
    return this.#log.term(index);
  }

  /** First index of this node's log (entries below it are in a snapshot). */
  logFirstIndex(): number {
    return this.#log.firstIndex();
  }

  /** Leader only: the node leadership is being transferred to (0 if none). */
  get leadTransferee(): NodeId {
    return this.#leadTransferee;
  }

  // ------------------------------------------------------------------ time and lease

  /** Records the caller's monotonic time (ignored if missing, not finite or going backwards). */
  #observe(nowMs: number | undefined): void {
    if (typeof nowMs === "number" && Number.isFinite(nowMs) && nowMs > this.#now) {
      this.#now = nowMs;
    }
  }

  /** The time of this call if the caller gave one (for a lease check), else undefined. */
  #freshNow(nowMs: number | undefined): number | undefined {
    this.#observe(nowMs);
    return typeof nowMs === "number" && Number.isFinite(nowMs) ? this.#now : undefined;
  }

  /** Lease reads are on (`leaseLength` is 0 without leaseRead, checkQuorum or a tick length). */
  #leaseEnabled(): boolean {
    return this.#leaseMs > 0;
  }

  /** True while this leader may answer a read at `now` without a round: its lease holds. */
  #inLease(now: number | undefined): boolean {
    return now !== undefined && this.#leaseEnabled() && !this.#leaseRevoked &&
      this.#leadTransferee === 0 && now < this.#leaseUntil;
  }

  /** A quorum acked a round sent at `sentAt`: extend the lease to `sentAt + leaseMs`. */
  #renewLease(sentAt: number): void {
    if (!this.#leaseEnabled() || this.#leaseRevoked || this.#leadTransferee !== 0) return;
    const until = sentAt + this.#leaseMs;
    if (until > this.#leaseUntil) this.#leaseUntil = until;
  }

  /** Lease over now (leader transfer, stepping down). */
  #endLease(): void {
    this.#leaseUntil = -Infinity;
  }

  // ------------------------------------------------------------------ messages

  #msg(type: MessageType, to: NodeId): Message {
    return {
      type,
      from: this.id,
      to,
      term: this.#term,
      logTerm: 0,
      index: 0,
      entries: [],
      commit: 0,
      reject: false,
      rejectHint: 0,
    };
  }

  #send(m: Message): void {
    // Sent before persisting: a leader's appends, heartbeats and snapshots (it writes its own log
    // in parallel), and anyone's heartbeat reply, which promises nothing about the disk (as in
    // etcd-io/raft, where only append and vote replies wait for the write).
    if (
      m.type === "heartbeatResp" ||
      this.#role === "leader" && (m.type === "app" || m.type === "heartbeat" || m.type === "snap")
    ) {
      this.#earlyMsgs.push(m);
    } else {
      this.#msgs.push(m);
    }
  }

  #valid(m: Message): boolean {
    if (m === null || typeof m !== "object") return false;
    if (m.to !== this.id || !isIndex(m.from) || m.from === 0 || m.from === this.id) return false;
    if (!isIndex(m.term) || !isIndex(m.index) || !isIndex(m.logTerm) || !isIndex(m.commit)) {
      return false;
    }
    if (!Array.isArray(m.entries)) return false;
    if (m.type === "app") {
      // Entries must follow the previous index contiguously, with terms within [logTerm, term].
      let prevTerm = m.logTerm;
      for (let i = 0; i < m.entries.length; i++) {
        const e = m.entries[i];
        if (e.index !== m.index + 1 + i || !isIndex(e.term)) return false;
        if (e.term < prevTerm || e.term > m.term) return false;
        if (!(e.data instanceof Uint8Array)) return false;
        prevTerm = e.term;
      }
    }
    if (m.type === "snap") {
      const s = m.snapshot;
      if (!s || !s.meta || !isIndex(s.meta.index) || !isIndex(s.meta.term)) return false;
      if (!s.meta.conf || !Array.isArray(s.meta.conf.voters)) return false;
      if (!Array.isArray(s.meta.conf.learners)) return false;
    }
    return true;
  }

  // ------------------------------------------------------------------ roles

  #reset(term: number): void {
    if (term !== this.#term) {
      this.#term = term;
      this.#vote = 0;
    }
    this.#lead = 0;
    this.#electionElapsed = 0;
    this.#heartbeatElapsed = 0;
    this.#randomizedTimeout = this.#cfg.electionTick +
      Math.floor(this.#cfg.random() * this.#cfg.electionTick);
    this.#leadTransferee = 0;
    this.#votes.clear();
    const next = this.#log.lastIndex() + 1;
    for (const [id, pr] of this.#prs) {
      const fresh = new Progress(next, this.#cfg.maxInflight, pr.isLearner);
      if (id === this.id) {
        fresh.match = this.#log.persisted;
        fresh.recentActive = true;
      }
      this.#prs.set(id, fresh);
    }
    this.#pendingConfIndex = 0;
    this.#endLease();
    this.#leaseRevoked = false;
    this.#readOnly.reset();
    this.#pendingReads = [];
    this.#dirtyAppend = false;
    this.#dirtyCommit = false;
  }

  #becomeFollower(term: number, lead: NodeId): void {
    this.#reset(term);
    this.#lead = lead;
    this.#role = "follower";
  }

  #becomePreCandidate(): void {
    // Pre-vote: no term change, no vote recorded.
    this.#role = "precandidate";
    this.#lead = 0;
    this.#votes.clear();
    this.#randomizedTimeout = this.#cfg.electionTick +
      Math.floor(this.#cfg.random() * this.#cfg.electionTick);
  }

  #becomeCandidate(): void {
    this.#reset(this.#term + 1);
    this.#vote = this.id;
    this.#role = "candidate";
  }

  #becomeLeader(): void {
    this.#reset(this.#term);
    this.#lead = this.id;
    this.#role = "leader";
    // A no-op in our term: committing it commits everything before it (and enables reads). No
    // conf change until it is applied (a leader changes membership only after committing in its
    // term; this also covers a conf change possibly pending in the log we inherited).
    this.#pendingConfIndex = this.#appendLocal(EntryType.Normal, EMPTY);
  }

  #promotable(): boolean {
    return this.#voters.has(this.id);
  }

  #hup(transfer: boolean): void {
    if (this.#role === "leader" || !this.#promotable()) return;
    if (this.#log.pendingSnapshot !== undefined) return;
    if (this.#hasUnappliedConfChange()) return;
    if (this.#cfg.preVote && !transfer) this.#campaign("preVote", false);
    else this.#campaign("vote", transfer);
  }

  #hasUnappliedConfChange(): boolean {
    const log = this.#log;
    if (log.committed <= log.applied) return false;
    let lo = Math.max(log.firstUnapplied(), this.#bootstrapEnd + 1);
    while (lo <= log.committed) {
      const ents = log.slice(lo, log.committed + 1, 1024, Number.MAX_SAFE_INTEGER);
      if (!ents || ents.length === 0) return false;
      for (const e of ents) if (e.type === EntryType.ConfChange) return true;
      lo = ents[ents.length - 1].index + 1;
    }
    return false;
  }

  #campaign(kind: "preVote" | "vote", transfer: boolean): void {
    let term: number;
    if (kind === "preVote") {
      this.#becomePreCandidate();
      term = this.#term + 1;
    } else {
      this.#becomeCandidate();
      term = this.#term;
    }
    if (this.#poll(this.id, true) === "won") {
      if (kind === "preVote") this.#campaign("vote", false);
      else this.#becomeLeader();
      return;
    }
    const lastIndex = this.#log.lastIndex();
    const lastTerm = this.#log.lastTerm();
    for (const v of [...this.#voters].sort((a, b) => a - b)) {
      if (v === this.id) continue;
      const m = this.#msg(kind, v);
      m.term = term;
      m.index = lastIndex;
      m.logTerm = lastTerm;
      if (transfer) m.context = TRANSFER_CONTEXT;
      this.#send(m);
    }
  }

  #poll(from: NodeId, granted: boolean): "won" | "lost" | "pending" {
    if (!this.#votes.has(from)) this.#votes.set(from, granted);
    let yes = 0;
    let no = 0;
    for (const v of this.#voters) {
      const r = this.#votes.get(v);
      if (r === true) yes++;
      else if (r === false) no++;
    }
    return voteResult(this.#voters.size, yes, no);
  }

  #handleVoteRequest(m: Message): void {
    const pre = m.type === "preVote";
    const canVote = this.#vote === m.from || (this.#vote === 0 && this.#lead === 0) ||
      (pre && m.term > this.#term);
    const r = this.#msg(pre ? "preVoteResp" : "voteResp", m.from);
    if (canVote && this.#log.isUpToDate(m.index, m.logTerm)) {
      // Answer with the requested term: a pre-candidate counts it; a candidate's term equals ours.
      r.term = m.term;
      if (!pre) {
        this.#electionElapsed = 0;
        this.#vote = m.from;
      }
    } else {
      r.reject = true;
    }
    this.#send(r);
  }

  // ------------------------------------------------------------------ ticks

  #tickElection(): void {
    this.#electionElapsed++;
    if (this.#promotable() && this.#electionElapsed >= this.#randomizedTimeout) {
      this.#electionElapsed = 0;
      this.#hup(false);
    }
  }

  #tickLeader(): void {
    this.#heartbeatElapsed++;
    this.#electionElapsed++;
    if (this.#electionElapsed >= this.#cfg.electionTick) {
      this.#electionElapsed = 0;
      if (this.#cfg.checkQuorum) {
        if (!this.#quorumActive()) {
          this.#becomeFollower(this.#term, 0);
          return;
        }
        for (const [id, pr] of this.#prs) if (id !== this.id) pr.recentActive = false;
      }
      // A transfer that did not finish within an election timeout is abandoned.
      this.#leadTransferee = 0;
    }
    // Backstop for a snapshot lost without a reportSnapshot(): after a long wait, probe again.
    const snapLimit = SNAPSHOT_TIMEOUT_ELECTIONS * this.#cfg.electionTick;
    for (const pr of this.#prs.values()) {
      if (pr.state === "snapshot" && ++pr.snapshotTicks >= snapLimit) {
        pr.pendingSnapshot = 0;
        pr.becomeProbe();
      }
    }
    this.#sendLaggingCommits();
    if (this.#heartbeatElapsed >= this.#cfg.heartbeatTick) {
      this.#heartbeatElapsed = 0;
      // With leases every heartbeat is a fresh round, so each quorum ack renews the lease from
      // that heartbeat's send time; without, re-send the newest pending read round (if any).
      const ctx = this.#leaseEnabled() && !this.#leaseRevoked
        ? this.#readOnly.startRound(this.id, this.#now)
        : this.#readOnly.lastRoundContext();
      this.#bcastHeartbeat(ctx);
    }
  }

  #quorumActive(): boolean {
    let active = 0;
    for (const v of this.#voters) {
      const pr = this.#prs.get(v);
      if (v === this.id || (pr && pr.recentActive)) active++;
    }
    return active >= quorumSize(this.#voters.size);
  }

  // ------------------------------------------------------------------ leader

  #checkPropose(): ProposeError | undefined {
    if (this.#role !== "leader" || !this.#prs.has(this.id)) return "not_leader";
    if (this.#leadTransferee !== 0) return "transfer_in_progress";
    return undefined;
  }

  #appendLocal(type: EntryType, data: Uint8Array): number {
    const index = this.#log.lastIndex() + 1;
    const e: Entry = { term: this.#term, index, type, data };
    this.#log.append([e]);
    this.#dirtyAppend = true;
    return index;
  }

  /** Sends coalesced appends (new entries and/or the new commit index) and read rounds. */
  #flush(): void {
    if (this.#role !== "leader") {
      this.#dirtyAppend = false;
      this.#dirtyCommit = false;
      return;
    }
    // New entries go out at once, carrying the commit index. A commit index that moved with no
    // entry to carry it waits for the next tick (#sendLaggingCommits): a message of its own, and
    // the follower's reply, for every commit cost as much as the append itself (half the peer
    // traffic of unpipelined writes), while no client waits on a follower learning it: the
    // leader answers writes, and a read round's heartbeat carries the commit index. Only a
    // follower serving a read whose index it has not been told is committed gets it at once.
    if (this.#dirtyAppend || this.#dirtyCommit) {
      this.#dirtyAppend = false;
      this.#dirtyCommit = false;
      const committed = this.#log.committed;
      for (const [id, pr] of this.#prs) {
        if (id === this.id || this.#sendAppend(id, false)) continue;
        if (pr.readIndexSent > pr.commitSent && committed > pr.commitSent) {
          this.#sendAppend(id, true);
        }
      }
    }
    if (this.#readOnly.hasUnsent()) {
      this.#bcastHeartbeat(this.#readOnly.startRound(this.id, this.#now));
    }
  }

  #sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.#prs.get(to);
    if (!pr || pr.isPaused()) return false;
    const log = this.#log;
    const prevIndex = pr.next - 1;
    const prevTerm = log.term(prevIndex);
    let ents: Entry[] | undefined;
    if (prevTerm !== COMPACTED) {
      const room = pr.state === "replicate"
        ? this.#cfg.maxInflight - pr.inflights.entries
        : this.#cfg.maxInflight;
      ents = log.slice(pr.next, log.lastIndex() + 1, room, this.#cfg.maxSizePerMsg);
    }
    if (prevTerm === COMPACTED || ents === undefined) return this.#sendSnapshot(to, pr);
    if (ents.length === 0 && !sendIfEmpty) return false;
    const m = this.#msg("app", to);
    m.index = prevIndex;
    m.logTerm = prevTerm;
    m.entries = ents;
    m.commit = log.committed;
    this.#send(m);
    pr.commitSent = log.committed;
    pr.sentEntries(ents.length, ents.length > 0 ? ents[ents.length - 1].index : prevIndex);
    return true;
  }

  /** Leader tick: followers not yet sent the current commit index get it (an empty append). */
  #sendLaggingCommits(): void {
    const committed = this.#log.committed;
    for (const [id, pr] of this.#prs) {
      if (id !== this.id && pr.commitSent < committed) this.#sendAppend(id, true);
    }
  }

  #sendSnapshot(to: NodeId, pr: Progress): boolean {
    if (!pr.recentActive) return false;
    const snap = this.#log.snapshot();
    if (snap.meta.index === 0) return false;
    pr.becomeSnapshot(snap.meta.index);
    const m = this.#msg("snap", to);
    m.snapshot = snap;
    m.commit = this.#log.committed;
    this.#send(m);
    return true;
  }

  #bcastHeartbeat(context: Uint8Array | undefined): void {
    for (const [id, pr] of this.#prs) {
      if (id === this.id) continue;
      const m = this.#msg("heartbeat", id);
      m.commit = Math.min(pr.match, this.#log.committed);
      if (m.commit > pr.commitSent) pr.commitSent = m.commit;
      if (context) m.context = context;
      this.#send(m);
    }
  }

  #maybeCommit(): boolean {
    const matches: number[] = [];
    for (const v of this.#voters) {
      const pr = this.#prs.get(v);
      matches.push(pr ? pr.match : 0);
    }
    const mci = committedIndex(matches);
    const log = this.#log;
    // Only entries of the current term are committed by counting replicas (Raft §5.4.2).
    if (mci > log.committed && log.term(mci) === this.#term) {
      log.commitTo(mci);
      this.#releasePendingReads();
      return true;
    }
    return false;
  }

  #committedInTerm(): boolean {
    return this.#log.term(this.#log.committed) === this.#term;
  }

  #releasePendingReads(): void {
    if (this.#pendingReads.length === 0 || !this.#committedInTerm()) return;
    const reads = this.#pendingReads;
    this.#pendingReads = [];
    for (const r of reads) this.#handleReadRequest(r.from, r.context, undefined);
  }

  /** `now`: the time of the request if the caller gave one (only then may the lease answer it). */
  #handleReadRequest(from: NodeId, context: Uint8Array, now: number | undefined): void {
    if (!this.#committedInTerm()) {
      // A new leader does not know the commit index until it commits an entry in its term.
      if (this.#pendingReads.length < this.#readOnly.maxPending) {
        this.#pendingReads.push({ from, context });
      }
      return;
    }
    const single = this.#voters.size === 1 && this.#voters.has(this.id);
    if (single || this.#inLease(now)) {
      this.#answerRead(from, this.#log.committed, context);
      return;
    }
    this.#readOnly.add(this.#log.committed, from, context);
  }

  #answerRead(from: NodeId, index: number, context: Uint8Array): void {
    if (from === this.id) {
      this.#readStates.push({ index, context });
    } else {
      const m = this.#msg("readIndexResp", from);
      m.index = index;
      m.context = context;
      // The follower applies up to `index` before serving: the read round's heartbeat told it
      // the commit index up to its match; if it lacked entries then, it is told once it acks.
      const pr = this.#prs.get(from);
      if (pr && index > pr.readIndexSent) pr.readIndexSent = index;
      this.#send(m);
    }
  }

  #handleTransfer(target: NodeId): void {
    if (target === this.id || !this.#voters.has(target)) return;
    if (this.#leadTransferee === target) return;
    this.#leadTransferee = target;
    // The target will campaign with a transfer context, which followers answer even within a
    // lease: no lease read from now on (reads go through ReadIndex rounds).
    this.#endLease();
    // The transfer must finish within one election timeout.
    this.#electionElapsed = 0;
    const pr = this.#prs.get(target);
    if (!pr) return;
    if (pr.match === this.#log.lastIndex()) this.#sendTimeoutNow(target);
    else this.#sendAppend(target, true);
  }

  #sendTimeoutNow(to: NodeId): void {
    // Once sent, the target may win at any time (even after the transfer is abandoned here).
    this.#leaseRevoked = true;
    this.#endLease();
    this.#send(this.#msg("timeoutNow", to));
  }

  #stepLeader(m: Message): void {
    const pr = this.#prs.get(m.from);
    switch (m.type) {
      case "appResp":
        if (pr) this.#handleAppResp(m, pr);
        return;
      case "heartbeatResp":
        if (!pr) return;
        pr.recentActive = true;
        pr.probeSent = false;
        if (pr.state === "replicate" && pr.inflights.full()) pr.inflights.freeFirst();
        // Behind: send (an empty append, if nothing new) so that lost appends surface as a
        // rejection. In replicate state only once the peer stopped moving between two heartbeat
        // replies: a reply arrives before the appends in flight are answered (heartbeat replies
        // do not wait for the peer's fsync), and an empty append overtaking them would be
        // rejected and drop the peer back to probing for nothing.
        if (pr.match < this.#log.lastIndex()) {
          const stalled = pr.state !== "replicate" || pr.match === pr.matchAtHeartbeat;
          this.#sendAppend(m.from, stalled);
        }
        pr.matchAtHeartbeat = pr.match;
        if (m.context) {
          const done = this.#readOnly.ack(m.from, m.context, (acks) => this.#isQuorum(acks));
          if (done.sentAt > -Infinity) this.#renewLease(done.sentAt);
          for (const r of done.reads) this.#answerRead(r.from, r.index, r.context);
        }
        return;
      case "snapResp":
        if (!pr) return;
        pr.recentActive = true;
        if (pr.state === "snapshot") {
          if (m.reject) pr.pendingSnapshot = 0;
          pr.becomeProbe();
          pr.probeSent = true;
        }
        return;
      case "readIndex":
        // Forwarded reads carry no time of their own: always a ReadIndex round.
        if (m.context) this.#handleReadRequest(m.from, m.context, undefined);
        return;
      case "transferLeader":
        this.#handleTransfer(m.index);
        return;
      default:
        return;
    }
  }

  #isQuorum(acks: Set<NodeId>): boolean {
    let n = 0;
    for (const v of this.#voters) if (acks.has(v)) n++;
    return n >= quorumSize(this.#voters.size);
  }

  #handleAppResp(m: Message, pr: Progress): void {
    pr.recentActive = true;
    const log = this.#log;
    if (m.index > log.lastIndex()) return; // cannot match entries we do not have
    if (m.reject) {
      let hint = m.rejectHint;
      if ((m.logTermHint ?? 0) > 0) hint = log.findConflictByTerm(hint, m.logTermHint ?? 0).index;
      if (pr.maybeDecrTo(m.index, hint)) {
        if (pr.state === "replicate") pr.becomeProbe();
        this.#sendAppend(m.from, true);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (!(pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === "probe"))) return;
    if (pr.state === "probe") {
      pr.becomeReplicate();
    } else if (
      pr.state === "snapshot" &&
      (pr.match >= pr.pendingSnapshot || pr.match + 1 >= log.firstIndex())
    ) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === "replicate") {
      pr.inflights.freeLE(m.index);
    }
    // A follower waiting to serve a read learns the commit index as soon as it may apply more.
    if (this.#maybeCommit() || pr.readIndexSent > pr.commitSent) this.#dirtyCommit = true;
    if (wasPaused) this.#sendAppend(m.from, true);
    // Keep the pipe full.
    let guard = 0;
    while (guard++ < 64 && this.#sendAppend(m.from, false)) { /* window fills or log ends */ }
    if (m.from === this.#leadTransferee && pr.match === log.lastIndex()) {
      this.#sendTimeoutNow(m.from);
    }
  }

  // ------------------------------------------------------------------ candidate / follower

  #stepCandidate(m: Message): void {
    switch (m.type) {
      case "app":
      case "heartbeat":
      case "snap":
        // A leader exists in our term.
        this.#becomeFollower(this.#term, m.from);
        this.#stepFollower(m);
        return;
      case "voteResp":
      case "preVoteResp": {
        const mine = this.#role === "precandidate" ? "preVoteResp" : "voteResp";
        if (m.type !== mine) return;
        const res = this.#poll(m.from, !m.reject);
        if (res === "won") {
          if (this.#role === "precandidate") this.#campaign("vote", false);
          else this.#becomeLeader();
        } else if (res === "lost") {
          this.#becomeFollower(this.#term, 0);
        }
        return;
      }
      default:
        return;
    }
  }

  #stepFollower(m: Message): void {
    switch (m.type) {
      case "app":
        this.#electionElapsed = 0;
        this.#lead = m.from;
        this.#handleAppend(m);
        return;
      case "heartbeat": {
        this.#electionElapsed = 0;
        this.#lead = m.from;
        this.#log.commitTo(m.commit);
        const r = this.#msg("heartbeatResp", m.from);
        if (m.context) r.context = m.context;
        this.#send(r);
        return;
      }
      case "snap":
        this.#electionElapsed = 0;
        this.#lead = m.from;
        this.#handleSnapshot(m);
        return;
      case "timeoutNow":
        this.#hup(true);
        return;
      case "readIndexResp":
        if (m.context) this.#readStates.push({ index: m.index, context: m.context });
        return;
      case "transferLeader":
        if (this.#lead !== 0) {
          const f = this.#msg("transferLeader", this.#lead);
          f.index = m.index;
          this.#send(f);
        }
        return;
      default:
        return;
    }
  }

  #handleAppend(m: Message): void {
    const log = this.#log;
    const r = this.#msg("appResp", m.from);
    if (m.index < log.committed) {
      r.index = log.committed;
      this.#send(r);
      return;
    }
    const last = log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (last >= 0) {
      r.index = last;
    } else {
      const hint = log.findConflictByTerm(Math.min(m.index, log.lastIndex()), m.logTerm);
      r.reject = true;
      r.index = m.index;
      r.rejectHint = hint.index;
      r.logTermHint = hint.term;
    }
    this.#send(r);
  }

  #handleSnapshot(m: Message): void {
    const s = m.snapshot!;
    const log = this.#log;
    const r = this.#msg("appResp", m.from);
    // The snapshot's membership may predate our own addition: install it anyway; the entries
    // after it (which the leader sends next) add us back.
    const { index, term, conf } = s.meta;
    if (index <= log.committed) {
      r.index = log.committed;
    } else if (log.matchTerm(index, term)) {
      // We already have the snapshot's entry: just fast-forward the commit index.
      log.commitTo(index);
      r.index = log.lastIndex();
    } else {
      log.restore(s);
      this.#setConf(conf);
      r.index = log.lastIndex();
    }
    this.#send(r);
  }

  // ------------------------------------------------------------------ membership

  #confState(): ConfState {
    return {
      voters: [...this.#voters].sort((a, b) => a - b),
      learners: [...this.#learners].sort((a, b) => a - b),
    };
  }

  #setConf(cs: ConfState): void {
    this.#voters = new Set(cs.voters.filter((id) => isIndex(id) && id > 0));
    this.#learners = new Set(
      cs.learners.filter((id) => isIndex(id) && id > 0 && !this.#voters.has(id)),
    );
    const next = this.#log.lastIndex() + 1;
    for (const id of [...this.#prs.keys()]) {
      if (!this.#voters.has(id) && !this.#learners.has(id)) this.#prs.delete(id);
    }
    for (const id of [...this.#voters, ...this.#learners]) {
      const learner = this.#learners.has(id);
      let pr = this.#prs.get(id);
      if (!pr) {
        pr = new Progress(next, this.#cfg.maxInflight, learner);
        // A new member gets a grace period before check-quorum counts it as silent.
        pr.recentActive = true;
        if (id === this.id) pr.match = this.#log.persisted;
        this.#prs.set(id, pr);
      }
      pr.isLearner = learner;
    }
  }
}
