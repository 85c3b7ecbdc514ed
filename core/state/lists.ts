/**
 * List commands: LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP, RPOP (optional count), LRANGE, LINDEX, LLEN,
 * LSET, LREM, LTRIM, LINSERT, LPOS, LMOVE, RPOPLPUSH, LMPOP.
 * An emptied list is deleted, as in Redis.
 * @module
 */
import { isInt64Min, popCount, writeOf } from "./access.ts";
import { bytesToKey, eqWord, keyToBytes, own, parseIntArg } from "./bytes.ts";
import type { CommandSpec } from "./command_table.ts";
import { Deque } from "./deque.ts";
import { KeyEntry, Kind } from "./keyspace.ts";
import type { Keyspace } from "./keyspace.ts";
import { fail, nil, notInteger, ok, syntaxError, wrongType } from "./reply.ts";
import type { ApplyContext, Argv, ResultSink, Value } from "./types.ts";
import { Code } from "../../protocol/codes.ts";

function push(
  db: Keyspace,
  argv: Argv,
  ctx: ApplyContext,
  out: ResultSink,
  front: boolean,
): void {
  const k = bytesToKey(argv[1]);
  let e = db.write(k, ctx.nowMs);
  if (e === undefined) {
    e = new KeyEntry(Kind.LIST, new Deque(), ctx.index);
    db.add(k, e);
  } else if (e.kind !== Kind.LIST) {
    wrongType(out);
    return;
  }
  const d = e.value as Deque;
  for (let i = 2; i < argv.length; i++) {
    if (front) d.pushFront(own(argv[i]));
    else d.pushBack(own(argv[i]));
  }
  e.bump(ctx.index);
  ok(out, d.length);
}

function pop(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink, front: boolean) {
  let count = -1;
  if (argv.length === 3) {
    const c = popCount(argv[2], out);
    if (c === null) return;
    count = c;
  }
  const k = bytesToKey(argv[1]);
  const e = db.write(k, ctx.nowMs);
  if (e === undefined) {
    nil(out);
    return;
  }
  if (e.kind !== Kind.LIST) {
    wrongType(out);
    return;
  }
  const d = e.value as Deque;
  let res: Value;
  if (count < 0) {
    res = (front ? d.popFront() : d.popBack()) as Uint8Array;
  } else {
    const n = Math.min(count, d.length);
    const arr: Value[] = new Array(n);
    for (let i = 0; i < n; i++) arr[i] = (front ? d.popFront() : d.popBack()) as Uint8Array;
    res = arr;
  }
  if (d.length === 0) db.remove(k, e);
  else if (count !== 0) e.bump(ctx.index);
  ok(out, res);
}

function lrange(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  let start = parseIntArg(argv[2]);
  let stop = parseIntArg(argv[3]);
  if (start === null || stop === null) {
    notInteger(out);
    return;
  }
  const e = db.read(bytesToKey(argv[1]), ctx.nowMs);
  if (e === undefined) {
    ok(out, []);
    return;
  }
  if (e.kind !== Kind.LIST) {
    wrongType(out);
    return;
  }
  const d = e.value as Deque;
  const len = d.length;
  if (start < 0) start = Math.max(len + start, 0);
  if (stop < 0) stop = len + stop;
  if (stop >= len) stop = len - 1;
  if (start > stop || start >= len) {
    ok(out, []);
    return;
  }
  const res: Value[] = new Array(stop - start + 1);
  for (let i = start; i <= stop; i++) res[i - start] = d.at(i);
  ok(out, res);
}

function lindex(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  let idx = parseIntArg(argv[2]);
  if (idx === null) {
    notInteger(out);
    return;
  }
  const e = db.read(bytesToKey(argv[1]), ctx.nowMs);
  if (e === undefined) {
    nil(out);
    return;
  }
  if (e.kind !== Kind.LIST) {
    wrongType(out);
    return;
  }
  const d = e.value as Deque;
  if (idx < 0) idx += d.length;
  if (idx < 0 || idx >= d.length) nil(out);
  else ok(out, d.at(idx));
}

