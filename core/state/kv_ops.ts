/**
 * Server side of the Deno KV API (client/kv.ts): one all-or-nothing command for an atomic
 * operation, and the KvU64 arithmetic Deno KV's `sum`/`min`/`max` need.
 *
 * `KVATOMIC nchecks [key rev]... [SET key value px | DEL key | SUM key u64 | MIN key u64 |
 * MAX key u64]...` (write): every check (`rev` = the key's mod revision, 0 = absent — Deno KV's
 * `versionstamp: null`) is evaluated first; if one fails the answer is `ABORTED` and nothing
 * changes. Then the mutations are run in order on a private overlay — a SUM after a SET of the
 * same key sees the SET — and only when all of them succeeded is the overlay written to the
 * keyspace, so a SUM on a value that is not a KvU64 fails the whole command (Deno KV's TypeError)
 * with nothing applied. The answer is the entry's revision (its log index): the commit's
 * versionstamp. `px` is an expiry in ms from the entry's time (0: none); `u64` is 8 big-endian
 * bytes. A KvU64 is stored as the 12 bytes `d9 4b 56 48` + 8 big-endian bytes (client/kv_value.ts):
 * SUM wraps modulo 2^64, MIN/MAX keep the smaller/larger, and on an absent key each stores the
 * operand. At most {@link KV_MAX_CHECKS} checks and {@link KV_MAX_MUTATIONS} mutations.
 *
 * `KVSUM key u64`, `KVMIN key u64`, `KVMAX key u64` (write) are the one-mutation forms.
 * @module
 */
import { Code } from "../../protocol/codes.ts";
import { bytesToKey, eqWord, own, parseIntArg } from "./bytes.ts";
import type { CommandSpec } from "./command_table.ts";
import { KeyEntry, type Keyspace, Kind } from "./keyspace.ts";
import { fail, ok, syntaxError } from "./reply.ts";
import type { ApplyContext, Argv, ResultSink } from "./types.ts";

/** Most checks in one KVATOMIC (Deno KV's limit). */
export const KV_MAX_CHECKS = 100;
/** Most mutations in one KVATOMIC (Deno KV's limit). */
export const KV_MAX_MUTATIONS = 1000;

const U64_MASK = (1n << 64n) - 1n;
const U64_HEAD = [0xd9, 0x4b, 0x56, 0x48];

function isU64(b: Uint8Array): boolean {
  return b.length === 12 && b[0] === U64_HEAD[0] && b[1] === U64_HEAD[1] &&
    b[2] === U64_HEAD[2] && b[3] === U64_HEAD[3];
}

function readU64(b: Uint8Array, at: number): bigint {
  let v = 0n;
  for (let i = 0; i < 8; i++) v = (v << 8n) | BigInt(b[at + i]);
  return v;
}

