/**
 * The Redis-like replicated state machine: `createStateMachine()` returns a `StateMachine`
 * (see `types.ts`) that applies commands to an in-memory keyspace, deterministically.
 *
 * Dispatch: argv[0] is looked up in a case-folding hash table (no per-command string), the
 * Redis-style arity is checked, then the command runs. Write commands then run a bounded active
 * expiry sweep (see `keyspace.ts`). Nothing here reads a clock: time is `ctx.nowMs`.
 * @module
 */
import { Code } from "../../protocol/codes.ts";
import { printable } from "./bytes.ts";
import { CHECK_COMMANDS } from "./check.ts";
import { CommandTable } from "./command_table.ts";
import type { CommandSpec } from "./command_table.ts";
import { HASH_COMMANDS } from "./hashes.ts";
import { KEY_COMMANDS } from "./keys.ts";
import { KV_COMMANDS } from "./kv_ops.ts";
import { Keyspace, SWEEP_PER_WRITE } from "./keyspace.ts";
import { LEASE_COMMANDS } from "./leases.ts";
import { LIST_COMMANDS } from "./lists.ts";
import { RANGE_COMMANDS } from "./range.ts";
import { fail, wrongArity } from "./reply.ts";
import { SERVER_STATE_COMMANDS } from "./server_family.ts";
import { SET_COMMANDS } from "./sets.ts";
import { decodeSnapshot, encodeSnapshot, SnapshotEncoder } from "./snapshot.ts";
import { setFromBytes, STRING_COMMANDS } from "./strings.ts";
import { TXN_COMMANDS } from "./txn.ts";
import type {
  ApplyContext,
  Argv,
  LeaseInfo,
  LeaseListener,
  ResultSink,
  SnapshotJob,
  StateMachine,
} from "./types.ts";
import type { WatchHistory } from "./watch_history.ts";
import { ZSET_COMMANDS } from "./zsets.ts";

export { isServerCommand, SERVER_COMMANDS } from "./server_family.ts";

const TABLE = new CommandTable();
TABLE.register([
  ...STRING_COMMANDS,
  ...KEY_COMMANDS,
  ...LIST_COMMANDS,
  ...SET_COMMANDS,
  ...HASH_COMMANDS,
  ...ZSET_COMMANDS,
  ...SERVER_STATE_COMMANDS,
  ...TXN_COMMANDS,
  ...LEASE_COMMANDS,
  ...RANGE_COMMANDS,
  ...CHECK_COMMANDS,
  ...KV_COMMANDS,
]);

/** The state machine's commands by family (for `help` in the CLI and COMMAND DOCS groups). */
export const COMMAND_GROUPS: readonly { group: string; commands: readonly CommandSpec[] }[] = [
  { group: "string", commands: STRING_COMMANDS },
  { group: "keyspace", commands: KEY_COMMANDS },
  { group: "list", commands: LIST_COMMANDS },
  { group: "set", commands: SET_COMMANDS },
  { group: "hash", commands: HASH_COMMANDS },
  { group: "sorted-set", commands: ZSET_COMMANDS },
  { group: "server", commands: SERVER_STATE_COMMANDS },
  { group: "transactions", commands: [...TXN_COMMANDS, ...CHECK_COMMANDS] },
  { group: "range", commands: RANGE_COMMANDS },
  { group: "lease", commands: LEASE_COMMANDS },
  { group: "kv", commands: KV_COMMANDS },
];

/** Every command the state machine implements (name, arity, write flag). */
export const STATE_SPECS: readonly CommandSpec[] = TABLE.all();

/** Lower-case names of every command the state machine implements, sorted. */
export const STATE_COMMANDS: readonly string[] = TABLE.all().map((s: CommandSpec) => s.name)
  .sort();

/**
 * A command that threw: a bug, not bad input. Its partial results (from `mark` on) are dropped and
 * it answers INTERNAL instead of breaking the batch — deterministic, since every replica runs the
 * same code on the same input.
 */
function internal(out: ResultSink, mark: number, name: string, err: unknown): void {
  out.codes.length = mark;
  out.data.length = mark;
  out.errors.length = mark;
  fail(out, Code.INTERNAL, `internal error in '${name}': ${(err as Error).message}`);
}

class RedisStateMachine implements StateMachine {
  #db = new Keyspace();
  #leaseListener: LeaseListener | null = null;
  #history: WatchHistory | null = null;

  keepHistory(h: WatchHistory | null): void {
    this.#history = h;
    this.#db.changes = h !== null && h.enabled ? h.recorder : null;
    this.#db.history = h !== null && h.enabled ? h : null;
  }

  commitHistory(index: number): void {
    this.#history?.commit(index, this.#db.store);
  }

  apply(argv: Argv, ctx: ApplyContext, out: ResultSink): void {
    if (argv.length === 0) {
      fail(out, Code.SYNTAX, "empty command");
      return;
    }
    const spec = TABLE.lookup(argv[0]);
    if (spec === undefined) {
      fail(out, Code.UNKNOWN_COMMAND, `unknown command '${printable(argv[0])}'`);
      return;
    }
    const n = argv.length;
    const a = spec.arity;
    if (a > 0 ? n !== a : n < -a) {
      wrongArity(out, spec.name);
      return;
    }
    const db = this.#begin(ctx);
    const mark = out.codes.length;
    try {
      spec.run(db, argv, ctx, out);
      if (spec.write) db.sweep(ctx.nowMs, SWEEP_PER_WRITE);
    } catch (err) {
      internal(out, mark, spec.name, err);
    }
  }

  applySet(
    b: Uint8Array,
    ks: number,
    kn: number,
    vs: number,
    vn: number,
    ctx: ApplyContext,
    out: ResultSink,
  ): void {
    const db = this.#begin(ctx);
    const mark = out.codes.length;
    try {
      setFromBytes(db, b, ks, kn, vs, vn, ctx, out);
      db.sweep(ctx.nowMs, SWEEP_PER_WRITE);
    } catch (err) {
      internal(out, mark, "set", err);
    }
  }

  /** The keyspace, told the revision of the command about to run. */
  #begin(ctx: ApplyContext): Keyspace {
    const db = this.#db;
    db.rev = ctx.index;
    if (db.index.floor > ctx.index) db.index.floor = ctx.index; // first command after a restore
    return db;
  }

  isReadOnly(name: Uint8Array): boolean {
    const spec = TABLE.lookup(name);
    return spec !== undefined && !spec.write;
  }

  snapshot(head?: Uint8Array, sizeHint?: number): Uint8Array {
    return encodeSnapshot(this.#db, head, sizeHint);
  }

  beginSnapshot(head?: Uint8Array, sizeHint?: number): SnapshotJob {
    return new SnapshotEncoder(this.#db, head, sizeHint);
  }

  restore(data: Uint8Array): void {
    this.#db = decodeSnapshot(data); // replaced only when the whole snapshot parsed
    this.#db.index.floor = Infinity; // removals before the snapshot are unknown (RANGE ... AT)
    this.#db.leases.listener = this.#leaseListener;
    this.#leaseListener?.reset();
    this.keepHistory(this.#history);
  }

  setLeaseListener(listener: LeaseListener | null): void {
    this.#leaseListener = listener;
    this.#db.leases.listener = listener;
  }

  leases(): Iterable<LeaseInfo> {
    return this.#db.leases.map.values();
  }

  size(): number {
    return this.#db.store.size;
  }

  expiresCount(): number {
    return this.#db.withExpiry;
  }
}

/** Creates an empty state machine. */
export function createStateMachine(): StateMachine {
  return new RedisStateMachine();
}
