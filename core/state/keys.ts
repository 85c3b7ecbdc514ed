/**
 * Key commands that work on every type: DEL, UNLINK, EXISTS, TYPE, EXPIRE/PEXPIRE/EXPIREAT/
 * PEXPIREAT (with Redis 7's NX/XX/GT/LT), TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST, KEYS, SCAN
 * (MATCH/COUNT/TYPE; see `scan.ts` for the cursor), RENAME, RENAMENX, COPY, TOUCH, RANDOMKEY
 * (deterministic: `random.ts`), OBJECT, FLUSHDB, FLUSHALL.
 * @module
 */
import { Code } from "../../protocol/codes.ts";
import {
  asciiBytes,
  bytesToKey,
  eqWord,
  keyToBytes,
  NOT_AN_INTEGER,
  parseInt64,
  parseIntArg,
  printable,
} from "./bytes.ts";
import type { CommandSpec } from "./command_table.ts";
import type { Deque } from "./deque.ts";
import { KeyEntry, Kind } from "./keyspace.ts";
import type { EntryValue, Keyspace, KindTag } from "./keyspace.ts";
import { fail, MAX_REPLY_BYTES, nil, notInteger, ok, syntaxError, tooLarge } from "./reply.ts";
import { prefixEnd } from "./range.ts";
import type { KeyTable } from "./key_table.ts";
import {
  globMatch,
  globPrefix,
  parseCursor,
  SCAN_MAX_BYTES,
  scanSelect,
  type ScanStep,
} from "./scan.ts";
import { SortedSet } from "./sorted_set.ts";
import { expireTime } from "./strings.ts";
import type { ApplyContext, Argv, ResultSink, Value } from "./types.ts";

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
    e.bump(ctx.index);
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
  e.bump(ctx.index);
  ok(out, 1);
}

/**
 * KEYS pattern: every live key matching the glob, in byte order (reply bounded by
 * MAX_REPLY_BYTES). Only the keys starting with the pattern's literal prefix are examined (the
 * ordered index's range for it).
 */
function keys(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const pat = bytesToKey(argv[1]);
  const all = pat === "*";
  const res: Value[] = [];
  let bytes = 0;
  const now = ctx.nowMs;
  const store = db.store;
  const lit = globPrefix(pat);
  db.index.forEach(lit, prefixEnd(lit), false, (k, pos) => {
    const e = store.entryAt(pos)!;
    if (e.expireAt !== 0 && e.expireAt <= now) return true;
    if (!all && !globMatch(pat, k)) return true;
    bytes += 8 + k.length;
    if (bytes > MAX_REPLY_BYTES) return false;
    res.push(keyToBytes(k));
    return true;
  });
  if (bytes > MAX_REPLY_BYTES) return tooLarge(out);
  ok(out, res);
}

/** Parsed SCAN-family options: MATCH, COUNT and (SCAN only) TYPE. */
interface ScanOpts {
  cursor: number;
  match: string | null;
  count: number;
  type: number;
}

/** Parses `cursor [MATCH p] [COUNT n] [TYPE t]` from `argv[at]`; writes the error on failure. */
export function scanOpts(
  argv: Argv,
  at: number,
  out: ResultSink,
  allowType: boolean,
): ScanOpts | null {
  const cursor = parseCursor(argv[at]);
  if (cursor === null) {
    fail(out, Code.SYNTAX, "invalid cursor");
    return null;
  }
  const o: ScanOpts = { cursor, match: null, count: 10, type: -1 };
  for (let i = at + 1; i < argv.length; i++) {
    const a = argv[i];
    if (i + 1 >= argv.length) {
      syntaxError(out);
      return null;
    }
    if (eqWord(a, "count")) {
      const c = parseIntArg(argv[++i]);
      if (c === null) {
        notInteger(out);
        return null;
      }
      if (c < 1) {
        syntaxError(out);
        return null;
      }
      o.count = c;
    } else if (eqWord(a, "match")) {
      const p = bytesToKey(argv[++i]);
      o.match = p === "*" ? null : p;
    } else if (allowType && eqWord(a, "type")) {
      const t = TYPE_NAMES.indexOf(bytesToKey(argv[++i]).toLowerCase());
      o.type = t < 0 ? 99 : t; // an unknown type matches nothing (Redis 7.0)
    } else {
      syntaxError(out);
      return null;
    }
  }
  return o;
}

