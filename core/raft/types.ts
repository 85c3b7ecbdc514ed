/**
 * The contract of the pure Raft core (`core/raft/`), in the style of etcd-io/raft's RawNode.
 *
 * The core owns no timers, sockets, clocks or randomness: the caller feeds it ticks, messages and
 * proposals, then drains a {@link Ready} that says what to persist, what to send and what to apply,
 * and calls `advance()` once it has done so. Randomness (election timeout jitter) comes from the
 * `random` function in {@link RaftConfig}, so a seeded caller gets a fully deterministic node.
 *
 * ## Durability contract (what the node wiring must do with a Ready)
 * 1. `hardState` and `entries` (and `snapshot`) must be durable (fsynced when the storage is
 *    durable) before any message in `messages` is sent — with one exception: messages listed in
 *    `earlyMessages` may be sent before persisting: the leader writes to its disk in parallel with
 *    replicating (Raft thesis §10.2.1), and heartbeat replies promise nothing about the disk. The
 *    leader counts its own log towards a quorum only for entries it has persisted, i.e. after
 *    `advance()`.
 * 2. `committedEntries` may be applied before this node has persisted them: an entry is committed
 *    only once a quorum holds it durably (the leader counts itself only after persisting), so the
 *    state machine never gets ahead of what a quorum keeps. `takeCommittedEntries()` and
 *    `takeReadStates()` hand out what commits (and what reads are confirmed) while a Ready is still
 *    being persisted, once that Ready's own committed entries are applied.
 * 3. `advance(ready)` is called after all of the above; only then may `ready()` be called again.
 * @module
 */

/** A node id; 0 means "none". */
export type NodeId = number;

/** Entry kinds. */
export const EntryType = {
  /** Client data: an encoded proposal envelope (see `core/node/proposal.ts`). Empty data = no-op. */
  Normal: 0,
  /** A membership change: `data` is an encoded {@link ConfChange}. */
  ConfChange: 1,
} as const;
/** An entry kind: one of the {@link EntryType} values (0 = Normal, 1 = ConfChange). */
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

/** One log entry. `data` is opaque bytes to the Raft core: it never decodes Normal entries. */
export interface Entry {
  /** Term in which the entry was proposed. */
  term: number;
  /** Position in the log (1-based). */
  index: number;
  /** Normal (client data) or ConfChange. */
  type: EntryType;
  /** The payload: an encoded proposal (Normal) or {@link ConfChange} (ConfChange). */
  data: Uint8Array;
}

/** State that must be durable before replying to votes/appends. */
export interface HardState {
  /** Current term. */
  term: number;
  /** Node voted for in the current term (0 = none). */
  vote: NodeId;
  /** Highest log index known to be committed. */
  commit: number;
}

/** Cluster membership. */
export interface ConfState {
  /** Voting members. */
  voters: NodeId[];
  /** Non-voting members that receive the log (`ADD_NODE ... LEARNER`). */
  learners: NodeId[];
}

/** A single membership change (one node at a time). */
export interface ConfChange {
  type: "addVoter" | "addLearner" | "removeNode";
  nodeId: NodeId;
  /** Opaque context, e.g. the new node's addresses (`{ raft, client }`), CBOR-encodable. */
  context?: Uint8Array;
}

/** Snapshot metadata. */
export interface SnapshotMeta {
  /** Index of the last entry the snapshot covers. */
  index: number;
  /** Term of that entry. */
  term: number;
  /** Membership as of that entry. */
  conf: ConfState;
}

/** A state machine snapshot at `meta.index`. `data` is opaque to the core. */
export interface Snapshot {
  /** Where the snapshot sits in the log, and the membership then. */
  meta: SnapshotMeta;
  /** The serialised state (opaque to the Raft core). */
  data: Uint8Array;
}

/** Role of a node. */
export type Role = "follower" | "candidate" | "precandidate" | "leader";

/** Volatile state worth reporting (leader, role); present in a Ready only when it changed. */
export interface SoftState {
  leader: NodeId;
  role: Role;
}

