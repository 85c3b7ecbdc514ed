/**
 * The RESP listener keeps the native port's bounds: max_connections, the unauthenticated class
 * and auth_timeout_ms, idle_timeout_ms, BUSY when the pending table is full, failed AUTHs slowed
 * per address (later commands wait behind the delayed AUTH), and the `redis_port` option itself.
 */
import { afterEach, expect, test } from "bun:test";
import { makeConfig } from "../../core/config/config.ts";
import type { TinyKVNode } from "../../core/node/types.ts";
import { startTestNode } from "../helpers/in_process.ts";
import { RawResp, resp, startRespNode } from "./helpers.ts";

let node: TinyKVNode | null = null;

afterEach(async () => {
  await node?.stop();
  node = null;
});

test("redis_port: off by default; must differ from the other ports", async () => {
  expect(makeConfig({}).redis_port).toBe(-1);
  const plain = await startTestNode();
  try {
    expect(plain.redisPort).toBe(-1);
  } finally {
    await plain.stop();
  }
  expect(() => makeConfig({ port: 7000, redis_port: 7000 })).toThrow(/redis_port=7000/);
});

test("max_connections: one more gets Redis's error and is closed", async () => {
  node = await startRespNode({ max_connections: 2 });
  const a = await RawResp.connect(node.redisPort);
  const b = await RawResp.connect(node.redisPort);
  await a.write(resp("AUTH", "x")); // leave the unauthenticated class (no password: any command)
  await b.write(resp("PING"));
  await a.until((t) => t.length > 0);
  await b.until((t) => t.length > 0);
  const c = await RawResp.connect(node.redisPort);
  expect(await c.closedWithin()).toBe(true);
  expect(c.text()).toBe("-ERR max number of clients reached\r\n");
  a.close();
  b.close();
});

test("auth_timeout_ms and idle_timeout_ms close connections", async () => {
  node = await startRespNode({ password: "pw", auth_timeout_ms: 200, idle_timeout_ms: 300 });
  const silent = await RawResp.connect(node.redisPort);
  expect(await silent.closedWithin(3000)).toBe(true);
  expect(silent.text()).toBe("-NOAUTH authentication timeout: no AUTH within 200 ms\r\n");
  const idle = await RawResp.connect(node.redisPort);
  await idle.write(resp("AUTH", "pw"));
  await idle.until((t) => t === "+OK\r\n");
  expect(await idle.closedWithin(3000)).toBe(true);
  expect(idle.text()).toBe("+OK\r\n");
});

test("a failed AUTH delays what follows on the connection", async () => {
  node = await startRespNode({ password: "pw", auth_failure_delay_ms: 300 });
  const c = await RawResp.connect(node.redisPort);
  try {
    await c.write(resp("AUTH", "bad"));
    await c.until((t) => t.includes("WRONGPASS"));
    const t0 = Date.now();
    await c.write(
      new Uint8Array([...resp("AUTH", "pw"), ...resp("SET", "k", "v"), ...resp("GET", "k")]),
    );
    const got = await c.until((t) => t.endsWith("$1\r\nv\r\n"));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(got).toBe(
      "-WRONGPASS invalid username-password pair or user is disabled.\r\n+OK\r\n+OK\r\n$1\r\nv\r\n",
    );
  } finally {
    c.close();
  }
});

test("BUSY when the pending table is full", async () => {
  node = await startRespNode({ max_pending_batches: 1 });
  const conns = await Promise.all(
    Array.from({ length: 20 }, () => RawResp.connect(node!.redisPort)),
  );
  try {
    await Promise.all(conns.map((c, i) => c.write(resp("SET", `b${i}`, "v"))));
    const replies = await Promise.all(conns.map((c) => c.until((t) => t.endsWith("\r\n"))));
    expect(replies.every((r) => r === "+OK\r\n" || r.startsWith("-BUSY server busy: "))).toBe(true);
    expect(replies.some((r) => r === "+OK\r\n")).toBe(true);
    expect(replies.some((r) => r.startsWith("-BUSY "))).toBe(true);
  } finally {
    for (const c of conns) c.close();
  }
});

test("a long-lived pipelining connection is not mistaken for one that reads nothing back", async () => {
  // 4 × batch_max_bytes may wait behind the batch in flight; what was submitted no longer counts.
  node = await startRespNode({ batch_max_bytes: 64 * 1024 });
  const c = await RawResp.connect(node.redisPort);
  try {
    let want = 0;
    for (let round = 0; round < 25; round++) {
      const parts: number[] = [];
      for (let i = 0; i < 1000; i++) parts.push(...resp("SET", `lp:${i}`, "v"));
      await c.write(new Uint8Array(parts));
      want += 1000 * 5;
      await c.until((t) => t.length >= want, 10_000);
    }
    expect(c.closed).toBe(false);
    expect(c.text()).toBe("+OK\r\n".repeat(25_000));
  } finally {
    c.close();
  }
});

test("a client that reads no replies is held back: unsent replies stay bounded", async () => {
  node = await startRespNode({ batch_max_bytes: 64 * 1024 });
  const setup = await RawResp.connect(node.redisPort);
  const value = "b".repeat(60 * 1024);
  await setup.write(resp("SET", "big", value));
  await setup.until((t) => t === "+OK\r\n");
  setup.close();
  const c = await RawResp.connect(node.redisPort);
  try {
    c.socket.pause(); // reads nothing
    const before = node.stats().commandsReceived;
    for (let i = 0; i < 300; i++) {
      await c.write(resp("GET", "big"));
      if (i % 10 === 9) await new Promise((r) => setTimeout(r, 2));
    }
    await new Promise((r) => setTimeout(r, 300));
    // 300 × 60 KiB = 18 MiB of replies: far fewer commands ran than were sent.
    const ran = node.stats().commandsReceived - before;
    expect(ran).toBeLessThan(250);
    c.socket.resume();
    const reply = `$${value.length}\r\n${value}\r\n`;
    await c.until((t) => t.length >= 300 * reply.length, 20_000);
    expect(c.text()).toBe(reply.repeat(300));
  } finally {
    c.close();
  }
});
