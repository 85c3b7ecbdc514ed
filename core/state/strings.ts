/**
 * String commands: SET (EX/PX/EXAT/PXAT/NX/XX/KEEPTTL/GET), GET, MGET, MSET, APPEND, STRLEN,
 * INCR/INCRBY/DECR/DECRBY, SETNX, SETEX, PSETEX, GETSET, GETDEL, GETEX, MSETNX, INCRBYFLOAT,
 * GETRANGE (and its old name SUBSTR), SETRANGE, LCS.
 *
 * A string holds at most {@link MAX_STRING_BYTES} bytes (APPEND, SETRANGE): a longer one could not
 * be read back (a reply holds at most `MAX_BATCH_REPLY_BYTES`).
 *
 * Integers: stored as their exact decimal bytes within int64 (like Redis). INCR-family replies are
 * JS numbers while |result| ≤ 2^53-1; beyond that the exact decimal is returned as a string
 * (e.g. `"9223372036854775807"`) so no precision is lost.
 * @module
 */
import { Code } from "../../protocol/codes.ts";
import { addFloat, addInt64 } from "./access.ts";
import {
  alloc,
  bytesToKey,
  eqWord,
  inInt64,
  intToBytes,
  isSlabValue,
  keyFrom,
  NOT_AN_INTEGER,
  own,
  ownAt,
  ownedBuffer,
  parseFloatArg,
  parseInt64,
  parseIntArg,
} from "./bytes.ts";
import type { CommandSpec } from "./command_table.ts";
import { KeyEntry, Keyspace, Kind } from "./keyspace.ts";
import { MAX_LEASE_KEYS, MSG_LEASE_NOT_FOUND, parseLeaseId } from "./leases.ts";
import {
  fail,
  nil,
  notFloat,
  notInteger,
  ok,
  okOrNil,
  syntaxError,
  wrongArity,
  wrongType,
} from "./reply.ts";
import type { ApplyContext, Argv, ResultSink, Value } from "./types.ts";

const OK = "OK";

/** Most bytes a string value may grow to through APPEND or SETRANGE (Redis: proto-max-bulk-len). */
export const MAX_STRING_BYTES = 16 * 1024 * 1024;
const MSG_TOO_BIG = "string exceeds maximum allowed size (proto-max-bulk-len)";

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

/**
 * Writes a string value to `key` (creating or overwriting any type), clearing or setting TTL, and
 * attaching it to `lease` (an existing lease) or detaching it (0: a write without LEASE).
 */
function store(
  db: Keyspace,
  k: string,
  e: KeyEntry | undefined,
  value: Uint8Array,
  expireAt: number,
  rev: number,
  lease = 0,
): void {
  if (e === undefined) {
    e = new KeyEntry(Kind.STRING, own(value), rev);
    e.expireAt = expireAt;
    e.lease = lease;
    db.add(k, e);
  } else {
    e.kind = Kind.STRING;
    e.value = own(value);
    restamp(db, k, e, expireAt, rev, lease);
  }
}

/** After an existing key's value was replaced: its revision, expiry and lease as the write sets them. */
function restamp(
  db: Keyspace,
  k: string,
  e: KeyEntry,
  expireAt: number,
  rev: number,
  lease: number,
): void {
  e.bump(rev);
  db.setExpire(k, e, expireAt);
  if (e.lease !== lease) db.setLease(k, e, lease);
}

/**
 * `SET key value` (no options) read straight from a batch's bytes: the key is the `kn` bytes at
 * `ks`, the value the `vn` bytes at `vs` (see `protocol/cbor_peek.ts` commandSpans). What
 * {@link set} does for three arguments, without an argv or a view for a new key.
 */
export function setFromBytes(
  db: Keyspace,
  b: Uint8Array,
  ks: number,
  kn: number,
  vs: number,
  vn: number,
  ctx: ApplyContext,
  out: ResultSink,
): void {
  const k = keyFrom(b, ks, kn);
  storePlain(db, k, db.write(k, ctx.nowMs), b, vs, vn, ctx.index);
  ok(out, OK);
}

/**
 * {@link store} of the `n` bytes of `src` at `from` (no expiry, no lease) into `k`, whose entry
 * `e` may be undefined: a small value is copied into a slab with no view made (`ownAt`).
 */
