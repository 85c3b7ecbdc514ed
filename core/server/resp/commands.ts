/**
 * What the RESP front-end knows about commands: which ones it answers itself (connection and
 * server commands: HELLO, AUTH, CLIENT, INFO, ...), which ones go down the write path to the state
 * machine (looked up in the state machine's own command table, so a command added there is
 * served here with no change), and how each one's native value is shaped as a RESP reply. No
 * command logic lives here: only reply shapes and COMMAND's metadata.
 * @module
 */
import { type CommandSpec, CommandTable } from "../../state/command_table.ts";
import { STATE_COMMANDS, STATE_SPECS } from "../../state/state_machine.ts";
import { Shape } from "./writer.ts";

/** How the front-end treats a command. */
export const enum Route {
  /** Down the write path (batched). */
  STATE = 0,
  /** Answered by the front-end. */
  LOCAL = 1,
  /** A node server command (GET_LEADER, ADD_NODE, ...): ServerBackend.serverCommand. */
  SERVER = 2,
  /** Known to Redis but not served (blocking, pub/sub, transactions for now): an error. */
  REFUSED = 3,
}

/** Shape is decided by the arguments: WITHSCORES / INCR / a count. */
export const enum ArgShape {
  NONE = 0,
  WITHSCORES = 1,
  ZADD_INCR = 2,
  POP_COUNT = 3,
  /** LPOP/RPOP: with a count the reply is an array (and a missing key a null array). */
  LIST_POP_COUNT = 4,
  /** ZRANK/ZREVRANK: WITHSCORE makes the reply [rank, score]. */
  WITHSCORE = 5,
}

/** One command as the front-end sees it. */
export interface RespCommand extends CommandSpec {
  readonly route: Route;
  readonly shape: Shape;
  readonly argShape: ArgShape;
  /** COMMAND's key positions. */
  readonly firstKey: number;
  readonly lastKey: number;
  readonly step: number;
}

const noop = () => {};

/** Reply shapes of state commands whose native value is not shaped by default. */
const SHAPES: Record<string, Shape> = {
  lmpop: Shape.NIL_ARRAY,
  zscore: Shape.DOUBLE,
  zincrby: Shape.DOUBLE,
  incrbyfloat: Shape.BULK,
  hincrbyfloat: Shape.BULK,
  incr: Shape.INT,
  decr: Shape.INT,
  incrby: Shape.INT,
  decrby: Shape.INT,
  hincrby: Shape.INT,
  hgetall: Shape.MAP,
  smembers: Shape.SET,
  sinter: Shape.SET,
  sunion: Shape.SET,
  sdiff: Shape.SET,
  zmscore: Shape.DOUBLES,
  object: Shape.BULK,
  lcs: Shape.BULK,
  randomkey: Shape.BULK,
};

const ARG_SHAPES: Record<string, ArgShape> = {
  lpop: ArgShape.LIST_POP_COUNT,
  zrank: ArgShape.WITHSCORE,
  zrevrank: ArgShape.WITHSCORE,
  rpop: ArgShape.LIST_POP_COUNT,
  zrange: ArgShape.WITHSCORES,
  zrangebyscore: ArgShape.WITHSCORES,
  zrevrange: ArgShape.WITHSCORES,
  zrevrangebyscore: ArgShape.WITHSCORES,
  zunion: ArgShape.WITHSCORES,
  zinter: ArgShape.WITHSCORES,
  zdiff: ArgShape.WITHSCORES,
  zrandmember: ArgShape.WITHSCORES,
  zadd: ArgShape.ZADD_INCR,
  zpopmin: ArgShape.POP_COUNT,
  zpopmax: ArgShape.POP_COUNT,
};

/** Commands with no key. */
const KEYLESS = new Set([
  "ping",
  "echo",
  "dbsize",
  "flushdb",
  "flushall",
  "randomkey",
  "keys",
  "scan",
  "lease",
]);
/** Commands whose every argument is a key. */
const ALL_KEYS = new Set([
  "del",
  "exists",
  "mget",
  "unlink",
  "touch",
  "sinter",
  "sunion",
  "sdiff",
  "sintercard",
]);