/** Formats a cursor as Redis does (a decimal bulk string). */
export function cursorBytes(c: number): Uint8Array {
  return asciiBytes(String(c));
}

/**
 * One SCAN step over the key table's positions (the cursor is a position: keys never move, and
 * every replica that applied the same log, or restored the same snapshot, has them at the same
 * positions — see `key_table.ts`). Takes up to `count` keys, skipping free stretches by the
 * table's live counts, so a step costs O(count + pages) however large (or however emptied by
 * deletes) the keyspace; every key present for the whole iteration is returned exactly once.
 */
function scanPositions(store: KeyTable, cursor: number, count: number): ScanStep {
  const items: string[] = [];
  const span = store.span;
  let p = cursor;
  let bytes = 0;
  for (; p < span && items.length < count; p++) {
    p = store.nextLive(p); // skips free stretches by the table's counts
    if (p < 0) {
      p = span;
      break;
    }
    const k = store.keyAt(p)!;
    items.push(k);
    bytes += k.length + 8;
    if (bytes > SCAN_MAX_BYTES) {
      p++;
      break;
    }
  }
  return { items, next: p >= span ? 0 : p };
}

function scan(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const o = scanOpts(argv, 1, out, true);
  if (o === null) return;
  const store = db.store;
  // With MATCH, only the keys with the pattern's literal prefix can match: the candidates are
  // that range of the ordered index (every call sees every such key, so the cursor's guarantee
  // holds for the matching keys).
  const lit = o.match === null ? "" : globPrefix(o.match);
  let cands: string[] | null = null;
  if (lit !== "") {
    const ks: string[] = [];
    db.index.forEach(lit, prefixEnd(lit), false, (k) => (ks.push(k), true));
    cands = ks;
  }
  const step = cands === null
    ? scanPositions(store, o.cursor, o.count)
    : scanSelect(() => cands, cands.length, o.cursor, o.count, (k) => k.length + 8);
  const res: Value[] = [];
  const now = ctx.nowMs;
  for (const k of step.items) {
    const e = store.get(k)!;
    if (e.expireAt !== 0 && e.expireAt <= now) continue;
    if (o.type >= 0 && e.kind !== o.type) continue;
    if (o.match !== null && !globMatch(o.match, k)) continue;
    res.push(keyToBytes(k));
  }
  ok(out, [cursorBytes(step.next), res]);
}

/** Deep copy of a value (strings are never mutated in place, so their bytes are shared). */
export function cloneValue(kind: KindTag, v: EntryValue): EntryValue {
  switch (kind) {
    case Kind.STRING:
      return v;
    case Kind.LIST:
      return (v as Deque).clone();
    case Kind.SET:
      return new Set(v as Set<string>);
    case Kind.HASH:
      return new Map(v as Map<string, Uint8Array>);
    default: {
      const z = new SortedSet();
      for (let n = (v as SortedSet).first(); n !== null; n = n.next[0]) z.set(n.member, n.score);
      return z;
    }
  }
}

/** Puts `value` at `key` as a new key (any old value there is replaced). */
export function putNew(
  db: Keyspace,
  key: string,
  kind: KindTag,
  value: EntryValue,
  expireAt: number,
  now: number,
  rev: number,
  lease = 0,
): void {
  const old = db.write(key, now);
  if (old !== undefined) db.remove(key, old);
  const e = new KeyEntry(kind, value, rev);
  e.expireAt = expireAt;
  e.lease = lease;
  db.add(key, e);
}

