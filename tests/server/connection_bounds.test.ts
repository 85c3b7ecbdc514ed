// Issue 9 item 6: connection exhaustion without credentials. 10,000 idle connections against a
// real node process leave a legitimate client served and the node's RSS bounded; half-sent frames
// and connections that never authenticate are closed after their timeouts; the unauthenticated
// connections are capped (oldest closed first); idle connections time out; wrong AUTHs from one
// address are slowed (another address is not).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Code } from "../../protocol/codes.ts";
import type { TinyKVNode } from "../../core/node/types.ts";
import { modCommand } from "../helpers/node_process.ts";
import { startTestNode } from "../helpers/in_process.ts";
import { RawClient } from "../helpers/raw_client.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BUN = join(ROOT, "node_modules", ".bin", "bun");
const FLOOD = 10_000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resident memory of a process in MB (Linux /proc). */
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Runs `cmd args` under `sh` with the file-descriptor limit raised for 10,000 sockets. */
function spawnWithFds(cmd: string, args: string[]): ChildProcess {
  return spawn("sh", [
    "-c",
    'ulimit -n 20000 2>/dev/null || ulimit -n 12000; exec "$0" "$@"',
    cmd,
    ...args,
  ], {
    cwd: ROOT,
    env: { ...process.env, TINYKV_METRICS_PORT: "0" },
    stdio: ["pipe", "pipe", "pipe"],
  });
}

