/**
 * Hash commands: HSET (several pairs), HMSET, HSETNX, HGET, HMGET, HDEL, HEXISTS, HKEYS, HVALS,
 * HGETALL, HLEN, HSTRLEN, HINCRBY, HINCRBYFLOAT, HRANDFIELD (random picks: `random.ts`), HSCAN.
 * Fields are binary key strings in a JS `Map` (insertion order, which HKEYS/HVALS/HGETALL
 * return); an emptied hash is deleted.
 * @module
 */
import { Code } from "../../protocol/codes.ts";
import { addFloat, addInt64, nthOf, randomCount } from "./access.ts";
import {
  bytesToKey,
  eqWord,
  intToBytes,
  keyToBytes,
  NOT_AN_INTEGER,
  own,
  parseFloatArg,
  parseInt64,
} from "./bytes.ts";
import type { CommandSpec } from "./command_table.ts";
import { cursorBytes, scanOpts } from "./keys.ts";
import { KeyEntry, Kind } from "./keyspace.ts";
import type { Keyspace } from "./keyspace.ts";
import {
  fail,
  MAX_REPLY_BYTES,
  nil,
  notFloat,
  notInteger,
  ok,
  syntaxError,
  tooLarge,
  wrongArity,
  wrongType,
} from "./reply.ts";
import { globMatch, scanSelect } from "./scan.ts";
import { randomPick } from "./sets.ts";
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
  e.bump(ctx.index);
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
  else if (n > 0) e.bump(ctx.index);
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
  let bytes = 0;
  if (h !== null) {
    for (const [f, v] of h) {
      bytes += (what & 1 ? 8 + f.length : 0) + (what & 2 ? 8 + v.length : 0);
      if (bytes > MAX_REPLY_BYTES) {
        tooLarge(out);
        return;
      }
      if (what & 1) res.push(keyToBytes(f));
      if (what & 2) res.push(v);
    }
  }
  ok(out, res);
}

/** The hash at argv[1] for writing, created when absent; null after WRONGTYPE. */
function writeHash(
  db: Keyspace,
  k: string,
  ctx: ApplyContext,
  out: ResultSink,
  create: boolean,
): KeyEntry | null | undefined {
  let e = db.write(k, ctx.nowMs);
  if (e === undefined) {
    if (!create) return undefined;
    e = new KeyEntry(Kind.HASH, new Map<string, Uint8Array>(), ctx.index);
    db.add(k, e);
  } else if (e.kind !== Kind.HASH) {
    wrongType(out);
    return null;
  }
  return e;
}

function hsetnx(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const k = bytesToKey(argv[1]);
  const e0 = db.read(k, ctx.nowMs);
  if (e0 !== undefined && e0.kind === Kind.HASH && (e0.value as Hash).has(bytesToKey(argv[2]))) {
    ok(out, 0);
    return;
  }
  const e = writeHash(db, k, ctx, out, true);
  if (!e) return;
  (e.value as Hash).set(bytesToKey(argv[2]), own(argv[3]));
  e.bump(ctx.index);
  ok(out, 1);
}

function hmset(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  if ((argv.length & 1) !== 0) {
    wrongArity(out, "hmset");
    return;
  }
  const e = writeHash(db, bytesToKey(argv[1]), ctx, out, true);
  if (!e) return;
  const h = e.value as Hash;
  for (let i = 2; i < argv.length; i += 2) h.set(bytesToKey(argv[i]), own(argv[i + 1]));
  e.bump(ctx.index);
  ok(out, "OK");
}

function hmget(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const h = readHash(db, argv, ctx, out);
  if (h === false) return;
  const res: Value[] = new Array(argv.length - 2);
  for (let i = 2; i < argv.length; i++) {
    res[i - 2] = h === null ? null : h.get(bytesToKey(argv[i])) ?? null;
  }
  ok(out, res);
}

function hstrlen(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const h = readHash(db, argv, ctx, out);
  if (h === false) return;
  const v = h === null ? undefined : h.get(bytesToKey(argv[2]));
  ok(out, v === undefined ? 0 : v.length);
}

function hincrby(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const d = parseInt64(argv[3]);
  if (d === NOT_AN_INTEGER) {
    notInteger(out);
    return;
  }
  const k = bytesToKey(argv[1]);
  const f = bytesToKey(argv[2]);
  const v = fieldToIncrement(db, k, f, ctx, out);
  if (v === null) return;
  let cur: number | bigint = 0;
  if (v !== undefined) {
    const p = parseInt64(v);
    if (p === NOT_AN_INTEGER) {
      fail(out, Code.NOT_INTEGER, "hash value is not an integer");
      return;
    }
    cur = p;
  }
  const res = addInt64(cur, d, out);
  if (res === null) return;
  setIncremented(db, k, f, intToBytes(res), ctx, out);
  ok(out, typeof res === "number" ? res : String(res));
}