/** Connection and server commands the front-end answers (name → arity). */
export const LOCAL_ARITY: Record<string, number> = {
  ping: -1,
  echo: 2,
  quit: -1,
  reset: 1,
  select: 2,
  hello: -1,
  auth: -2,
  client: -2,
  command: -1,
  config: -2,
  info: -1,
  time: 1,
  lastsave: 1,
};

/** Node server commands (native protocol's admin/introspection) reachable over RESP. */
const SERVER_NAMES = ["get_leader", "members", "add_node", "remove_node", "transfer_leader"];

/** Transactions: not served yet (issue 10 item 5). */
export const TRANSACTION_NAMES = ["multi", "exec", "discard", "watch", "unwatch"];

/** Blocking and pub/sub commands: refused with `ERR unknown command` (never left hanging). */
export const UNSERVED_NAMES = [
  "blpop",
  "brpop",
  "brpoplpush",
  "blmove",
  "blmpop",
  "bzpopmin",
  "bzpopmax",
  "bzmpop",
  "subscribe",
  "unsubscribe",
  "psubscribe",
  "punsubscribe",
  "ssubscribe",
  "sunsubscribe",
  "publish",
  "spublish",
  "pubsub",
  "monitor",
  "sync",
  "psync",
  "wait",
  "waitaof",
  "xread",
  "xreadgroup",
];

/**
 * Arity and write flag of the state commands, for COMMAND. (The state machine exports only the
 * names; these are the same family lists it registers.)
 */

function keyPositions(name: string, arity: number): [number, number, number] {
  if (KEYLESS.has(name) || arity === 1) return [0, 0, 0];
  if (name === "mset" || name === "msetnx") return [1, -1, 2];
  if (ALL_KEYS.has(name)) return [1, -1, 1];
  return [1, 1, 1];
}

function entry(
  name: string,
  arity: number,
  write: boolean,
  route: Route,
): RespCommand {
  const [firstKey, lastKey, step] = route === Route.STATE ? keyPositions(name, arity) : [0, 0, 0];
  return {
    name,
    arity,
    write,
    run: noop,
    route,
    shape: SHAPES[name] ?? Shape.DEFAULT,
    argShape: ARG_SHAPES[name] ?? ArgShape.NONE,
    firstKey,
    lastKey,
    step,
  };
}

function build(): { table: CommandTable; all: RespCommand[] } {
  const all: RespCommand[] = [];
  const seen = new Set<string>();
  const add = (c: RespCommand) => {
    if (seen.has(c.name)) return;
    seen.add(c.name);
    all.push(c);
  };
  // Front-end commands first: PING and ECHO are answered here (any node, no round trip).
  for (const [name, arity] of Object.entries(LOCAL_ARITY)) {
    add(entry(name, arity, false, Route.LOCAL));
  }
  const specs = new Map(STATE_SPECS.map((s: CommandSpec) => [s.name, s]));
  for (const name of STATE_COMMANDS) {
    const s = specs.get(name);
    add(entry(name, s?.arity ?? -1, s?.write ?? true, Route.STATE));
  }
  for (const name of SERVER_NAMES) add(entry(name, -1, false, Route.SERVER));
  for (const name of [...TRANSACTION_NAMES, ...UNSERVED_NAMES]) {
    add(entry(name, -1, false, Route.REFUSED));
  }
  const table = new CommandTable();
  table.register(all);
  return { table, all };
}

const BUILT = build();

/** Every command the front-end knows (served or refused). */
export const RESP_COMMANDS: readonly RespCommand[] = BUILT.all;

/** Served commands (for COMMAND / COMMAND COUNT): refused ones are not listed. */
export const SERVED_COMMANDS: readonly RespCommand[] = BUILT.all.filter((c) =>
  c.route !== Route.REFUSED
);

/** The command named by `name` (ASCII case-insensitive), or undefined. */
export function lookupCommand(name: Uint8Array): RespCommand | undefined {
  return BUILT.table.lookup(name) as RespCommand | undefined;
}