function storePlain(
  db: Keyspace,
  k: string,
  e: KeyEntry | undefined,
  src: Uint8Array,
  from: number,
  n: number,
  rev: number,
): void {
  if (e === undefined) db.addString(k, src, from, n, rev);
  else if (!isSlabValue(n)) store(db, k, e, src.subarray(from, from + n), 0, rev);
  else {
    const at = ownAt(src, from, n);
    e.setBytes(ownedBuffer(), at, n);
    restamp(db, k, e, 0, rev, 0);
  }
}

function set(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const now = ctx.nowMs;
  const k = bytesToKey(argv[1]);
  if (argv.length === 3) {
    storePlain(db, k, db.write(k, now), argv[2], 0, argv[2].length, ctx.index);
    ok(out, OK);
    return;
  }
  let nx = false;
  let xx = false;
  let get = false;
  let keepTtl = false;
  let hasExpire = false;
  let at = 0;
  let lease = 0;
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
    } else if (lease === 0 && i + 1 < argv.length && eqWord(a, "lease")) {
      lease = parseLeaseId(out, argv[++i]);
      if (lease === 0) return;
      const l = db.leases.map.get(lease);
      if (l === undefined) return fail(out, Code.SYNTAX, MSG_LEASE_NOT_FOUND);
      if (l.keys.size >= MAX_LEASE_KEYS && !l.keys.has(k)) {
        return fail(
          out,
          Code.TOO_LARGE,
          `too many keys on lease ${lease}: at most ${MAX_LEASE_KEYS} (use another lease)`,
        );
      }
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
  store(db, k, e, argv[2], expireAt, ctx.index, lease);
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
  if (a.length + b.length > MAX_STRING_BYTES) {
    fail(out, Code.SYNTAX, MSG_TOO_BIG);
    return;
  }
  const v = new Uint8Array(a.length + b.length);
  v.set(a);
  v.set(b, a.length);
  e.value = v;
  e.bump(ctx.index);
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
  const res = addInt64(cur, delta, out);
  if (res === null) return;
  const bytes = intToBytes(res);
  if (e === undefined) db.add(k, new KeyEntry(Kind.STRING, bytes, ctx.index));
  else {
    e.value = bytes;
    e.bump(ctx.index);
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

function setnx(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const k = bytesToKey(argv[1]);
  const e = db.write(k, ctx.nowMs);
  if (e !== undefined) {
    ok(out, 0);
    return;
  }
  store(db, k, e, argv[2], 0, ctx.index);
  ok(out, 1);
}

/** SETEX key seconds value, PSETEX key ms value. */
function setex(
  db: Keyspace,
  argv: Argv,
  ctx: ApplyContext,
  out: ResultSink,
  unit: number,
  name: string,
): void {
  const at = expireTime(out, argv[2], unit, false, ctx.nowMs, name, false);
  if (at === null) return;
  const k = bytesToKey(argv[1]);
  store(db, k, db.write(k, ctx.nowMs), argv[3], at, ctx.index);
  ok(out, OK);
}

function getset(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const k = bytesToKey(argv[1]);
  const e = db.write(k, ctx.nowMs);
  let old: Value = null;
  if (e !== undefined) {
    if (e.kind !== Kind.STRING) {
      wrongType(out);
      return;
    }
    old = e.value as Uint8Array;
  }
  store(db, k, e, argv[2], 0, ctx.index);
  okOrNil(out, old);
}

function getdel(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const k = bytesToKey(argv[1]);
  const e = db.write(k, ctx.nowMs);
  if (e === undefined) {
    nil(out);
    return;
  }
  if (e.kind !== Kind.STRING) {
    wrongType(out);
    return;
  }
  db.remove(k, e);
  ok(out, e.value as Uint8Array);
}

/** GETEX key [EX s | PX ms | EXAT ts | PXAT ms-ts | PERSIST]. */
function getex(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const now = ctx.nowMs;
  let persist = false;
  let exp = 0; // index of the EX/PX/EXAT/PXAT option, 0 = none
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    if (eqWord(a, "persist") && !persist && exp === 0) persist = true;
    else if (
      !persist && exp === 0 && i + 1 < argv.length &&
      (eqWord(a, "ex") || eqWord(a, "px") || eqWord(a, "exat") || eqWord(a, "pxat"))
    ) {
      exp = i++;
    } else {
      syntaxError(out);
      return;
    }
  }
  const k = bytesToKey(argv[1]);
  const e = db.write(k, now);
  if (e === undefined) {
    nil(out);
    return;
  }
  if (e.kind !== Kind.STRING) {
    wrongType(out);
    return;
  }
  // The time is validated after the key is found, as in Redis.
  let at = persist ? 0 : -1; // -1 = leave the TTL alone, 0 = PERSIST
  if (exp !== 0) {
    const a = argv[exp];
    const unit = a[0] === 101 || a[0] === 69 ? 1000 : 1; // 'e' / 'E'
    const t = expireTime(out, argv[exp + 1], unit, a.length === 4, now, "getex", false);
    if (t === null) return;
    at = t;
  }
  const v = e.value as Uint8Array;
  if (at > 0 && at <= now) db.remove(k, e);
  else if (at !== -1 && at !== e.expireAt) {
    db.setExpire(k, e, at);
    e.bump(ctx.index);
  }
  ok(out, v);
}

function msetnx(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  if ((argv.length & 1) === 0) {
    wrongArity(out, "msetnx");
    return;
  }
  for (let i = 1; i < argv.length; i += 2) {
    if (db.write(bytesToKey(argv[i]), ctx.nowMs) !== undefined) {
      ok(out, 0);
      return;
    }
  }
  for (let i = 1; i < argv.length; i += 2) {
    const k = bytesToKey(argv[i]);
    store(db, k, db.write(k, ctx.nowMs), argv[i + 1], 0, ctx.index);
  }
  ok(out, 1);
}

function incrbyfloat(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const k = bytesToKey(argv[1]);
  const e = db.write(k, ctx.nowMs);
  let cur = 0;
  if (e !== undefined) {
    if (e.kind !== Kind.STRING) {
      wrongType(out);
      return;
    }
    const c = parseFloatArg(e.value as Uint8Array);
    if (c === null) {
      notFloat(out);
      return;
    }
    cur = c;
  }
  const d = parseFloatArg(argv[2]);
  if (d === null) {
    notFloat(out);
    return;
  }
  const bytes = addFloat(cur, d, out);
  if (bytes === null) return;
  if (e === undefined) db.add(k, new KeyEntry(Kind.STRING, bytes, ctx.index));
  else {
    e.value = bytes;
    e.bump(ctx.index);
  }
  ok(out, bytes);
}

function getrange(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  let start = parseIntArg(argv[2]);
  let end = parseIntArg(argv[3]);
  if (start === null || end === null) {
    notInteger(out);
    return;
  }
  const e = db.read(bytesToKey(argv[1]), ctx.nowMs);
  if (e === undefined) {
    ok(out, EMPTY);
    return;
  }
  if (e.kind !== Kind.STRING) {
    wrongType(out);
    return;
  }
  const v = e.value as Uint8Array;
  const len = v.length;
  if (start < 0 && end < 0 && start > end) {
    ok(out, EMPTY);
    return;
  }
  if (start < 0) start = len + start;
  if (end < 0) end = len + end;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= len) end = len - 1;
  if (start > end || len === 0) ok(out, EMPTY);
  else ok(out, v.subarray(start, end + 1));
}

