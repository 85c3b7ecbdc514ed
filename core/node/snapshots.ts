/**
 * Snapshots: when one is due, taking it in the background (state captured at the applied index,
 * encoded a slice of keys per turn, then saved and the log compacted), and restoring one (at
 * start-up from storage, or installed from the leader). A snapshot holds the state machine, every
 * plugin's replicated state and the members' addresses.
 * @module
 */
import type { Config } from "../config/config.ts";
import type { HookBus } from "../plugin/hooks.ts";
import type { Logger } from "../config/logger.ts";
import type { ConfState, Snapshot } from "../raft/types.ts";
import { decodeNodeSnapshot, encodeNodeSnapshotInSteps } from "./snapshot_envelope.ts";
import type { StateMachine } from "../state/types.ts";
import type { Storage } from "../storage/storage.ts";
import { type Clock, pacedTurns, type Scheduler } from "../env/time.ts";
import type { MemberAddress, NodeState } from "./types.ts";

/** Keys encoded per event-loop turn while a snapshot is taken (a few ms of work each). */
export const SNAPSHOT_KEYS_PER_STEP = 5_000;

/**
 * After each step of a snapshot's encoding the node leaves the loop to other work for this many
 * times the step's duration (at most {@link SNAPSHOT_MAX_PAUSE_MS}), so encoding takes at most a
 * third of a busy node's loop. Back to back (one turn between steps), a 3M-key snapshot held 1.8-3 s
 * of a leader already short of CPU and its clients' batches waited: in a 60 s soak (3 nodes, wal,
 * batch 100 x 10) 230 batches took over 120 ms, nearly all while the leader encoded or while a
 * snapshot file's single fdatasync held the disk. Paced, encoding takes 2-3 times longer; with the
 * file also synced in pieces (`plugins/wal/snapshot_file.ts`), 120 s soaks kept the batches' p99.9
 * at 1.9-2.1 times their p99 (4.9-8.9 times before).
 */
export const SNAPSHOT_PAUSE_RATIO = 2;
/** Longest pause between two steps of a snapshot's encoding (ms). */
export const SNAPSHOT_MAX_PAUSE_MS = 50;

/**
 * This node's stretch of the snapshot due thresholds, in [1, 1.5). Every replica applies the same
 * log, so with one rule for all they would snapshot at the same index — and pause for it at the
 * same moment (the encoding is sliced, but it still takes CPU from commits), which is how a 3-node
 * cluster used to lose heartbeats under load. Spread by the node id (golden-ratio steps: ids
 * 1, 2, 3 get 1.31, 1.12, 1.43), consecutive ids are far apart.
 */
export function snapshotStagger(nodeId: number): number {
  return 1 + 0.5 * ((nodeId * 0.6180339887498949) % 1);
}

/** What snapshots need from the rest of the node. */
export interface SnapshotsDeps {
  config: Readonly<Config>;
  state: NodeState;
  sm: StateMachine;
  hooks: HookBus;
  clock: Clock;
  scheduler: Scheduler;
  log: Logger;
  /** Members' addresses now (saved in the snapshot). */
  members(): Record<number, MemberAddress>;
  /** Takes the members' addresses from a restored snapshot. */
  restoreMembers(members: Record<number, MemberAddress>): void;
}

/** The raft and storage calls a snapshot take needs (given once Raft runs). */
export interface SnapshotTarget {
  storage: Storage;
  conf(): ConfState;
  compact(index: number): void;
}

/** The snapshot due rule, background take and restore. */
export class Snapshots {
  readonly #d: SnapshotsDeps;
  #index = 0;
  #taking = false;
  #write: Promise<void> = Promise.resolve();
  #bytesSince = 0;
  #lastBytes = 0;
  #lastKeys = 0;

  readonly #stagger: number;

  constructor(deps: SnapshotsDeps) {
    this.#d = deps;
    this.#stagger = snapshotStagger(deps.config.node_id);
  }

  /** Index of the latest snapshot taken or restored. */
  get index(): number {
    return this.#index;
  }

  /** The write in progress (resolves at once when none is). */
  get writing(): Promise<void> {
    return this.#write;
  }

  /** Counts the bytes of an applied entry towards the next snapshot. */
  noteApplied(bytes: number): void {
    this.#bytesSince += bytes;
  }