/** A hash field's bytes before HINCRBY(FLOAT): undefined when absent, null once WRONGTYPE went out. */
function fieldToIncrement(
  db: Keyspace,
  k: string,
  f: string,
  ctx: ApplyContext,
  out: ResultSink,
): Uint8Array | undefined | null {
  const e = db.read(k, ctx.nowMs);
  if (e === undefined) return undefined;
  if (e.kind !== Kind.HASH) {
    wrongType(out);
    return null;
  }
  return (e.value as Hash).get(f);
}

/** Stores HINCRBY(FLOAT)'s result in the field (creating the hash) and records the change. */
function setIncremented(
  db: Keyspace,
  k: string,
  f: string,
  bytes: Uint8Array,
  ctx: ApplyContext,
  out: ResultSink,
): void {
  const e = writeHash(db, k, ctx, out, true)!;
  (e.value as Hash).set(f, bytes);
  e.bump(ctx.index);
}

function hincrbyfloat(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const d = parseFloatArg(argv[3]);
  if (d === null) {
    notFloat(out);
    return;
  }
  if (!Number.isFinite(d)) {
    fail(out, Code.NOT_INTEGER, "value is NaN or Infinity");
    return;
  }
  const k = bytesToKey(argv[1]);
  const f = bytesToKey(argv[2]);
  const v = fieldToIncrement(db, k, f, ctx, out);
  if (v === null) return;
  let cur = 0;
  if (v !== undefined) {
    const p = parseFloatArg(v);
    if (p === null) {
      fail(out, Code.NOT_INTEGER, "hash value is not a float");
      return;
    }
    cur = p;
  }
  const bytes = addFloat(cur, d, out);
  if (bytes === null) return;
  setIncremented(db, k, f, bytes, ctx, out);
  ok(out, bytes);
}

/** HRANDFIELD key [count [WITHVALUES]] (random picks: `random.ts`). */
function hrandfield(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  let withValues = false;
  if (argv.length === 4) {
    if (!eqWord(argv[3], "withvalues")) {
      syntaxError(out);
      return;
    }
    withValues = true;
  } else if (argv.length > 4) {
    syntaxError(out);
    return;
  }
  let count = 0;
  const hasCount = argv.length >= 3;
  if (hasCount) {
    const c = randomCount(argv[2], out, withValues);
    if (c === null) return;
    count = c;
  }
  const h = readHash(db, argv, ctx, out);
  if (h === false) return;
  if (h === null) {
    if (hasCount) ok(out, []);
    else nil(out);
    return;
  }
  if (!hasCount) {
    ok(out, keyToBytes(nthOf(h.keys(), db.rng(ctx).below(h.size))));
    return;
  }
  const picked = randomPick(
    [...h.keys()],
    count,
    db.rng(ctx),
    out,
    withValues ? (f) => 16 + f.length + h.get(f)!.length : undefined,
  );
  if (picked === null) return;
  const res: Value[] = [];
  for (const f of picked) {
    res.push(keyToBytes(f));
    if (withValues) res.push(h.get(f)!);
  }
  ok(out, res);
}

function hscan(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const o = scanOpts(argv, 2, out, false);
  if (o === null) return;
  const h = readHash(db, argv, ctx, out);
  if (h === false) return;
  if (h === null) {
    ok(out, [cursorBytes(0), []]);
    return;
  }
  const step = scanSelect(
    () => h.keys(),
    h.size,
    o.cursor,
    o.count,
    (f) => f.length + 16 + h.get(f)!.length,
  );
  const res: Value[] = [];
  for (const f of step.items) {
    if (o.match !== null && !globMatch(o.match, f)) continue;
    res.push(keyToBytes(f), h.get(f)!);
  }
  ok(out, [cursorBytes(step.next), res]);
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
  { name: "hsetnx", arity: 4, write: true, run: hsetnx },
  { name: "hmset", arity: -4, write: true, run: hmset },
  { name: "hmget", arity: -3, write: false, run: hmget },
  { name: "hstrlen", arity: 3, write: false, run: hstrlen },
  { name: "hincrby", arity: 4, write: true, run: hincrby },
  { name: "hincrbyfloat", arity: 4, write: true, run: hincrbyfloat },
  { name: "hrandfield", arity: -2, write: false, run: hrandfield },
  { name: "hscan", arity: -3, write: false, run: hscan },
];
