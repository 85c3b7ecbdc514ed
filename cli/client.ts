/**
 * The CLI client (`mod.ts client ...`): one-shot (`client SET k v` prints the reply and exits 0,
 * or 1 on an error reply) or, without a command, an interactive prompt that reads lines from stdin
 * (also when stdin is a pipe: one command per line, no prompt printed).
 * @module
 */
import process from "node:process";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { TinyKVError } from "../protocol/codes.ts";
import { connect } from "../client/client.ts";
import { formatError, formatRaw, formatValue } from "./format.ts";
import { complete, helpText } from "./help.ts";
import { appendFileSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { LineSyntaxError, parseLine } from "./line_parser.ts";
import type { Arg, Client, ConnectOptions } from "../client/types.ts";

/** Streams the CLI uses (the process's by default; tests pass their own). */
export interface CliIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  /** Whether stdin is an interactive terminal (prompt shown). */
  isTTY: boolean;
}

const USAGE = `Usage: mod.ts client [options] [command [arg ...]]

Without a command: interactive prompt (reads commands from stdin, one per line;
"quoted words" keep spaces; quit, exit or Ctrl-D leaves).

Options:
  --host, -h HOST        server host (default 127.0.0.1)
  --port, -p PORT        server client port (default 5210)
  --password, -a PASS    password (AUTH on connect)
  --transport tcp|udp    transport (default tcp)
  --endpoints LIST       comma-separated host:port of every node (follows the leader)
  --timeout MS           per-request timeout (default 5000)
  --raw                  print raw values (no quotes, no type labels)
  --help                 this help
`;

/** Exit code for usage errors. */
const EXIT_USAGE = 2;

class UsageError extends Error {}

interface CliArgs {
  opts: ConnectOptions;
  raw: boolean;
  help: boolean;
  command: string[];
}

function parseCliArgs(argv: string[]): CliArgs {
  const opts: ConnectOptions = {};
  let raw = false;
  let help = false;
  let i = 0;
  const value = (flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined) throw new UsageError(`${flag} needs a value`);
    i += 2;
    return v;
  };
  const int = (flag: string, text: string, min: number, max: number): number => {
    const n = Number(text);
    if (!/^[0-9]+$/.test(text) || n < min || n > max) {
      throw new UsageError(`${flag} ${text}: expected an integer ${min}..${max}`);
    }
    return n;
  };
  while (i < argv.length) {
    const a = argv[i];
    if (a === "--host" || a === "-h") opts.host = value(a);
    else if (a === "--port" || a === "-p") opts.port = int(a, value(a), 1, 65535);
    else if (a === "--password" || a === "-a") opts.password = value(a);
    else if (a === "--transport") {
      const t = value(a);
      if (t !== "tcp" && t !== "udp") throw new UsageError(`--transport ${t}: expected tcp or udp`);
      opts.transport = t;
    } else if (a === "--endpoints") {
      opts.endpoints = value(a).split(",").map((s) => s.trim()).filter((s) => s !== "");
    } else if (a === "--timeout") opts.timeoutMs = int(a, value(a), 1, 3_600_000);
    else if (a === "--raw") {
      raw = true;
      i++;
    } else if (a === "--help") {
      help = true;
      i++;
    } else if (a === "--") {
      i++;
      break;
    } else if (a.startsWith("-") && a.length > 1 && isNaN(Number(a))) {
      throw new UsageError(`unknown option ${a} (see --help)`);
    } else break;
  }
  return { opts, raw, help, command: argv.slice(i) };
}

/** Runs one command and writes its reply; resolves to true on success. */
async function runOne(client: Client, args: Arg[], raw: boolean, out: Writable): Promise<boolean> {
  try {
    const name = typeof args[0] === "string" ? args[0].toUpperCase() : "";
    if (name === "INFO" && args.length > 1) {
      // INFO section ...: the node answers INFO whole; the sections are picked here.
      const text = await client.command("INFO");
      const t = typeof text === "string" ? text : new TextDecoder().decode(text as Uint8Array);
      out.write(infoSections(t, args.slice(1).map(String)) + "\n");
      return true;
    }
    const v = await client.command(...args);
    out.write((raw ? formatRaw(v) : formatValue(v)) + "\n");
    return true;
  } catch (err) {
    if (err instanceof TinyKVError) {
      let msg = err.message;
      if (err.leader) msg += ` (leader ${err.leader})`;
      out.write(formatError(err.codeName, msg, raw) + "\n");
      return false;
    }
    throw err;
  }
}

