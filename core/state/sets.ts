/**
 * Set commands: SADD, SREM, SMEMBERS, SCARD, SISMEMBER. Members are kept as binary key strings
 * in a JS `Set` (insertion order, which SMEMBERS returns); an emptied set is deleted.
 * @module
 */
import { bytesToKey, keyToBytes } from "./bytes.ts";
import type { CommandSpec } from "./command_table.ts";
import { KeyEntry, Kind } from "./keyspace.ts";
import type { Keyspace } from "./keyspace.ts";
import { ok, wrongType } from "./reply.ts";
import type { ApplyContext, Argv, ResultSink, Value } from "./types.ts";

function sadd(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const k = bytesToKey(argv[1]);
  let e = db.write(k, ctx.nowMs);
  if (e === undefined) {
    e = new KeyEntry(Kind.SET, new Set<string>(), ctx.index);
    db.add(k, e);
  } else if (e.kind !== Kind.SET) {
    wrongType(out);
    return;
  }
  const s = e.value as Set<string>;
  const before = s.size;
  for (let i = 2; i < argv.length; i++) s.add(bytesToKey(argv[i]));
  const added = s.size - before;
  if (added > 0) e.modRev = ctx.index;
  ok(out, added);
}

function srem(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const k = bytesToKey(argv[1]);
  const e = db.write(k, ctx.nowMs);
  if (e === undefined) {
    ok(out, 0);
    return;
  }
  if (e.kind !== Kind.SET) {
    wrongType(out);
    return;
  }
  const s = e.value as Set<string>;
  let n = 0;
  for (let i = 2; i < argv.length; i++) if (s.delete(bytesToKey(argv[i]))) n++;
  if (s.size === 0) db.remove(k, e);
  else if (n > 0) e.modRev = ctx.index;
  ok(out, n);
}

function readSet(
  db: Keyspace,
  argv: Argv,
  ctx: ApplyContext,
  out: ResultSink,
): Set<string> | null | false {
  const e = db.read(bytesToKey(argv[1]), ctx.nowMs);
  if (e === undefined) return null;
  if (e.kind !== Kind.SET) {
    wrongType(out);
    return false;
  }
  return e.value as Set<string>;
}

function smembers(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const s = readSet(db, argv, ctx, out);
  if (s === false) return;
  const res: Value[] = [];
  if (s !== null) { for (const m of s) res.push(keyToBytes(m)); }
  ok(out, res);
}

function scard(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const s = readSet(db, argv, ctx, out);
  if (s !== false) ok(out, s === null ? 0 : s.size);
}

function sismember(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const s = readSet(db, argv, ctx, out);
  if (s !== false) ok(out, s !== null && s.has(bytesToKey(argv[2])) ? 1 : 0);
}

/** Set commands. */
export const SET_COMMANDS: readonly CommandSpec[] = [
  { name: "sadd", arity: -3, write: true, run: sadd },
  { name: "srem", arity: -3, write: true, run: srem },
  { name: "smembers", arity: 2, write: false, run: smembers },
  { name: "scard", arity: 2, write: false, run: scard },
  { name: "sismember", arity: 3, write: false, run: sismember },
];
