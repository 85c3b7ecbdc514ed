/**
 * Configuration: one table of options, loaded with the precedence
 * flags > environment (`TINYKV_*`) > config file (`--config tinykv.json`) > defaults,
 * and validated with a message naming the key, the value and what is allowed.
 * @module
 */
import { clusterIdProblem, secretProblem } from "../peers/auth.ts";
import { formatLogLevels, LogLevelError, parseLogLevels } from "./logger.ts";

/** Which transport carries client and peer traffic. */
export type TransportName = "tcp" | "udp";
/** Log verbosity. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
/** Log line format. */
export type LogFormat = "text" | "json";
/** WAL fsync policy. */
export type FsyncPolicy = "always" | "batch" | "off";

/** The node's whole configuration. Keys are the config-file names (snake_case). */
export interface Config {
  /** This node's id, 1..65535 (must appear in `peers` when peers are given). Default 1. */
  node_id: number;
  /** Raft peers: id → raft address `host:port` (includes this node). Empty = single node. */
  peers: Record<number, string>;
  /**
   * Client addresses of peers (id → `host:port`), for NOT_LEADER redirects. Default: raft port - 1.
   */
  peer_clients: Record<number, string>;
  /**
   * Join a running cluster: start with no membership and wait for the leader's ADD_NODE instead of
   * forming a new cluster from `peers`. Default false.
   */
  join: boolean;
  /** Address to listen on (client and raft ports). Default `127.0.0.1`. */
  host: string;
  /** Client port (0 = ephemeral). Default 5210. */
  port: number;
  /** Peer (raft) port (0 = ephemeral). Default 5211. */
  raft_port: number;
  /** RESP (Redis protocol) port: -1 = no RESP listener, 0 = ephemeral. Default -1 (off). */
  redis_port: number;
  /** Data directory (used by the wal plugin). Default `./data`. */
  data_dir: string;
  /**
   * Plugins to load: built-in names (wal, metrics, idempotency, coalesce) or module specifiers.
   * Default none.
   */
  plugins: string[];
  /** Transport for clients and peers. Default `tcp`. */
  transport: TransportName;
  /** When non-empty, every connection must AUTH first. Default empty (no auth). */
  password: string;
  /**
   * Log verbosity: a level (`debug`, `info`, `warn`, `error`, `silent`), or a default level and
   * per-component levels, `info,wal=debug,peers=warn` (components: `node`, `peers`, `server`,
   * `resp` and each plugin's name). Default `info`.
   */
  log_level: LogLevel | string;
  /**
   * Log format: `text` (`TIME LEVEL node=N [component] message`) or `json` (one object per line:
   * time, level, node, component, msg and structured fields). Default `text`.
   */
  log_format: LogFormat;
  /** Commands coalesced into one proposal before it is sent. Default 100. */
  batch_size: number;
  /** Longest a partial batch waits, in ms. Default 10. */
  batch_timeout_ms: number;
  /** Largest batch or frame accepted, in bytes (at most 16 MiB); larger gets TOO_LARGE. Default 1 MiB. */
  batch_max_bytes: number;
  /**
   * A batch not applied within this many ms (plus 1 ms per 8 kB of batch, so large writes within
   * `batch_max_bytes` have time to replicate and sync) fails with TIMEOUT (outcome unknown).
   * Default 2000.
   */
  raft_submit_timeout_ms: number;
  /** Most entries in flight / in one AppendEntries. Default 500. */
  raft_append_batch: number;
  /** Base election timeout in ms; randomised in [t, 2t). Default 400. */
  election_timeout_ms: number;
  /** Leader heartbeat interval in ms (must be below `election_timeout_ms`). Default 30. */
  heartbeat_ms: number;
  /** Raft tick length in ms (election/heartbeat are multiples of it). Default 10. */
  tick_ms: number;
  /** Socket buffer size hint, in bytes. Default 64 KiB. */
  socket_buffer_bytes: number;
  /** Disable Nagle's algorithm. Default true. */
  tcp_nodelay: boolean;
  /** Most client connections at once; more are refused with BUSY. Default 10000. */
  max_connections: number;
  /**
   * Most connections not yet authenticated (with a password: no successful AUTH yet; without: no
   * request yet), counted apart from `max_connections`; when full, the oldest is closed to admit
   * a new one. Default 256.
   */
  max_unauthenticated_connections: number;
  /**
   * An unauthenticated connection (as above) is closed after this many ms. Default 10000.
   */
  auth_timeout_ms: number;
  /** A connection with nothing received and nothing in flight for this long is closed (0 = never). Default 300000. */
  idle_timeout_ms: number;
  /** A frame whose bytes stop arriving half-way is dropped with its connection after this many ms. Default 30000. */
  frame_timeout_ms: number;
  /**
   * After a failed AUTH (or `auth_key`) from an address, its next attempt waits this many ms,
   * doubling with each further failure up to 64 times as long. Default 200.
   */
  auth_failure_delay_ms: number;
  /** Most client batches waiting for commit; more get BUSY. Default 10000. */
  max_pending_batches: number;
  /** Take a snapshot and compact the log every N applied entries. Default 10000. */
  snapshot_entries: number;
  /** Entries kept behind a snapshot for slow followers. Default 5000. */
  snapshot_keep_entries: number;
  /**
   * Secret shared by every member; peers prove it with an HMAC challenge-response before any Raft
   * message is accepted (never sent). Required with `peers` or `join`. Default empty.
   */
  cluster_secret: string;
  /** File holding the cluster secret (read at start, trailing newline trimmed). Default empty. */
  cluster_secret_file: string;
  /**
   * Cluster id, part of the peer handshake; fixed at formation (written to `CLUSTER_ID` in the
   * data dir by a durable node). Default `tinykv`.
   */
  cluster_id: string;
  /**
   * Serve reads under the leader lease instead of ReadIndex (assumes bounded clock drift). Default
   * false.
   */
  lease_read: boolean;
  /**
   * Lease reads: margin in ms for clock-rate drift and timer error between nodes, taken off the
   * lease (which lasts `election_timeout_ms - tick_ms - lease_drift_ms` from the send time of the
   * last heartbeat a quorum acknowledged). Default 30.
   */
  lease_drift_ms: number;
  /** Watch history: revisions kept behind the newest (0 = no history, no watches). Default 10000. */
  watch_history_revisions: number;
  /** Watch history: bytes of events kept (the newest revision is always kept). Default 64 MiB. */
  watch_history_bytes: number;
  /** A watch whose connection has more than this many bytes unread is cancelled (SLOW). Default 4 MiB. */
  watch_max_pending_bytes: number;
  /** Most watches on one connection. Default 1000. */
  watch_max_per_connection: number;
  /** Most watches on this node. Default 10000. */
  watch_max_total: number;
  /**
   * Options of plugins, under their full names (`wal_fsync`, `idempotency_max_age_ms`, ...). A
   * plugin declares them ({@link PluginOptions} in `core/plugin.ts`) and reads its own, parsed and
   * typed, as `ctx.options` (`ctx.options.fsync`); set them here with their full names.
   */
  [pluginOption: string]: unknown;
}

