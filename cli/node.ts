/**
 * The `mod.ts` command line, in two phases: find the plugins to load (`--plugins`, env, config
 * file) and load them; then parse every flag (node:util parseArgs) against the core options and
 * the options those plugins declare, merge env and config file, start the node, stop it gracefully
 * on SIGINT/SIGTERM. Usage errors print one line and exit with code 2.
 * @module
 */
import { VERSION } from "../core/config/version.ts";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";
import {
  closestName,
  type Config,
  ConfigError,
  envName,
  flagName,
  OPTIONS,
  optionsHelp,
  type OptionSpec,
  parseOptionValue,
  resolveConfig,
  unknownEnvVars,
  UnknownOptionError,
} from "../core/config/config.ts";
import {
  CORE_LOG_COMPONENTS,
  createLogger,
  parseLogLevels,
  unknownLogComponents,
} from "../core/config/logger.ts";
import { fileProblem } from "../core/config/os_errors.ts";
import { resolveClusterSecret } from "../core/peers/auth.ts";
import { type Plugin, pluginOptionSpecs } from "../core/plugin/plugin.ts";
import {
  BUILTIN_PLUGINS,
  builtinPluginDeclaring,
  CORE_PLUGINS,
  loadPlugin,
  loadPlugins,
  PluginLoadError,
} from "../core/plugin/loader.ts";

/** Exit code for usage errors (bad flags, values, config, plugin names). */
export const EXIT_USAGE = 2;

/** Thrown for usage errors; `message` is the one line printed. */
export class UsageError extends Error {}

/** A flag that no core option and no loaded plugin declares (`flag` as typed, e.g. `--wal-fsync`). */
export class UnknownFlagError extends UsageError {
  readonly flag: string;
  constructor(message: string, flag: string) {
    super(message);
    this.flag = flag;
  }
}

/** The `--help` text: core options, then the options of each plugin in `plugins`. */
export function usage(plugins: readonly Plugin[] = []): string {
  const sections = plugins.map((p) => ({
    name: p.name,
    options: pluginOptionSpecs(p),
    always: CORE_PLUGINS.includes(p.name),
  }));
  return `TinyKV ${VERSION} — a Raft-replicated key-value store with a pipelined batch write path

Usage:
  npx deno run -A mod.ts [options]           start a node (also: npx bun mod.ts [options])
  npx deno run -A mod.ts cluster --nodes N   start and supervise an N-node local cluster on
                                             loopback (--restart restarts dead nodes; Ctrl-C
                                             stops all; cluster --help for its options)
  npx deno run -A mod.ts client [cmd ...]    CLI client (one-shot, or interactive without a
                                             command; client --help)
  npx deno run -A mod.ts snapshot save|restore|inspect FILE
                                             back up a running cluster, restore a backup into a
                                             new cluster's data dirs (snapshot --help)

Options (flags > TINYKV_* environment > --config file > defaults):
  --config FILE              JSON config file with the same keys (snake_case), e.g. {"batch_size": 200}
  --help                     show this help (with --plugins X: X's options too)
  --version                  print the version
${optionsHelp(sections)}
`;
}

/**
 * Lets boolean flags stand alone (`--lease-read`) as well as take a value (`--lease-read false`),
 * and a valued flag take a negative number after a space (`--batch-size -1`, which parseArgs would
 * call ambiguous): it becomes `--batch-size=-1`, so the range check gives its error.
 */