function llen(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const e = db.read(bytesToKey(argv[1]), ctx.nowMs);
  if (e === undefined) ok(out, 0);
  else if (e.kind !== Kind.LIST) wrongType(out);
  else ok(out, (e.value as Deque).length);
}

/** LPUSHX / RPUSHX: push only onto an existing list. */
function pushx(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink, front: boolean) {
  const k = bytesToKey(argv[1]);
  const e = db.write(k, ctx.nowMs);
  if (e === undefined) {
    ok(out, 0);
    return;
  }
  push(db, argv, ctx, out, front);
}

/** The list at `k` for writing (see `writeOf`). */
function writeList(db: Keyspace, k: string, ctx: ApplyContext, out: ResultSink) {
  return writeOf(db, k, Kind.LIST, ctx.nowMs, out);
}

function lset(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  let idx = parseIntArg(argv[2]);
  if (idx === null) {
    notInteger(out);
    return;
  }
  const e = writeList(db, bytesToKey(argv[1]), ctx, out);
  if (e === false) return;
  if (e === null) {
    fail(out, Code.SYNTAX, "no such key");
    return;
  }
  const d = e.value as Deque;
  if (idx < 0) idx += d.length;
  if (idx < 0 || idx >= d.length) {
    fail(out, Code.SYNTAX, "index out of range");
    return;
  }
  d.set(idx, own(argv[3]));
  e.bump(ctx.index);
  ok(out, "OK");
}

function lrem(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const count = parseIntArg(argv[2]);
  if (count === null) {
    notInteger(out);
    return;
  }
  const k = bytesToKey(argv[1]);
  const e = writeList(db, k, ctx, out);
  if (e === false) return;
  if (e === null) {
    ok(out, 0);
    return;
  }
  const d = e.value as Deque;
  const items = d.toArray();
  const v = argv[3];
  let limit = count === 0 ? Infinity : Math.abs(count);
  let removed = 0;
  const keep: Uint8Array[] = [];
  if (count >= 0) {
    for (const it of items) {
      if (limit > 0 && eqBytes(it, v)) {
        limit--;
        removed++;
      } else keep.push(it);
    }
  } else {
    for (let i = items.length - 1; i >= 0; i--) {
      const it = items[i];
      if (limit > 0 && eqBytes(it, v)) {
        limit--;
        removed++;
      } else keep.push(it);
    }
    keep.reverse();
  }
  if (removed > 0) {
    if (keep.length === 0) db.remove(k, e);
    else {
      d.replace(keep);
      e.bump(ctx.index);
    }
  }
  ok(out, removed);
}

function ltrim(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  let start = parseIntArg(argv[2]);
  let stop = parseIntArg(argv[3]);
  if (start === null || stop === null) {
    notInteger(out);
    return;
  }
  const k = bytesToKey(argv[1]);
  const e = writeList(db, k, ctx, out);
  if (e === false) return;
  if (e === null) {
    ok(out, "OK");
    return;
  }
  const d = e.value as Deque;
  const len = d.length;
  if (start < 0) start = Math.max(len + start, 0);
  if (stop < 0) stop = len + stop;
  if (start > stop || start >= len) {
    db.remove(k, e);
    ok(out, "OK");
    return;
  }
  if (stop >= len) stop = len - 1;
  const right = len - 1 - stop;
  for (let i = 0; i < start; i++) d.popFront();
  for (let i = 0; i < right; i++) d.popBack();
  if (start > 0 || right > 0) e.bump(ctx.index);
  ok(out, "OK");
}

function linsert(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const where = argv[2];
  const after = eqWord(where, "after");
  if (!after && !eqWord(where, "before")) {
    syntaxError(out);
    return;
  }
  const e = writeList(db, bytesToKey(argv[1]), ctx, out);
  if (e === false) return;
  if (e === null) {
    ok(out, 0);
    return;
  }
  const d = e.value as Deque;
  const pivot = argv[3];
  for (let i = 0; i < d.length; i++) {
    if (eqBytes(d.at(i), pivot)) {
      const items = d.toArray();
      items.splice(after ? i + 1 : i, 0, own(argv[4]));
      d.replace(items);
      e.bump(ctx.index);
      ok(out, d.length);
      return;
    }
  }
  ok(out, -1);
}

/** LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]. */
function lpos(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  let rank = 1;
  let count = -1; // -1 = no COUNT: a single index (or nil)
  let maxlen = 0;
  for (let i = 3; i < argv.length; i++) {
    const a = argv[i];
    if (i + 1 >= argv.length) {
      syntaxError(out);
      return;
    }
    const v = parseIntArg(argv[i + 1]);
    if (eqWord(a, "rank")) {
      if (v === null) return notInteger(out);
      if (isInt64Min(argv[i + 1])) {
        fail(out, Code.NOT_INTEGER, "value is out of range");
        return;
      }
      if (v === 0) {
        fail(
          out,
          Code.SYNTAX,
          "RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
        );
        return;
      }
      rank = v;
    } else if (eqWord(a, "count")) {
      if (v === null) return notInteger(out);
      if (v < 0) {
        fail(out, Code.SYNTAX, "COUNT can't be negative");
        return;
      }
      count = v;
    } else if (eqWord(a, "maxlen")) {
      if (v === null) return notInteger(out);
      if (v < 0) {
        fail(out, Code.SYNTAX, "MAXLEN can't be negative");
        return;
      }
      maxlen = v;
    } else {
      syntaxError(out);
      return;
    }
    i++;
  }
  const e = db.read(bytesToKey(argv[1]), ctx.nowMs);
  if (e !== undefined && e.kind !== Kind.LIST) {
    wrongType(out);
    return;
  }
  if (e === undefined) {
    if (count < 0) nil(out);
    else ok(out, []);
    return;
  }
  const d = e.value as Deque;
  const len = d.length;
  const el = argv[2];
  const res: Value[] = [];
  const want = count === 0 ? Infinity : count < 0 ? 1 : count;
  const scan = maxlen === 0 ? len : Math.min(maxlen, len);
  let skip = Math.abs(rank) - 1;
  for (let n = 0; n < scan && res.length < want; n++) {
    const i = rank > 0 ? n : len - 1 - n;
    if (!eqBytes(d.at(i), el)) continue;
    if (skip > 0) skip--;
    else res.push(i);
  }
  if (count < 0) {
    if (res.length === 0) nil(out);
    else ok(out, res[0]);
  } else ok(out, res);
}

/** Pops from `src`'s `fromLeft` end and pushes at `dst`'s `toLeft` end (LMOVE, RPOPLPUSH). */
function lmoveGeneric(
  db: Keyspace,
  argv: Argv,
  ctx: ApplyContext,
  out: ResultSink,
  fromLeft: boolean,
  toLeft: boolean,
): void {
  const sk = bytesToKey(argv[1]);
  const dk = bytesToKey(argv[2]);
  const se = writeList(db, sk, ctx, out);
  if (se === false) return;
  if (se === null) {
    nil(out);
    return;
  }
  let de = sk === dk ? se : writeList(db, dk, ctx, out);
  if (de === false) return;
  const sd = se.value as Deque;
  const v = (fromLeft ? sd.popFront() : sd.popBack()) as Uint8Array;
  se.bump(ctx.index);
  if (de === null) {
    de = new KeyEntry(Kind.LIST, new Deque(), ctx.index);
    db.add(dk, de);
  }
  const dd = de.value as Deque;
  if (toLeft) dd.pushFront(v);
  else dd.pushBack(v);
  de.bump(ctx.index);
  if (sd.length === 0) db.remove(sk, se);
  ok(out, v);
}

function lmove(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const from = side(argv[3]);
  const to = side(argv[4]);
  if (from === null || to === null) {
    syntaxError(out);
    return;
  }
  lmoveGeneric(db, argv, ctx, out, from, to);
}

/** LEFT → true, RIGHT → false, else null. */
function side(b: Uint8Array): boolean | null {
  return eqWord(b, "left") ? true : eqWord(b, "right") ? false : null;
}

/**
 * Parses `numkeys key [key ...]` at `argv[at]` (at least `tail` arguments must follow the keys):
 * the number of keys, or null after writing Redis's error. `zname` gives the ZUNION family's
 * texts (not-an-integer, "at least 1 input key ... for 'zname'", syntax error when too many);
 * without it LMPOP's and SINTERCARD's ("numkeys should be greater than 0", then `tooMany`, a
 * syntax error when null).
 */
