/**
 * Set commands: SADD, SREM, SMEMBERS, SCARD, SISMEMBER, SMISMEMBER, SINTER, SUNION, SDIFF (and
 * their STORE forms), SINTERCARD, SMOVE, SPOP, SRANDMEMBER (random picks: `random.ts`), SSCAN.
 * Members are kept as binary key strings
 * in a JS `Set` (insertion order, which SMEMBERS returns); an emptied set is deleted.
 * @module
 */
import { Code } from "../../protocol/codes.ts";
import { nthOf, popCount, randomCount } from "./access.ts";
import { bytesToKey, eqWord, keyToBytes, parseIntArg } from "./bytes.ts";
import type { CommandSpec } from "./command_table.ts";
import { cursorBytes, putNew, scanOpts } from "./keys.ts";
import { KeyEntry, Kind } from "./keyspace.ts";
import type { Keyspace } from "./keyspace.ts";
import { numKeys } from "./lists.ts";
import type { Rng } from "./random.ts";
import {
  fail,
  MAX_REPLY_BYTES,
  nil,
  notInteger,
  ok,
  syntaxError,
  tooLarge,
  wrongType,
} from "./reply.ts";
import { globMatch, scanSelect } from "./scan.ts";
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
  if (added > 0) e.bump(ctx.index);
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
  else if (n > 0) e.bump(ctx.index);
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
  if (s === null) {
    ok(out, []);
    return;
  }
  const res = membersReply(s, out);
  if (res !== null) ok(out, res);
}

function scard(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const s = readSet(db, argv, ctx, out);
  if (s !== false) ok(out, s === null ? 0 : s.size);
}

function sismember(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const s = readSet(db, argv, ctx, out);
  if (s !== false) ok(out, s !== null && s.has(bytesToKey(argv[2])) ? 1 : 0);
}

/** The sets at `argv[from..to)` (null when absent), or false after WRONGTYPE. */
function readSets(
  db: Keyspace,
  argv: Argv,
  from: number,
  to: number,
  now: number,
  out: ResultSink,
  write: boolean,
): (Set<string> | null)[] | false {
  const res: (Set<string> | null)[] = [];
  for (let i = from; i < to; i++) {
    const k = bytesToKey(argv[i]);
    const e = write ? db.write(k, now) : db.read(k, now);
    if (e === undefined) res.push(null);
    else if (e.kind !== Kind.SET) {
      wrongType(out);
      return false;
    } else res.push(e.value as Set<string>);
  }
  return res;
}

const INTER = 0, UNION = 1, DIFF = 2;

/** SINTER/SUNION/SDIFF of the given sets, as a new Set (at most `limit` members for INTER). */
function combine(sets: (Set<string> | null)[], op: number, limit = Infinity): Set<string> {
  const res = new Set<string>();
  if (op === UNION) {
    for (const s of sets) if (s !== null) { for (const m of s) res.add(m); }
    return res;
  }
  if (op === DIFF) {
    const first = sets[0];
    if (first === null) return res;
    outer: for (const m of first) {
      for (let i = 1; i < sets.length; i++) {
        const s = sets[i];
        if (s !== null && s.has(m)) continue outer;
      }
      res.add(m);
    }
    return res;
  }
  let smallest: Set<string> | null = null;
  for (const s of sets) {
    if (s === null) return res;
    if (smallest === null || s.size < smallest.size) smallest = s;
  }
  if (smallest === null) return res;
  outer: for (const m of smallest) {
    for (const s of sets) if (s !== smallest && !s!.has(m)) continue outer;
    res.add(m);
    if (res.size >= limit) break;
  }
  return res;
}

/** Members as a reply array (bounded by MAX_REPLY_BYTES); null after TOO_LARGE. */
function membersReply(s: Iterable<string>, out: ResultSink): Value[] | null {
  const res: Value[] = [];
  let bytes = 0;
  for (const m of s) {
    bytes += 8 + m.length;
    if (bytes > MAX_REPLY_BYTES) {
      tooLarge(out);
      return null;
    }
    res.push(keyToBytes(m));
  }
  return res;
}

function setop(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink, op: number) {
  const sets = readSets(db, argv, 1, argv.length, ctx.nowMs, out, false);
  if (sets === false) return;
  const r = membersReply(combine(sets, op), out);
  if (r !== null) ok(out, r);
}

