/**
 * `mod.ts snapshot save|restore|inspect`: backups of a running cluster and restoring them into the
 * data directories of a new one (offline), like `etcdctl snapshot save` and
 * `etcdutl snapshot restore`.
 *
 * - `save FILE`: asks the leader (found through `--endpoints`, or `--host`/`--port`) for a snapshot
 *   of its state at its applied index (`SNAPSHOT_SAVE`, a consistent cut of the log), reads it in
 *   chunks (`SNAPSHOT_CHUNK`), checks its CRC-32C, and writes FILE atomically (temp file, fsync,
 *   rename).
 * - `restore FILE --data-dir D --node-id N [--peers ...]`: builds the wal data dir of one member of
 *   a new cluster holding the snapshot (run once per member, same FILE and `--peers`); the members
 *   are the `--peers` ids (a single node without). Refuses a data dir that already holds a log.
 * - `inspect FILE`: prints the backup's header (index, term, size, checksum) after checking it.
 *
 * File format: the line `TINYKV-BACKUP 1`, one line of JSON metadata, then the node snapshot bytes.
 * @module
 */
import { crc32c } from "@node-rs/crc32";
import * as fs from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";
import { connect } from "../client/client.ts";
import { ConfigError, parsePeers } from "../core/config/config.ts";
import { withMembers } from "../core/node/snapshot_envelope.ts";
import { openWal } from "../plugins/wal/wal.ts";

const MAGIC = "TINYKV-BACKUP 1\n";
/** Longest metadata line accepted (never trust a length from a file). */
const MAX_META = 64 * 1024;

/** The backup's metadata line. */
export interface BackupMeta {
  index: number;
  term: number;
  voters: number[];
  learners: number[];
  bytes: number;
  crc32c: number;
  created: string;
  source: string;
}

const HELP = `Usage:
  mod.ts snapshot save FILE [--endpoints h:p,...] [--host H --port P] [--password PW]
  mod.ts snapshot restore FILE --data-dir DIR --node-id N [--peers 1=h:p,2=h:p,...]
  mod.ts snapshot inspect FILE

save     takes a consistent snapshot from a running cluster (the leader's state at its applied
         index) and writes it to FILE, checksummed.
restore  builds one member's data dir of a NEW cluster from FILE, offline; run it once per
         member with the same --peers, then start the members with those --peers and the wal
         plugin (and a cluster secret). DIR must not hold a log yet.
inspect  checks FILE and prints what it holds.
`;

/** Runs `snapshot ...`; resolves to the exit code. */
export async function runSnapshotCli(argv: string[], out = console.log): Promise<number> {
  const sub = argv[0];
  if (sub === undefined || sub === "--help" || sub === "-h" || sub === "help") {
    out(HELP);
    return sub === undefined ? 2 : 0;
  }
  let args;
  try {
    args = parseArgs({
      args: argv.slice(1),
      allowPositionals: true,
      options: {
        endpoints: { type: "string" },
        host: { type: "string" },
        port: { type: "string" },
        password: { type: "string" },
        "data-dir": { type: "string" },
        "node-id": { type: "string" },
        peers: { type: "string" },
        help: { type: "boolean" },
      },
    });
  } catch (err) {
    console.error(`tinykv snapshot: ${(err as Error).message}`);
    return 2;
  }
  if (args.values.help) {
    out(HELP);
    return 0;
  }
  const file = args.positionals[0];
  if (!file || args.positionals.length > 1) {
    console.error(`tinykv snapshot ${sub}: give one FILE (see mod.ts snapshot --help)`);
    return 2;
  }
  try {
    if (sub === "save") return await save(file, args.values, out);
    if (sub === "restore") return await restore(file, args.values, out);
    if (sub === "inspect") {
      const { meta } = readBackup(file);
      out(JSON.stringify(meta, null, 2));
      return 0;
    }
    console.error(`tinykv snapshot: unknown subcommand "${sub}" (save, restore, inspect)`);
    return 2;
  } catch (err) {
    console.error(`tinykv snapshot ${sub}: ${(err as Error).message}`);
    return err instanceof ConfigError || err instanceof UsageError ? 2 : 1;
  }
}

class UsageError extends Error {}

