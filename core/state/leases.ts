/**
 * Leases (etcd's Lease API, replicated): `LEASE GRANT ttl` creates a lease with an id drawn from
 * a counter in the state (the same on every replica); `SET key value LEASE id` attaches a key to
 * it; `LEASE REVOKE id` deletes the lease and every key attached to it, in the one entry it is
 * applied in. Expiry is not decided here: nothing in the state machine reads a clock or expires a
 * lease on its own. The leader's lessor (core/node/lessor.ts) keeps a deadline per lease on its
 * monotonic clock and, when one passes, proposes `LEASE EXPIRE id rev` through the log; it
 * applies only if the lease was not renewed since `rev` (a keepalive that raced the decision
 * wins). A new leader proposes `LEASE REFRESH` (every lease's ttl starts again) before it expires
 * anything, so no lease expires early across a leader change (etcd's rule).
 *
 * Attachment: a key holds at most one lease ({@link KeyEntry.lease}, 0 = none). SET (and every
 * command that replaces a string value as SET does, clearing a TTL: SETEX, PSETEX, GETSET, MSET,
 * MSETNX, SETNX) without `LEASE` detaches the key (a put without a lease, as in etcd); commands
 * that change a value in place (APPEND, INCR, LPUSH, HSET, EXPIRE, ...) keep it; RENAME carries it
 * to the new name (as it carries a TTL); COPY and the *STORE commands write a new key with none.
 * Deleting a key in any way (DEL, expiry, FLUSHALL, a collection emptied) detaches it
 * ({@link Keyspace.remove}/{@link Keyspace.clear} keep the lease's key set in step).
 *
 * Bounds: ttl {@link MIN_LEASE_TTL}..{@link MAX_LEASE_TTL} seconds; at most {@link MAX_LEASES}
 * leases (GRANT answers TOO_LARGE past it); at most {@link MAX_LEASE_KEYS} keys on one lease (SET ...
 * LEASE answers TOO_LARGE past it), so the entry that revokes or expires a lease deletes a bounded
 * number of keys (measured: 100,000 keys held the apply 90 ms in Bun, 10,000 about 9 ms; the
 * lessor also caps the keys one EXPIRE entry deletes). Lease state (ids, ttl, renewal, keys, next id) is in
 * the snapshot (core/state/snapshot.ts, its leases section).
 * @module
 */
import { Code } from "../../protocol/codes.ts";
import { eqWord, keyToBytes, parseIntArg } from "./bytes.ts";
import type { CommandSpec } from "./command_table.ts";
import type { Keyspace } from "./keyspace.ts";
import { fail, nil, ok, syntaxError } from "./reply.ts";
import type { ApplyContext, Argv, LeaseInfo, LeaseListener, ResultSink, Value } from "./types.ts";

/** Shortest lease ttl, in seconds. */
export const MIN_LEASE_TTL = 1;
/** Longest lease ttl, in seconds (one year). */
export const MAX_LEASE_TTL = 31_536_000;
/** Most leases that may exist at once. */
export const MAX_LEASES = 10_000;

/** Most keys attached to one lease at once (bounds the apply of its REVOKE/EXPIRE). */
export const MAX_LEASE_KEYS = 10_000;

/** The "lease not found" error text (etcd's). */
export const MSG_LEASE_NOT_FOUND = "lease not found";

/** One lease. */
export class Lease implements LeaseInfo {
  /** The lease id (1, 2, 3, ... in grant order). */
  readonly id: number;
  /** Granted ttl in seconds. */
  ttl: number;
  /** Log time (ms, the leader's clock in the entry) of the last grant, keepalive or refresh. */
  renewedAt: number;
  /** Log index of the last grant, keepalive or refresh. */
  renewRev: number;
  /** The keys attached (binary key strings), in attach order. */
  readonly keys: Set<string> = new Set();

  constructor(id: number, ttl: number, renewedAt: number, renewRev: number) {
    this.id = id;
    this.ttl = ttl;
    this.renewedAt = renewedAt;
    this.renewRev = renewRev;
  }

  /** Seconds left by log time `now` (rounded up; 0 when past), for `LEASE TTL`. */
  remaining(now: number): number {
    return Math.max(0, Math.ceil((this.renewedAt + this.ttl * 1000 - now) / 1000));
  }
}

/** The lease table of one keyspace. */
export class Leases {
  /** Leases by id, in id order (ids only grow, so insertion order is id order). */
  readonly map: Map<number, Lease> = new Map();
  /** The id the next grant gets. */
  nextId = 1;
  /** Who hears of renewals and revocations (the node's lessor). */
  listener: LeaseListener | null = null;

  /** Adds `key` to lease `id`'s key set (the lease exists: the caller checked). */
  attach(key: string, id: number): void {
    this.map.get(id)?.keys.add(key);
  }

  /** Removes `key` from lease `id`'s key set. */
  detach(key: string, id: number): void {
    this.map.get(id)?.keys.delete(key);
  }

  /** Empties every lease's key set (FLUSHALL: the leases stay, as in etcd). */
  clearKeys(): void {
    for (const l of this.map.values()) l.keys.clear();
  }

