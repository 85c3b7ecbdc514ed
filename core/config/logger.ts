/**
 * A small leveled logger writing one line per event to stderr, as text or as JSON. Plugins and
 * parts of the node get a child logger that names them (`[wal]` in text, `"component":"wal"` in
 * JSON), and a node's lines carry its id (`node=1`, `"node":1`), so every message is attributable
 * when several nodes log to one place. The level can be set per component:
 * `info,wal=debug,peers=warn` (a default level and `component=level` pairs; a nested component
 * `wal.x` takes `wal`'s level unless it has its own), see {@link parseLogLevels}.
 * @module
 */
import process from "node:process";
import type { LogFormat, LogLevel } from "./config.ts";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** The levels, least severe first. */
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error", "silent"];

/**
 * The node's own log components (besides each plugin, named by the plugin): `node` is the node's
 * lines that name no component (start-up, leader changes, membership, stop).
 */
export const CORE_LOG_COMPONENTS: readonly string[] = ["node", "peers", "server", "resp"];

/** A parsed `--log-level`: the default level and per-component levels. */
export interface LogLevels {
  /** Level of every component not listed (and of `node`, unless listed). */
  readonly default: LogLevel;
  /** Component (`wal`, `wal.x`) → level. */
  readonly components: Readonly<Record<string, LogLevel>>;
}

/** Thrown by {@link parseLogLevels}; the message is one line for the user. */
export class LogLevelError extends Error {}

const COMPONENT = /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/;

function levelOf(word: string, what: string): LogLevel {
  const w = word.trim().toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(w)) {
    throw new LogLevelError(
      `unknown level "${word.trim()}"${what} (allowed: ${LOG_LEVELS.join(", ")})`,
    );
  }
  return w as LogLevel;
}

/**
 * Parses a log-level setting: `info`, or `info,wal=debug,raft=warn`, or `wal=debug` (the default
 * stays `info`). Throws {@link LogLevelError} naming the bad part (unknown level, malformed
 * component, a component or the default given twice). Component names are not checked against
 * the components that exist here (see {@link unknownLogComponents}).
 */
export function parseLogLevels(text: string): LogLevels {
  let def: LogLevel | undefined;
  const components: Record<string, LogLevel> = {};
  const parts = text.split(",").map((p) => p.trim());
  if (parts.every((p) => p === "")) throw new LogLevelError("empty (e.g. info or info,wal=debug)");
  for (const part of parts) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    if (eq < 0) {
      if (def !== undefined) throw new LogLevelError(`default level given twice ("${part}")`);
      def = levelOf(part, "");
      continue;
    }
    const name = part.slice(0, eq).trim().toLowerCase();
    if (!COMPONENT.test(name)) {
      throw new LogLevelError(
        `bad component "${
          part.slice(0, eq).trim()
        }" in "${part}" (expected component=level, e.g. wal=debug)`,
      );
    }
    if (name in components) throw new LogLevelError(`component ${name} given twice`);
    components[name] = levelOf(part.slice(eq + 1), ` for ${name}`);
  }
  return { default: def ?? "info", components };
}

/** The setting as one normalised string (`info,wal=debug`). */
export function formatLogLevels(l: LogLevels): string {
  return [l.default, ...Object.entries(l.components).map(([c, v]) => `${c}=${v}`)].join(",");
}

/**
 * The components named in `levels` that are neither core components nor in `known` (the loaded
 * plugins' names), each with the closest known name when one is likely a typo.
 */
export function unknownLogComponents(
  levels: LogLevels,
  known: readonly string[],
  closest: (name: string, known: readonly string[]) => string | undefined,
): { name: string; suggestion?: string }[] {
  const all = [...CORE_LOG_COMPONENTS, ...known];
  return Object.keys(levels.components)
    .filter((c) => !all.includes(c.split(".")[0]))
    .map((name) => {
      const suggestion = closest(name.split(".")[0], all);
      return suggestion === undefined ? { name } : { name, suggestion };
    });
}

/** The level of the logger for `components` (most specific listed prefix wins). */
function effectiveLevel(levels: LogLevels, components: readonly string[]): LogLevel {
  const path = components.length === 0 ? ["node"] : components.map((c) => c.toLowerCase());
  for (let n = path.length; n > 0; n--) {
    const l = levels.components[path.slice(0, n).join(".")];
    if (l !== undefined) return l;
  }
  return levels.default;
}

