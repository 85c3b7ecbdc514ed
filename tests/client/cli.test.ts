/** CLI client: argument parsing, redis-cli style output, one-shot and piped interactive mode. */
import { afterEach, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { PassThrough } from "node:stream";
import { runClientCli } from "../../cli/client.ts";
import { formatRaw, formatValue, quoteBytes } from "../../cli/format.ts";
import { parseLine } from "../../cli/line_parser.ts";
import type { FakeServer } from "./fake_server.ts";
import { startKvFake } from "./kv_fake.ts";

const enc = new TextEncoder();

/** Runs a child process (async, so the fake server in this process keeps answering). */
function runChild(
  cmd: string,
  args: string[],
  input: string,
): Promise<{ stdout: string; stderr: string; status: number | null }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, status });
    });
    child.stdin.end(input);
  });
}

describe("line parser", () => {
  test("quotes group words, escapes work, \\x makes bytes", () => {
    expect(parseLine(`SET  k "a b" 'c d'`)).toEqual(["SET", "k", "a b", "c d"]);
    expect(parseLine(`SET k "say \\"hi\\"\\n"`)).toEqual(["SET", "k", 'say "hi"\n']);
    expect(parseLine(`SET k 'it\\'s'`)).toEqual(["SET", "k", "it's"]);
    expect(parseLine(`SET k "\\xff\\x00a"`)[2]).toEqual(new Uint8Array([0xff, 0, 0x61]));
    expect(parseLine("   ")).toEqual([]);
    expect(() => parseLine(`SET "k`)).toThrow("unbalanced quotes");
    expect(() => parseLine(`SET "k"v`)).toThrow("closing quote");
  });
});

describe("formatting", () => {
  test("redis-cli style values", () => {
    expect(formatValue(null)).toBe("(nil)");
    expect(formatValue(42)).toBe("(integer) 42");
    expect(formatValue("OK")).toBe("OK");
    expect(formatValue(enc.encode('a"b\n'))).toBe('"a\\"b\\n"');
    expect(quoteBytes(new Uint8Array([0xff, 0x41]))).toBe('"\\xffA"');
    expect(formatValue([])).toBe("(empty array)");
    expect(formatValue([enc.encode("a"), [1, enc.encode("b")]])).toBe(
      '1) "a"\n2) 1) (integer) 1\n   2) "b"',
    );
    expect(formatRaw([enc.encode("a"), 2, null])).toBe("a\n2\n");
  });
});

/** Collects everything written to a stream. */
function sink(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on("data", (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString("utf8") };
}

let server: FakeServer | null = null;
afterEach(async () => {
  await server?.stop();
  server = null;
});

async function kvServer(): Promise<FakeServer> {
  server = await startKvFake();
  return server;
}

function io(input: string) {
  const stdin = new PassThrough();
  stdin.end(input);
  const out = sink();
  const err = sink();
  return { io: { stdin, stdout: out.stream, stderr: err.stream, isTTY: false }, out, err };
}

describe("runClientCli", () => {
  test("one-shot: prints the reply, exit 0; error reply exits 1", async () => {
    const s = await kvServer();
    const a = io("");
    expect(await runClientCli(["--port", String(s.port), "SET", "k", "a b"], a.io)).toBe(0);
    expect(a.out.text()).toBe("OK\n");
    expect((s.requests[0].msg.command as string[])[2]).toBe("a b");
    const b = io("");
    expect(await runClientCli(["-p", String(s.port), "GET", "k"], b.io)).toBe(0);
    expect(b.out.text()).toBe('"a b"\n');
    const c = io("");
    expect(await runClientCli(["-p", String(s.port), "NOPE"], c.io)).toBe(1);
    expect(c.out.text()).toBe("(error) UNKNOWN_COMMAND unknown command 'NOPE'\n");
    const d = io("");
    expect(await runClientCli(["-p", String(s.port), "--raw", "GET", "k"], d.io)).toBe(0);
    expect(d.out.text()).toBe("a b\n");
  });

  test("piped stdin: one command per line, quotes, blank lines, stops at quit", async () => {
    const s = await kvServer();
    const x = io(
      `SET k "hello world"\n\nGET k\nGET missing\nLRANGE l 0 -1\nSET "bad\nquit\nGET k\n`,
    );
    expect(await runClientCli(["--port", String(s.port)], x.io)).toBe(0);
    expect(x.out.text()).toBe(
      'OK\n"hello world"\n(nil)\n1) "x"\n2) "y"\n(error) SYNTAX unbalanced quotes\n',
    );
    expect(s.requests.length).toBe(4);
  });

  test("usage errors exit 2; unreachable server exits 1", async () => {
    const a = io("");
    expect(await runClientCli(["--bogus"], a.io)).toBe(2);
    expect(a.err.text()).toContain("unknown option --bogus");
    expect(await runClientCli(["--port", "99999"], a.io)).toBe(2);
    const s = await kvServer();
    const port = s.port;
    await s.stop();
    server = null;
    const b = io("");
    expect(await runClientCli(["--port", String(port), "GET", "k"], b.io)).toBe(1);
    expect(b.err.text()).toContain("could not connect");
  });
});

describe("under Deno", () => {
  test("the CLI runs under Deno: one-shot and piped", async () => {
    const s = await kvServer();
    const run = (args: string[], input: string) =>
      runChild("node_modules/.bin/deno", ["run", "-A", "tests/client/cli_main.ts", ...args], input);
    const oneShot = await run(["--port", String(s.port), "SET", "k", "v w"], "");
    expect(oneShot.stderr.replace(/npm warn.*\n/g, "")).toBe("");
    expect(oneShot.stdout).toBe("OK\n");
    expect(oneShot.status).toBe(0);
    const piped = await run(["--port", String(s.port)], "GET k\nNOPE\n");
    expect(piped.stdout).toBe("\"v w\"\n(error) UNKNOWN_COMMAND unknown command 'NOPE'\n");
    expect(piped.status).toBe(0);
  }, 60_000);
});