  /**
   * A snapshot is due after `snapshot_entries` entries *and* once the log written since the last
   * snapshot is at least as large as that snapshot: the cost of snapshotting stays proportional to
   * the data written, however large the state grows. Both thresholds are stretched by this node's
   * {@link snapshotStagger}, so replicas take their snapshots at different indexes.
   */
  due(): boolean {
    const f = this.#stagger;
    return !this.#taking &&
      this.#d.state.applied - this.#index >= this.#d.config.snapshot_entries * f &&
      this.#bytesSince >= this.#lastBytes * f;
  }

  /** Starts a background snapshot when one is due; a failure goes to `fail`. */
  maybeTake(target: SnapshotTarget, fail: (err: Error) => void): void {
    if (this.due()) this.#write = this.#take(target).catch((err) => fail(err as Error));
  }

  /**
   * Expected snapshot size: the last one's bytes per key times today's keys (presizes the buffer).
   * Before the first one, a generous 128 bytes per key: a buffer that grows by doubling copies
   * everything written so far in one go (81 ms at 64 MiB, measured), while unused capacity is
   * address space the OS maps only when written.
   */
  #sizeHint(): number {
    const keys = this.#lastKeys;
    if (keys > 0) return Math.ceil(this.#lastBytes / keys * this.#d.sm.size());
    return Math.max(this.#lastBytes, 128 * this.#d.sm.size());
  }

  /** The node snapshot of the state now: state machine, plugins, members, a slice per turn. */
  #encode(): Promise<Uint8Array> {
    return encodeNodeSnapshotInSteps(
      this.#d.sm,
      { plugins: this.#d.hooks.snapshot(), members: this.#d.members() },
      this.#sizeHint(),
      SNAPSHOT_KEYS_PER_STEP,
      pacedTurns(this.#d.clock, this.#d.scheduler, SNAPSHOT_PAUSE_RATIO, SNAPSHOT_MAX_PAUSE_MS),
    );
  }

  async #take(t: SnapshotTarget): Promise<void> {
    const { sm, clock, config } = this.#d;
    this.#taking = true;
    try {
      // Everything is taken at the applied index, now; the state is then encoded a slice per
      // event-loop turn (entries applied meanwhile do not change it), so commits never wait
      // behind one long synchronous encoding.
      const index = this.#d.state.applied;
      const meta = { index, term: t.storage.term(index), conf: t.conf() };
      const keys = sm.size();
      // Counted from here: entries applied while the snapshot is written belong to the next one.
      this.#bytesSince = 0;
      const t0 = clock.monoMs();
      const data = await this.#encode();
      const t1 = clock.monoMs();
      const snap: Snapshot = { meta, data };
      this.#lastKeys = keys;
      this.#lastBytes = data.length;
      await t.storage.saveSnapshot(snap, config.snapshot_keep_entries);
      t.compact(index);
      // A leader's snapshot installed meanwhile may already be newer.
      this.#index = Math.max(this.#index, index);
      this.#d.log.info(
        `snapshot at index ${index}: ${data.length} bytes, encoded in ${
          Math.round(t1 - t0)
        } ms, saved in ${Math.round(clock.monoMs() - t1)} ms`,
      );
    } finally {
      this.#taking = false;
    }
  }

  /**
   * A snapshot of the state now, at the applied index, for a backup: encoded like a log-compaction
   * snapshot (a slice of keys per turn) but neither saved nor followed by compaction. Waits for a
   * snapshot being taken to finish (one encoding at a time).
   */
  async capture(storage: Storage, conf: ConfState): Promise<Snapshot> {
    while (this.#taking) await this.#write.catch(() => {});
    this.#taking = true;
    try {
      const index = this.#d.state.applied;
      const meta = { index, term: storage.term(index), conf };
      return { meta, data: await this.#encode() };
    } finally {
      this.#taking = false;
    }
  }

  /** Restores state machine, plugins and members from `snap` (already durable in storage). */
  restore(snap: Snapshot): void {
    const s = decodeNodeSnapshot(snap.data);
    this.#d.sm.restore(s.state);
    this.#d.hooks.restore(s.plugins);
    this.#d.restoreMembers(s.members);
    this.#d.state.applied = snap.meta.index;
    this.#index = snap.meta.index;
    this.#d.log.info(`restored snapshot at index ${snap.meta.index}`);
  }
}