/** How an option's text is read: the kinds core and plugin options share. */
export type OptionKind = "int" | "string" | "bool" | "list" | "peers" | "enum" | "log_levels";

/**
 * One option's definition; drives parsing, validation, `--help` and the error messages. Core
 * options are listed in {@link OPTIONS}; a plugin's options are made from its declaration (see
 * `PluginOptions` in `core/plugin.ts`) and go through the same code.
 */
export interface OptionSpec {
  /** Full name, snake_case: the config-file key; flag `--kebab-case`, env `TINYKV_UPPER_CASE`. */
  key: string;
  /** How its text is read. */
  kind: OptionKind;
  /** One line for `--help`. */
  help: string;
  /** Value when no source sets it. */
  default: unknown;
  /** `int`: smallest value allowed. */
  min?: number;
  /** `int`: largest value allowed. */
  max?: number;
  /** `enum`: the values allowed. */
  choices?: readonly string[];
  /** Environment variable, when not `TINYKV_<KEY>`. */
  env?: string;
  /** Name of the plugin that declared the option (core options have none). */
  plugin?: string;
}

const MiB = 1024 * 1024;
/** The most `batch_max_bytes` may be set to (see the option). */
export const MAX_BATCH_BYTES = 16 * MiB;

/** Every core option, in `--help` order (plugins' options live in their plugins). */
export const OPTIONS: readonly OptionSpec[] = [
  {
    key: "node_id",
    kind: "int",
    help: "this node's id (must appear in --peers when peers are given)",
    default: 1,
    min: 1,
    max: 65535,
  },
  {
    key: "peers",
    kind: "peers",
    help: 'raft peers "1=127.0.0.1:5211,2=127.0.0.1:5221" (id=raft address); empty = single node',
    default: {},
  },
  {
    key: "peer_clients",
    kind: "peers",
    help:
      'client addresses of peers "1=127.0.0.1:5210,..." for not-leader redirects (default: raft port - 1)',
    default: {},
  },
  {
    key: "join",
    kind: "bool",
    help:
      "join a running cluster: start with no membership and wait for the leader's ADD_NODE (instead of forming a new cluster from --peers)",
    default: false,
  },
  {
    key: "host",
    kind: "string",
    help: "address to listen on (client and raft ports)",
    default: "127.0.0.1",
  },
  {
    key: "port",
    kind: "int",
    help: "client port (0 = ephemeral)",
    default: 5210,
    min: 0,
    max: 65535,
  },
  {
    key: "raft_port",
    kind: "int",
    help: "peer (raft) port (0 = ephemeral)",
    default: 5211,
    min: 0,
    max: 65535,
  },
  {
    key: "redis_port",
    kind: "int",
    help: "RESP (Redis protocol) port for Redis clients and tools (-1 = off, 0 = ephemeral)",
    default: -1,
    min: -1,
    max: 65535,
  },
  {
    key: "data_dir",
    kind: "string",
    help: "data directory (used by the wal plugin)",
    default: "./data",
  },
  {
    key: "plugins",
    kind: "list",
    help:
      "comma-separated plugins: built-in names (wal, metrics, idempotency, coalesce) or module specifiers",
    default: [],
  },
  {
    key: "transport",
    kind: "enum",
    help: "transport for clients and peers",
    default: "tcp",
    choices: ["tcp", "udp"],
  },
  {
    key: "password",
    kind: "string",
    help: "when set, every connection must AUTH first",
    default: "",
  },
  {
    key: "log_level",
    kind: "log_levels",
    help:
      "log verbosity: debug|info|warn|error|silent, or per component, e.g. info,wal=debug,peers=warn (components: node, peers, server, resp, each plugin)",
    default: "info",
  },
  {
    key: "log_format",
    kind: "enum",
    help: "log format: text, or json (one object per line: time, level, node, component, msg, ...)",
    default: "text",
    choices: ["text", "json"],
  },
  {
    key: "batch_size",
    kind: "int",
    help: "commands coalesced into one proposal before it is sent",
    default: 100,
    min: 1,
    max: 100_000,
  },
  {
    key: "batch_timeout_ms",
    kind: "int",
    help: "longest a partial batch waits (ms)",
    default: 10,
    min: 0,
    max: 10_000,
  },
  {
    key: "batch_max_bytes",
    kind: "int",
    help:
      "largest batch or frame accepted (bytes, at most 16 MiB); larger gets TOO_LARGE at admission",
    default: MiB,
    min: 1024,
    // One batch becomes (part of) one log entry that every node copies, writes and applies in a
    // few event-loop turns: past ~16 MiB those turns outlast an election timeout on a 2-core
    // machine and the cluster loses its leader (a 60 MB entry did, every time). etcd caps requests
    // at 1.5 MiB by default for the same reason.
    max: MAX_BATCH_BYTES,
  },
  {
    key: "raft_submit_timeout_ms",
    kind: "int",
    help:
      "a batch not applied by then (plus 1 ms per 8 kB of batch) fails with TIMEOUT (outcome unknown)",
    default: 2000,
    min: 10,
    max: 600_000,
  },
  {
    key: "raft_append_batch",
    kind: "int",
    help: "most entries in flight / in one AppendEntries",
    default: 500,
    min: 1,
    max: 100_000,
  },
  {
    key: "election_timeout_ms",
    kind: "int",
    help: "base election timeout; randomised in [t, 2t)",
    default: 400,
    min: 20,
    max: 60_000,
  },
  {
    key: "heartbeat_ms",
    kind: "int",
    help: "leader heartbeat interval",
    default: 30,
    min: 5,
    max: 10_000,
  },
  {
    key: "tick_ms",
    kind: "int",
    help: "raft tick length (election/heartbeat are multiples of it)",
    default: 10,
    min: 1,
    max: 1000,
  },
  {
    key: "socket_buffer_bytes",
    kind: "int",
    help: "socket buffer size hint",
    default: 64 * 1024,
    min: 4096,
    max: 64 * MiB,
  },
  { key: "tcp_nodelay", kind: "bool", help: "disable Nagle's algorithm", default: true },
  {
    key: "max_connections",
    kind: "int",
    help: "most client connections at once; more are refused with BUSY",
    default: 10_000,
    min: 1,
    max: 1_000_000,
  },
  {
    key: "max_unauthenticated_connections",
    kind: "int",
    help:
      "most connections not yet authenticated (no AUTH yet, or no request yet without a password); when full the oldest is closed",
    default: 256,
    min: 1,
    max: 1_000_000,
  },
  {
    key: "auth_timeout_ms",
    kind: "int",
    help: "a connection not authenticated (or, without a password, silent) by then is closed",
    default: 10_000,
    min: 100,
    max: 3_600_000,
  },
  {
    key: "idle_timeout_ms",
    kind: "int",
    help:
      "a connection with nothing received and nothing in flight this long is closed (0 = never)",
    default: 300_000,
    min: 0,
    max: 86_400_000,
  },
  {
    key: "frame_timeout_ms",
    kind: "int",
    help: "a frame whose bytes stop arriving half-way is dropped with its connection after this",
    default: 30_000,
    min: 100,
    max: 3_600_000,
  },
  {
    key: "auth_failure_delay_ms",
    kind: "int",
    help:
      "after a failed AUTH from an address its next attempt waits this long, doubling per failure (up to 64x)",
    default: 200,
    min: 0,
    max: 60_000,
  },
  {
    key: "max_pending_batches",
    kind: "int",
    help: "most client batches waiting for commit; more get BUSY",
    default: 10_000,
    min: 1,
    max: 10_000_000,
  },
  {
    key: "snapshot_entries",
    kind: "int",
    help: "take a snapshot and compact the log every N applied entries",
    default: 10_000,
    min: 10,
    max: 100_000_000,
  },
  {
    key: "snapshot_keep_entries",
    kind: "int",
    help: "entries kept behind a snapshot for slow followers",
    default: 5_000,
    min: 0,
    max: 100_000_000,
  },
  {
    key: "cluster_secret",
    kind: "string",
    help:
      "secret shared by all members (>= 16 chars); peers prove it by HMAC challenge-response before any raft message; required with --peers or --join",
    default: "",
  },
  {
    key: "cluster_secret_file",
    kind: "string",
    help: "file holding the cluster secret (read at start; trailing newline trimmed)",
    default: "",
  },
  {
    key: "cluster_id",
    kind: "string",
    help: "cluster id, part of the peer handshake; fixed at formation (CLUSTER_ID in the data dir)",
    default: "tinykv",
  },
  {
    key: "lease_read",
    kind: "bool",
    help: "serve reads under the leader lease instead of ReadIndex (assumes bounded clock drift)",
    default: false,
  },
  {
    key: "lease_drift_ms",
    kind: "int",
    help:
      "lease reads: clock drift / timer error margin taken off the lease (election_timeout_ms - tick_ms - this)",
    default: 30,
    min: 0,
    max: 60_000,
  },
  {
    key: "watch_history_revisions",
    kind: "int",
    help: "watch history: revisions kept behind the newest (0 = no history: watches refused)",
    default: 10_000,
    min: 0,
    max: 100_000_000,
  },
  {
    key: "watch_history_bytes",
    kind: "int",
    help: "watch history: bytes of change events kept (the newest revision is always kept)",
    default: 64 * MiB,
    min: 0,
    max: 16 * 1024 * MiB,
  },
  {
    key: "watch_max_pending_bytes",
    kind: "int",
    help: "a watch whose connection has more than this many bytes unread is cancelled (SLOW)",
    default: 4 * MiB,
    min: 64 * 1024,
    max: 1024 * MiB,
  },
  {
    key: "watch_max_per_connection",
    kind: "int",
    help: "most watches on one client connection",
    default: 1000,
    min: 1,
    max: 1_000_000,
  },
  {
    key: "watch_max_total",
    kind: "int",
    help: "most watches on this node",
    default: 10_000,
    min: 1,
    max: 1_000_000,
  },
];

