/**
 * String commands: SET (EX/PX/EXAT/PXAT/NX/XX/KEEPTTL/GET), GET, MGET, MSET, APPEND, STRLEN,
 * INCR/INCRBY/DECR/DECRBY.
 *
 * Integers: stored as their exact decimal bytes within int64 (like Redis). INCR-family replies are
 * JS numbers while |result| ≤ 2^53-1; beyond that the exact decimal is returned as a string
 * (e.g. `"9223372036854775807"`) so no precision is lost.
 * @module
 */
import { Code } from "../../protocol/codes.ts";
import {
  bytesToKey,
  eqWord,
  inInt64,
  intToBytes,
  NOT_AN_INTEGER,
  own,
  parseInt64,
  parseIntArg,
} from "./bytes.ts";
import type { CommandSpec } from "./command_table.ts";
import { KeyEntry, Keyspace, Kind } from "./keyspace.ts";
import { fail, nil, notInteger, ok, okOrNil, syntaxError, wrongArity, wrongType } from "./reply.ts";
import type { ApplyContext, Argv, ResultSink, Value } from "./types.ts";

const OK = "OK";

/**
 * Converts a relative or absolute expire argument to an absolute ms time; writes the error and
 * returns null when invalid. `unit` is 1000 (seconds) or 1; `absolute` for EXAT/PXAT.
 */
export function expireTime(
  out: ResultSink,
  arg: Uint8Array,
  unit: number,
  absolute: boolean,
  now: number,
  cmd: string,
  allowNonPositive: boolean,
): number | null {
  const v = parseIntArg(arg);
  if (v === null) {
    notInteger(out);
    return null;
  }
  if (!allowNonPositive && v <= 0) {
    fail(out, Code.SYNTAX, `invalid expire time in '${cmd}' command`);
    return null;
  }
  const at = absolute ? v * unit : now + v * unit;
  if (!Number.isSafeInteger(at) || !Number.isSafeInteger(v * unit)) {
    fail(out, Code.SYNTAX, `invalid expire time in '${cmd}' command`);
    return null;
  }
  return at;
}

/** Writes a string value to `key` (creating or overwriting any type), clearing or setting TTL. */
function store(
  db: Keyspace,
  k: string,
  e: KeyEntry | undefined,
  value: Uint8Array,
  expireAt: number,
  rev: number,
): void {
  if (e === undefined) {
    e = new KeyEntry(Kind.STRING, own(value), rev);
    e.expireAt = expireAt;
    db.add(k, e);
  } else {
    e.kind = Kind.STRING;
    e.value = own(value);
    e.modRev = rev;
    db.setExpire(k, e, expireAt);
  }
}

function set(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const now = ctx.nowMs;
  const k = bytesToKey(argv[1]);
  if (argv.length === 3) {
    store(db, k, db.write(k, now), argv[2], 0, ctx.index);
    ok(out, OK);
    return;
  }
  let nx = false;
  let xx = false;
  let get = false;
  let keepTtl = false;
  let hasExpire = false;
  let at = 0;
  for (let i = 3; i < argv.length; i++) {
    const a = argv[i];
    if (eqWord(a, "nx") && !xx) nx = true;
    else if (eqWord(a, "xx") && !nx) xx = true;
    else if (eqWord(a, "get")) get = true;
    else if (eqWord(a, "keepttl") && !hasExpire) keepTtl = true;
    else if (
      !hasExpire && !keepTtl && i + 1 < argv.length &&
      (eqWord(a, "ex") || eqWord(a, "px") || eqWord(a, "exat") || eqWord(a, "pxat"))
    ) {
      const unit = a[0] === 101 || a[0] === 69 ? 1000 : 1; // 'e' / 'E'
      const t = expireTime(out, argv[++i], unit, a.length === 4, now, "set", false);
      if (t === null) return;
      at = t;
      hasExpire = true;
    } else {
      syntaxError(out);
      return;
    }
  }
  const e = db.write(k, now);
  let old: Value = null;
  if (get && e !== undefined) {
    if (e.kind !== Kind.STRING) {
      wrongType(out);
      return;
    }
    old = e.value as Uint8Array;
  }
  if ((nx && e !== undefined) || (xx && e === undefined)) {
    if (get) okOrNil(out, old);
    else nil(out);
    return;
  }
  const expireAt = hasExpire ? at : keepTtl && e !== undefined ? e.expireAt : 0;
  store(db, k, e, argv[2], expireAt, ctx.index);
  // An absolute time already in the past: the key is set and immediately gone (as in Redis).
  if (expireAt !== 0 && expireAt <= now) {
    const cur = db.write(k, now);
    if (cur !== undefined) db.remove(k, cur);
  }
  if (get) okOrNil(out, old);
  else ok(out, OK);
}