  /** Renews lease `l` at this entry. */
  renew(l: Lease, ctx: ApplyContext): void {
    l.renewedAt = Math.floor(ctx.nowMs);
    l.renewRev = ctx.index;
  }

  /** Deletes lease `id` and every key attached to it; returns how many keys went. */
  revoke(db: Keyspace, l: Lease): number {
    this.map.delete(l.id);
    let n = 0;
    for (const k of l.keys) {
      const e = db.store.get(k);
      if (e === undefined) continue;
      e.lease = 0; // already off the lease (and no Set mutation while iterating it)
      db.remove(k, e);
      n++;
    }
    l.keys.clear();
    this.listener?.revoked(l.id);
    return n;
  }
}

/** Parses a lease id argument (a positive integer); writes the error and returns 0 if not. */
export function parseLeaseId(out: ResultSink, arg: Uint8Array): number {
  const id = parseIntArg(arg);
  if (id === null || id < 1) {
    syntaxError(out, "lease id must be a positive integer");
    return 0;
  }
  return id;
}

/** The lease `id` names, or undefined after writing the "lease not found" error. */
function leaseOf(db: Keyspace, out: ResultSink, arg: Uint8Array): Lease | undefined {
  const id = parseLeaseId(out, arg);
  if (id === 0) return undefined;
  const l = db.leases.map.get(id);
  if (l === undefined) fail(out, Code.SYNTAX, MSG_LEASE_NOT_FOUND);
  return l;
}

function arity(out: ResultSink, argv: Argv, min: number, max: number, sub: string): boolean {
  if (argv.length >= min && argv.length <= max) return true;
  syntaxError(out, `wrong number of arguments for 'lease ${sub}' command`);
  return false;
}

function lease(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const leases = db.leases;
  const sub = argv[1];
  if (eqWord(sub, "grant")) {
    if (!arity(out, argv, 3, 3, "grant")) return;
    const ttl = parseIntArg(argv[2]);
    if (ttl === null || ttl < MIN_LEASE_TTL || ttl > MAX_LEASE_TTL) {
      return syntaxError(
        out,
        `invalid lease ttl: must be an integer from ${MIN_LEASE_TTL} to ${MAX_LEASE_TTL} seconds`,
      );
    }
    if (leases.map.size >= MAX_LEASES) {
      return fail(
        out,
        Code.TOO_LARGE,
        `too many leases: at most ${MAX_LEASES} may exist at once (revoke some first)`,
      );
    }
    const id = leases.nextId++;
    leases.map.set(id, new Lease(id, ttl, Math.floor(ctx.nowMs), ctx.index));
    leases.listener?.renewed(id, ttl, ctx.index);
    return ok(out, id);
  }
  if (eqWord(sub, "keepalive")) {
    if (!arity(out, argv, 3, 3, "keepalive")) return;
    const l = leaseOf(db, out, argv[2]);
    if (l === undefined) return;
    leases.renew(l, ctx);
    leases.listener?.renewed(l.id, l.ttl, ctx.index);
    return ok(out, l.ttl);
  }
  if (eqWord(sub, "revoke")) {
    if (!arity(out, argv, 3, 3, "revoke")) return;
    const l = leaseOf(db, out, argv[2]);
    if (l === undefined) return;
    return ok(out, leases.revoke(db, l));
  }
  if (eqWord(sub, "ttl")) {
    if (!arity(out, argv, 3, 4, "ttl")) return;
    if (argv.length === 4 && !eqWord(argv[3], "keys")) return syntaxError(out);
    const l = leaseOf(db, out, argv[2]);
    if (l === undefined) return;
    const r: Value[] = [l.remaining(ctx.nowMs), l.ttl];
    if (argv.length === 4) r.push([...l.keys].sort().map(keyToBytes));
    return ok(out, r);
  }
  if (eqWord(sub, "list")) {
    if (!arity(out, argv, 2, 2, "list")) return;
    return ok(out, [...leases.map.keys()]);
  }
  if (eqWord(sub, "expire")) {
    // What the leader's lessor proposes: revoke unless renewed since `rev` (then nil).
    if (!arity(out, argv, 4, 4, "expire")) return;
    const id = parseLeaseId(out, argv[2]);
    if (id === 0) return;
    const rev = parseIntArg(argv[3]);
    if (rev === null || rev < 0) return syntaxError(out, "revision must be an integer >= 0");
    const l = leases.map.get(id);
    if (l === undefined || l.renewRev !== rev) return nil(out);
    return ok(out, leases.revoke(db, l));
  }
  if (eqWord(sub, "refresh")) {
    // What a new leader proposes first: every lease's ttl starts again (none expires early).
    if (!arity(out, argv, 2, 2, "refresh")) return;
    for (const l of leases.map.values()) leases.renew(l, ctx);
    leases.listener?.reset();
    return ok(out, leases.map.size);
  }
  syntaxError(
    out,
    "unknown LEASE subcommand: expected GRANT, KEEPALIVE, REVOKE, TTL, LIST, EXPIRE or REFRESH",
  );
}

/** The LEASE command (one name; every subcommand goes through the log). */
export const LEASE_COMMANDS: readonly CommandSpec[] = [
  { name: "lease", arity: -2, write: true, run: lease },
];