/** Thrown for bad flags, env values, config files or values; message is one line for the user. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** The defaults (each option's `default` in {@link OPTIONS}). */
export function defaultConfig(): Config {
  const c: Record<string, unknown> = {};
  for (const o of OPTIONS) c[o.key] = structuredClone(o.default);
  return c as Config;
}

/** `batch_max_bytes` → `--batch-max-bytes`. */
export function flagName(key: string): string {
  return "--" + key.replaceAll("_", "-");
}

/** `batch_max_bytes` → `TINYKV_BATCH_MAX_BYTES`. */
export function envName(key: string): string {
  return "TINYKV_" + key.toUpperCase();
}

/** The environment variable of `spec` (its own `env`, else `TINYKV_<KEY>`). */
function envOf(spec: OptionSpec): string {
  return spec.env ?? envName(spec.key);
}

/**
 * A flag or config-file key that no core option and no loaded plugin declares. `key` lets the
 * command line say which plugin it belongs to ("--wal-fsync needs --plugins wal").
 */
export class UnknownOptionError extends ConfigError {
  /** The snake_case key. */
  readonly key: string;
  /** `flag`, or the config file's path. */
  readonly where: string;
  constructor(message: string, key: string, where: string) {
    super(message);
    this.name = "UnknownOptionError";
    this.key = key;
    this.where = where;
  }
}

