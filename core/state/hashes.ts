/**
 * Hash commands: HSET (several pairs), HGET, HDEL, HEXISTS, HKEYS, HVALS, HGETALL, HLEN.
 * Fields are binary key strings in a JS `Map` (insertion order, which HKEYS/HVALS/HGETALL
 * return); an emptied hash is deleted.
 * @module
 */
import { bytesToKey, keyToBytes, own } from "./bytes.ts";
import type { CommandSpec } from "./command_table.ts";
import { KeyEntry, Kind } from "./keyspace.ts";
import type { Keyspace } from "./keyspace.ts";
import { nil, ok, wrongArity, wrongType } from "./reply.ts";
import type { ApplyContext, Argv, ResultSink, Value } from "./types.ts";

type Hash = Map<string, Uint8Array>;

function hset(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  if ((argv.length & 1) !== 0) {
    wrongArity(out, "hset");
    return;
  }
  const k = bytesToKey(argv[1]);
  let e = db.write(k, ctx.nowMs);
  if (e === undefined) {
    e = new KeyEntry(Kind.HASH, new Map<string, Uint8Array>(), ctx.index);
    db.add(k, e);
  } else if (e.kind !== Kind.HASH) {
    wrongType(out);
    return;
  }
  const h = e.value as Hash;
  const before = h.size;
  for (let i = 2; i < argv.length; i += 2) h.set(bytesToKey(argv[i]), own(argv[i + 1]));
  e.modRev = ctx.index;
  ok(out, h.size - before);
}

function readHash(
  db: Keyspace,
  argv: Argv,
  ctx: ApplyContext,
  out: ResultSink,
): Hash | null | false {
  const e = db.read(bytesToKey(argv[1]), ctx.nowMs);
  if (e === undefined) return null;
  if (e.kind !== Kind.HASH) {
    wrongType(out);
    return false;
  }
  return e.value as Hash;
}

function hget(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const h = readHash(db, argv, ctx, out);
  if (h === false) return;
  const v = h === null ? undefined : h.get(bytesToKey(argv[2]));
  if (v === undefined) nil(out);
  else ok(out, v);
}

function hexists(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const h = readHash(db, argv, ctx, out);
  if (h !== false) ok(out, h !== null && h.has(bytesToKey(argv[2])) ? 1 : 0);
}

function hdel(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const k = bytesToKey(argv[1]);
  const e = db.write(k, ctx.nowMs);
  if (e === undefined) {
    ok(out, 0);
    return;
  }
  if (e.kind !== Kind.HASH) {
    wrongType(out);
    return;
  }
  const h = e.value as Hash;
  let n = 0;
  for (let i = 2; i < argv.length; i++) if (h.delete(bytesToKey(argv[i]))) n++;
  if (h.size === 0) db.remove(k, e);
  else if (n > 0) e.modRev = ctx.index;
  ok(out, n);
}

function hlen(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const h = readHash(db, argv, ctx, out);
  if (h !== false) ok(out, h === null ? 0 : h.size);
}

/** HKEYS (1), HVALS (2), HGETALL (3). */
function hlist(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink, what: number) {
  const h = readHash(db, argv, ctx, out);
  if (h === false) return;
  const res: Value[] = [];
  if (h !== null) {
    for (const [f, v] of h) {
      if (what & 1) res.push(keyToBytes(f));
      if (what & 2) res.push(v);
    }
  }
  ok(out, res);
}

/** Hash commands. */
export const HASH_COMMANDS: readonly CommandSpec[] = [
  { name: "hset", arity: -4, write: true, run: hset },
  { name: "hget", arity: 3, write: false, run: hget },
  { name: "hexists", arity: 3, write: false, run: hexists },
  { name: "hdel", arity: -3, write: true, run: hdel },
  { name: "hlen", arity: 2, write: false, run: hlen },
  { name: "hkeys", arity: 2, write: false, run: (db, a, c, o) => hlist(db, a, c, o, 1) },
  { name: "hvals", arity: 2, write: false, run: (db, a, c, o) => hlist(db, a, c, o, 2) },
  { name: "hgetall", arity: 2, write: false, run: (db, a, c, o) => hlist(db, a, c, o, 3) },
];