function setopStore(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink, op: number) {
  const sets = readSets(db, argv, 2, argv.length, ctx.nowMs, out, true);
  if (sets === false) return;
  const r = combine(sets, op);
  const dk = bytesToKey(argv[1]);
  if (r.size === 0) {
    const old = db.write(dk, ctx.nowMs);
    if (old !== undefined) db.remove(dk, old);
  } else putNew(db, dk, Kind.SET, r, 0, ctx.nowMs, ctx.index);
  ok(out, r.size);
}

/** SINTERCARD numkeys key [key ...] [LIMIT limit]. */
function sintercard(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const n = numKeys(argv, 1, out, 0, "Number of keys can't be greater than number of args");
  if (n === null) return;
  let limit = 0;
  for (let i = 2 + n; i < argv.length; i++) {
    if (eqWord(argv[i], "limit") && i + 1 < argv.length) {
      const l = parseIntArg(argv[++i]);
      if (l === null) return notInteger(out);
      if (l < 0) {
        fail(out, Code.SYNTAX, "LIMIT can't be negative");
        return;
      }
      limit = l;
    } else {
      syntaxError(out);
      return;
    }
  }
  const sets = readSets(db, argv, 2, 2 + n, ctx.nowMs, out, false);
  if (sets === false) return;
  ok(out, combine(sets, INTER, limit === 0 ? Infinity : limit).size);
}

function smove(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const now = ctx.nowMs;
  const sk = bytesToKey(argv[1]);
  const dk = bytesToKey(argv[2]);
  const se = db.write(sk, now);
  const de = db.write(dk, now);
  if (se === undefined) {
    ok(out, 0); // checked before the types, as in Redis
    return;
  }
  if (se.kind !== Kind.SET || (de !== undefined && de.kind !== Kind.SET)) {
    wrongType(out);
    return;
  }
  const m = bytesToKey(argv[3]);
  if (!(se.value as Set<string>).has(m)) {
    ok(out, 0);
    return;
  }
  if (sk === dk) {
    ok(out, 1);
    return;
  }
  const ss = se.value as Set<string>;
  ss.delete(m);
  if (ss.size === 0) db.remove(sk, se);
  else se.bump(ctx.index);
  if (de === undefined) {
    db.add(dk, new KeyEntry(Kind.SET, new Set([m]), ctx.index));
  } else {
    (de.value as Set<string>).add(m);
    de.bump(ctx.index);
  }
  ok(out, 1);
}