/** Resolves with the first stdout/stderr text matching `re` (bounded). */
function waitOutput(p: ChildProcess, re: RegExp, ms: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${re}:\n${seen}`)), ms);
    const on = (d: Buffer) => {
      seen += d.toString();
      const m = re.exec(seen);
      if (m) {
        clearTimeout(t);
        resolve(m);
      }
    };
    p.stdout!.on("data", on);
    p.stderr!.on("data", on);
  });
}

/** A connection from a chosen loopback source address (Linux routes all of 127/8 locally). */
function connectFrom(localAddress: string, port: number): Promise<RawClient> {
  return RawClient.connect(port, "127.0.0.1", localAddress);
}

describe("10,000 idle connections against a real node process", () => {
  let dir: string;
  let node: ChildProcess;
  let port = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "tkv-idle-"));
    const { cmd, args } = modCommand("deno");
    node = spawnWithFds(cmd, [...args, "--port", "0", "--raft-port", "0", "--data-dir", dir]);
    port = Number((await waitOutput(node, /listening: clients [^\s]+:(\d+)/, 30_000))[1]);
  });
  afterAll(() => {
    node?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  test("a legitimate client is still served and the node's RSS stays bounded", async () => {
    const pid = node.pid!;
    await sleep(300);
    const rss0 = rssMb(pid);
    const flood = spawnWithFds(BUN, [
      join(ROOT, "tests/server/idle_flood.ts"),
      String(port),
      String(FLOOD),
    ]);
    try {
      const line = await waitOutput(flood, /\{"connected".*\}/, 60_000);
      const report = JSON.parse(line[0]);
      await sleep(500);
      const rss = rssMb(pid);
      const t = Date.now();
      const c = await RawClient.connect(port);
      const r = await c.batch([["SET", "legit", "1"], ["GET", "legit"]], "legit", {});
      const took = Date.now() - t;
      c.close();
      console.log(
        `${FLOOD} idle connections (${JSON.stringify(report)}): node RSS ${rss0.toFixed(0)} -> ` +
          `${rss.toFixed(0)} MB; a legitimate client served in ${took} ms`,
      );
      expect(r.codes).toEqual([Code.OK, Code.OK]);
      expect(took).toBeLessThan(2000);
      expect(rss - rss0).toBeLessThan(150);
    } finally {
      flood.stdin!.end();
      flood.kill("SIGKILL");
    }
  }, 120_000);
});

describe("timeouts, caps and the AUTH throttle (in-process node)", () => {
  let node: TinyKVNode;
  let open: TinyKVNode;
  let guarded: TinyKVNode;

  beforeAll(async () => {
    node = await startTestNode({
      password: "s3cret",
      auth_timeout_ms: 400,
      frame_timeout_ms: 300,
      max_unauthenticated_connections: 4,
      auth_failure_delay_ms: 50,
    });
    open = await startTestNode({ idle_timeout_ms: 300, frame_timeout_ms: 300 });
    guarded = await startTestNode({ password: "s3cret", auth_failure_delay_ms: 50 });
  });
  afterAll(async () => {
    await node?.stop();
    await open?.stop();
    await guarded?.stop();
  });

  /** Opens a connection, runs `before`, and expects the server to close it with `code` and `re`. */
  async function closedBy(
    port: number,
    code: number,
    re: RegExp,
    before: (c: RawClient) => Promise<void> | void = () => {},
  ): Promise<number> {
    const c = await RawClient.connect(port);
    await before(c);
    const t = Date.now();
    await c.until(() => c.closed, 3000);
    expect(c.messages.at(-1)).toMatchObject({ type: 0xff, code });
    expect(String(c.messages.at(-1)!.error)).toMatch(re);
    return Date.now() - t;
  }
  const ping = async (c: RawClient) => {
    expect((await c.batch([["PING"]])).codes).toEqual([Code.OK]);
  };

  test("a half-sent frame is closed after frame_timeout_ms", async () => {
    const waited = await closedBy(
      open.clientPort,
      Code.MALFORMED,
      /incomplete frame/,
      async (c) => {
        await ping(c);
        c.writeRaw(new Uint8Array([0, 0, 0, 100, 0xa1, 0x64])); // 100 bytes announced, 2 sent
      },
    );
    expect(waited).toBeGreaterThanOrEqual(250);
  });

  test("an idle connection is closed after idle_timeout_ms", async () => {
    await closedBy(open.clientPort, Code.TIMEOUT, /idle for 300 ms/, ping);
  });

  test("a connection that never authenticates is closed after auth_timeout_ms", async () => {
    const waited = await closedBy(node.clientPort, Code.AUTH_REQUIRED, /authentication timeout/);
    expect(waited).toBeGreaterThanOrEqual(300);
  });

  test("unauthenticated connections are capped (oldest closed); a new client still gets in", async () => {
    const idle: RawClient[] = [];
    for (let i = 0; i < 10; i++) idle.push(await RawClient.connect(node.clientPort));
    await sleep(100);
    expect(idle.filter((c) => c.closed).length).toBe(6);
    expect(idle.slice(0, 6).every((c) => c.closed)).toBe(true);
    const c = await connectFrom("127.0.0.3", node.clientPort);
    c.send({ type: 1, password: "s3cret" });
    await c.until(() => c.messages.length === 1);
    expect(c.messages.shift()).toMatchObject({ code: Code.OK });
    expect((await c.batch([["PING"]])).codes).toEqual([Code.OK]);
    for (const x of idle) x.close();
    c.close();
  });

  test("wrong AUTHs from one address are slowed; another address is not", async () => {
    // Pipelined: one answer, then the connection's next attempts wait; a flood of them closes it.
    const a = await connectFrom("127.0.0.4", guarded.clientPort);
    for (let i = 0; i < 40; i++) a.send({ type: 1, password: `guess${i}` });
    await a.until(() => a.closed, 3000);
    const answers = a.messages.filter((m) => m.type === 0x81);
    expect(answers.length).toBeLessThanOrEqual(2);
    expect(a.messages.at(-1)).toMatchObject({ type: 0xff, code: Code.AUTH_FAILED });
    // One at a time: each wrong attempt from the address waits longer (50, 100, 200, 400 ms...).
    const b = await connectFrom("127.0.0.4", guarded.clientPort);
    const t = Date.now();
    for (let i = 0; i < 5; i++) {
      b.send({ type: 1, password: `again${i}` });
      await b.until(() => b.messages.length === i + 1, 5000);
      expect(b.messages[i]).toMatchObject({ code: Code.AUTH_FAILED });
    }
    const slowed = Date.now() - t;
    // Another address is answered at once, and the right password works there.
    const c = await connectFrom("127.0.0.5", guarded.clientPort);
    const t2 = Date.now();
    c.send({ type: 1, password: "nope" });
    c.send({
      type: 3,
      batch_id: "k",
      commands_cbor: new Uint8Array([0x81, 0x81, 0x64, 80, 73, 78, 71]),
      auth_key: "s3cret",
    });
    await c.until(() => c.messages.length === 2, 5000);
    const other = Date.now() - t2;
    console.log(
      `5 serial wrong AUTHs from one address: ${slowed} ms; another address: ${other} ms`,
    );
    expect(slowed).toBeGreaterThanOrEqual(700); // 50+100+200+400 (+ the earlier failures' wait)
    expect(other).toBeLessThan(400);
    b.close();
    c.close();
  });

  test("what waits behind a delayed AUTH is bounded in bytes too", async () => {
    const a = await connectFrom("127.0.0.6", guarded.clientPort);
    a.send({ type: 1, password: "wrong" });
    await a.until(() => a.messages.length === 1);
    a.send({ type: 1, password: "wrong again" }); // waits for the address's delay
    a.send({ type: 3, batch_id: "big", commands: [["SET", "k", "x".repeat(70_000)]] });
    await a.until(() => a.closed, 3000);
    expect(a.messages.at(-1)).toMatchObject({ type: 0xff, code: Code.AUTH_FAILED });
    expect(String(a.messages.at(-1)!.error)).toMatch(/too many requests/);
  });
});