function describe(source: string, key: string, value: unknown): string {
  return `${source} ${key}=${JSON.stringify(value)}`;
}

/** Parses `1=host:port,2=host:port` (the `peers` option); throws ConfigError naming `where`. */
export function parsePeers(text: string, where: string): Record<number, string> {
  const out: Record<number, string> = {};
  if (text.trim() === "") return out;
  for (const part of text.split(",")) {
    const m = /^\s*(\d+)\s*=\s*(\[[^\]]+\]|[^:\s]+):(\d+)\s*$/.exec(part);
    if (!m) {
      throw new ConfigError(
        `${where}: bad peer "${part}" (expected id=host:port, e.g. 1=127.0.0.1:5211)`,
      );
    }
    const id = Number(m[1]);
    const port = Number(m[3]);
    if (id < 1 || id > 65535 || port < 1 || port > 65535) {
      throw new ConfigError(`${where}: bad peer "${part}" (id 1..65535, port 1..65535)`);
    }
    if (out[id] !== undefined) throw new ConfigError(`${where}: peer id ${id} given twice`);
    out[id] = `${m[2]}:${port}`;
  }
  return out;
}

/**
 * Converts one raw value (string from a flag or the environment, JSON value from a file or a value
 * given in code) for `spec`, or throws {@link ConfigError} naming `source`, the key, the value and
 * what is allowed. The one parser for core and plugin options.
 */