function u64Value(v: bigint): Uint8Array {
  const out = new Uint8Array(12);
  out.set(U64_HEAD);
  for (let i = 11; i >= 4; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** Stands for a key of another type (never a KvU64). */
const NOT_A_STRING = new Uint8Array(0);

/** A key's state after the mutations run so far (null value: deleted). */
interface Pending {
  value: Uint8Array | null;
  expireAt: number;
  /** Written by a SET (a put: detaches the key from its lease, as SET does), not in place. */
  put: boolean;
}

const enum Op {
  SET,
  DEL,
  SUM,
  MIN,
  MAX,
}

const OP_NAMES = ["set", "delete", "sum", "min", "max"];

function opOf(b: Uint8Array): Op | -1 {
  if (eqWord(b, "set")) return Op.SET;
  if (eqWord(b, "del")) return Op.DEL;
  if (eqWord(b, "sum")) return Op.SUM;
  if (eqWord(b, "min")) return Op.MIN;
  if (eqWord(b, "max")) return Op.MAX;
  return -1;
}

/** Runs the mutations `argv[from..]` (all or nothing) and answers the revision. */
function mutate(db: Keyspace, argv: Argv, from: number, ctx: ApplyContext, out: ResultSink): void {
  const now = ctx.nowMs;
  const overlay = new Map<string, Pending>();
  let count = 0;
  // Parse everything before touching anything: a bad mutation anywhere rejects the command.
  for (let i = from; i < argv.length;) {
    const op = opOf(argv[i]);
    const take = op === Op.SET ? 4 : op === Op.DEL ? 2 : 3;
    if (op === -1 || i + take > argv.length) {
      return syntaxError(
        out,
        "KVATOMIC mutation must be SET key value px, DEL key or SUM|MIN|MAX key u64",
      );
    }
    if (++count > KV_MAX_MUTATIONS) {
      return fail(out, Code.TOO_LARGE, `Too many mutations (max ${KV_MAX_MUTATIONS})`);
    }
    const k = bytesToKey(argv[i + 1]);
    if (op === Op.SET) {
      const px = parseIntArg(argv[i + 3]);
      // now + px must stay a safe integer: the snapshot stores expiry times as exact integers.
      if (px === null || px < 0 || !Number.isSafeInteger(now + px)) {
        return syntaxError(
          out,
          `KVATOMIC SET expiry px must be an integer from 0 to ${
            Number.MAX_SAFE_INTEGER - Math.floor(now)
          }`,
        );
      }
      overlay.set(k, { value: argv[i + 2], expireAt: px === 0 ? 0 : now + px, put: true });
    } else if (op === Op.DEL) {
      overlay.set(k, { value: null, expireAt: 0, put: true });
    } else {
      const arg = argv[i + 2];
      if (arg.length !== 8) return syntaxError(out, "KVATOMIC u64 operand must be 8 bytes");
      const operand = readU64(arg, 0);
      const pend = overlay.get(k);
      let cur: Uint8Array | null;
      if (pend !== undefined) cur = pend.value;
      else {
        const e = db.read(k, now);
        cur = e === undefined
          ? null
          : e.kind === Kind.STRING
          ? e.value as Uint8Array
          : NOT_A_STRING;
      }
      let next = operand;
      if (cur !== null) {
        if (!isU64(cur)) {
          return fail(
            out,
            Code.WRONG_TYPE,
            `Failed to perform '${OP_NAMES[op]}' mutation on a non-U64 value in the database`,
          );
        }
        const have = readU64(cur, 4);
        next = op === Op.SUM
          ? (have + operand) & U64_MASK
          : op === Op.MIN
          ? (have < operand ? have : operand)
          : (have > operand ? have : operand);
      }
      overlay.set(k, { value: u64Value(next), expireAt: 0, put: pend?.put ?? false });
    }
    i += take;
  }
  for (const [k, p] of overlay) {
    const e = db.write(k, now);
    if (p.value === null) {
      if (e !== undefined) db.remove(k, e);
    } else if (e === undefined) {
      const n = new KeyEntry(Kind.STRING, own(p.value), ctx.index);
      n.expireAt = p.expireAt;
      db.add(k, n);
    } else {
      e.kind = Kind.STRING;
      e.value = own(p.value);
      e.bump(ctx.index);
      db.setExpire(k, e, p.expireAt);
      if (p.put && e.lease !== 0) db.setLease(k, e, 0); // a put detaches, as SET does
    }
  }
  ok(out, ctx.index);
}

function kvatomic(db: Keyspace, argv: Argv, ctx: ApplyContext, out: ResultSink): void {
  const n = parseIntArg(argv[1]);
  if (n === null || n < 0 || 2 + 2 * n > argv.length) {
    return syntaxError(out, "KVATOMIC nchecks must be an integer >= 0 followed by key rev pairs");
  }
  if (n > KV_MAX_CHECKS) return fail(out, Code.TOO_LARGE, `Too many checks (max ${KV_MAX_CHECKS})`);
  const revs: number[] = new Array(n);
  for (let c = 0; c < n; c++) {
    const r = parseIntArg(argv[3 + 2 * c]);
    if (r === null || r < 0) {
      return syntaxError(out, "KVATOMIC check revision must be an integer >= 0");
    }
    revs[c] = r;
  }
  for (let c = 0; c < n; c++) {
    const have = db.read(bytesToKey(argv[2 + 2 * c]), ctx.nowMs)?.modRev ?? 0;
    if (have !== revs[c]) return fail(out, Code.ABORTED, `check ${c} failed: the key changed`);
  }
  mutate(db, argv, 2 + 2 * n, ctx, out);
}

/** KVSUM / KVMIN / KVMAX key u64: one mutation, as KVATOMIC 0 SUM|MIN|MAX key u64. */
function single(name: string): CommandSpec {
  return {
    name: `kv${name}`,
    arity: 3,
    write: true,
    run: (db, argv, ctx, out) => {
      const op = new TextEncoder().encode(name);
      mutate(db, [argv[0], op, argv[1], argv[2]], 1, ctx, out);
    },
  };
}

/** KVATOMIC, KVSUM, KVMIN, KVMAX. */
export const KV_COMMANDS: readonly CommandSpec[] = [
  { name: "kvatomic", arity: -2, write: true, run: kvatomic },
  single("sum"),
  single("min"),
  single("max"),
];