/** `k` distinct members picked at random (partial Fisher-Yates; `k` < size). */
function pickDistinct(s: Set<string>, k: number, rng: Rng): string[] {
  const a = [...s];
  for (let i = 0; i < k; i++) {
    const j = i + rng.below(a.length - i);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  a.length = k;
  return a;
}

/** The optional count at `argv[2]`: -1 when absent, null after an error. */
function countArg(argv: Argv, out: ResultSink, random: boolean): number | null {
  if (argv.length < 3) return -1;
  return random ? randomCount(argv[2], out, false) : popCount(argv[2], out);
}

function spop(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  if (argv.length > 3) {
    syntaxError(out);
    return;
  }
  const count = countArg(argv, out, false);
  if (count === null) return;
  const k = bytesToKey(argv[1]);
  const e = db.write(k, ctx.nowMs);
  if (e === undefined) {
    if (count < 0) nil(out);
    else ok(out, []);
    return;
  }
  if (e.kind !== Kind.SET) {
    wrongType(out);
    return;
  }
  const s = e.value as Set<string>;
  if (count === 0) {
    ok(out, []);
    return;
  }
  if (count < 0) {
    const m = nthOf(s, db.rng(ctx).below(s.size));
    s.delete(m);
    if (s.size === 0) db.remove(k, e);
    else e.bump(ctx.index);
    ok(out, keyToBytes(m));
    return;
  }
  const picked = count >= s.size ? [...s] : pickDistinct(s, count, db.rng(ctx));
  const res = membersReply(picked, out);
  if (res === null) return;
  for (const m of picked) s.delete(m);
  if (s.size === 0) db.remove(k, e);
  else e.bump(ctx.index);
  ok(out, res);
}

function srandmember(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  if (argv.length > 3) {
    syntaxError(out);
    return;
  }
  const hasCount = argv.length === 3;
  const count = countArg(argv, out, true);
  if (count === null) return;
  const e = db.read(bytesToKey(argv[1]), ctx.nowMs);
  if (e === undefined) {
    if (hasCount) ok(out, []);
    else nil(out);
    return;
  }
  if (e.kind !== Kind.SET) {
    wrongType(out);
    return;
  }
  const s = e.value as Set<string>;
  if (!hasCount) {
    ok(out, keyToBytes(nthOf(s, db.rng(ctx).below(s.size))));
    return;
  }
  const r = randomPick([...s], count, db.rng(ctx), out);
  if (r !== null) ok(out, membersOf(r));
}

function membersOf(a: string[]): Value[] {
  const res: Value[] = new Array(a.length);
  for (let i = 0; i < a.length; i++) res[i] = keyToBytes(a[i]);
  return res;
}

/**
 * Redis's SRANDMEMBER/HRANDFIELD/ZRANDMEMBER count rule over `items`: count ≥ 0 gives up to
 * `count` distinct items, count < 0 gives |count| items that may repeat. The result is bounded
 * by MAX_REPLY_BYTES (`weight` counts each item's reply bytes): null after TOO_LARGE.
 */
export function randomPick<T extends string>(
  items: T[],
  count: number,
  rng: Rng,
  out: ResultSink,
  weight: (item: T) => number = (m) => 8 + m.length,
): T[] | null {
  const n = items.length;
  if (count === 0 || n === 0) return [];
  let res: T[];
  if (count > 0) {
    const k = Math.min(count, n);
    for (let i = 0; i < k && k < n; i++) {
      const j = i + rng.below(n - i);
      const t = items[i];
      items[i] = items[j];
      items[j] = t;
    }
    res = items.length === k ? items : items.slice(0, k);
    let bytes = 0;
    for (const m of res) {
      bytes += weight(m);
      if (bytes > MAX_REPLY_BYTES) {
        tooLarge(out);
        return null;
      }
    }
    return res;
  }
  res = [];
  let bytes = 0;
  for (let i = 0; i < -count; i++) {
    const m = items[rng.below(n)];
    bytes += weight(m);
    if (bytes > MAX_REPLY_BYTES) {
      tooLarge(out);
      return null;
    }
    res.push(m);
  }
  return res;
}

function smismember(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const s = readSet(db, argv, ctx, out);
  if (s === false) return;
  const res: Value[] = new Array(argv.length - 2);
  for (let i = 2; i < argv.length; i++) {
    res[i - 2] = s !== null && s.has(bytesToKey(argv[i])) ? 1 : 0;
  }
  ok(out, res);
}

function sscan(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const o = scanOpts(argv, 2, out, false);
  if (o === null) return;
  const s = readSet(db, argv, ctx, out);
  if (s === false) return;
  if (s === null) {
    ok(out, [cursorBytes(0), []]);
    return;
  }
  const step = scanSelect(() => s, s.size, o.cursor, o.count, (m) => m.length + 8);
  const res: Value[] = [];
  for (const m of step.items) {
    if (o.match === null || globMatch(o.match, m)) res.push(keyToBytes(m));
  }
  ok(out, [cursorBytes(step.next), res]);
}

/** Set commands. */
export const SET_COMMANDS: readonly CommandSpec[] = [
  { name: "sadd", arity: -3, write: true, run: sadd },
  { name: "srem", arity: -3, write: true, run: srem },
  { name: "smembers", arity: 2, write: false, run: smembers },
  { name: "scard", arity: 2, write: false, run: scard },
  { name: "sismember", arity: 3, write: false, run: sismember },
  { name: "smismember", arity: -3, write: false, run: smismember },
  { name: "sinter", arity: -2, write: false, run: (db, a, c, o) => setop(db, a, c, o, INTER) },
  { name: "sunion", arity: -2, write: false, run: (db, a, c, o) => setop(db, a, c, o, UNION) },
  { name: "sdiff", arity: -2, write: false, run: (db, a, c, o) => setop(db, a, c, o, DIFF) },
  {
    name: "sinterstore",
    arity: -3,
    write: true,
    run: (db, a, c, o) => setopStore(db, a, c, o, INTER),
  },
  {
    name: "sunionstore",
    arity: -3,
    write: true,
    run: (db, a, c, o) => setopStore(db, a, c, o, UNION),
  },
  {
    name: "sdiffstore",
    arity: -3,
    write: true,
    run: (db, a, c, o) => setopStore(db, a, c, o, DIFF),
  },
  { name: "sintercard", arity: -3, write: false, run: sintercard },
  { name: "smove", arity: 4, write: true, run: smove },
  { name: "spop", arity: -2, write: true, run: spop },
  { name: "srandmember", arity: -2, write: false, run: srandmember },
  { name: "sscan", arity: -3, write: false, run: sscan },
];