function normaliseBooleans(
  argv: string[],
  specs: readonly OptionSpec[],
  extraValued: readonly string[] = [],
): string[] {
  const bools = new Set(specs.filter((o) => o.kind === "bool").map((o) => flagName(o.key)));
  const valued = new Set(specs.filter((o) => o.kind !== "bool").map((o) => flagName(o.key)));
  for (const f of ["--config", ...extraValued]) valued.add(f);
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (valued.has(a) && /^-\d/.test(argv[i + 1] ?? "")) {
      out.push(`${a}=${argv[++i]}`);
      continue;
    }
    out.push(a);
    if (bools.has(a)) {
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

/**
 * Parses node flags: the core options and `pluginOptions` (the options of the plugins to load, see
 * {@link loadNodeCommandLine}). Throws UsageError with one line on missing values, and
 * {@link UnknownFlagError} on a flag nobody declares.
 */
export function parseNodeArgs(
  argv: string[],
  extra: Record<string, { type: "string" | "boolean" }> = {},
  pluginOptions: readonly OptionSpec[] = [],
): ParsedArgs {
  const options: Record<string, { type: "string" | "boolean" }> = {
    config: { type: "string" },
    help: { type: "boolean" },
    version: { type: "boolean" },
    ...extra,
  };
  const specs = [...OPTIONS, ...pluginOptions];
  for (const o of specs) options[flagName(o.key).slice(2)] = { type: "string" };
  let parsed;
  try {
    parsed = parseArgs({
      args: normaliseBooleans(
        argv,
        specs,
        Object.keys(extra).filter((k) => extra[k].type === "string").map((k) => `--${k}`),
      ),
      options,
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    const msg = (err as Error).message.split("\n")[0].replace(/\. To specify a positional.*$/, "");
    const unknown = /^Unknown option '(--?[^']+)'/.exec(msg);
    if (unknown) {
      throw new UnknownFlagError(
        `unknown flag ${unknown[1]} (see --help; a plugin's flags need it in --plugins)`,
        unknown[1],
      );
    }
    throw new UsageError(msg);
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

/** Reads and parses the JSON config file at `path`. */
function readConfigFile(path: string): { path: string; data: unknown } {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`config file ${path}: cannot read (${fileProblem(err)})`);
  }
  try {
    return { path, data: JSON.parse(text) };
  } catch (err) {
    throw new ConfigError(`config file ${path}: invalid JSON (${(err as Error).message})`);
  }
}

/**
 * Builds the config from parsed args, the environment and the config file; `pluginOptions` are the
 * options the loaded plugins declare (their values land in the config under their full names).
 */
export function configFromArgs(
  args: ParsedArgs,
  env: Record<string, string | undefined>,
  pluginOptions: readonly OptionSpec[] = [],
): Config {
  const path = args.configPath ?? env.TINYKV_CONFIG;
  const file = path ? readConfigFile(path) : undefined;
  const config = resolveConfig({ flags: args.flags, env, file }, pluginOptions);
  try {
    config.cluster_secret = resolveClusterSecret(config);
  } catch (err) {
    // auth.ts names the errno ("cannot read (EACCES)"): in words, as for the config file.
    const msg = (err as Error).message.replace(
      /cannot read \((E[A-Z]+)\)/,
      (all, code: string) => {
        const words = fileProblem({ code });
        return words === code ? all : `cannot read (${words})`;
      },
    );
    throw new ConfigError(msg);
  }
  return config;
}

/**
 * Phase one of the command line: which plugins `--plugins` (or `TINYKV_PLUGINS`, or the config
 * file's `plugins`) asks for, read before the other flags are known, plus `--config` and `--help`.
 */
function requested(
  argv: string[],
  env: Record<string, string | undefined>,
): { plugins: string[]; help: boolean; version: boolean } {
  // Lenient: flags of plugins not loaded yet are skipped here and checked in phase two.
  const { values } = parseArgs({
    args: argv,
    options: {
      plugins: { type: "string" },
      config: { type: "string" },
      help: { type: "boolean" },
      version: { type: "boolean" },
    },
    strict: false,
    allowPositionals: true,
  });
  const spec = OPTIONS.find((o) => o.key === "plugins")!;
  const path = typeof values.config === "string" ? values.config : env.TINYKV_CONFIG;
  let raw: unknown = values.plugins;
  let source = "flag";
  if (typeof raw !== "string" && env.TINYKV_PLUGINS !== undefined) {
    raw = env.TINYKV_PLUGINS;
    source = "environment";
  }
  if (typeof raw !== "string" && path) {
    const data = readConfigFile(path).data as Record<string, unknown> | null;
    if (data && typeof data === "object" && "plugins" in data) {
      raw = data.plugins;
      source = `config file ${path}:`;
    }
  }
  return {
    plugins: raw === undefined || raw === true
      ? []
      : parseOptionValue(spec, raw, source) as string[],
    help: values.help === true,
    version: values.version === true,
  };
}

/** The command line of a node, after both phases. */
export interface NodeCommandLine {
  /** The parsed flags (core and plugin options). */
  args: ParsedArgs;
  /** The loaded plugins (core plugins and `--plugins`), in hook order as listed. */
  plugins: Plugin[];
  /** The options the loaded plugins declare. */
  pluginOptions: OptionSpec[];
}

/**
 * Parses a node's command line in two phases: first the plugins to load (`--plugins`, env or
 * config file), which are loaded; then every flag, against the core options and the options those
 * plugins declare. A flag of a built-in plugin that is not loaded says so
 * ("--wal-fsync needs --plugins wal"). Throws UsageError, ConfigError or PluginLoadError.
 */
export async function loadNodeCommandLine(
  argv: string[],
  env: Record<string, string | undefined>,
  cwd: string,
  extra: Record<string, { type: "string" | "boolean" }> = {},
): Promise<NodeCommandLine> {
  const plugins = await loadPlugins(requested(argv, env).plugins, cwd);
  const pluginOptions = plugins.flatMap((p) => pluginOptionSpecs(p));
  let args: ParsedArgs;
  try {
    args = parseNodeArgs(argv, extra, pluginOptions);
  } catch (err) {
    if (!(err instanceof UnknownFlagError)) throw err;
    const owner = await builtinPluginDeclaring(err.flag.replace(/^-+/, "").replaceAll("-", "_"));
    throw owner ? new UsageError(`${err.flag} needs --plugins ${owner}`) : err;
  }
  return { args, plugins, pluginOptions };
}

/**
 * {@link configFromArgs}, with a config-file key of a built-in plugin that is not loaded explained
 * (`config file x.json: key "wal_fsync" needs --plugins wal`).
 */
export async function nodeConfig(
  cl: NodeCommandLine,
  env: Record<string, string | undefined>,
): Promise<Config> {
  try {
    const config = configFromArgs(cl.args, env, cl.pluginOptions);
    checkLogComponents(config, cl.plugins);
    return config;
  } catch (err) {
    if (!(err instanceof UnknownOptionError)) throw err;
    const owner = await builtinPluginDeclaring(err.key);
    if (!owner) throw err;
    const what = err.where === "flag"
      ? flagName(err.key)
      : `config file ${err.where}: key "${err.key}"`;
    throw new ConfigError(`${what} needs --plugins ${owner}`);
  }
}

/**
 * A `--log-level` component must be one of the node's (node, peers, server, resp) or a plugin's
 * (a loaded one, or a built-in): a typo would otherwise silently change nothing.
 */
function checkLogComponents(config: Config, plugins: readonly Plugin[]): void {
  const known = [...new Set([...plugins.map((p) => p.name), ...Object.keys(BUILTIN_PLUGINS)])];
  const bad = unknownLogComponents(parseLogLevels(config.log_level), known, closestName);
  if (bad.length === 0) return;
  const { name, suggestion } = bad[0];
  throw new ConfigError(
    `log_level ${JSON.stringify(config.log_level)}: unknown component "${name}"` +
      (suggestion ? ` (did you mean ${suggestion}?)` : "") +
      ` — components: ${[...CORE_LOG_COMPONENTS, ...known].join(", ")}`,
  );
}

/** `--help`: the built-in plugins and those given with `--plugins` (loaded to read their options). */
async function helpText(argv: string[], env: Record<string, string | undefined>, cwd: string) {
  const plugins: Plugin[] = [];
  for (const name of Object.keys(BUILTIN_PLUGINS)) plugins.push(await loadPlugin(name, cwd));
  const listed = requested(argv, env).plugins.filter((s) => !(s in BUILTIN_PLUGINS));
  for (const s of listed) if (s !== "none") plugins.push(await loadPlugin(s, cwd));
  return usage(plugins);
}

/**
 * One line for an error that stopped a node starting: file-system errors on the data dir say what
 * is wrong with it (a file where a directory must be, not writable) instead of a raw errno.
 */
export function startFailure(err: unknown, config: Config): string {
  const e = err as NodeJS.ErrnoException;
  const msg = String(e?.message ?? err).split("\n")[0];
  const path = typeof e?.path === "string" ? e.path : config.data_dir;
  const dir = `data dir ${config.data_dir}`;
  // "data dir D: D: ..." says D twice: name the path only when it is a file inside D.
  const at = resolve(path) === resolve(config.data_dir) ? "" : ` ${path}:`;
  switch (e?.code) {
    case "EEXIST":
      return `${dir}: ${path} is a file, not a directory`;
    case "ENOTDIR":
      return `${dir}: part of ${path} is a file, not a directory`;
    case "EACCES":
    case "EPERM":
      return `${dir}:${at} permission denied (it must be writable by this user)`;
    case "EROFS":
      return `${dir}: ${path} is on a read-only file system`;
    case "ENOSPC":
      return `${dir}:${at} no space left on the device`;
  }
  return msg;
}

/**
 * One warning per `TINYKV_*` variable in `env` that nothing reads (a typo would otherwise be
 * silently ignored): named, with the closest known name, or the plugin it needs.
 */
export async function envWarnings(
  env: Record<string, string | undefined>,
  pluginOptions: readonly OptionSpec[],
): Promise<string[]> {
  const builtin = new Map<string, string>(); // env name of a built-in plugin's option → plugin
  for (const name of Object.keys(BUILTIN_PLUGINS)) {
    try {
      for (const o of pluginOptionSpecs(await loadPlugin(name, "."))) {
        builtin.set(o.env ?? envName(o.key), name);
      }
    } catch {
      // A built-in that cannot load declares nothing here; loading it reports why.
    }
  }
  return unknownEnvVars(env, pluginOptions, [...builtin.keys()]).map(({ name, suggestion }) =>
    builtin.has(name)
      ? `environment ${name} is ignored: it needs --plugins ${builtin.get(name)}`
      : `environment ${name} is not a TinyKV setting and is ignored` +
        (suggestion ? ` (did you mean ${suggestion}?)` : "")
  );
}

/**
 * A flag's value as typed (`--name v` or `--name=v`), else the environment's, else the config
 * file's; undefined when none or unreadable. Lenient: for reporting a usage error in the format
 * asked for, before the command line is known to be valid.
 */
function leniently(
  argv: readonly string[],
  env: Record<string, string | undefined>,
  key: string,
): string | undefined {
  const flag = flagName(key);
  let configPath = env.TINYKV_CONFIG;
  let value: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === flag) value = argv[i + 1];
    else if (a.startsWith(flag + "=")) value = a.slice(flag.length + 1);
    else if (a === "--config") configPath = argv[i + 1];
    else if (a.startsWith("--config=")) configPath = a.slice("--config=".length);
  }
  if (value !== undefined) return value;
  if (env[envName(key)] !== undefined) return env[envName(key)];
  if (configPath === undefined) return undefined;
  try {
    const v = (JSON.parse(readFileSync(configPath, "utf8")) as Record<string, unknown>)?.[key];
    return v === undefined ? undefined : String(v);
  } catch {
    return undefined;
  }
}

