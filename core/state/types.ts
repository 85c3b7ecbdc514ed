/**
 * The contract of the replicated state machine (`core/state/`).
 *
 * Commands are applied in log order on every replica. Everything that depends on time uses
 * `ApplyContext.nowMs`, which the leader wrote into the log entry: replicas never read their own
 * clocks while applying, so expiry is deterministic. `ApplyContext.index` is the entry's log index;
 * it is the basis for per-key revisions (DESIGN §5, later issue).
 * @module
 */
import type { BatchResults, WireValue } from "../../protocol/messages.ts";
import type { WatchHistory } from "./watch_history.ts";

/** A command's arguments: name first, binary-safe. */
export type Argv = Uint8Array[];

/**
 * A result value: null (nil), integer, bulk bytes, simple string, or array of values — the
 * protocol's {@link WireValue}, as the state machine produces it and the client receives it.
 */
export type Value = WireValue;

/** Per-entry apply context (identical on every replica). */
export interface ApplyContext {
  /** Leader-decided wall-clock time in ms, carried in the log entry. */
  nowMs: number;
  /** Log index of the entry being applied (monotonic revision source). */
  index: number;
}

/**
 * Columnar result sink for a batch: slot `i` gets the code, value and error message of command i
 * (the protocol's {@link BatchResults}, so the server sends them as the response's arrays as-is).
 */
export interface ResultSink extends BatchResults {}

/** The Redis-like state machine. */
export interface StateMachine {
  /**
   * Apply one command and append its code/value/error to `out`. Never throws for bad input: bad
   * commands get an error code (UNKNOWN_COMMAND, SYNTAX, WRONG_TYPE, NOT_INTEGER, ...).
   */
  apply(argv: Argv, ctx: ApplyContext, out: ResultSink): void;
  /**
   * Optional fast path: exactly what `apply([SET, key, value])` does, with the key the `kn` bytes
   * of `b` at `ks` and the value the `vn` bytes at `vs` — the commonest write, applied from the
   * entry's bytes without an argv (the applier calls it for a three-argument SET).
   */
  applySet?(
    b: Uint8Array,
    ks: number,
    kn: number,
    vs: number,
    vn: number,
    ctx: ApplyContext,
    out: ResultSink,
  ): void;
  /** True if the command only reads (can be served by a ReadIndex read). Unknown names: false. */
  isReadOnly(name: Uint8Array): boolean;
  /**
   * Serialise the whole state (every type, expiry times). Deterministic for equal states. With
   * `head`, the result is `head` followed by the snapshot (restore() takes the part after it);
   * `sizeHint` presizes the output buffer.
   */
  snapshot(head?: Uint8Array, sizeHint?: number): Uint8Array;
  /**
   * Starts the same snapshot incrementally: the result is the state as it is now, even if
   * commands are applied between the job's steps. Only one snapshot may be in progress.
   */
  beginSnapshot(head?: Uint8Array, sizeHint?: number): SnapshotJob;
  /** Replace the whole state with a snapshot produced by `snapshot()`. Throws on corrupt input. */
  restore(data: Uint8Array): void;
  /** Number of keys (including not-yet-collected expired ones is acceptable). */
  size(): number;
  /** Keys with an expiry (INFO's `keys_with_expiry`, Redis's `expires`). Optional. */
  expiresCount?(): number;
  /**
   * Sets who hears, as entries apply, of leases renewed or revoked (core/node/lessor.ts, which
   * acts only on the leader). Optional: a state machine without leases has none.
   */
  setLeaseListener?(listener: LeaseListener | null): void;
  /** The current leases (read by the leader's lessor), in id order. */
  leases?(): Iterable<LeaseInfo>;
  /**
   * Records change events into `h` (the watch history; null stops): every key a command touches
   * is noted, and {@link commitHistory} turns the notes into events. Optional.
   */
  keepHistory?(h: WatchHistory | null): void;
  /** Turns what the entry at `index` touched into its watch events (after it was applied). */
  commitHistory?(index: number): void;
}

/** One lease as the lessor sees it (see core/state/leases.ts). */
export interface LeaseInfo {
  /** The lease id. */
  readonly id: number;
  /** Granted time to live, in seconds. */
  readonly ttl: number;
  /** Log index of the last grant, keepalive or refresh (the guard of `LEASE EXPIRE`). */
  readonly renewRev: number;
  /** The keys attached (their count bounds how many leases one EXPIRE entry takes). */
  readonly keys?: { readonly size: number };
}

/**
 * Told by the state machine, while an entry applies (on every replica alike), what happened to
 * leases; the node's lessor keeps deadlines from it on the leader only.
 */
export interface LeaseListener {
  /** Lease `id` was granted or kept alive at log index `rev`: its ttl starts again now. */
  renewed(id: number, ttlSeconds: number, rev: number): void;
  /** Lease `id` is gone (revoked or expired, its keys deleted). */
  revoked(id: number): void;
  /** Every lease was renewed at once (`LEASE REFRESH`) or the table replaced (restore). */
  reset(): void;
}

/** An incremental state snapshot (see {@link StateMachine.beginSnapshot}). */
export interface SnapshotJob {
  /** Sets the bytes that go before the state, when not given to `beginSnapshot` (before `step`). */
  prefix(head: Uint8Array): void;
  /** Encodes up to `budget` more keys; true once done. */
  step(budget: number): boolean;
  /** The snapshot bytes (after `step` returned true). */
  finish(): Uint8Array;
  /** Gives up (the state stops tracking changes for it). */
  abort(): void;
}