/** Leveled logger. */
export interface Logger {
  /**
   * Logs at debug level; `rest` is appended space-separated (errors as stacks, objects as JSON).
   * In JSON format a plain object in `rest` gives structured fields, an error gives `error`.
   */
  debug(msg: string, ...rest: unknown[]): void;
  /** Logs at info level; `rest` as for {@link Logger.debug}. */
  info(msg: string, ...rest: unknown[]): void;
  /** Logs at warn level; `rest` as for {@link Logger.debug}. */
  warn(msg: string, ...rest: unknown[]): void;
  /** Logs at error level; `rest` as for {@link Logger.debug}. */
  error(msg: string, ...rest: unknown[]): void;
  /** A logger whose lines are prefixed with `[name]` (JSON: `component`). */
  child(name: string): Logger;
  /** The minimum level this logger writes (its component's); lower levels are dropped. */
  readonly level: LogLevel;
}

/** How lines are written, and what each line carries besides its message. */
export interface LoggerOptions {
  /** `text` (default): `TIME LEVEL node=N [component] message`; `json`: one object per line. */
  format?: LogFormat;
  /** The node's id, on every line when given. */
  nodeId?: number;
}

function fmt(x: unknown): string {
  if (x instanceof Error) return x.stack ?? x.message;
  if (typeof x === "string") return x;
  try {
    return JSON.stringify(x);
  } catch {
    return String(x);
  }
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (typeof x !== "object" || x === null || Array.isArray(x)) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/** Keys a structured field may not take (they are the line's own). */
const RESERVED = new Set(["time", "level", "node", "component", "msg"]);

/** One JSON line: time, level, node, component, msg, then the structured fields. */
function jsonLine(
  lvl: LogLevel,
  nodeId: number | undefined,
  components: readonly string[],
  msg: string,
  rest: unknown[],
): string {
  const o: Record<string, unknown> = { time: new Date().toISOString(), level: lvl };
  if (nodeId !== undefined) o.node = nodeId;
  if (components.length > 0) o.component = components.join(".");
  o.msg = msg;
  const args: string[] = [];
  for (const x of rest) {
    if (x instanceof Error) o.error = x.stack ?? x.message;
    else if (isPlainObject(x)) {
      for (const [k, v] of Object.entries(x)) o[RESERVED.has(k) ? `field_${k}` : k] = v;
    } else args.push(fmt(x));
  }
  if (args.length > 0) o.args = args;
  try {
    return JSON.stringify(o, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
  } catch {
    // A field that does not serialise (a cycle): the line keeps its message, fields as text.
    const { time, level, node, component } = o;
    return JSON.stringify({ time, level, node, component, msg, args: rest.map(fmt) });
  }
}

function make(
  levels: LogLevels,
  components: readonly string[],
  sink: (line: string) => void,
  opts: LoggerOptions,
): Logger {
  const level = effectiveLevel(levels, components);
  const min = RANK[level];
  const json = opts.format === "json";
  const node = opts.nodeId !== undefined ? `node=${opts.nodeId} ` : "";
  const prefix = components.map((c) => `[${c}] `).join("");
  const emit = (lvl: LogLevel, msg: string, rest: unknown[]) => {
    if (RANK[lvl] < min) return;
    if (json) return sink(jsonLine(lvl, opts.nodeId, components, msg, rest));
    const extra = rest.length ? " " + rest.map(fmt).join(" ") : "";
    sink(
      `${new Date().toISOString()} ${lvl.toUpperCase().padEnd(5)} ${node}${prefix}${msg}${extra}`,
    );
  };
  return {
    level,
    debug: (m, ...r) => emit("debug", m, r),
    info: (m, ...r) => emit("info", m, r),
    warn: (m, ...r) => emit("warn", m, r),
    error: (m, ...r) => emit("error", m, r),
    child: (name) => make(levels, [...components, name], sink, opts),
  };
}

/**
 * A logger writing to stderr (or to `sink`, for tests). `level` is a level (`info`) or a
 * per-component setting (`info,wal=debug`, see {@link parseLogLevels}; throws
 * {@link LogLevelError} when malformed). `prefix` names the component (`"wal"`; a text prefix
 * `"[wal] "` is accepted too); `options` choose the format and the node id.
 */
export function createLogger(
  level: LogLevel | string | LogLevels = "info",
  prefix = "",
  sink: (line: string) => void = (l) => process.stderr.write(l + "\n"),
  options: LoggerOptions = {},
): Logger {
  const components = [...prefix.matchAll(/\[([^\]]*)\]|([^\s[\]]+)/g)].map((m) => m[1] ?? m[2]);
  const levels = typeof level === "string" ? parseLogLevels(level) : level;
  return make(levels, components, sink, options);
}