/**
 * The one line a usage error prints: `tinykv: MESSAGE` (`program`: the command's name), or under `--log-format json` (flag,
 * `TINYKV_LOG_FORMAT` or config file) a JSON log line like the node's own — time, level `error`,
 * the node id when given, `component` `cli`, `msg` — so a log shipper that parses every line as
 * JSON does not choke on the one that says why the node did not start.
 */
export function usageErrorLine(
  message: string,
  argv: readonly string[],
  env: Record<string, string | undefined>,
  program = "tinykv",
): string {
  if (leniently(argv, env, "log_format") !== "json") return `${program}: ${message}`;
  const id = Number(leniently(argv, env, "node_id"));
  const o: Record<string, unknown> = { time: new Date().toISOString(), level: "error" };
  if (Number.isInteger(id) && id >= 1 && id <= 65535) o.node = id;
  o.component = "cli";
  o.msg = message;
  o.exit_code = EXIT_USAGE;
  return JSON.stringify(o);
}

/** Runs the node CLI; resolves to the process exit code once the node has stopped. */
export async function runNodeCli(argv: string[]): Promise<number> {
  let config: Config;
  let plugins: Plugin[];
  let pluginOptions: OptionSpec[];
  try {
    const first = requested(argv, process.env);
    if (first.help) {
      process.stdout.write(await helpText(argv, process.env, process.cwd()));
      return 0;
    }
    if (first.version) {
      process.stdout.write(`tinykv ${VERSION}\n`);
      return 0;
    }
    const cl = await loadNodeCommandLine(argv, process.env, process.cwd());
    if (cl.args.positionals.length > 0) {
      throw new UsageError(`unexpected argument "${cl.args.positionals[0]}" (see --help)`);
    }
    config = await nodeConfig(cl, process.env);
    plugins = cl.plugins;
    pluginOptions = cl.pluginOptions;
  } catch (err) {
    if (
      err instanceof UsageError || err instanceof ConfigError || err instanceof PluginLoadError
    ) {
      process.stderr.write(usageErrorLine(err.message, argv, process.env) + "\n");
      return EXIT_USAGE;
    }
    throw err;
  }
  const log = createLogger(config.log_level, "", undefined, {
    format: config.log_format,
    nodeId: config.node_id,
  });
  for (const w of await envWarnings(process.env, pluginOptions)) log.warn(w);
  let node;
  try {
    const { startNode } = await import("../core/node/node.ts");
    node = await startNode(config, { plugins, logger: log });
  } catch (err) {
    log.error(`cannot start: ${startFailure(err, config)}`);
    return EXIT_USAGE;
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
