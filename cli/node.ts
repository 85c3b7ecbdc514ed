/**
 * The `mod.ts` command line: parse flags (node:util parseArgs), merge env and config file, load
 * plugins, start the node, stop it gracefully on SIGINT/SIGTERM. Usage errors print one line and
 * exit with code 2.
 * @module
 */
import { readFileSync } from "node:fs";
import process from "node:process";
import { parseArgs } from "node:util";
import {
  type Config,
  ConfigError,
  flagName,
  OPTIONS,
  optionsHelp,
  resolveConfig,
} from "../core/config/config.ts";
import { createLogger } from "../core/config/logger.ts";
import { resolveClusterSecret } from "../core/peers/auth.ts";
import { loadPlugins, PluginLoadError } from "../core/plugin/loader.ts";

/** Exit code for usage errors (bad flags, values, config, plugin names). */
export const EXIT_USAGE = 2;

/** Thrown for usage errors; `message` is the one line printed. */
export class UsageError extends Error {}

const VERSION = "0.1.0";

const USAGE =
  `TinyKV ${VERSION} — a Raft-replicated key-value store with a pipelined batch write path

Usage:
  deno run -A mod.ts [options]            start a node (also: bun mod.ts [options])
  deno run -A mod.ts cluster --nodes 3    start a local cluster on loopback (Ctrl-C stops all)
  deno run -A mod.ts client [cmd ...]     CLI client (one-shot, or interactive without a command)

Options (flags > TINYKV_* environment > --config file > defaults):
  --config FILE              JSON config file with the same keys (snake_case), e.g. {"batch_size": 200}
  --help                     show this help
  --version                  print the version
${optionsHelp()}
`;

const BOOL_KEYS = new Set(OPTIONS.filter((o) => o.kind === "bool").map((o) => flagName(o.key)));

/** Lets boolean flags stand alone (`--lease-read`) as well as take a value (`--lease-read false`). */
function normaliseBooleans(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    out.push(a);
    if (BOOL_KEYS.has(a)) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith("-")) out.push("true");
    }
  }
  return out;
}

/** Parsed command line: config flags plus the meta options. */
export interface ParsedArgs {
  flags: Record<string, string>;
  configPath?: string;
  help: boolean;
  version: boolean;
  positionals: string[];
}

/** Parses node flags; throws UsageError with one line on unknown flags or missing values. */
export function parseNodeArgs(
  argv: string[],
  extra: Record<string, { type: "string" | "boolean" }> = {},
): ParsedArgs {
  const options: Record<string, { type: "string" | "boolean" }> = {
    config: { type: "string" },
    help: { type: "boolean" },
    version: { type: "boolean" },
    ...extra,
  };
  for (const o of OPTIONS) options[flagName(o.key).slice(2)] = { type: "string" };
  let parsed;
  try {
    parsed = parseArgs({
      args: normaliseBooleans(argv),
      options,
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    throw new UsageError(
      (err as Error).message.split("\n")[0].replace(/\. To specify a positional.*$/, ""),
    );
  }
  const flags: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed.values)) {
    if (k === "config" || k === "help" || k === "version" || k in extra) continue;
    flags[k.replaceAll("-", "_")] = String(v);
  }
  return {
    flags,
    configPath: parsed.values.config as string | undefined,
    help: parsed.values.help === true,
    version: parsed.values.version === true,
    positionals: parsed.positionals,
  };
}

/** Builds the config from parsed args, the environment and the config file. */
export function configFromArgs(args: ParsedArgs, env: Record<string, string | undefined>): Config {
  let file: { path: string; data: unknown } | undefined;
  const path = args.configPath ?? env.TINYKV_CONFIG;
  if (path) {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      throw new ConfigError(
        `config file ${path}: cannot read (${
          (err as NodeJS.ErrnoException).code ?? (err as Error).message
        })`,
      );
    }
    try {
      file = { path, data: JSON.parse(text) };
    } catch (err) {
      throw new ConfigError(`config file ${path}: invalid JSON (${(err as Error).message})`);
    }
  }
  const config = resolveConfig({ flags: args.flags, env, file });
  try {
    config.cluster_secret = resolveClusterSecret(config);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  return config;
}

/** Runs the node CLI; resolves to the process exit code once the node has stopped. */
export async function runNodeCli(argv: string[]): Promise<number> {
  let config: Config;
  try {
    const args = parseNodeArgs(argv);
    if (args.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    if (args.version) {
      process.stdout.write(`tinykv ${VERSION}\n`);
      return 0;
    }
    if (args.positionals.length > 0) {
      throw new UsageError(`unexpected argument "${args.positionals[0]}" (see --help)`);
    }
    config = configFromArgs(args, process.env);
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError) {
      process.stderr.write(`tinykv: ${err.message}\n`);
      return EXIT_USAGE;
    }
    throw err;
  }
  const log = createLogger(config.log_level);
  let plugins;
  try {
    plugins = await loadPlugins(config.plugins, process.cwd());
  } catch (err) {
    if (err instanceof PluginLoadError) {
      process.stderr.write(`tinykv: ${err.message}\n`);
      return EXIT_USAGE;
    }
    throw err;
  }
  let node;
  try {
    const { startNode } = await import("../core/node/node.ts");
    node = await startNode(config, { plugins, logger: log });
  } catch (err) {
    log.error(`cannot start: ${(err as Error).message}`);
    return 1;
  }
  return await new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) return;
      stopping = true;
      log.info(`${sig} received: stopping`);
      // A short grace after stop() lets transports flush what they queued (e.g. a CLOSE frame)
      // before mod.ts exits the process.
      node.stop().then(() => setTimeout(() => resolve(0), 20), (err) => {
        log.error(`error while stopping: ${(err as Error).message}`);
        resolve(1);
      });
    };
    process.on("SIGINT", () => stop("SIGINT"));
    process.on("SIGTERM", () => stop("SIGTERM"));
  });
}
