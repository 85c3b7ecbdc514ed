/**
 * The leader's view of one follower's log (after etcd-io/raft's tracker): match/next indexes, the
 * replication state machine (probe → replicate ↔ snapshot) and the in-flight window.
 * @module
 */

/** How the leader is currently sending to a follower. */
export type ProgressState = "probe" | "replicate" | "snapshot";

/**
 * In-flight AppendEntries to one follower: a ring of (last index, entry count) per message, full
 * when the entries in flight reach `maxEntries` (or the ring of messages is full).
 */
export class Inflights {
  readonly #maxEntries: number;
  readonly #lasts: number[];
  readonly #counts: number[];
  #start = 0;
  #len = 0;
  #entries = 0;

  /** A window of at most `maxEntries` entries (and as many messages). */
  constructor(maxEntries: number) {
    this.#maxEntries = Math.max(1, maxEntries);
    const cap = Math.min(this.#maxEntries, 1024);
    this.#lasts = new Array<number>(cap).fill(0);
    this.#counts = new Array<number>(cap).fill(0);
  }

  /** Records a message carrying `count` entries up to `last`. */
  add(last: number, count: number): void {
    const cap = this.#lasts.length;
    const slot = (this.#start + this.#len) % cap;
    this.#lasts[slot] = last;
    this.#counts[slot] = count;
    this.#len++;
    this.#entries += count;
  }

  /** Frees every message whose last index is <= `index` (acknowledged). */
  freeLE(index: number): void {
    const cap = this.#lasts.length;
    while (this.#len > 0 && this.#lasts[this.#start] <= index) {
      this.#entries -= this.#counts[this.#start];
      this.#start = (this.#start + 1) % cap;
      this.#len--;
    }
  }

  /** Frees the oldest message (used when a heartbeat response shows the follower is alive). */
  freeFirst(): void {
    if (this.#len === 0) return;
    this.freeLE(this.#lasts[this.#start]);
  }

  /** True when nothing more may be sent. */
  full(): boolean {
    return this.#len >= this.#lasts.length || this.#entries >= this.#maxEntries;
  }

  /** Entries currently in flight. */
  get entries(): number {
    return this.#entries;
  }

  /** Messages currently in flight. */
  get count(): number {
    return this.#len;
  }

  /** Forgets everything in flight. */
  reset(): void {
    this.#start = 0;
    this.#len = 0;
    this.#entries = 0;
  }
}

/** Replication progress of one peer, as tracked by the leader. */
export class Progress {
  /** Highest index known to be replicated (durably) on the peer. */
  match = 0;
  /** Next index to send. */
  next = 1;
  /** Replication state. */
  state: ProgressState = "probe";
  /** Probe: a probe is outstanding; wait for a response or heartbeat before sending another. */
  probeSent = false;
  /** Snapshot: index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Snapshot: ticks spent waiting for the snapshot to be installed or reported. */
  snapshotTicks = 0;
  /** The commit index last sent to the peer (in an append or heartbeat). */
  commitSent = 0;
  /** Highest read index answered to the peer (a follower serving a read applies up to it). */
  readIndexSent = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** `match` when the previous heartbeat reply came (replicate: has the peer moved on since?). */
  matchAtHeartbeat = -1;
  /** Learners receive the log but do not vote and are not counted. */
  isLearner: boolean;
  /** In-flight window (replicate state). */
  readonly inflights: Inflights;

  /** A fresh progress sending from `next`. */
  constructor(next: number, maxInflight: number, isLearner: boolean) {
    this.next = next;
    this.isLearner = isLearner;
    this.inflights = new Inflights(maxInflight);
  }

  #reset(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.snapshotTicks = 0;
    this.inflights.reset();
  }

  /** Back to probing: one message at a time from just after what we know matches. */
  becomeProbe(): void {
    if (this.state === "snapshot") {
      const pending = this.pendingSnapshot;
      this.#reset("probe");
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.#reset("probe");
      this.next = this.match + 1;
    }
  }

  /** Optimistic pipelining. */
  becomeReplicate(): void {
    this.#reset("replicate");
    this.next = this.match + 1;
  }

  /** Waiting for a snapshot at `index` to be installed. */
  becomeSnapshot(index: number): void {
    this.#reset("snapshot");
    this.pendingSnapshot = index;
  }

  /** An acceptance up to `n`; returns true if `match` advanced. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    if (this.next < n + 1) this.next = n + 1;
    return updated;
  }

  /**
   * A rejection of the append whose previous index was `rejected`; `hint` is the highest index that
   * may match (at most the follower's last index). Returns false for a stale rejection.
   *
   * In replicate state a rejection at or below `match` is stale (overtaken by the ack that set
   * `match`; common when messages are reordered) and ignored; one above `match` starts a probe at
   * `match`. A follower that keeps the entries it acknowledged never rejects that probe with a hint
   * below `match`. If it does, it lost the tail of its log (its disk did not keep what it fsynced,
   * or it ran with `wal_fsync` batch/off and crashed): the progress restarts from the hint, with
   * `match` reset to 0 until a probe is acknowledged again (nothing past the hint is assumed; the
   * leader's commit index never moves back). A reordered old rejection that happens to look like
   * that only costs one extra round trip.
   */
  maybeDecrTo(rejected: number, hint: number): boolean {
    if (this.state === "replicate") {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    if (rejected === this.match && hint < this.match) {
      this.match = 0;
      this.#reset("probe");
      this.next = hint + 1;
      return true;
    }
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** True when the leader must not send more appends now. */
  isPaused(): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.inflights.full();
      case "snapshot":
        return true;
    }
  }

  /** Records an append carrying `count` entries ending at `last`. */
  sentEntries(count: number, last: number): void {
    if (this.state === "replicate") {
      if (count > 0) {
        this.next = last + 1;
        this.inflights.add(last, count);
      }
    } else if (this.state === "probe") {
      this.probeSent = true;
    }
  }
}