const EMPTY = new Uint8Array(0);

function setrange(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const offset = parseIntArg(argv[2]);
  if (offset === null) {
    notInteger(out);
    return;
  }
  if (offset < 0) {
    fail(out, Code.SYNTAX, "offset is out of range");
    return;
  }
  const k = bytesToKey(argv[1]);
  const e = db.write(k, ctx.nowMs);
  const part = argv[3];
  if (e !== undefined && e.kind !== Kind.STRING) {
    wrongType(out);
    return;
  }
  const cur = e === undefined ? EMPTY : e.value as Uint8Array;
  if (part.length === 0) {
    ok(out, cur.length); // nothing to write: an absent key stays absent
    return;
  }
  if (offset + part.length > MAX_STRING_BYTES) {
    fail(out, Code.SYNTAX, MSG_TOO_BIG);
    return;
  }
  const len = Math.max(cur.length, offset + part.length);
  // Always a fresh copy: the old bytes may be held by a reply (or a snapshot in progress).
  const v = len > 128 ? new Uint8Array(len) : alloc(len);
  v.set(cur);
  v.set(part, offset);
  if (e === undefined) db.add(k, new KeyEntry(Kind.STRING, v, ctx.index));
  else {
    e.value = v;
    e.bump(ctx.index);
  }
  ok(out, len);
}

/** Most cells of LCS's table ((len a + 1) × (len b + 1) 32-bit counters, i.e. 64 MiB). */
export const MAX_LCS_CELLS = 16 * 1024 * 1024;

/** LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN] (Redis 7's algorithm and replies). */
function lcs(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  let getLen = false, getIdx = false, withMatchLen = false;
  let minMatchLen = 0;
  for (let i = 3; i < argv.length; i++) {
    const a = argv[i];
    if (eqWord(a, "idx")) getIdx = true;
    else if (eqWord(a, "len")) getLen = true;
    else if (eqWord(a, "withmatchlen")) withMatchLen = true;
    else if (eqWord(a, "minmatchlen") && i + 1 < argv.length) {
      const m = parseIntArg(argv[++i]);
      if (m === null) {
        notInteger(out);
        return;
      }
      minMatchLen = m < 0 ? 0 : m;
    } else {
      syntaxError(out);
      return;
    }
  }
  const ea = db.read(bytesToKey(argv[1]), ctx.nowMs);
  const eb = db.read(bytesToKey(argv[2]), ctx.nowMs);
  if (
    (ea !== undefined && ea.kind !== Kind.STRING) || (eb !== undefined && eb.kind !== Kind.STRING)
  ) {
    fail(out, Code.WRONG_TYPE, "The specified keys must contain string values");
    return;
  }
  if (getIdx && getLen) {
    syntaxError(out, "If you want both the length and indexes, please just use IDX.");
    return;
  }
  const a = ea === undefined ? EMPTY : ea.value as Uint8Array;
  const b = eb === undefined ? EMPTY : eb.value as Uint8Array;
  const alen = a.length;
  const blen = b.length;
  if ((alen + 1) * (blen + 1) > MAX_LCS_CELLS) {
    fail(
      out,
      Code.TOO_LARGE,
      `LCS of strings this long needs more than ${MAX_LCS_CELLS} table cells ((len1+1)*(len2+1))`,
    );
    return;
  }
  const w = blen + 1;
  const dp = new Uint32Array((alen + 1) * w);
  for (let i = 1; i <= alen; i++) {
    const ai = a[i - 1];
    for (let j = 1; j <= blen; j++) {
      if (ai === b[j - 1]) dp[i * w + j] = dp[(i - 1) * w + j - 1] + 1;
      else {
        const l1 = dp[(i - 1) * w + j];
        const l2 = dp[i * w + j - 1];
        dp[i * w + j] = l1 > l2 ? l1 : l2;
      }
    }
  }
  let idx = dp[alen * w + blen];
  const total = idx;
  if (getLen) {
    ok(out, total);
    return;
  }
  const result = getIdx ? EMPTY : new Uint8Array(total);
  const matches: Value[] = [];
  let i = alen, j = blen;
  let aStart = alen, aEnd = 0, bStart = 0, bEnd = 0;
  while (i > 0 && j > 0) {
    let emit = false;
    if (a[i - 1] === b[j - 1]) {
      if (!getIdx) result[idx - 1] = a[i - 1];
      if (aStart === alen) {
        aStart = aEnd = i - 1;
        bStart = bEnd = j - 1;
      } else if (aStart === i && bStart === j) {
        aStart--;
        bStart--;
      } else emit = true;
      if (aStart === 0 || bStart === 0) emit = true;
      idx--;
      i--;
      j--;
    } else {
      if (dp[(i - 1) * w + j] > dp[i * w + j - 1]) i--;
      else j--;
      if (aStart !== alen) emit = true;
    }
    if (emit) {
      const len = aEnd - aStart + 1;
      if (getIdx && (minMatchLen === 0 || len >= minMatchLen)) {
        const m: Value[] = [[aStart, aEnd], [bStart, bEnd]];
        if (withMatchLen) m.push(len);
        matches.push(m);
      }
      aStart = alen;
    }
  }
  if (getIdx) ok(out, ["matches", matches, "len", total]);
  else ok(out, result);
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
  { name: "setnx", arity: 3, write: true, run: setnx },
  { name: "setex", arity: 4, write: true, run: (db, a, c, o) => setex(db, a, c, o, 1000, "setex") },
  { name: "psetex", arity: 4, write: true, run: (db, a, c, o) => setex(db, a, c, o, 1, "psetex") },
  { name: "getset", arity: 3, write: true, run: getset },
  { name: "getdel", arity: 2, write: true, run: getdel },
  { name: "getex", arity: -2, write: true, run: getex },
  { name: "msetnx", arity: -3, write: true, run: msetnx },
  { name: "incrbyfloat", arity: 3, write: true, run: incrbyfloat },
  { name: "getrange", arity: 4, write: false, run: getrange },
  { name: "substr", arity: 4, write: false, run: getrange },
  { name: "setrange", arity: 4, write: true, run: setrange },
  { name: "lcs", arity: -3, write: false, run: lcs },
];