/** Most lines kept in the history file (and loaded from it). */
const HISTORY_LINES = 1000;

/** `~/.tinykv_history` (TINYKV_HISTORY_FILE overrides; empty disables). */
function historyFile(): string | null {
  const f = process.env.TINYKV_HISTORY_FILE;
  if (f !== undefined) return f === "" ? null : f;
  return join(homedir(), ".tinykv_history");
}

function loadHistory(file: string | null): string[] {
  if (file === null) return [];
  try {
    return readFileSync(file, "utf8").split("\n").filter(Boolean).slice(-HISTORY_LINES).reverse();
  } catch {
    return [];
  }
}

/** INFO's sections (`# Name`) named in `wanted` (case-insensitive); all when none is. */
export function infoSections(text: string, wanted: string[]): string {
  if (wanted.length === 0) return text;
  const want = new Set(wanted.map((w) => w.toLowerCase()));
  const out: string[] = [];
  let keep = false;
  for (const line of text.split("\n")) {
    if (line.startsWith("# ")) keep = want.has(line.slice(2).trim().toLowerCase());
    if (keep) out.push(line);
  }
  return out.join("\n");
}

/** The interactive loop: one command per line until quit/exit/EOF. */
async function repl(client: Client, raw: boolean, io: CliIo): Promise<number> {
  const file = io.isTTY ? historyFile() : null;
  const rl = createInterface({
    input: io.stdin,
    output: io.isTTY ? io.stdout : undefined,
    terminal: io.isTTY,
    history: loadHistory(file),
    historySize: HISTORY_LINES,
    completer: complete,
  });
  rl.on("line", (line) => {
    if (file === null || line.trim() === "") return;
    try {
      appendFileSync(file, line.replace(/\n/g, " ") + "\n", { mode: 0o600 });
    } catch { /* history is best effort */ }
  });
  let closed = false;
  rl.on("close", () => (closed = true));
  const prompt = () => {
    if (io.isTTY && !closed) {
      rl.setPrompt(`tinykv ${client.endpoint}> `);
      rl.prompt();
    }
  };
  prompt();
  try {
    for await (const line of rl) {
      let args: Arg[];
      try {
        args = parseLine(line);
      } catch (err) {
        if (!(err instanceof LineSyntaxError)) throw err;
        io.stdout.write(formatError("SYNTAX", err.message, raw) + "\n");
        prompt();
        continue;
      }
      if (args.length === 0) {
        prompt();
        continue;
      }
      const first = typeof args[0] === "string" ? args[0].toLowerCase() : "";
      if (args.length === 1 && (first === "quit" || first === "exit")) break;
      if (first === "help" && args.length <= 2) {
        io.stdout.write(helpText(args.length === 2 ? String(args[1]) : undefined) + "\n");
        prompt();
        continue;
      }
      await runOne(client, args, raw, io.stdout);
      prompt();
    }
  } finally {
    rl.close();
  }
  return 0;
}

/**
 * Runs the CLI client with `argv` (the arguments after `client`); resolves to the exit code:
 * 0 on success, 1 on an error reply or connection failure, 2 on a usage error.
 */
export async function runClientCli(argv: string[], io?: CliIo): Promise<number> {
  const streams: CliIo = io ?? {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    isTTY: process.stdin.isTTY === true,
  };
  let args: CliArgs;
  try {
    args = parseCliArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      streams.stderr.write(`tinykv client: ${err.message}\n`);
      return EXIT_USAGE;
    }
    throw err;
  }
  if (args.help) {
    streams.stdout.write(USAGE);
    return 0;
  }
  const cmd = args.command;
  if (cmd.length > 0 && cmd.length <= 2 && String(cmd[0]).toLowerCase() === "help") {
    // `client help [CMD]` is answered here: no node needed to read the command docs.
    streams.stdout.write(helpText(cmd.length === 2 ? String(cmd[1]) : undefined) + "\n");
    return 0;
  }
  let client: Client;
  try {
    client = await connect(args.opts);
  } catch (err) {
    const e = err as Error;
    const name = err instanceof TinyKVError ? `${err.codeName} ` : "";
    streams.stderr.write(`tinykv client: could not connect: ${name}${e.message}\n`);
    return 1;
  }
  try {
    if (args.command.length > 0) {
      return (await runOne(client, args.command, args.raw, streams.stdout)) ? 0 : 1;
    }
    return await repl(client, args.raw, streams);
  } finally {
    await client.close();
  }
}