/** Message kinds exchanged between peers. */
export type MessageType =
  | "app" // AppendEntries
  | "appResp"
  | "vote"
  | "voteResp"
  | "preVote"
  | "preVoteResp"
  | "heartbeat"
  | "heartbeatResp"
  | "snap" // InstallSnapshot (whole snapshot in `snapshot`; chunking happens in node wiring)
  | "snapResp"
  | "timeoutNow" // leader transfer: campaign now
  | "transferLeader" // a follower asks the leader to transfer leadership to the node in `index`
  | "readIndex" // follower forwards a read-index request to the leader
  | "readIndexResp";

/** One peer message. Fields unused by a type are 0 / empty. */
export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  term: number;
  /** Term of the entry at `index` (app: prev entry; vote: last entry). */
  logTerm: number;
  /**
   * app: prev index; appResp: last index matched (or rejected index); vote: last index;
   * readIndexResp: the read index; transferLeader: the id of the node to transfer to.
   */
  index: number;
  entries: Entry[];
  commit: number;
  reject: boolean;
  /** appResp with reject: the follower's hint for fast backtracking (last index it might match). */
  rejectHint: number;
  /** With rejectHint: the term at rejectHint on the follower (for fast backtracking). */
  logTermHint?: number;
  snapshot?: Snapshot;
  /** Opaque request context (read-index ids, heartbeat context). */
  context?: Uint8Array;
}

/** A completed linearizable read: the caller may serve reads for `context` once applied >= index. */
export interface ReadState {
  index: number;
  context: Uint8Array;
}

/** What the caller must persist, send and apply. See the module docs for the ordering contract. */
export interface Ready {
  softState?: SoftState;
  hardState?: HardState;
  /** Entries to append to stable storage (may overwrite a conflicting suffix). */
  entries: Entry[];
  /** A snapshot to persist and restore the state machine from (follower receiving InstallSnapshot). */
  snapshot?: Snapshot;
  /** Entries to apply, in order. */
  committedEntries: Entry[];
  /** Messages to send after persisting. */
  messages: Message[];
  /**
   * Messages that may be sent before persisting: a leader's appends, heartbeats and snapshots
   * (pipelined AppendEntries), and heartbeat replies. `takeEarlyMessages()` hands out the ones
   * produced while a Ready is still being handled.
   */
  earlyMessages: Message[];
  readStates: ReadState[];
  /** True when hardState or entries must be fsynced before sending `messages`. */
  mustSync: boolean;
}

/** Read-only view of what is durable, used to (re)start a node. */
export interface RaftStorageView {
  /** The persisted hard state and membership to restart from. */
  initialState(): { hardState: HardState; conf: ConfState };
  /** Entries in [lo, hi), at most `maxBytes` in total (at least one entry if any). */
  entries(lo: number, hi: number, maxBytes?: number): Entry[];
  /** Term of the entry at `index` (works for the snapshot index too); throws if compacted. */
  term(index: number): number;
  /** Index of the first entry still in the log (the snapshot index + 1). */
  firstIndex(): number;
  /** Index of the last entry in the log (the snapshot index when the log is empty). */
  lastIndex(): number;
  /** The latest snapshot (may be empty: index 0). */
  snapshot(): Snapshot;
}

/** Configuration of one Raft node. Times are in ticks. */
export interface RaftConfig {
  id: NodeId;
  /** Election timeout is randomised in [electionTick, 2*electionTick). The node's default: 40 (400–800 ms at 10 ms/tick). */
  electionTick: number;
  /** Default 3 (30 ms at 10 ms/tick). */
  heartbeatTick: number;
  storage: RaftStorageView;
  /** Highest applied index at start (after restoring a snapshot). */
  applied: number;
  /** Max entries in flight per follower and max entries per AppendEntries (raft_append_batch). */
  maxInflight: number;
  /** Max bytes per AppendEntries. */
  maxSizePerMsg: number;
  /**
   * Max bytes of committed entries handed out by one `Ready` (at least one entry): applying is
   * synchronous, so this bounds how long one round keeps the event loop; the rest comes in the
   * next Readys (etcd-io/raft's MaxCommittedSizePerReady). Default: `maxSizePerMsg`.
   */
  maxCommittedSizePerReady?: number;
  preVote: boolean;
  checkQuorum: boolean;
  /** Seeded random source in [0, 1). */
  random: () => number;
  /**
   * Lease reads (off by default; needs `checkQuorum`, `tickMs` and times passed to `tick(nowMs)` /
   * `readIndex(ctx, nowMs)`). The leader answers a read at once while `nowMs` is within its lease:
   * from the send time of the newest heartbeat round a quorum acknowledged, for
   * `(electionTick - 1) * tickMs - leaseDriftMs` ms — before any follower that acknowledged it can
   * vote for another leader. Otherwise (lapsed, no time given, forwarded reads, during a leader
   * transfer) the read falls back to a ReadIndex round. See docs/raft.md for the clock assumption.
   */
  leaseRead?: boolean;
  /** Length of one tick in ms (what the caller's ticks are meant to be); sizes the lease. */
  tickMs?: number;
  /** Lease reads: margin in ms for clock-rate drift and timer error, taken off the lease. Default `tickMs`. */
  leaseDriftMs?: number;
}