export function parseOptionValue(spec: OptionSpec, raw: unknown, source: string): unknown {
  const where = describe(source, spec.key, raw);
  switch (spec.kind) {
    case "int": {
      const n = typeof raw === "number"
        ? raw
        : typeof raw === "string" && /^-?\d+$/.test(raw.trim())
        ? Number(raw)
        : NaN;
      if (!Number.isSafeInteger(n)) throw new ConfigError(`${where}: not an integer`);
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        throw new ConfigError(`${where}: out of range (allowed ${spec.min}..${spec.max})`);
      }
      return n;
    }
    case "bool": {
      if (typeof raw === "boolean") return raw;
      if (typeof raw === "string" && /^(true|1|yes|on)$/i.test(raw)) return true;
      if (typeof raw === "string" && /^(false|0|no|off)$/i.test(raw)) return false;
      throw new ConfigError(`${where}: not a boolean (allowed true/false)`);
    }
    case "string":
      if (typeof raw !== "string") throw new ConfigError(`${where}: not a string`);
      return raw;
    case "enum":
      if (typeof raw !== "string" || !spec.choices!.includes(raw)) {
        throw new ConfigError(`${where}: not allowed (allowed: ${spec.choices!.join(", ")})`);
      }
      return raw;
    case "list": {
      const items = Array.isArray(raw) ? raw : typeof raw === "string" ? raw.split(",") : null;
      if (!items || items.some((x) => typeof x !== "string")) {
        throw new ConfigError(`${where}: not a list of names`);
      }
      return (items as string[]).map((s) => s.trim()).filter((s) => s !== "");
    }
    case "log_levels":
      if (typeof raw !== "string") throw new ConfigError(`${where}: not a string`);
      try {
        return formatLogLevels(parseLogLevels(raw));
      } catch (err) {
        if (err instanceof LogLevelError) throw new ConfigError(`${where}: ${err.message}`);
        throw err;
      }
    case "peers": {
      if (typeof raw === "string") return parsePeers(raw, where);
      if (raw && typeof raw === "object" && !Array.isArray(raw)) {
        return parsePeers(Object.entries(raw).map(([k, v]) => `${k}=${v}`).join(","), where);
      }
      throw new ConfigError(`${where}: expected "id=host:port,..." or an object`);
    }
  }
}

