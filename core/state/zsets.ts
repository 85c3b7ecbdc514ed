/**
 * Sorted-set commands: ZADD (NX/XX/GT/LT/CH/INCR), ZINCRBY, ZREM, ZRANGE (by rank, REV, BYSCORE,
 * BYLEX, LIMIT, WITHSCORES), ZRANGESTORE, ZREVRANGE, ZRANGEBYSCORE / ZREVRANGEBYSCORE (`(`
 * exclusive bounds, ±inf, WITHSCORES, LIMIT), ZRANGEBYLEX / ZREVRANGEBYLEX, ZSCORE, ZMSCORE, ZCARD,
 * ZRANK / ZREVRANK (WITHSCORE), ZCOUNT, ZLEXCOUNT, ZPOPMIN / ZPOPMAX, ZREMRANGEBYRANK / SCORE / LEX,
 * ZUNION / ZINTER / ZDIFF and their STORE forms (WEIGHTS, AGGREGATE; plain sets count as scores
 * 1), ZRANDMEMBER (random picks: `random.ts`), ZSCAN (scores as bulk text, as Redis sends them).
 * Lex ranges assume equal scores, as in Redis. Scores are replied as JS numbers (Redis replies strings), also in WITHSCORES arrays.
 * An emptied sorted set is deleted.
 * @module
 */
import { Code } from "../../protocol/codes.ts";
import { popCount, randomCount, writeOf } from "./access.ts";
import {
  asciiBytes,
  bytesToKey,
  eqWord,
  formatFloat,
  keyToBytes,
  parseFloatArg,
  parseIntArg,
} from "./bytes.ts";
import type { CommandSpec } from "./command_table.ts";
import { cursorBytes, putNew, scanOpts } from "./keys.ts";
import { KeyEntry, Kind } from "./keyspace.ts";
import type { Keyspace } from "./keyspace.ts";
import { numKeys } from "./lists.ts";
import {
  fail,
  MAX_REPLY_BYTES,
  nil,
  notFloat,
  notInteger,
  ok,
  syntaxError,
  tooLarge,
  wrongType,
} from "./reply.ts";
import { globMatch, scanSelect } from "./scan.ts";
import { randomPick } from "./sets.ts";
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
  else if (added + changed > 0) e.bump(ctx.index);
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
  else if (n > 0) e.bump(ctx.index);
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

/** The sorted set at `k` for writing (see `writeOf`). */
function writeZset(db: Keyspace, k: string, ctx: ApplyContext, out: ResultSink) {
  return writeOf(db, k, Kind.ZSET, ctx.nowMs, out);
}

