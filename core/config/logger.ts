/**
 * A small leveled logger writing one line per event to stderr. Plugins get a child logger that
 * prefixes their name, so every message is attributable.
 * @module
 */
import process from "node:process";
import type { LogLevel } from "./config.ts";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** Leveled logger. */
export interface Logger {
  /**
   * Logs at debug level; `rest` is appended space-separated (errors as stacks, objects as JSON).
   */
  debug(msg: string, ...rest: unknown[]): void;
  /** Logs at info level; `rest` as for {@link Logger.debug}. */
  info(msg: string, ...rest: unknown[]): void;
  /** Logs at warn level; `rest` as for {@link Logger.debug}. */
  warn(msg: string, ...rest: unknown[]): void;
  /** Logs at error level; `rest` as for {@link Logger.debug}. */
  error(msg: string, ...rest: unknown[]): void;
  /** A logger whose lines are prefixed with `[name]`. */
  child(name: string): Logger;
  /** The minimum level written; lower levels are dropped. */
  readonly level: LogLevel;
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

/** A logger at `level` writing to stderr (or to `sink`, for tests). */
export function createLogger(
  level: LogLevel = "info",
  prefix = "",
  sink: (line: string) => void = (l) => process.stderr.write(l + "\n"),
): Logger {
  const min = RANK[level];
  const emit = (lvl: LogLevel, msg: string, rest: unknown[]) => {
    if (RANK[lvl] < min) return;
    const extra = rest.length ? " " + rest.map(fmt).join(" ") : "";
    sink(`${new Date().toISOString()} ${lvl.toUpperCase().padEnd(5)} ${prefix}${msg}${extra}`);
  };
  return {
    level,
    debug: (m, ...r) => emit("debug", m, r),
    info: (m, ...r) => emit("info", m, r),
    warn: (m, ...r) => emit("warn", m, r),
    error: (m, ...r) => emit("error", m, r),
    child: (name) => createLogger(level, `${prefix}[${name}] `, sink),
  };
}