/** Cross-field checks, after all sources are merged. */
function validate(c: Config): void {
  try {
    parseLogLevels(c.log_level);
  } catch (err) {
    if (err instanceof LogLevelError) {
      throw new ConfigError(`log_level=${JSON.stringify(c.log_level)}: ${err.message}`);
    }
    throw err;
  }
  const peerIds = Object.keys(c.peers).map(Number);
  if (peerIds.length > 0 && !peerIds.includes(c.node_id)) {
    throw new ConfigError(`node_id=${c.node_id}: not among peers (${peerIds.join(", ")})`);
  }
  if (c.port !== 0 && c.port === c.raft_port) {
    throw new ConfigError(`port=${c.port}: must differ from raft_port`);
  }
  if (c.redis_port > 0 && (c.redis_port === c.port || c.redis_port === c.raft_port)) {
    throw new ConfigError(`redis_port=${c.redis_port}: must differ from port and raft_port`);
  }
  if (c.heartbeat_ms >= c.election_timeout_ms) {
    throw new ConfigError(
      `heartbeat_ms=${c.heartbeat_ms}: must be below election_timeout_ms=${c.election_timeout_ms}`,
    );
  }
  if (c.heartbeat_ms < c.tick_ms || c.election_timeout_ms < c.tick_ms) {
    throw new ConfigError(
      `tick_ms=${c.tick_ms}: must not exceed heartbeat_ms and election_timeout_ms`,
    );
  }
  const idProblem = clusterIdProblem(c.cluster_id);
  if (idProblem) throw new ConfigError(`cluster_id=${JSON.stringify(c.cluster_id)}: ${idProblem}`);
  if (c.cluster_secret !== "" && c.cluster_secret_file !== "") {
    throw new ConfigError("cluster_secret and cluster_secret_file: give only one of them");
  }
  if (c.cluster_secret !== "") {
    const p = secretProblem(c.cluster_secret);
    if (p) throw new ConfigError(`cluster_secret: ${p}`);
  }
  if (
    (peerIds.some((id) => id !== c.node_id) || c.join) && c.cluster_secret === "" &&
    c.cluster_secret_file === ""
  ) {
    throw new ConfigError(
      `${c.join ? "join" : "peers"} given but no cluster secret: set --cluster-secret, ` +
        "TINYKV_CLUSTER_SECRET or --cluster-secret-file, the same on every member " +
        "(e.g. openssl rand -base64 24)",
    );
  }
}

