/**
 * Hostile RESP input against an in-process node: negative and huge counts, deep nesting, a
 * 100 MiB inline line, malformed framing, random bytes, a half-sent pipeline then close, a
 * half-sent command left hanging. Each gets a clear error (or is ignored as Redis ignores it), the
 * connection is closed, memory stays bounded, the commands read before the bad input are
 * answered, and the node and its other clients are unaffected.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import process from "node:process";
import type { TinyKVNode } from "../../core/node/types.ts";
import { RawResp, resp, startRespNode } from "./helpers.ts";

let node: TinyKVNode;
/** A client that stays connected through everything and must keep being served. */
let bystander: RawResp;
let bystanderSeq = 0;

beforeAll(async () => {
  node = await startRespNode({ frame_timeout_ms: 400 });
  bystander = await RawResp.connect(node.redisPort);
});

afterAll(async () => {
  bystander?.close();
  await node?.stop();
});

async function bystanderWorks(): Promise<void> {
  const n = ++bystanderSeq;
  const mark = bystander.text().length;
  await bystander.write(resp("SET", `by:${n}`, "x"));
  await bystander.write(resp("GET", `by:${n}`));
  const got = await bystander.until((t) => t.length - mark >= 12);
  expect(got.slice(mark)).toBe("+OK\r\n$1\r\nx\r\n");
}

/** Sends `bytes`; expects exactly `reply` and a close. */
async function refused(bytes: string | Uint8Array, reply: string): Promise<void> {
  const c = await RawResp.connect(node.redisPort);
  try {
    await c.write(bytes);
    expect(await c.closedWithin()).toBe(true);
    expect(c.text()).toBe(reply);
  } finally {
    c.close();
  }
  await bystanderWorks();
}

test("counts are checked, never trusted", async () => {
  await refused("*-5\r\n", "-ERR Protocol error: invalid multibulk length\r\n");
  await refused("*abc\r\n", "-ERR Protocol error: invalid multibulk length\r\n");
  await refused("*99999999999999999999\r\n", "-ERR Protocol error: invalid multibulk length\r\n");
  await refused("*1\r\n$2147483647\r\n", "-ERR Protocol error: invalid bulk length\r\n");
  await refused("*1\r\n$-1\r\n", "-ERR Protocol error: invalid bulk length\r\n");
  // Over batch_max_bytes (1 MiB): refused from the header, before any of it is buffered.
  await refused("*1\r\n$2000000\r\n", "-ERR Protocol error: invalid bulk length\r\n");
  await refused("*2\r\n$1\r\nab\r\n", "-ERR Protocol error: expected CRLF after bulk\r\n");
  await refused("*1\r\n:5\r\n", "-ERR Protocol error: expected '$', got ':'\r\n");
});

test("nested arrays are a protocol error, not recursion", async () => {
  await refused("*1\r\n".repeat(100_000), "-ERR Protocol error: expected '$', got '*'\r\n");
});

test("commands before the bad input are answered first", async () => {
  const good = resp("SET", "fz:before", "1");
  await refused(
    new Uint8Array([
      ...good,
      ...new TextEncoder().encode("*-7\r\n"),
      ...resp("SET", "fz:after", "1"),
    ]),
    "+OK\r\n-ERR Protocol error: invalid multibulk length\r\n",
  );
  const c = await RawResp.connect(node.redisPort);
  await c.write(new Uint8Array([...resp("GET", "fz:before"), ...resp("GET", "fz:after")]));
  expect(await c.until((t) => t.length >= 12)).toBe("$1\r\n1\r\n$-1\r\n");
  c.close();
});

test("a 100 MiB inline line: refused after 64 KiB, memory bounded", async () => {
  const c = await RawResp.connect(node.redisPort);
  const chunk = new Uint8Array(1024 * 1024).fill(97);
  const rss0 = process.memoryUsage().rss;
  let sent = 0;
  for (let i = 0; i < 100 && !c.closed; i++) {
    if (!(await c.write(chunk))) break;
    sent += chunk.length;
  }
  expect(await c.closedWithin()).toBe(true);
  expect(c.text()).toBe("-ERR Protocol error: too big inline request\r\n");
  // The node held at most one read chunk plus 64 KiB of it (the rest was never read).
  expect(process.memoryUsage().rss - rss0).toBeLessThan(64 * 1024 * 1024);
  expect(sent).toBeLessThan(100 * chunk.length + 1);
  c.close();
  await bystanderWorks();
});

test("a huge claimed array with nothing behind it holds nothing, and times out", async () => {
  const c = await RawResp.connect(node.redisPort);
  await c.write("*1048576\r\n$3\r\nSET\r\n");
  expect(await c.closedWithin(5000)).toBe(true);
  expect(c.text()).toBe("-ERR incomplete command: not completed within 400 ms\r\n");
  await bystanderWorks();
});

test("a half-sent pipeline, then close: whole commands are applied, the node is fine", async () => {
  const c = await RawResp.connect(node.redisPort);
  const parts: number[] = [];
  for (let i = 0; i < 100; i++) parts.push(...resp("SET", `half:${i}`, String(i)));
  const half = resp("SET", "half:last", "x");
  parts.push(...half.subarray(0, half.length - 3));
  await c.write(new Uint8Array(parts));
  c.close();
  const probe = await RawResp.connect(node.redisPort);
  try {
    // Whole commands read before the close are applied (their replies had nowhere to go).
    let got = "";
    for (let attempt = 0; attempt < 100 && got !== "$2\r\n99\r\n$-1\r\n"; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 20));
      const mark = probe.text().length;
      await probe.write(new Uint8Array([...resp("GET", "half:99"), ...resp("GET", "half:last")]));
      got = (await probe.until((t) => t.length - mark >= 10 && t.endsWith("$-1\r\n"))).slice(mark);
    }
    expect(got).toBe("$2\r\n99\r\n$-1\r\n");
  } finally {
    probe.close();
  }
  await bystanderWorks();
});

test("random bytes: no crash, every connection answered or closed", async () => {
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  const alphabet = new TextEncoder().encode("*$:+-\r\n0123456789-abcSETGET \"'\\x");
  for (let round = 0; round < 40; round++) {
    const c = await RawResp.connect(node.redisPort);
    const n = 1 + (rand() % 400);
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      b[i] = round % 2 ? rand() & 0xff : alphabet[rand() % alphabet.length];
    }
    await c.write(b);
    await new Promise((r) => setTimeout(r, 5));
    c.close();
  }
  await bystanderWorks();
  expect(node.status().role).toBe("leader");
});