/** Flat [member, score, ...] (or members only) reply of `nodes`; null after TOO_LARGE. */
function nodesReply(nodes: ZNode[], withScores: boolean, out: ResultSink): Value[] | null {
  const res: Value[] = [];
  let bytes = 0;
  for (const n of nodes) {
    bytes += 8 + n.member.length + (withScores ? 8 : 0);
    if (bytes > MAX_REPLY_BYTES) {
      tooLarge(out);
      return null;
    }
    res.push(keyToBytes(n.member));
    if (withScores) res.push(n.score);
  }
  return res;
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

/** A parsed lex bound: `-` (inf -1), `+` (inf 1), `[x` or `(x` (exclusive). */
interface LexBound {
  v: string;
  ex: boolean;
  inf: number;
}

function parseLex(b: Uint8Array): LexBound | null {
  if (b.length === 1 && b[0] === 45) return { v: "", ex: false, inf: -1 };
  if (b.length === 1 && b[0] === 43) return { v: "", ex: false, inf: 1 };
  if (b.length === 0 || (b[0] !== 40 && b[0] !== 91)) return null;
  return { v: bytesToKey(b.subarray(1)), ex: b[0] === 40, inf: 0 };
}

function lexGteMin(m: string, min: LexBound): boolean {
  return min.inf < 0 || (min.inf === 0 && (min.ex ? m > min.v : m >= min.v));
}

function lexLteMax(m: string, max: LexBound): boolean {
  return max.inf > 0 || (max.inf === 0 && (max.ex ? m < max.v : m <= max.v));
}

/**
 * Redis's zslIsInLexRange: false when the range is empty or lies wholly before the first or
 * after the last member (for unequal scores this is what decides, as in Redis).
 */
function lexMayHit(z: SortedSet, min: LexBound, max: LexBound): boolean {
  if (min.inf > 0 || max.inf < 0) return false;
  if (min.inf === 0 && max.inf === 0) {
    if (min.v > max.v || (min.v === max.v && (min.ex || max.ex))) return false;
  }
  const f = z.first();
  if (f === null) return false;
  return lexGteMin(z.last()!.member, min) && lexLteMax(f.member, max);
}

function scoreGteMin(s: number, min: Bound): boolean {
  return min.ex ? s > min.v : s >= min.v;
}

function scoreLteMax(s: number, max: Bound): boolean {
  return max.ex ? s < max.v : s <= max.v;
}

const BY_RANK = 0, BY_SCORE = 1, BY_LEX = 2;

/** A parsed range of any kind (ZRANGE's three), in ascending terms (min ≤ max). */
interface Range {
  by: number;
  rev: boolean;
  start: number;
  stop: number;
  smin: Bound;
  smax: Bound;
  lmin: LexBound;
  lmax: LexBound;
  offset: number;
  count: number;
}

const NO_BOUND: Bound = { v: 0, ex: false };
const NO_LEX: LexBound = { v: "", ex: false, inf: 0 };

/** Parses the two range arguments for `by` (swapped when `rev`); null after writing the error. */
function parseRange(
  a: Uint8Array,
  b: Uint8Array,
  by: number,
  rev: boolean,
  out: ResultSink,
): Range | null {
  const r: Range = {
    by,
    rev,
    start: 0,
    stop: 0,
    smin: NO_BOUND,
    smax: NO_BOUND,
    lmin: NO_LEX,
    lmax: NO_LEX,
    offset: 0,
    count: -1,
  };
  const [lo, hi] = rev && by !== BY_RANK ? [b, a] : [a, b];
  if (by === BY_RANK) {
    const s = parseIntArg(lo);
    const e = parseIntArg(hi);
    if (s === null || e === null) {
      notInteger(out);
      return null;
    }
    r.start = s;
    r.stop = e;
  } else if (by === BY_SCORE) {
    const mn = parseBound(lo);
    const mx = parseBound(hi);
    if (mn === null || mx === null) {
      fail(out, Code.NOT_INTEGER, "min or max is not a float");
      return null;
    }
    r.smin = mn;
    r.smax = mx;
  } else {
    const mn = parseLex(lo);
    const mx = parseLex(hi);
    if (mn === null || mx === null) {
      fail(out, Code.SYNTAX, "min or max not valid string range item");
      return null;
    }
    r.lmin = mn;
    r.lmax = mx;
  }
  return r;
}

/** The nodes of range `r` in reply order (ascending, or descending when `r.rev`). */
function collect(z: SortedSet, r: Range): ZNode[] {
  const res: ZNode[] = [];
  if (r.by === BY_RANK) {
    const len = z.size;
    let start = r.start;
    let stop = r.stop;
    if (start < 0) start = Math.max(len + start, 0);
    if (stop < 0) stop = len + stop;
    if (stop >= len) stop = len - 1;
    if (start > stop || start >= len) return res;
    let n = z.byRank(r.rev ? len - 1 - start : start);
    for (let i = start; i <= stop && n !== null; i++) {
      res.push(n);
      n = r.rev ? n.prev : n.next[0];
    }
    return res;
  }
  let offset = r.offset;
  let count = r.count;
  if (offset < 0 || count === 0) return res;
  if (r.by === BY_LEX && !lexMayHit(z, r.lmin, r.lmax)) return res;
  // From the first node in range, walk while the far bound holds (as Redis does: for lex ranges
  // over unequal scores the near bound is not checked again).
  const inRange = r.by === BY_SCORE
    ? (r.rev
      ? (n: ZNode) => scoreGteMin(n.score, r.smin)
      : (n: ZNode) => scoreLteMax(n.score, r.smax))
    : (r.rev
      ? (n: ZNode) => lexGteMin(n.member, r.lmin)
      : (n: ZNode) => lexLteMax(n.member, r.lmax));
  let n: ZNode | null;
  if (!r.rev) {
    n = r.by === BY_SCORE
      ? z.firstFrom(r.smin.v, r.smin.ex)
      : z.firstLex(r.lmin.v, r.lmin.ex, r.lmin.inf);
  } else {
    n = r.by === BY_SCORE
      ? z.lastUpTo(r.smax.v, r.smax.ex)
      : z.lastLex(r.lmax.v, r.lmax.ex, r.lmax.inf);
  }
  while (n !== null && offset > 0 && inRange(n)) {
    n = r.rev ? n.prev : n.next[0];
    offset--;
  }
  while (n !== null && count !== 0 && inRange(n)) {
    res.push(n);
    n = r.rev ? n.prev : n.next[0];
    count--;
  }
  return res;
}

/** ZRANGE-family variants: which options each accepts. */
interface RangeCmd {
  /** Fixed kind, or -1 for ZRANGE/ZRANGESTORE (BYSCORE/BYLEX options). */
  by: number;
  rev: boolean;
  withScores: boolean;
  limit: boolean;
  store: boolean;
}

/**
 * ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES], ZRANGESTORE
 * dst src ..., ZREVRANGE, ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZRANGEBYLEX, ZREVRANGEBYLEX.
 */
function zrangeGeneric(
  db: Keyspace,
  argv: Argv,
  ctx: ApplyContext,
  out: ResultSink,
  cmd: RangeCmd,
): void {
  const src = cmd.store ? 2 : 1;
  let by = cmd.by === -1 ? BY_RANK : cmd.by;
  let rev = cmd.rev, withScores = false, limit = false;
  let offset = 0, count = -1;
  for (let i = src + 3; i < argv.length; i++) {
    const a = argv[i];
    if (cmd.withScores && eqWord(a, "withscores")) withScores = true;
    else if (cmd.by === -1 && eqWord(a, "byscore") && by === BY_RANK) by = BY_SCORE;
    else if (cmd.by === -1 && eqWord(a, "bylex") && by === BY_RANK) by = BY_LEX;
    else if (cmd.by === -1 && eqWord(a, "rev")) rev = true;
    else if (cmd.limit && eqWord(a, "limit") && i + 2 < argv.length) {
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
  if (limit && by === BY_RANK) {
    syntaxError(
      out,
      "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
    );
    return;
  }
  if (withScores && by === BY_LEX) {
    syntaxError(out, "syntax error, WITHSCORES not supported in combination with BYLEX");
    return;
  }
  const r = parseRange(argv[src + 1], argv[src + 2], by, rev, out);
  if (r === null) return;
  r.offset = offset;
  r.count = count;
  const z = readZset(db, argv[src], ctx, out);
  if (z === false) return;
  const nodes = z === null ? [] : collect(z, r);
  if (cmd.store) {
    const dk = bytesToKey(argv[1]);
    if (nodes.length === 0) {
      const old = db.write(dk, ctx.nowMs);
      if (old !== undefined) db.remove(dk, old);
    } else {
      const nz = new SortedSet();
      for (const n of nodes) nz.set(n.member, n.score);
      putNew(db, dk, Kind.ZSET, nz, 0, ctx.nowMs, ctx.index);
    }
    ok(out, nodes.length);
    return;
  }
  const res = nodesReply(nodes, withScores, out);
  if (res !== null) ok(out, res);
}

function zscore(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const z = readZset(db, argv[1], ctx, out);
  if (z === false) return;
  const s = z === null ? undefined : z.scores.get(bytesToKey(argv[2]));
  if (s === undefined) nil(out);
  else ok(out, s);
}

function zmscore(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const z = readZset(db, argv[1], ctx, out);
  if (z === false) return;
  const res: Value[] = new Array(argv.length - 2);
  for (let i = 2; i < argv.length; i++) {
    res[i - 2] = z === null ? null : z.scores.get(bytesToKey(argv[i])) ?? null;
  }
  ok(out, res);
}

function zcard(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const z = readZset(db, argv[1], ctx, out);
  if (z !== false) ok(out, z === null ? 0 : z.size);
}

/** ZRANK / ZREVRANK key member [WITHSCORE]. */
function zrank(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink, rev: boolean) {
  let withScore = false;
  if (argv.length === 4) {
    if (!eqWord(argv[3], "withscore")) {
      syntaxError(out);
      return;
    }
    withScore = true;
  } else if (argv.length > 4) {
    syntaxError(out);
    return;
  }
  const z = readZset(db, argv[1], ctx, out);
  if (z === false) return;
  const m = bytesToKey(argv[2]);
  const r = z === null ? -1 : z.rank(m);
  if (r < 0) {
    nil(out);
    return;
  }
  const rank = rev ? z!.size - 1 - r : r;
  ok(out, withScore ? [rank, z!.scores.get(m)!] : rank);
}

/** ZCOUNT (by score) and ZLEXCOUNT (by lex). */
function zcount(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink, by: number) {
  const r = parseRange(argv[2], argv[3], by, false, out);
  if (r === null) return;
  const z = readZset(db, argv[1], ctx, out);
  if (z === false) return;
  if (z === null) {
    ok(out, 0);
    return;
  }
  if (by === BY_LEX) {
    if (!lexMayHit(z, r.lmin, r.lmax)) {
      ok(out, 0);
      return;
    }
    // Lex over unequal scores is a walk (see SortedSet.firstLex); count it the same way.
    const first = z.firstLex(r.lmin.v, r.lmin.ex, r.lmin.inf);
    const last = z.lastLex(r.lmax.v, r.lmax.ex, r.lmax.inf);
    if (
      first === null || last === null || first.score !== last.score ||
      z.first()!.score !== z.last()!.score
    ) {
      let n = 0;
      for (let x = first; x !== null && lexLteMax(x.member, r.lmax); x = x.next[0]) n++;
      ok(out, n);
      return;
    }
    const c = z.rank(last.member) - z.rank(first.member) + 1;
    ok(out, c > 0 ? c : 0);
    return;
  }
  const first = z.firstFrom(r.smin.v, r.smin.ex);
  const last = z.lastUpTo(r.smax.v, r.smax.ex);
  if (first === null || last === null) {
    ok(out, 0);
    return;
  }
  const n = z.rank(last.member) - z.rank(first.member) + 1;
  ok(out, n > 0 ? n : 0);
}

/** ZPOPMIN / ZPOPMAX key [count]: flat [member, score, ...]. */
function zpop(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink, max: boolean) {
  if (argv.length > 3) {
    syntaxError(out);
    return;
  }
  let count = 1;
  if (argv.length === 3) {
    const c = popCount(argv[2], out);
    if (c === null) return;
    count = c;
  }
  const k = bytesToKey(argv[1]);
  const e = writeZset(db, k, ctx, out);
  if (e === false) return;
  if (e === null || count === 0) {
    ok(out, []);
    return;
  }
  const z = e.value as SortedSet;
  const res: Value[] = [];
  for (let i = 0; i < count && z.size > 0; i++) {
    const n = (max ? z.last() : z.first())!;
    res.push(keyToBytes(n.member), n.score);
    z.delete(n.member);
  }
  if (z.size === 0) db.remove(k, e);
  else e.bump(ctx.index);
  ok(out, res);
}

/** ZREMRANGEBYRANK / BYSCORE / BYLEX key a b. */
function zremrange(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink, by: number) {
  const r = parseRange(argv[2], argv[3], by, false, out);
  if (r === null) return;
  const k = bytesToKey(argv[1]);
  const e = writeZset(db, k, ctx, out);
  if (e === false) return;
  if (e === null) {
    ok(out, 0);
    return;
  }
  const z = e.value as SortedSet;
  const nodes = collect(z, r);
  for (const n of nodes) z.delete(n.member);
  if (z.size === 0) db.remove(k, e);
  else if (nodes.length > 0) e.bump(ctx.index);
  ok(out, nodes.length);
}

const AGG_SUM = 0, AGG_MIN = 1, AGG_MAX = 2;
const OP_UNION = 0, OP_INTER = 1, OP_DIFF = 2;

/** Input of ZUNION & co: a sorted set or a plain set (every score 1), or null when absent. */
type ZInput = SortedSet | Set<string> | null;

function inputScore(s: SortedSet | Set<string>, m: string): number | undefined {
  if (s instanceof SortedSet) return s.scores.get(m);
  return s.has(m) ? 1 : undefined;
}

function* inputMembers(s: SortedSet | Set<string>): Generator<[string, number]> {
  if (s instanceof SortedSet) {
    for (let n = s.first(); n !== null; n = n.next[0]) yield [n.member, n.score];
  } else for (const m of s) yield [m, 1];
}

function inputSize(s: ZInput): number {
  return s === null ? 0 : s.size;
}

function aggregate(a: number, b: number, agg: number): number {
  if (agg === AGG_SUM) {
    const r = a + b;
    return Number.isNaN(r) ? 0 : r; // inf + -inf
  }
  return agg === AGG_MIN ? (a < b ? a : b) : (a > b ? a : b);
}

function weigh(score: number, w: number): number {
  const r = score * w;
  return Number.isNaN(r) ? 0 : r;
}

/**
 * ZUNION/ZINTER/ZDIFF numkeys key ... [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES] and
 * their STORE forms (dst first; no WITHSCORES). ZDIFF takes neither WEIGHTS nor AGGREGATE. Plain
 * sets count as sorted sets with every score 1, like Redis.
 */
function zsetop(
  db: Keyspace,
  argv: Argv,
  ctx: ApplyContext,
  out: ResultSink,
  op: number,
  store: boolean,
  name: string,
): void {
  const at = store ? 2 : 1;
  const n = numKeys(argv, at, out, 0, null, name);
  if (n === null) return;
  // The inputs are type-checked before the options are parsed, as in Redis.
  const inputs: ZInput[] = [];
  for (let j = 0; j < n; j++) {
    const k = bytesToKey(argv[at + 1 + j]);
    const e = store ? db.write(k, ctx.nowMs) : db.read(k, ctx.nowMs);
    if (e === undefined) inputs.push(null);
    else if (e.kind === Kind.ZSET) inputs.push(e.value as SortedSet);
    else if (e.kind === Kind.SET) inputs.push(e.value as Set<string>);
    else {
      wrongType(out);
      return;
    }
  }
  const weights: number[] = new Array(n).fill(1);
  let agg = AGG_SUM;
  let withScores = false;
  for (let i = at + 1 + n; i < argv.length; i++) {
    const a = argv[i];
    if (op !== OP_DIFF && eqWord(a, "weights") && i + n < argv.length) {
      for (let j = 0; j < n; j++) {
        const w = parseFloatArg(argv[i + 1 + j]);
        if (w === null) {
          fail(out, Code.NOT_INTEGER, "weight value is not a float");
          return;
        }
        weights[j] = w;
      }
      i += n;
    } else if (op !== OP_DIFF && eqWord(a, "aggregate") && i + 1 < argv.length) {
      const g = argv[++i];
      if (eqWord(g, "sum")) agg = AGG_SUM;
      else if (eqWord(g, "min")) agg = AGG_MIN;
      else if (eqWord(g, "max")) agg = AGG_MAX;
      else {
        syntaxError(out);
        return;
      }
    } else if (!store && eqWord(a, "withscores")) withScores = true;
    else {
      syntaxError(out);
      return;
    }
  }
  const acc = new Map<string, number>();
  if (op === OP_UNION) {
    for (let j = 0; j < n; j++) {
      const s = inputs[j];
      if (s === null) continue;
      for (const [m, sc] of inputMembers(s)) {
        const v = weigh(sc, weights[j]);
        const cur = acc.get(m);
        acc.set(m, cur === undefined ? v : aggregate(cur, v, agg));
      }
    }
  } else if (op === OP_INTER) {
    let small = 0;
    for (let j = 0; j < n; j++) if (inputSize(inputs[j]) < inputSize(inputs[small])) small = j;
    const base = inputs[small];
    if (base !== null && inputs.every((s) => s !== null)) {
      outer: for (const [m] of inputMembers(base)) {
        let v = 0;
        for (let j = 0; j < n; j++) {
          const sc = inputScore(inputs[j]!, m);
          if (sc === undefined) continue outer;
          const w = weigh(sc, weights[j]);
          v = j === 0 ? w : aggregate(v, w, agg);
        }
        acc.set(m, v);
      }
    }
  } else {
    const first = inputs[0];
    if (first !== null) {
      outer: for (const [m, sc] of inputMembers(first)) {
        for (let j = 1; j < n; j++) {
          const s = inputs[j];
          if (s !== null && inputScore(s, m) !== undefined) continue outer;
        }
        acc.set(m, sc);
      }
    }
  }
  const result = new SortedSet();
  for (const [m, sc] of acc) result.set(m, sc);
  if (store) {
    const dk = bytesToKey(argv[1]);
    if (result.size === 0) {
      const old = db.write(dk, ctx.nowMs);
      if (old !== undefined) db.remove(dk, old);
    } else putNew(db, dk, Kind.ZSET, result, 0, ctx.nowMs, ctx.index);
    ok(out, result.size);
    return;
  }
  const nodes: ZNode[] = [];
  for (let x = result.first(); x !== null; x = x.next[0]) nodes.push(x);
  const res = nodesReply(nodes, withScores, out);
  if (res !== null) ok(out, res);
}

/** ZRANDMEMBER key [count [WITHSCORES]] (random picks: `random.ts`). */
function zrandmember(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  let withScores = false;
  if (argv.length === 4) {
    if (!eqWord(argv[3], "withscores")) {
      syntaxError(out);
      return;
    }
    withScores = true;
  } else if (argv.length > 4) {
    syntaxError(out);
    return;
  }
  const hasCount = argv.length >= 3;
  let count = 0;
  if (hasCount) {
    const c = randomCount(argv[2], out, withScores);
    if (c === null) return;
    count = c;
  }
  const z = readZset(db, argv[1], ctx, out);
  if (z === false) return;
  if (z === null) {
    if (hasCount) ok(out, []);
    else nil(out);
    return;
  }
  if (!hasCount) {
    ok(out, keyToBytes(z.byRank(db.rng(ctx).below(z.size))!.member));
    return;
  }
  const members: string[] = [];
  for (let x = z.first(); x !== null; x = x.next[0]) members.push(x.member);
  const picked = randomPick(
    members,
    count,
    db.rng(ctx),
    out,
    withScores ? (m) => 16 + m.length : undefined,
  );
  if (picked === null) return;
  const res: Value[] = [];
  for (const m of picked) {
    res.push(keyToBytes(m));
    if (withScores) res.push(z.scores.get(m)!);
  }
  ok(out, res);
}

/** A score as Redis writes it in ZSCAN replies (bulk text; `inf`, `-inf`). */
function scoreBytes(s: number): Uint8Array {
  if (s === Infinity) return asciiBytes("inf");
  if (s === -Infinity) return asciiBytes("-inf");
  return asciiBytes(formatFloat(s));
}

function zscan(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const o = scanOpts(argv, 2, out, false);
  if (o === null) return;
  const z = readZset(db, argv[1], ctx, out);
  if (z === false) return;
  if (z === null) {
    ok(out, [cursorBytes(0), []]);
    return;
  }
  const step = scanSelect(() => z.scores.keys(), z.size, o.cursor, o.count, (m) => m.length + 16);
  const res: Value[] = [];
  for (const m of step.items) {
    if (o.match !== null && !globMatch(o.match, m)) continue;
    res.push(keyToBytes(m), scoreBytes(z.scores.get(m)!));
  }
  ok(out, [cursorBytes(step.next), res]);
}

function rangeSpec(
  by: number,
  rev: boolean,
  withScores: boolean,
  limit: boolean,
): CommandSpec["run"] {
  const cmd: RangeCmd = { by, rev, withScores, limit, store: false };
  return (db, a, c, o) => zrangeGeneric(db, a, c, o, cmd);
}

function setopSpec(op: number, store: boolean, name: string): CommandSpec {
  return {
    name,
    arity: store ? -4 : -3,
    write: store,
    run: (db, a, c, o) => zsetop(db, a, c, o, op, store, name),
  };
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
  { name: "zrange", arity: -4, write: false, run: rangeSpec(-1, false, true, true) },
  { name: "zrangebyscore", arity: -4, write: false, run: rangeSpec(BY_SCORE, false, true, true) },
  { name: "zrevrange", arity: -4, write: false, run: rangeSpec(BY_RANK, true, true, false) },
  { name: "zrevrangebyscore", arity: -4, write: false, run: rangeSpec(BY_SCORE, true, true, true) },
  { name: "zrangebylex", arity: -4, write: false, run: rangeSpec(BY_LEX, false, false, true) },
  { name: "zrevrangebylex", arity: -4, write: false, run: rangeSpec(BY_LEX, true, false, true) },
  {
    name: "zrangestore",
    arity: -5,
    write: true,
    run: (db, a, c, o) =>
      zrangeGeneric(db, a, c, o, {
        by: -1,
        rev: false,
        withScores: false,
        limit: true,
        store: true,
      }),
  },
  { name: "zscore", arity: 3, write: false, run: zscore },
  { name: "zmscore", arity: -3, write: false, run: zmscore },
  { name: "zcard", arity: 2, write: false, run: zcard },
  { name: "zrank", arity: -3, write: false, run: (db, a, c, o) => zrank(db, a, c, o, false) },
  { name: "zrevrank", arity: -3, write: false, run: (db, a, c, o) => zrank(db, a, c, o, true) },
  { name: "zcount", arity: 4, write: false, run: (db, a, c, o) => zcount(db, a, c, o, BY_SCORE) },
  { name: "zlexcount", arity: 4, write: false, run: (db, a, c, o) => zcount(db, a, c, o, BY_LEX) },
  { name: "zpopmin", arity: -2, write: true, run: (db, a, c, o) => zpop(db, a, c, o, false) },
  { name: "zpopmax", arity: -2, write: true, run: (db, a, c, o) => zpop(db, a, c, o, true) },
  {
    name: "zremrangebyrank",
    arity: 4,
    write: true,
    run: (db, a, c, o) => zremrange(db, a, c, o, BY_RANK),
  },
  {
    name: "zremrangebyscore",
    arity: 4,
    write: true,
    run: (db, a, c, o) => zremrange(db, a, c, o, BY_SCORE),
  },
  {
    name: "zremrangebylex",
    arity: 4,
    write: true,
    run: (db, a, c, o) => zremrange(db, a, c, o, BY_LEX),
  },
  setopSpec(OP_UNION, false, "zunion"),
  setopSpec(OP_INTER, false, "zinter"),
  setopSpec(OP_DIFF, false, "zdiff"),
  setopSpec(OP_UNION, true, "zunionstore"),
  setopSpec(OP_INTER, true, "zinterstore"),
  setopSpec(OP_DIFF, true, "zdiffstore"),
  { name: "zrandmember", arity: -2, write: false, run: zrandmember },
  { name: "zscan", arity: -3, write: false, run: zscan },
];