function rename(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink, nx: boolean) {
  const now = ctx.nowMs;
  const src = bytesToKey(argv[1]);
  const dst = bytesToKey(argv[2]);
  const e = db.write(src, now);
  if (e === undefined) {
    fail(out, Code.SYNTAX, "no such key");
    return;
  }
  if (src === dst) {
    ok(out, nx ? 0 : "OK");
    return;
  }
  if (nx && db.write(dst, now) !== undefined) {
    ok(out, 0);
    return;
  }
  const lease = e.lease; // the new name keeps the lease, as it keeps the TTL
  db.remove(src, e);
  putNew(db, dst, e.kind, e.value, e.expireAt, now, ctx.index, lease);
  ok(out, nx ? 1 : "OK");
}

/** COPY source destination [DB 0] [REPLACE]. */
function copy(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  let replace = false;
  for (let i = 3; i < argv.length; i++) {
    const a = argv[i];
    if (eqWord(a, "replace")) replace = true;
    else if (eqWord(a, "db") && i + 1 < argv.length) {
      const d = parseIntArg(argv[++i]);
      if (d === null) {
        notInteger(out);
        return;
      }
      if (d !== 0) {
        fail(out, Code.SYNTAX, "DB index is out of range");
        return;
      }
    } else {
      syntaxError(out);
      return;
    }
  }
  const now = ctx.nowMs;
  const src = bytesToKey(argv[1]);
  const dst = bytesToKey(argv[2]);
  if (src === dst) {
    fail(out, Code.SYNTAX, "source and destination objects are the same");
    return;
  }
  const e = db.write(src, now);
  if (e === undefined) {
    ok(out, 0);
    return;
  }
  if (!replace && db.write(dst, now) !== undefined) {
    ok(out, 0);
    return;
  }
  putNew(db, dst, e.kind, cloneValue(e.kind, e.value), e.expireAt, now, ctx.index);
  ok(out, 1);
}

/** EXPIRETIME / PEXPIRETIME: the absolute expiry (-1 none, -2 no key). */
function expiretime(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink, ms: boolean) {
  const e = db.read(bytesToKey(argv[1]), ctx.nowMs);
  if (e === undefined) ok(out, -2);
  else if (e.expireAt === 0) ok(out, -1);
  else ok(out, ms ? e.expireAt : Math.floor((e.expireAt + 500) / 1000));
}

function randomkey(db: Keyspace, _argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const store = db.store;
  if (store.size === 0) {
    nil(out);
    return;
  }
  // A random live key (its number in position order: the key table's counts find it in
  // O(pages + 512), however many positions deletes left free), then the first one from there
  // that has not expired, wrapping around (expired keys not yet reclaimed are skipped).
  const start = store.nthLive(db.rng(ctx).below(store.size));
  const now = ctx.nowMs;
  let p = start;
  for (let n = 0; n < store.size; n++) {
    const e = store.entryAt(p)!;
    if (e.expireAt === 0 || e.expireAt > now) {
      ok(out, keyToBytes(store.keyAt(p)!));
      return;
    }
    p = store.nextLive(p + 1);
    if (p < 0) p = store.nextLive(0);
    if (p === start) break;
  }
  nil(out);
}

/** Redis 7.0's encoding names for a value, by its default size thresholds. */
function encodingOf(e: KeyEntry): string {
  switch (e.kind) {
    case Kind.STRING: {
      const v = e.value as Uint8Array;
      if (v.length <= 20 && parseInt64(v) !== NOT_AN_INTEGER) return "int";
      return v.length <= 44 ? "embstr" : "raw";
    }
    case Kind.LIST:
      return "quicklist"; // Redis 7.0 (7.2 says listpack for small lists)
    case Kind.SET: {
      const s = e.value as Set<string>;
      if (s.size > 512) return "hashtable";
      for (const m of s) if (parseInt64(keyToBytes(m)) === NOT_AN_INTEGER) return "hashtable";
      return "intset";
    }
    case Kind.HASH: {
      const h = e.value as Map<string, Uint8Array>;
      if (h.size > 128) return "hashtable";
      for (const [f, v] of h) if (f.length > 64 || v.length > 64) return "hashtable";
      return "listpack";
    }
    default: {
      const z = e.value as SortedSet;
      if (z.size > 128) return "skiplist";
      for (let n = z.first(); n !== null; n = n.next[0]) {
        if (n.member.length > 64) return "skiplist";
      }
      return "listpack";
    }
  }
}

