/**
 * Server-level commands the state machine answers (PING, ECHO, DBSIZE), and the names of the
 * commands the node answers itself (cluster management and INFO): for those the state machine
 * returns UNKNOWN_COMMAND, so the node must intercept them before (or after) calling `apply`.
 * @module
 */
import { eqWord, own } from "./bytes.ts";
import type { CommandSpec } from "./command_table.ts";
import { ok, wrongArity } from "./reply.ts";

/** Upper-case names of the commands handled by the node, not by the state machine. */
export const SERVER_COMMANDS: ReadonlySet<string> = new Set([
  "INFO",
  "GET_LEADER",
  "MEMBERS",
  "ADD_NODE",
  "REMOVE_NODE",
  "TRANSFER_LEADER",
  "SNAPSHOT_SAVE",
  "SNAPSHOT_CHUNK",
]);

const SERVER_WORDS = [...SERVER_COMMANDS].map((n) => n.toLowerCase());

/** True if `name` (any case) is one of {@link SERVER_COMMANDS}. Allocation-free. */
export function isServerCommand(name: Uint8Array): boolean {
  if (name.length < 4 || name.length > 15) return false;
  for (const w of SERVER_WORDS) if (eqWord(name, w)) return true;
  return false;
}

/** PING, ECHO, DBSIZE. */
export const SERVER_STATE_COMMANDS: readonly CommandSpec[] = [
  {
    name: "ping",
    arity: -1,
    write: false,
    run: (_db, argv, _ctx, out) => {
      if (argv.length > 2) {
        wrongArity(out, "ping");
      } else ok(out, argv.length === 2 ? own(argv[1]) : "PONG");
    },
  },
  { name: "echo", arity: 2, write: false, run: (_db, argv, _ctx, out) => ok(out, own(argv[1])) },
  { name: "dbsize", arity: 1, write: false, run: (db, _argv, _ctx, out) => ok(out, db.store.size) },
];