export function numKeys(
  argv: Argv,
  at: number,
  out: ResultSink,
  tail: number,
  tooMany: string | null,
  zname?: string,
): number | null {
  const n = parseIntArg(argv[at]);
  if (n === null || n <= 0) {
    if (zname !== undefined && n === null) notInteger(out);
    else if (zname !== undefined) {
      fail(out, Code.SYNTAX, `at least 1 input key is needed for '${zname}' command`);
    } else fail(out, Code.SYNTAX, "numkeys should be greater than 0");
    return null;
  }
  if (n > argv.length - at - 1 - tail) {
    if (tooMany === null) syntaxError(out);
    else fail(out, Code.SYNTAX, tooMany);
    return null;
  }
  return n;
}

/** LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]. */
function lmpop(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const n = numKeys(argv, 1, out, 1, null);
  if (n === null) return;
  let i = 2 + n;
  const front = side(argv[i++]);
  if (front === null) {
    syntaxError(out);
    return;
  }
  let count = 1;
  if (i < argv.length) {
    if (!eqWord(argv[i], "count") || i + 2 !== argv.length) {
      syntaxError(out);
      return;
    }
    const c = parseIntArg(argv[i + 1]);
    if (c === null || c <= 0) {
      fail(out, Code.SYNTAX, "count should be greater than 0");
      return;
    }
    count = c;
  }
  for (let j = 2; j < 2 + n; j++) {
    const k = bytesToKey(argv[j]);
    const e = writeList(db, k, ctx, out);
    if (e === false) return;
    if (e === null) continue;
    const d = e.value as Deque;
    const m = Math.min(count, d.length);
    const arr: Value[] = new Array(m);
    for (let x = 0; x < m; x++) arr[x] = (front ? d.popFront() : d.popBack()) as Uint8Array;
    if (d.length === 0) db.remove(k, e);
    else e.bump(ctx.index);
    ok(out, [keyToBytes(k), arr]);
    return;
  }
  nil(out);
}

/** Byte-wise equality. */
function eqBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** List commands. */
export const LIST_COMMANDS: readonly CommandSpec[] = [
  { name: "lpush", arity: -3, write: true, run: (db, a, c, o) => push(db, a, c, o, true) },
  { name: "rpush", arity: -3, write: true, run: (db, a, c, o) => push(db, a, c, o, false) },
  { name: "lpop", arity: -2, write: true, run: (db, a, c, o) => popArity(db, a, c, o, true) },
  { name: "rpop", arity: -2, write: true, run: (db, a, c, o) => popArity(db, a, c, o, false) },
  { name: "lrange", arity: 4, write: false, run: lrange },
  { name: "lindex", arity: 3, write: false, run: lindex },
  { name: "llen", arity: 2, write: false, run: llen },
  { name: "lpushx", arity: -3, write: true, run: (db, a, c, o) => pushx(db, a, c, o, true) },
  { name: "rpushx", arity: -3, write: true, run: (db, a, c, o) => pushx(db, a, c, o, false) },
  { name: "lset", arity: 4, write: true, run: lset },
  { name: "lrem", arity: 4, write: true, run: lrem },
  { name: "ltrim", arity: 4, write: true, run: ltrim },
  { name: "linsert", arity: 5, write: true, run: linsert },
  { name: "lpos", arity: -3, write: false, run: lpos },
  { name: "lmove", arity: 5, write: true, run: lmove },
  {
    name: "rpoplpush",
    arity: 3,
    write: true,
    run: (db, a, c, o) => lmoveGeneric(db, a, c, o, false, true),
  },
  { name: "lmpop", arity: -4, write: true, run: lmpop },
];

function popArity(db: Keyspace, a: Argv, c: ApplyContext, o: ResultSink, front: boolean) {
  if (a.length > 3) {
    fail(o, Code.SYNTAX, `wrong number of arguments for '${front ? "lpop" : "rpop"}' command`);
    return;
  }
  pop(db, a, c, o, front);
}