async function save(
  file: string,
  o: { endpoints?: string; host?: string; port?: string; password?: string },
  out: (s: string) => void,
): Promise<number> {
  const endpoints = o.endpoints?.split(",").map((s) => s.trim()).filter(Boolean);
  const port = o.port === undefined ? undefined : Number(o.port);
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
    throw new UsageError(`--port must be 1..65535 (got ${o.port})`);
  }
  let c = await connect({ endpoints, host: o.host, port, password: o.password, timeoutMs: 30_000 });
  try {
    // From the leader: every write it acknowledged is applied there (any member's state is a
    // consistent cut of the log, but a follower's may miss the latest acknowledged writes).
    const l = await c.command("GET_LEADER") as [number, Uint8Array | string];
    const addr = typeof l[1] === "string" ? l[1] : new TextDecoder().decode(l[1]);
    if (!addr) {
      throw new Error("no leader is known: a backup is taken from the leader; retry shortly");
    }
    if (addr !== c.endpoint) {
      const lc = await connect({ endpoints: [addr], password: o.password, timeoutMs: 30_000 });
      await c.close();
      c = lc;
    }
    const r = await c.command("SNAPSHOT_SAVE") as unknown[];
    const [token, index, term, bytes, crc, voters, learners] = r as [
      string | Uint8Array,
      number,
      number,
      number,
      number,
      number[],
      number[],
    ];
    const tok = typeof token === "string" ? token : new TextDecoder().decode(token);
    const meta: BackupMeta = {
      index,
      term,
      voters,
      learners,
      bytes,
      crc32c: crc,
      created: new Date().toISOString(),
      source: c.endpoint,
    };
    const tmp = `${file}.tmp`;
    const fd = fs.openSync(tmp, "w", 0o600);
    let sum = 0;
    try {
      const head = new TextEncoder().encode(MAGIC + JSON.stringify(meta) + "\n");
      fs.writeSync(fd, head);
      let off = 0;
      while (off < bytes) {
        const chunk = await c.command("SNAPSHOT_CHUNK", tok, String(off));
        if (!(chunk instanceof Uint8Array) || chunk.length === 0) {
          throw new Error(`bad chunk at offset ${off}`);
        }
        sum = crc32c(chunk, sum);
        fs.writeSync(fd, chunk);
        off += chunk.length;
      }
      if (off !== bytes) throw new Error(`received ${off} bytes, expected ${bytes}`);
      if (sum !== crc) throw new Error("checksum mismatch: the backup was damaged in transfer");
      fs.fsyncSync(fd);
    } catch (err) {
      fs.closeSync(fd);
      fs.rmSync(tmp, { force: true });
      throw err;
    }
    fs.closeSync(fd);
    fs.renameSync(tmp, file);
    out(
      `saved ${file}: snapshot at index ${index} (term ${term}), ${bytes} bytes, crc32c ${
        crc.toString(16)
      }, from ${c.endpoint}`,
    );
    return 0;
  } finally {
    await c.close();
  }
}

/** Reads and checks a backup file. */
export function readBackup(file: string): { meta: BackupMeta; data: Uint8Array } {
  const buf = fs.readFileSync(file);
  const bad = (why: string) => new Error(`${file} is not a valid TinyKV backup: ${why}`);
  const magic = new TextEncoder().encode(MAGIC);
  if (buf.length < magic.length || magic.some((b, i) => buf[i] !== b)) throw bad("bad header");
  const nl = buf.indexOf(0x0a, magic.length);
  if (nl < 0 || nl - magic.length > MAX_META) throw bad("no metadata line");
  let meta: BackupMeta;
  try {
    meta = JSON.parse(new TextDecoder().decode(buf.subarray(magic.length, nl)));
  } catch {
    throw bad("metadata is not JSON");
  }
  const ok = Number.isSafeInteger(meta?.index) && meta.index > 0 &&
    Number.isSafeInteger(meta.term) && meta.term > 0 && Number.isSafeInteger(meta.bytes) &&
    Number.isInteger(meta.crc32c);
  if (!ok) throw bad("metadata fields");
  const data = buf.subarray(nl + 1);
  if (data.length !== meta.bytes) {
    throw bad(`holds ${data.length} bytes of snapshot, its header says ${meta.bytes} (truncated?)`);
  }
  if (crc32c(data) !== meta.crc32c) throw bad("checksum mismatch (damaged)");
  return { meta, data };
}

async function restore(
  file: string,
  o: { "data-dir"?: string; "node-id"?: string; peers?: string },
  out: (s: string) => void,
): Promise<number> {
  const dir = o["data-dir"];
  const id = Number(o["node-id"]);
  if (!dir) throw new UsageError("--data-dir is required");
  if (!Number.isInteger(id) || id < 1 || id > 65535) {
    throw new UsageError(`--node-id must be 1..65535 (got ${o["node-id"]})`);
  }
  const peers = parsePeers(o.peers ?? "", "--peers");
  const voters = Object.keys(peers).length > 0
    ? Object.keys(peers).map(Number).sort((a, b) => a - b)
    : [id];
  if (!voters.includes(id)) throw new UsageError(`--peers does not include node ${id}`);
  const { meta, data } = readBackup(file);
  if (
    fs.existsSync(dir) &&
    fs.readdirSync(dir).some((n) => /^(wal-|snap-|NODE_ID|CLUSTER_ID)/.test(n))
  ) {
    throw new UsageError(
      `data dir ${dir} already holds a node's data: restore into an empty directory`,
    );
  }
  const conf = { voters, learners: [] };
  const wal = await openWal(dir, { initialConf: conf });
  try {
    // The old cluster's member addresses would override the new members' --peers: dropped (the
    // members advertise their client addresses once a leader is elected).
    await wal.applySnapshot({
      meta: { index: meta.index, term: meta.term, conf },
      data: withMembers(data, {}),
    });
    // Terms never go backwards in the log: the new cluster's first election is after this term.
    wal.setHardState({ term: meta.term, vote: 0, commit: meta.index });
    await wal.sync();
  } finally {
    await wal.close();
  }
  out(
    `restored ${file} (index ${meta.index}, term ${meta.term}) into ${
      join(dir)
    } as node ${id} of ` +
      `voters ${voters.join(",")}; start it with --node-id ${id} --data-dir ${dir} --plugins wal` +
      (o.peers ? ` --peers ${o.peers}` : ""),
  );
  return 0;
}

if (import.meta.main) runSnapshotCli(process.argv.slice(2)).then((c) => process.exit(c));