/** Edit distance (insertions, deletions, substitutions) between `a` and `b`. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** The name in `known` closest to `name`, if close enough to be a likely typo. */
export function closestName(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(name, k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return bestD <= Math.max(2, Math.floor(name.length / 4)) ? best : undefined;
}

/** Environment variables read besides the options' own (`TINYKV_CONFIG`: the config file). */
export const OTHER_ENV: readonly string[] = ["TINYKV_CONFIG"];

/**
 * The `TINYKV_*` variables in `env` that no core option, no option in `pluginOptions` and nothing
 * in {@link OTHER_ENV} reads (they would be silently ignored), sorted, each with the closest known
 * name when there is a likely one (`TINYKV_BATCH_SIZ` → `TINYKV_BATCH_SIZE`). `alsoKnown` adds
 * names to suggest from (e.g. the options of built-in plugins not loaded).
 */
export function unknownEnvVars(
  env: Record<string, string | undefined>,
  pluginOptions: readonly OptionSpec[] = [],
  alsoKnown: readonly string[] = [],
): { name: string; suggestion?: string }[] {
  const known = new Set([...OPTIONS, ...pluginOptions].map(envOf));
  for (const n of OTHER_ENV) known.add(n);
  const candidates = new Set([...known, ...alsoKnown]);
  return Object.keys(env)
    .filter((n) => n.startsWith("TINYKV_") && env[n] !== undefined && !known.has(n))
    .sort()
    .map((name) => {
      const suggestion = closestName(name, candidates);
      return suggestion === undefined || suggestion === name ? { name } : { name, suggestion };
    });
}

/** Where configuration comes from; all optional (tests pass their own). */
export interface ConfigSources {
  /** Parsed flags: key (snake_case) → raw string. */
  flags?: Record<string, string>;
  /** Environment variables (only `TINYKV_*` are read). */
  env?: Record<string, string | undefined>;
  /** Parsed JSON config file contents, and its path for messages. */
  file?: { path: string; data: unknown };
}

/** The core options and the given plugin options by key; a plugin option may not shadow another. */
function specsByKey(pluginOptions: readonly OptionSpec[]): Map<string, OptionSpec> {
  const specs = new Map<string, OptionSpec>(OPTIONS.map((o) => [o.key, o]));
  for (const o of pluginOptions) {
    const other = specs.get(o.key);
    if (other) {
      throw new ConfigError(
        `option ${o.key} of plugin "${o.plugin}" clashes with ${
          other.plugin ? `plugin "${other.plugin}"` : "a core option"
        }`,
      );
    }
    specs.set(o.key, o);
  }
  return specs;
}

/**
 * Merges sources with precedence flags > env > file > defaults and validates the result.
 * `pluginOptions` are the options declared by the plugins to be loaded (see `pluginOptionSpecs`
 * in `core/plugin.ts`); their values land in the config under their full names. Throws
 * {@link ConfigError} with a one-line message on the first problem ({@link UnknownOptionError}
 * for a flag or file key nobody declares).
 */
export function resolveConfig(
  sources: ConfigSources,
  pluginOptions: readonly OptionSpec[] = [],
): Config {
  const specs = specsByKey(pluginOptions);
  const c: Record<string, unknown> = {};
  for (const o of specs.values()) c[o.key] = structuredClone(o.default);
  if (sources.file) {
    const { path, data } = sources.file;
    if (!data || typeof data !== "object" || Array.isArray(data)) {
      throw new ConfigError(`config file ${path}: expected a JSON object`);
    }
    for (const [k, v] of Object.entries(data)) {
      const spec = specs.get(k);
      if (!spec) {
        throw new UnknownOptionError(`config file ${path}: unknown key "${k}"`, k, path);
      }
      c[k] = parseOptionValue(spec, v, `config file ${path}:`);
    }
  }
  if (sources.env) {
    for (const spec of specs.values()) {
      const v = sources.env[envOf(spec)];
      if (v !== undefined) c[spec.key] = parseOptionValue(spec, v, "environment");
    }
  }
  if (sources.flags) {
    for (const [k, v] of Object.entries(sources.flags)) {
      const spec = specs.get(k);
      if (!spec) throw new UnknownOptionError(`unknown flag ${flagName(k)}`, k, "flag");
      c[k] = parseOptionValue(spec, v, "flag");
    }
  }
  const cfg = c as Config;
  validate(cfg);
  return cfg;
}

/**
 * Convenience for tests and embedders: defaults overridden by `overrides`, validated. Plugin
 * options may be given under their full names (`{ wal_fsync: "off" }`); they are checked when the
 * plugin gets them.
 */
export function makeConfig(overrides: Partial<Config> = {}): Config {
  const c = { ...defaultConfig(), ...overrides } as Config;
  validate(c);
  return c;
}

function helpLines(o: OptionSpec): string[] {
  const d = o.kind === "peers"
    ? ""
    : o.kind === "list"
    ? (o.default as string[]).join(",")
    : String(o.default);
  const choices = o.choices ? ` (${o.choices.join("|")})` : "";
  const range = o.kind === "int" ? `; allowed ${o.min}..${o.max}` : "";
  return [
    `  ${flagName(o.key).padEnd(26)} ${o.help}${choices}`,
    `  ${"".padEnd(26)} default: ${d === "" ? "(none)" : d}; env ${envOf(o)}${range}`,
  ];
}

/**
 * `--help` text for every core option with its default, flag and env name, then one section per
 * plugin in `plugins` (name and the options it declares; `always`: a plugin every node loads).
 */
export function optionsHelp(
  plugins: readonly { name: string; options: readonly OptionSpec[]; always?: boolean }[] = [],
): string {
  const lines: string[] = [];
  for (const o of OPTIONS) lines.push(...helpLines(o));
  for (const p of plugins) {
    if (p.options.length === 0) continue;
    const how = p.always ? "always loaded" : `--plugins ${p.name}`;
    lines.push("", `Options of the ${p.name} plugin (${how}):`);
    for (const o of p.options) lines.push(...helpLines(o));
  }
  return lines.join("\n");
}