/** Errors returned (not thrown) by proposals. */
export type ProposeError =
  | "not_leader"
  | "transfer_in_progress"
  | "conf_change_pending"
  | "dropped";

/** Status for INFO, metrics and tests. */
export interface RaftStatus {
  /** This node's id. */
  id: NodeId;
  /** Current term. */
  term: number;
  /** Node voted for in the current term (0 = none). */
  vote: NodeId;
  /** Highest committed log index. */
  commit: number;
  /** Highest log index applied to the state machine. */
  applied: number;
  /** Index of the last entry in this node's log. */
  lastIndex: number;
  /** Current role. */
  role: Role;
  /** Current leader's id (0 = unknown). */
  leader: NodeId;
  /** Current membership. */
  conf: ConfState;
  /** Leader only: per-follower match index. */
  progress?: Record<
    number,
    { match: number; next: number; state: "probe" | "replicate" | "snapshot" }
  >;
}

/** The pure Raft node. Implemented by `core/raft/raw_node.ts`. */
export interface RawNode {
  /**
   * Advance logical time by one tick. `nowMs` is the caller's monotonic clock (e.g.
   * `performance.now()`), used only to time the leader lease; without it no lease is granted.
   */
  tick(nowMs?: number): void;
  /** Feed a message received from a peer. Messages for other nodes or stale terms are handled per Raft. */
  step(msg: Message): void;
  /** Propose opaque data as one Normal entry. Returns the entry's index, or an error. */
  propose(data: Uint8Array): number | ProposeError;
  /** Propose a membership change (one at a time). */
  proposeConfChange(cc: ConfChange): number | ProposeError;
  /** Apply a committed ConfChange entry (called by the node when applying it); returns the new ConfState. */
  applyConfChange(cc: ConfChange): ConfState;
  /**
   * Start a linearizable read; a ReadState with this context appears in a later Ready. `nowMs` (the
   * same monotonic clock as `tick`) lets a leader with lease reads answer at once within its lease.
   */
  readIndex(context: Uint8Array, nowMs?: number): void;
  /** Leader: transfer leadership to `to`. */
  transferLeader(to: NodeId): void;
  /** Start an election now (used by tests and single-node start-up). */
  campaign(): void;
  hasReady(): boolean;
  ready(): Ready;
  /**
   * The messages that may be sent before persisting, produced since the last `ready()` (or the
   * last call); callable between `ready()` and `advance()`, so they need not wait for a fsync.
   */
  takeEarlyMessages(): Message[];
  /**
   * Committed normal entries not yet handed out (up to the first membership change, never past
   * the entries already handed out for persisting; none while a snapshot is pending), callable
   * while a Ready is handled once its `committedEntries` are applied. The caller applies them
   * before calling the core again: they count as applied at once.
   */
  takeCommittedEntries(): Entry[];
  /** Read states confirmed since the last `ready()` or call, callable while a Ready is handled. */
  takeReadStates(): ReadState[];
  advance(rd: Ready): void;
  /** Tell the core the state machine has applied up to `index` (after a snapshot restore, for example). */
  reportSnapshot(to: NodeId, ok: boolean): void;
  /** Mark a follower unreachable (connection failed) so the leader probes it instead of pipelining. */
  reportUnreachable(to: NodeId): void;
  /** The log has been compacted up to a snapshot the caller took at `index`. */
  compact(index: number): void;
  status(): RaftStatus;
}
