/**
 * Sorted-set commands: ZADD (NX/XX/GT/LT/CH/INCR), ZINCRBY, ZREM, ZRANGE (by rank, REV, BYSCORE,
 * LIMIT, WITHSCORES), ZRANGEBYSCORE (`(` exclusive bounds, ±inf, WITHSCORES, LIMIT), ZSCORE,
 * ZCARD. Scores are replied as JS numbers (Redis replies strings), also in WITHSCORES arrays.
 * An emptied sorted set is deleted.
 * @module
 */
import { Code } from "../../protocol/codes.ts";
import { bytesToKey, eqWord, keyToBytes, parseFloatArg, parseIntArg } from "./bytes.ts";
import type { CommandSpec } from "./command_table.ts";
import { KeyEntry, Kind } from "./keyspace.ts";
import type { Keyspace } from "./keyspace.ts";
import { fail, nil, notFloat, notInteger, ok, syntaxError, wrongType } from "./reply.ts";
import { SortedSet } from "./sorted_set.ts";
import type { ZNode } from "./sorted_set.ts";
import type { ApplyContext, Argv, ResultSink, Value } from "./types.ts";

function zaddGeneric(
  db: Keyspace,
  argv: Argv,
  ctx: ApplyContext,
  out: ResultSink,
  first: number,
  forceIncr: boolean,
): void {
  let nx = false, xx = false, gt = false, lt = false, ch = false, incr = forceIncr;
  let i = first;
  for (; !forceIncr && i < argv.length; i++) {
    const a = argv[i];
    if (eqWord(a, "nx")) nx = true;
    else if (eqWord(a, "xx")) xx = true;
    else if (eqWord(a, "gt")) gt = true;
    else if (eqWord(a, "lt")) lt = true;
    else if (eqWord(a, "ch")) ch = true;
    else if (eqWord(a, "incr")) incr = true;
    else break;
  }
  const pairs = argv.length - i;
  if (pairs === 0 || (pairs & 1) !== 0) {
    syntaxError(out);
    return;
  }
  if (nx && xx) {
    syntaxError(out, "XX and NX options at the same time are not compatible");
    return;
  }
  if ((gt && nx) || (lt && nx) || (gt && lt)) {
    syntaxError(out, "GT, LT, and/or NX options at the same time are not compatible");
    return;
  }
  if (incr && pairs > 2) {
    syntaxError(out, "INCR option supports a single increment-element pair");
    return;
  }
  const scores: number[] = [];
  for (let j = i; j < argv.length; j += 2) {
    const s = parseFloatArg(argv[j]);
    if (s === null) {
      notFloat(out);
      return;
    }
    scores.push(s);
  }
  const k = bytesToKey(argv[1]);
  let e = db.write(k, ctx.nowMs);
  if (e !== undefined && e.kind !== Kind.ZSET) {
    wrongType(out);
    return;
  }
  if (e === undefined) {
    if (xx) {
      if (incr) nil(out);
      else ok(out, 0);
      return;
    }
    e = new KeyEntry(Kind.ZSET, new SortedSet(), ctx.index);
    db.add(k, e);
  }
  const z = e.value as SortedSet;
  let added = 0;
  let changed = 0;
  let result: number | null = null;
  for (let j = 0; j < scores.length; j++) {
    const m = bytesToKey(argv[i + 2 * j + 1]);
    let score = scores[j];
    const cur = z.scores.get(m);
    if (cur !== undefined) {
      if (nx) continue;
      if (incr) {
        score = cur + score;
        if (Number.isNaN(score)) {
          fail(out, Code.NOT_INTEGER, "resulting score is not a number (NaN)");
          return;
        }
      }
      if ((gt && score <= cur) || (lt && score >= cur)) continue;
      result = score;
      if (score !== cur) {
        z.set(m, score);
        changed++;
      }
    } else {
      if (xx) continue;
      z.set(m, score);
      result = score;
      added++;
    }
  }
  if (z.size === 0) db.remove(k, e);
  else if (added + changed > 0) e.modRev = ctx.index;
  if (incr) {
    if (result === null) nil(out);
    else ok(out, result);
  } else ok(out, ch ? added + changed : added);
}

function zrem(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const k = bytesToKey(argv[1]);
  const e = db.write(k, ctx.nowMs);
  if (e === undefined) {
    ok(out, 0);
    return;
  }
  if (e.kind !== Kind.ZSET) {
    wrongType(out);
    return;
  }
  const z = e.value as SortedSet;
  let n = 0;
  for (let i = 2; i < argv.length; i++) if (z.delete(bytesToKey(argv[i]))) n++;
  if (z.size === 0) db.remove(k, e);
  else if (n > 0) e.modRev = ctx.index;
  ok(out, n);
}

function readZset(
  db: Keyspace,
  key: Uint8Array,
  ctx: ApplyContext,
  out: ResultSink,
): SortedSet | null | false {
  const e = db.read(bytesToKey(key), ctx.nowMs);
  if (e === undefined) return null;
  if (e.kind !== Kind.ZSET) {
    wrongType(out);
    return false;
  }
  return e.value as SortedSet;
}

function emit(res: Value[], n: ZNode, withScores: boolean): void {
  res.push(keyToBytes(n.member));
  if (withScores) res.push(n.score);
}

/** A parsed score bound (`(` prefix = exclusive). */
interface Bound {
  v: number;
  ex: boolean;
}