function get(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const e = db.read(bytesToKey(argv[1]), ctx.nowMs);
  if (e === undefined) nil(out);
  else if (e.kind !== Kind.STRING) wrongType(out);
  else ok(out, e.value as Uint8Array);
}

function mget(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const res: Value[] = new Array(argv.length - 1);
  for (let i = 1; i < argv.length; i++) {
    const e = db.read(bytesToKey(argv[i]), ctx.nowMs);
    res[i - 1] = e !== undefined && e.kind === Kind.STRING ? e.value as Uint8Array : null;
  }
  ok(out, res);
}

function mset(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  if ((argv.length & 1) === 0) {
    wrongArity(out, "mset");
    return;
  }
  for (let i = 1; i < argv.length; i += 2) {
    const k = bytesToKey(argv[i]);
    store(db, k, db.write(k, ctx.nowMs), argv[i + 1], 0, ctx.index);
  }
  ok(out, OK);
}

function append(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const k = bytesToKey(argv[1]);
  const e = db.write(k, ctx.nowMs);
  if (e === undefined) {
    store(db, k, e, argv[2], 0, ctx.index);
    ok(out, argv[2].length);
    return;
  }
  if (e.kind !== Kind.STRING) {
    wrongType(out);
    return;
  }
  const a = e.value as Uint8Array;
  const b = argv[2];
  const v = new Uint8Array(a.length + b.length);
  v.set(a);
  v.set(b, a.length);
  e.value = v;
  e.modRev = ctx.index;
  ok(out, v.length);
}

function strlen(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const e = db.read(bytesToKey(argv[1]), ctx.nowMs);
  if (e === undefined) ok(out, 0);
  else if (e.kind !== Kind.STRING) wrongType(out);
  else ok(out, (e.value as Uint8Array).length);
}

/** Shared INCRBY logic; `delta` is already validated. */
function incrBy(
  db: Keyspace,
  argv: Argv,
  ctx: ApplyContext,
  out: ResultSink,
  delta: number | bigint,
): void {
  const k = bytesToKey(argv[1]);
  const e = db.write(k, ctx.nowMs);
  let cur: number | bigint = 0;
  if (e !== undefined) {
    if (e.kind !== Kind.STRING) {
      wrongType(out);
      return;
    }
    const p = parseInt64(e.value as Uint8Array);
    if (p === NOT_AN_INTEGER) {
      notInteger(out);
      return;
    }
    cur = p;
  }
  let res: number | bigint;
  if (typeof cur === "number" && typeof delta === "number") {
    res = cur + delta;
    if (!Number.isSafeInteger(res)) res = BigInt(cur) + BigInt(delta);
  } else {
    res = BigInt(cur) + BigInt(delta);
  }
  if (typeof res === "bigint") {
    if (!inInt64(res)) {
      fail(out, Code.NOT_INTEGER, "increment or decrement would overflow");
      return;
    }
    if (res >= BigInt(Number.MIN_SAFE_INTEGER) && res <= BigInt(Number.MAX_SAFE_INTEGER)) {
      res = Number(res);
    }
  }
  const bytes = intToBytes(res);
  if (e === undefined) db.add(k, new KeyEntry(Kind.STRING, bytes, ctx.index));
  else {
    e.value = bytes;
    e.modRev = ctx.index;
  }
  ok(out, typeof res === "number" ? res : String(res));
}

function incrByArg(out: ResultSink, arg: Uint8Array, negate: boolean): number | bigint | null {
  const d = parseInt64(arg);
  if (d === NOT_AN_INTEGER) {
    notInteger(out);
    return null;
  }
  if (!negate) return d;
  if (typeof d === "number") return d === 0 ? 0 : -d;
  const n = -d;
  if (!inInt64(n)) {
    fail(out, Code.NOT_INTEGER, "decrement would overflow");
    return null;
  }
  return n;
}

/** String commands. */
export const STRING_COMMANDS: readonly CommandSpec[] = [
  { name: "set", arity: -3, write: true, run: set },
  { name: "get", arity: 2, write: false, run: get },
  { name: "mget", arity: -2, write: false, run: mget },
  { name: "mset", arity: -3, write: true, run: mset },
  { name: "append", arity: 3, write: true, run: append },
  { name: "strlen", arity: 2, write: false, run: strlen },
  { name: "incr", arity: 2, write: true, run: (db, a, c, o) => incrBy(db, a, c, o, 1) },
  { name: "decr", arity: 2, write: true, run: (db, a, c, o) => incrBy(db, a, c, o, -1) },
  {
    name: "incrby",
    arity: 3,
    write: true,
    run: (db, a, c, o) => {
      const d = incrByArg(o, a[2], false);
      if (d !== null) incrBy(db, a, c, o, d);
    },
  },
  {
    name: "decrby",
    arity: 3,
    write: true,
    run: (db, a, c, o) => {
      const d = incrByArg(o, a[2], true);
      if (d !== null) incrBy(db, a, c, o, d);
    },
  },
];