const OBJECT_HELP = [
  "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "ENCODING <key>",
  "    Return the kind of internal representation used in order to store the value",
  "    associated with a <key>.",
  "FREQ <key>",
  "    Return the access frequency index of the <key>. The returned integer is",
  "    proportional to the logarithm of the recent access frequency of the key.",
  "IDLETIME <key>",
  "    Return the idle time of the <key>, that is the approximated number of",
  "    seconds elapsed since the last access to the key.",
  "REFCOUNT <key>",
  "    Return the number of references of the value associated with the specified",
  "    <key>.",
  "HELP",
  "    Print this help.",
];

/**
 * OBJECT ENCODING|FREQ|IDLETIME|REFCOUNT key, OBJECT HELP. Access times are not tracked (a read
 * must not change the replicated state): IDLETIME answers 0, and FREQ answers Redis's error for
 * a server without an LFU policy (TinyKV never evicts).
 */
function object(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const sub = argv[1];
  if (eqWord(sub, "help") && argv.length === 2) {
    ok(out, OBJECT_HELP);
    return;
  }
  const known = eqWord(sub, "encoding") || eqWord(sub, "freq") || eqWord(sub, "idletime") ||
    eqWord(sub, "refcount");
  if (!known) {
    fail(out, Code.SYNTAX, `unknown subcommand '${printable(sub)}'. Try OBJECT HELP.`);
    return;
  }
  if (argv.length !== 3) {
    fail(
      out,
      Code.SYNTAX,
      `wrong number of arguments for 'object|${printable(sub).toLowerCase()}' command`,
    );
    return;
  }
  const e = db.read(bytesToKey(argv[2]), ctx.nowMs);
  if (e === undefined) {
    nil(out);
    return;
  }
  if (eqWord(sub, "encoding")) ok(out, encodingOf(e));
  else if (eqWord(sub, "idletime")) ok(out, 0);
  else if (eqWord(sub, "refcount")) ok(out, 1);
  else {
    fail(
      out,
      Code.SYNTAX,
      "An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
    );
  }
}

function touch(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  let n = 0;
  for (let i = 1; i < argv.length; i++) {
    if (db.read(bytesToKey(argv[i]), ctx.nowMs) !== undefined) n++;
  }
  ok(out, n);
}

/** FLUSHDB / FLUSHALL [ASYNC | SYNC]: removes every key (replicated like any write). */
function flush(db: Keyspace, argv: Argv, _ctx: ApplyContext, out: ResultSink): void {
  if (
    argv.length > 2 || (argv.length === 2 && !eqWord(argv[1], "async") && !eqWord(argv[1], "sync"))
  ) {
    syntaxError(out);
    return;
  }
  db.clear();
  ok(out, "OK");
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
  { name: "unlink", arity: -2, write: true, run: del },
  { name: "keys", arity: 2, write: false, run: keys },
  { name: "scan", arity: -2, write: false, run: scan },
  { name: "rename", arity: 3, write: true, run: (db, a, c, o) => rename(db, a, c, o, false) },
  { name: "renamenx", arity: 3, write: true, run: (db, a, c, o) => rename(db, a, c, o, true) },
  { name: "copy", arity: -3, write: true, run: copy },
  { name: "touch", arity: -2, write: false, run: touch },
  {
    name: "expiretime",
    arity: 2,
    write: false,
    run: (db, a, c, o) => expiretime(db, a, c, o, false),
  },
  {
    name: "pexpiretime",
    arity: 2,
    write: false,
    run: (db, a, c, o) => expiretime(db, a, c, o, true),
  },
  { name: "randomkey", arity: 1, write: false, run: randomkey },
  { name: "object", arity: -2, write: false, run: object },
  { name: "flushdb", arity: -1, write: true, run: flush },
  { name: "flushall", arity: -1, write: true, run: flush },
];
