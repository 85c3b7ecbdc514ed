/**
 * A small leveled logger writing one line per event to stderr, as text or as JSON. Plugins and
 * parts of the node get a child logger that names them (`[wal]` in text, `"component":"wal"` in
 * JSON), and a node's lines carry its id (`node=1`, `"node":1`), so every message is attributable
 * when several nodes log to one place.
 * @module
 */
import process from "node:process";
import type { LogFormat, LogLevel } from "./config.ts";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

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
  /** The minimum level written; lower levels are dropped. */
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
  level: LogLevel,
  components: readonly string[],
  sink: (line: string) => void,
  opts: LoggerOptions,
): Logger {
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
    child: (name) => make(level, [...components, name], sink, opts),
  };
}

/**
 * A logger at `level` writing to stderr (or to `sink`, for tests). `prefix` names the component
 * (`"wal"`; a text prefix `"[wal] "` is accepted too); `options` choose the format and the node id.
 */
export function createLogger(
  level: LogLevel = "info",
  prefix = "",
  sink: (line: string) => void = (l) => process.stderr.write(l + "\n"),
  options: LoggerOptions = {},
): Logger {
  const components = [...prefix.matchAll(/\[([^\]]*)\]|([^\s[\]]+)/g)].map((m) => m[1] ?? m[2]);
  return make(level, components, sink, options);
}
