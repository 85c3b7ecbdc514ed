/**
 * CHECK: the condition half of an atomic compare-and-set batch (etcd Txn compares, Deno KV
 * `atomic().check()`).
 *
 * `CHECK key MODREV n | VERSION n | VALUE v | ABSENT | EXISTS [key ... ]` (a read) answers OK when
 * every check holds, else ABORTED with a message naming the first failing check, e.g.
 * `check 2 failed: key 'x' mod revision is 7, not 5`. `MODREV 0` and `VERSION 0` mean "absent"
 * (etcd's convention); VALUE compares a string key's bytes (absent or another type fails).
 * As the first command of a batch it is a guard, like IFREV (core/node/applier.ts, `isGuard` in
 * `txn.ts`): the rest of the batch — one log entry — applies only if CHECK answered OK, on every
 * replica alike; otherwise every other command answers ABORTED and nothing changes. Every guard a
 * batch starts with guards it (WATCH/EXEC's IFREV, then a queued CHECK); after any other command
 * it is a plain read. Checks are evaluated at apply time, in the leader's order.
 * @module
 */
import { Code } from "../../protocol/codes.ts";
import { bytesToKey, eqWord, parseIntArg, printable } from "./bytes.ts";
import type { CommandSpec } from "./command_table.ts";
import { Kind } from "./keyspace.ts";
import { fail, ok, syntaxError } from "./reply.ts";
import type { Argv, ResultSink } from "./types.ts";

const TYPE_NAMES = ["string", "list", "set", "hash", "zset"];

const enum Op {
  MODREV,
  VERSION,
  VALUE,
  ABSENT,
  EXISTS,
}

/** One parsed check: the key's argv position, the op, and its operand's position (or -1). */
interface Check {
  key: number;
  op: Op;
  arg: number;
  n: number;
}

function parseChecks(argv: Argv, out: ResultSink): Check[] | null {
  const checks: Check[] = [];
  let i = 1;
  while (i < argv.length) {
    if (i + 1 >= argv.length) {
      syntaxError(
        out,
        "CHECK: key without a condition (MODREV n, VERSION n, VALUE v, ABSENT, EXISTS)",
      );
      return null;
    }
    const w = argv[i + 1];
    let op: Op;
    if (eqWord(w, "modrev")) op = Op.MODREV;
    else if (eqWord(w, "version")) op = Op.VERSION;
    else if (eqWord(w, "value")) op = Op.VALUE;
    else if (eqWord(w, "absent")) op = Op.ABSENT;
    else if (eqWord(w, "exists")) op = Op.EXISTS;
    else {
      syntaxError(
        out,
        `CHECK: unknown condition '${printable(w)}' (MODREV n, VERSION n, VALUE v, ABSENT, EXISTS)`,
      );
      return null;
    }
    const c: Check = { key: i, op, arg: -1, n: 0 };
    i += 2;
    if (op === Op.MODREV || op === Op.VERSION || op === Op.VALUE) {
      if (i >= argv.length) {
        syntaxError(out, `CHECK: ${printable(w)} needs an operand`);
        return null;
      }
      c.arg = i++;
      if (op !== Op.VALUE) {
        const n = parseIntArg(argv[c.arg]);
        if (n === null || n < 0) {
          syntaxError(out, `CHECK: ${printable(w)} must be an integer >= 0`);
          return null;
        }
        c.n = n;
      }
    }
    checks.push(c);
  }
  return checks;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** CHECK. */
export const CHECK_COMMANDS: readonly CommandSpec[] = [
  {
    name: "check",
    arity: -3,
    write: false,
    run: (db, argv, ctx, out) => {
      const checks = parseChecks(argv, out);
      if (checks === null) return;
      for (let j = 0; j < checks.length; j++) {
        const c = checks[j];
        const e = db.read(bytesToKey(argv[c.key]), ctx.nowMs);
        const name = `key '${printable(argv[c.key])}'`;
        let why: string | null = null;
        switch (c.op) {
          case Op.MODREV: {
            const have = e?.modRev ?? 0;
            if (have !== c.n) {
              why = e === undefined
                ? `${name} is absent (mod revision 0), not mod revision ${c.n}`
                : `${name} mod revision is ${have}, not ${c.n}`;
            }
            break;
          }
          case Op.VERSION: {
            const have = e?.version ?? 0;
            if (have !== c.n) {
              why = e === undefined
                ? `${name} is absent (version 0), not version ${c.n}`
                : `${name} version is ${have}, not ${c.n}`;
            }
            break;
          }
          case Op.VALUE:
            if (e === undefined) why = `${name} is absent, not the given value`;
            else if (e.kind !== Kind.STRING) {
              why = `${name} holds a ${TYPE_NAMES[e.kind]}, not a string value`;
            } else if (!sameBytes(e.value as Uint8Array, argv[c.arg])) {
              why = `${name} value differs`;
            }
            break;
          case Op.ABSENT:
            if (e !== undefined) why = `${name} exists (mod revision ${e.modRev})`;
            break;
          case Op.EXISTS:
            if (e === undefined) why = `${name} is absent`;
            break;
        }
        if (why !== null) return fail(out, Code.ABORTED, `check ${j + 1} failed: ${why}`);
      }
      ok(out, "OK");
    },
  },
];
