/**
 * List commands: LPUSH, RPUSH, LPOP, RPOP (optional count), LRANGE, LINDEX, LLEN.
 * An emptied list is deleted, as in Redis.
 * @module
 */
import { bytesToKey, own, parseIntArg } from "./bytes.ts";
import type { CommandSpec } from "./command_table.ts";
import { Deque } from "./deque.ts";
import { KeyEntry, Kind } from "./keyspace.ts";
import type { Keyspace } from "./keyspace.ts";
import { fail, nil, notInteger, ok, wrongType } from "./reply.ts";
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
  e.modRev = ctx.index;
  ok(out, d.length);
}

function pop(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink, front: boolean) {
  let count = -1;
  if (argv.length === 3) {
    const c = parseIntArg(argv[2]);
    if (c === null) {
      notInteger(out);
      return;
    }
    if (c < 0) {
      fail(out, Code.NOT_INTEGER, "value is out of range, must be positive");
      return;
    }
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
  else if (count !== 0) e.modRev = ctx.index;
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

/** List commands. */
export const LIST_COMMANDS: readonly CommandSpec[] = [
  { name: "lpush", arity: -3, write: true, run: (db, a, c, o) => push(db, a, c, o, true) },
  { name: "rpush", arity: -3, write: true, run: (db, a, c, o) => push(db, a, c, o, false) },
  { name: "lpop", arity: -2, write: true, run: (db, a, c, o) => popArity(db, a, c, o, true) },
  { name: "rpop", arity: -2, write: true, run: (db, a, c, o) => popArity(db, a, c, o, false) },
  { name: "lrange", arity: 4, write: false, run: lrange },
  { name: "lindex", arity: 3, write: false, run: lindex },
  { name: "llen", arity: 2, write: false, run: llen },
];

function popArity(db: Keyspace, a: Argv, c: ApplyContext, o: ResultSink, front: boolean) {
  if (a.length > 3) {
    fail(o, Code.SYNTAX, `wrong number of arguments for '${front ? "lpop" : "rpop"}' command`);
    return;
  }
  pop(db, a, c, o, front);
}