function parseBound(b: Uint8Array): Bound | null {
  const ex = b.length > 0 && b[0] === 40; // '('
  const v = parseFloatArg(ex ? b.subarray(1) : b);
  return v === null ? null : { v, ex };
}

function byScore(
  z: SortedSet,
  min: Bound,
  max: Bound,
  rev: boolean,
  offset: number,
  count: number,
  withScores: boolean,
): Value[] {
  const res: Value[] = [];
  if (offset < 0 || count === 0) return res;
  if (!rev) {
    let n = z.firstFrom(min.v, min.ex);
    while (n !== null && offset > 0 && (max.ex ? n.score < max.v : n.score <= max.v)) {
      n = n.next[0];
      offset--;
    }
    while (n !== null && count !== 0 && (max.ex ? n.score < max.v : n.score <= max.v)) {
      emit(res, n, withScores);
      n = n.next[0];
      count--;
    }
  } else {
    let n = z.lastUpTo(max.v, max.ex);
    while (n !== null && offset > 0 && (min.ex ? n.score > min.v : n.score >= min.v)) {
      n = n.prev;
      offset--;
    }
    while (n !== null && count !== 0 && (min.ex ? n.score > min.v : n.score >= min.v)) {
      emit(res, n, withScores);
      n = n.prev;
      count--;
    }
  }
  return res;
}

function byRank(z: SortedSet, start: number, stop: number, rev: boolean, ws: boolean): Value[] {
  const len = z.size;
  if (start < 0) start = Math.max(len + start, 0);
  if (stop < 0) stop = len + stop;
  if (stop >= len) stop = len - 1;
  const res: Value[] = [];
  if (start > stop || start >= len) return res;
  let n = z.byRank(rev ? len - 1 - start : start);
  for (let i = start; i <= stop && n !== null; i++) {
    emit(res, n, ws);
    n = rev ? n.prev : n.next[0];
  }
  return res;
}

/**
 * ZRANGE key start stop [BYSCORE] [REV] [LIMIT offset count] [WITHSCORES] and
 * ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count].
 */
function zrange(
  db: Keyspace,
  argv: Argv,
  ctx: ApplyContext,
  out: ResultSink,
  forceByScore: boolean,
): void {
  let byscore = forceByScore, rev = false, withScores = false, limit = false;
  let offset = 0, count = -1;
  for (let i = 4; i < argv.length; i++) {
    const a = argv[i];
    if (eqWord(a, "withscores")) withScores = true;
    else if (!forceByScore && eqWord(a, "byscore")) byscore = true;
    else if (!forceByScore && eqWord(a, "rev")) rev = true;
    else if (eqWord(a, "limit") && i + 2 < argv.length) {
      const o = parseIntArg(argv[i + 1]);
      const c = parseIntArg(argv[i + 2]);
      if (o === null || c === null) {
        notInteger(out);
        return;
      }
      offset = o;
      count = c < 0 ? -1 : c;
      limit = true;
      i += 2;
    } else {
      syntaxError(out);
      return;
    }
  }
  if (limit && !byscore) {
    syntaxError(
      out,
      "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
    );
    return;
  }
  if (byscore) {
    let min = parseBound(argv[2]);
    let max = parseBound(argv[3]);
    if (min === null || max === null) {
      fail(out, Code.NOT_INTEGER, "min or max is not a float");
      return;
    }
    if (rev) [min, max] = [max, min]; // ZRANGE k max min BYSCORE REV
    const z = readZset(db, argv[1], ctx, out);
    if (z === false) return;
    ok(out, z === null ? [] : byScore(z, min, max, rev, offset, count, withScores));
    return;
  }
  const start = parseIntArg(argv[2]);
  const stop = parseIntArg(argv[3]);
  if (start === null || stop === null) {
    notInteger(out);
    return;
  }
  const z = readZset(db, argv[1], ctx, out);
  if (z === false) return;
  ok(out, z === null ? [] : byRank(z, start, stop, rev, withScores));
}

function zscore(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const z = readZset(db, argv[1], ctx, out);
  if (z === false) return;
  const s = z === null ? undefined : z.scores.get(bytesToKey(argv[2]));
  if (s === undefined) nil(out);
  else ok(out, s);
}

function zcard(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const z = readZset(db, argv[1], ctx, out);
  if (z !== false) ok(out, z === null ? 0 : z.size);
}

/** Sorted-set commands. */
export const ZSET_COMMANDS: readonly CommandSpec[] = [
  {
    name: "zadd",
    arity: -4,
    write: true,
    run: (db, a, c, o) => zaddGeneric(db, a, c, o, 2, false),
  },
  {
    // ZINCRBY key increment member == ZADD key INCR increment member
    name: "zincrby",
    arity: 4,
    write: true,
    run: (db, a, c, o) => zaddGeneric(db, a, c, o, 2, true),
  },
  { name: "zrem", arity: -3, write: true, run: zrem },
  { name: "zrange", arity: -4, write: false, run: (db, a, c, o) => zrange(db, a, c, o, false) },
  {
    name: "zrangebyscore",
    arity: -4,
    write: false,
    run: (db, a, c, o) => zrange(db, a, c, o, true),
  },
  { name: "zscore", arity: 3, write: false, run: zscore },
  { name: "zcard", arity: 2, write: false, run: zcard },
];
