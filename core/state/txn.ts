/**
 * Optimistic transactions (Redis WATCH / MULTI / EXEC; the compare half of a compare-and-set):
 * - `WATCHREV key [key ...]` (read) answers each key's revision — the log index of the last write
 *   that changed it (`modRev`), 0 when the key does not exist (or has expired);
 * - `IFREV key rev [key rev ...]` (read) answers OK when every key still has that revision, else
 *   `ABORTED`. As the first command of a batch it is a guard: the node's applier runs the rest of
 *   the batch only if it answered OK (core/node/applier.ts), on every replica alike, so the whole
 *   batch — one log entry — applies or none of it does.
 * - `GETREV key` answers a string key's value with its create and mod revisions and its version
 *   (the number of revisions that changed it since creation); `REVISION` the
 *   store's revision (the last applied index where it is asked: through ReadIndex, linearizable).
 * Revisions are log indexes, the same on every replica and carried in snapshots.
 * @module
 */
import { Code } from "../../protocol/codes.ts";
import { bytesToKey, parseIntArg } from "./bytes.ts";
import type { CommandSpec } from "./command_table.ts";
import { Kind } from "./keyspace.ts";
import { fail, nil, ok, syntaxError, wrongType } from "./reply.ts";

/** WATCHREV, IFREV, GETREV and REVISION. */
export const TXN_COMMANDS: readonly CommandSpec[] = [
  {
    // GETREV key: [value, create revision, mod revision, version] of a string key; nil if absent.
    name: "getrev",
    arity: 2,
    write: false,
    run: (db, argv, ctx, out) => {
      const e = db.read(bytesToKey(argv[1]), ctx.nowMs);
      if (e === undefined) return nil(out);
      if (e.kind !== Kind.STRING) return wrongType(out);
      ok(out, [e.value as Uint8Array, e.createRev, e.modRev, e.version]);
    },
  },
  {
    // REVISION: the store's revision — the index of the last entry applied where it is asked.
    name: "revision",
    arity: 1,
    write: false,
    run: (_db, _argv, ctx, out) => ok(out, ctx.index),
  },
  {
    name: "watchrev",
    arity: -2,
    write: false,
    run: (db, argv, ctx, out) => {
      const revs: number[] = new Array(argv.length - 1);
      for (let i = 1; i < argv.length; i++) {
        revs[i - 1] = db.read(bytesToKey(argv[i]), ctx.nowMs)?.modRev ?? 0;
      }
      ok(out, revs);
    },
  },
  {
    name: "ifrev",
    arity: -3,
    write: false,
    run: (db, argv, ctx, out) => {
      if (argv.length % 2 !== 1) return syntaxError(out, "IFREV takes key revision pairs");
      for (let i = 1; i < argv.length; i += 2) {
        const want = parseIntArg(argv[i + 1]);
        if (want === null || want < 0) {
          return syntaxError(out, "IFREV revision must be an integer >= 0");
        }
        const have = db.read(bytesToKey(argv[i]), ctx.nowMs)?.modRev ?? 0;
        if (have !== want) {
          return fail(out, Code.ABORTED, "transaction aborted: a watched key changed");
        }
      }
      ok(out, "OK");
    },
  },
];

/**
 * True if `name` is IFREV or CHECK (any case; `check.ts`): a batch starting with one is guarded.
 * Allocation-free.
 */
export function isGuard(name: Uint8Array): boolean {
  if (name.length !== 5) return false;
  return isWord(name, "ifrev") || isWord(name, "check");
}

function isWord(name: Uint8Array, w: string): boolean {
  for (let i = 0; i < 5; i++) if ((name[i] | 0x20) !== w.charCodeAt(i)) return false;
  return true;
}
