/**
 * Key commands that work on every type: DEL, EXISTS, TYPE, EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT
 * (with Redis 7's NX/XX/GT/LT), TTL, PTTL, PERSIST.
 * @module
 */
import { Code } from "../../protocol/codes.ts";
import { bytesToKey, eqWord, printable } from "./bytes.ts";
import type { CommandSpec } from "./command_table.ts";
import type { Keyspace } from "./keyspace.ts";
import { fail, ok } from "./reply.ts";
import { expireTime } from "./strings.ts";
import type { ApplyContext, Argv, ResultSink } from "./types.ts";

const TYPE_NAMES = ["string", "list", "set", "hash", "zset"];

function del(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  let n = 0;
  for (let i = 1; i < argv.length; i++) {
    const k = bytesToKey(argv[i]);
    const e = db.write(k, ctx.nowMs);
    if (e !== undefined) {
      db.remove(k, e);
      n++;
    }
  }
  ok(out, n);
}

function exists(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  let n = 0;
  for (let i = 1; i < argv.length; i++) {
    if (db.read(bytesToKey(argv[i]), ctx.nowMs) !== undefined) n++;
  }
  ok(out, n);
}

function type(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const e = db.read(bytesToKey(argv[1]), ctx.nowMs);
  ok(out, e === undefined ? "none" : TYPE_NAMES[e.kind]);
}

function expireGeneric(
  db: Keyspace,
  argv: Argv,
  ctx: ApplyContext,
  out: ResultSink,
  unit: number,
  absolute: boolean,
  name: string,
): void {
  let nx = false;
  let xx = false;
  let gt = false;
  let lt = false;
  for (let i = 3; i < argv.length; i++) {
    const a = argv[i];
    if (eqWord(a, "nx")) nx = true;
    else if (eqWord(a, "xx")) xx = true;
    else if (eqWord(a, "gt")) gt = true;
    else if (eqWord(a, "lt")) lt = true;
    else {
      fail(out, Code.SYNTAX, `Unsupported option ${printable(a)}`);
      return;
    }
  }
  if (nx && (xx || gt || lt)) {
    fail(out, Code.SYNTAX, "NX and XX, GT or LT options at the same time are not compatible");
    return;
  }
  if (gt && lt) {
    fail(out, Code.SYNTAX, "GT and LT options at the same time are not compatible");
    return;
  }
  const now = ctx.nowMs;
  const at = expireTime(out, argv[2], unit, absolute, now, name, true);
  if (at === null) return;
  const k = bytesToKey(argv[1]);
  const e = db.write(k, now);
  if (e === undefined) {
    ok(out, 0);
    return;
  }
  const cur = e.expireAt; // 0 = persistent (infinite TTL)
  if (
    (nx && cur !== 0) || (xx && cur === 0) || (gt && (cur === 0 || at <= cur)) ||
    (lt && cur !== 0 && at >= cur)
  ) {
    ok(out, 0);
    return;
  }
  if (at <= now) {
    db.remove(k, e);
  } else {
    db.setExpire(k, e, at);
    e.modRev = ctx.index;
  }
  ok(out, 1);
}

function ttlGeneric(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink, ms: boolean) {
  const e = db.read(bytesToKey(argv[1]), ctx.nowMs);
  if (e === undefined) ok(out, -2);
  else if (e.expireAt === 0) ok(out, -1);
  else {
    const left = e.expireAt - ctx.nowMs;
    ok(out, ms ? left : Math.floor((left + 500) / 1000));
  }
}

function persist(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const k = bytesToKey(argv[1]);
  const e = db.write(k, ctx.nowMs);
  if (e === undefined || e.expireAt === 0) {
    ok(out, 0);
    return;
  }
  db.setExpire(k, e, 0);
  e.modRev = ctx.index;
  ok(out, 1);
}

/** Key commands. */
export const KEY_COMMANDS: readonly CommandSpec[] = [
  { name: "del", arity: -2, write: true, run: del },
  { name: "exists", arity: -2, write: false, run: exists },
  { name: "type", arity: 2, write: false, run: type },
  {
    name: "expire",
    arity: -3,
    write: true,
    run: (db, a, c, o) => expireGeneric(db, a, c, o, 1000, false, "expire"),
  },
  {
    name: "pexpire",
    arity: -3,
    write: true,
    run: (db, a, c, o) => expireGeneric(db, a, c, o, 1, false, "pexpire"),
  },
  {
    name: "expireat",
    arity: -3,
    write: true,
    run: (db, a, c, o) => expireGeneric(db, a, c, o, 1000, true, "expireat"),
  },
  {
    name: "pexpireat",
    arity: -3,
    write: true,
    run: (db, a, c, o) => expireGeneric(db, a, c, o, 1, true, "pexpireat"),
  },
  { name: "ttl", arity: 2, write: false, run: (db, a, c, o) => ttlGeneric(db, a, c, o, false) },
  { name: "pttl", arity: 2, write: false, run: (db, a, c, o) => ttlGeneric(db, a, c, o, true) },
  { name: "persist", arity: 2, write: true, run: persist },
];
