/**
 * The Ready driver: where the pure Raft core meets I/O. Each round takes one `Ready` from the core
 * and handles it in the order the Raft contract demands:
 *
 * 1. soft state (role, leader) is published;
 * 2. the leader's own messages (appends to followers) go out at once: the leader may send before
 *    its own append is durable, because it counts itself in a quorum only after `sync()`;
 * 3. a snapshot from the leader is installed durably and restored;
 * 4. committed entries are applied. This comes before the round's own `sync()`: an entry is
 *    committed only once a quorum holds it durably (the leader counts itself only after its
 *    `sync()`), so applying it — and answering its clients — never waits for the fsync of the
 *    newer entries this round appends. On the leader that takes one fsync off every write's
 *    latency: the reply no longer waits for the next batch's fsync. Confirmed ReadIndex reads
 *    are noted and served here too (a read needs its index applied, not this round's fsync);
 * 5. entries are appended and the hard state recorded, then made durable with one `sync()`;
 * 6. only then are the other messages (votes, append responses) sent: they promise durability;
 * 7. the core is told the Ready was handled (`advance`), and the round's after-advance work runs
 *    (a snapshot may be started: the core must know the entries are applied before compacting).
 *
 * Rounds never overlap: a round awaits storage, and a new one starts only when it ended, on a later
 * event-loop turn. A round applies a bounded slice of the committed entries (the core's
 * `maxCommittedSizePerReady`), so a backlog is applied a slice per turn.
 *
 * What may be sent before persisting does not wait for a round in progress, though: while one
 * awaits its fsync, each scheduled turn sends the core's early messages at once
 * (`takeEarlyMessages`). A leader's heartbeats and new appends, and a follower's heartbeat
 * replies, would otherwise wait as long as the disk does; a 350 ms fsync on a shared disk, plus a
 * GC pause, was enough for followers to start an election. Nor does what commits meanwhile: an
 * acknowledgement that arrives during the leader's fsync commits entries (a quorum holds them),
 * and the turn applies them and answers their clients at once (`takeCommittedEntries`), as it
 * serves the reads confirmed meanwhile (`takeReadStates`). Under steady load the leader is nearly
 * always inside a fsync, so without this every write waited for the fsync of the entries after it.
 * @module
 */
import type {
  Entry,
  Message,
  NodeId,
  RaftStatus,
  RawNode,
  ReadState,
  Ready,
  Snapshot,
} from "../raft/types.ts";
import type { Storage } from "../storage/storage.ts";
import { nextTurn, type Scheduler } from "../env/time.ts";

/** What the driver calls for the parts of a Ready (see the module comment for the order). */
export interface ReadyHandlers {
  /** Runs at the start of each scheduled turn, before any Ready (e.g. ask for a read index). */
  beforeRound(): void;
  onSoftState(role: RaftStatus["role"], leader: NodeId): void;
  /** Sends messages to peers (never blocks). */
  send(messages: Message[]): void;
  /** Restores the state machine from a snapshot already made durable by storage. */
  restoreSnapshot(snap: Snapshot): void;
  applyEntries(entries: Entry[]): void;
  onReadStates(states: readonly ReadState[]): void;
  /** After apply and read states: serve the reads whose index is applied. */
  serveReads(): void;
  /** After `advance`. */
  afterAdvance(): void;
  /** A round threw (storage failure): the node stops taking writes. */
  fail(err: Error): void;
}

/** Runs Ready rounds on the scheduler whenever the core may have work. */
export class ReadyDriver {
  readonly #raft: RawNode;
  readonly #storage: Storage;
  readonly #scheduler: Scheduler;
  readonly #h: ReadyHandlers;
  #scheduled = false;
  #running: Promise<void> | null = null;
  /** True while a round awaits its `sync()` with its own committed entries applied. */
  #syncing = false;
  #stopped = false;

  constructor(raft: RawNode, storage: Storage, scheduler: Scheduler, handlers: ReadyHandlers) {
    this.#raft = raft;
    this.#storage = storage;
    this.#scheduler = scheduler;
    this.#h = handlers;
  }

  /** Asks for a round on the next turn (coalesces many requests into one). */
  schedule(): void {
    if (this.#scheduled || this.#stopped) return;
    this.#scheduled = true;
    this.#scheduler.immediate(() => {
      this.#scheduled = false;
      if (this.#stopped) return;
      this.#h.beforeRound();
      if (this.#running) {
        const early = this.#raft.takeEarlyMessages();
        if (early.length) this.#h.send(early);
        if (this.#syncing) this.#applyDuringSync();
        return;
      }
      this.#running = this.#run().finally(() => {
        this.#running = null;
        if (this.#raft.hasReady()) this.schedule();
      });
    });
  }

  /** Stops scheduling rounds; resolves once the round in progress (if any) ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#running;
  }

  async #run(): Promise<void> {
    try {
      let rounds = 0;
      while (!this.#stopped && this.#raft.hasReady()) {
        // Consecutive rounds (a backlog of committed entries, handed out a bounded slice per
        // Ready) give the event loop a turn in between: incoming messages, ticks and client I/O
        // run, so catching up never holds the loop for more than one slice.
        if (rounds++ > 0) await nextTurn(this.#scheduler);
        if (this.#stopped || !this.#raft.hasReady()) break;
        const rd = this.#raft.ready();
        await this.#handle(rd);
        this.#raft.advance(rd);
        this.#h.afterAdvance();
      }
    } catch (err) {
      this.#h.fail(err as Error);
    }
  }

  /**
   * While a round awaits its fsync: what committed meanwhile (a quorum acknowledged) is applied,
   * and the reads confirmed meanwhile are served, without waiting for this node's disk.
   */
  #applyDuringSync(): void {
    const h = this.#h;
    const entries = this.#raft.takeCommittedEntries();
    if (entries.length) h.applyEntries(entries);
    const states = this.#raft.takeReadStates();
    if (states.length) h.onReadStates(states);
    if (entries.length || states.length) h.serveReads();
  }

  async #handle(rd: Ready): Promise<void> {
    const h = this.#h;
    const st = this.#storage;
    if (rd.softState) h.onSoftState(rd.softState.role, rd.softState.leader);
    if (rd.earlyMessages.length) h.send(rd.earlyMessages);
    if (rd.snapshot && rd.snapshot.meta.index > 0) {
      await st.applySnapshot(rd.snapshot);
      h.restoreSnapshot(rd.snapshot);
    }
    if (rd.committedEntries.length) h.applyEntries(rd.committedEntries);
    if (rd.readStates.length) h.onReadStates(rd.readStates);
    h.serveReads();
    if (rd.entries.length) st.append(rd.entries);
    if (rd.hardState) st.setHardState(rd.hardState);
    if (rd.mustSync || rd.entries.length) {
      this.#syncing = true;
      try {
        await st.sync();
      } finally {
        this.#syncing = false;
      }
    }
    if (rd.messages.length) h.send(rd.messages);
  }
}
