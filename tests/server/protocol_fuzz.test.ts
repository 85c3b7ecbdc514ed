// Protocol robustness against a live node: garbage, truncated and oversized frames, bad fields.
// Every bad client gets an error and/or is disconnected; the server and other clients carry on.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { encodeCbor } from "../../protocol/cbor.ts";
import { Code } from "../../protocol/codes.ts";
import type { TinyKVNode } from "../../core/node/types.ts";
import { startTestNode } from "../helpers/in_process.ts";
import { RawClient } from "../helpers/raw_client.ts";

let node: TinyKVNode;
let good: RawClient;

beforeAll(async () => {
  node = await startTestNode({ batch_max_bytes: 64 * 1024 });
  good = await RawClient.connect(node.clientPort);
});
afterAll(async () => {
  good.close();
  await node.stop();
});

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

function frame(body: Uint8Array): Uint8Array {
  const f = new Uint8Array(4 + body.length);
  new DataView(f.buffer).setUint32(0, body.length);
  f.set(body, 4);
  return f;
}

async function stillServes(): Promise<void> {
  const r = await good.batch([["SET", "alive", "1"], ["GET", "alive"]]);
  expect(r.codes).toEqual([Code.OK, Code.OK]);
}

test("a 100 MiB length prefix gets TOO_LARGE and a disconnect, with nothing buffered", async () => {
  const bad = await RawClient.connect(node.clientPort);
  bad.writeRaw(new Uint8Array([0x06, 0x40, 0x00, 0x00, 1, 2, 3]));
  await bad.until(() => bad.closed);
  expect(bad.messages[0]).toMatchObject({ type: 0xff, code: Code.TOO_LARGE });
  expect(String(bad.messages[0].error)).toMatch(/request too large/);
  await stillServes();
});

test("random garbage frames get MALFORMED and a disconnect (200 seeded cases)", async () => {
  const r = rng(42);
  for (let i = 0; i < 200; i++) {
    const bad = await RawClient.connect(node.clientPort);
    const len = 1 + Math.floor(r() * 300);
    const body = new Uint8Array(len);
    for (let k = 0; k < len; k++) body[k] = Math.floor(r() * 256);
    bad.writeRaw(frame(body));
    await bad.until(() => bad.closed || bad.messages.length > 0);
    const m = bad.messages[0];
    if (m) expect([Code.MALFORMED, Code.SYNTAX, Code.AUTH_REQUIRED]).toContain(m.code as number);
    bad.close();
  }
  await stillServes();
});

test("truncated frames: the server waits, then the client disconnecting leaks nothing", async () => {
  const body = encodeCbor({ type: 3, batch_id: "t", commands: [["SET", "a", "b"]] });
  const full = frame(body);
  for (let cut = 1; cut < full.length; cut += 3) {
    const bad = await RawClient.connect(node.clientPort);
    bad.writeRaw(full.subarray(0, cut));
    await new Promise((r) => setTimeout(r, 2));
    bad.close();
  }
  await new Promise((r) => setTimeout(r, 50));
  expect(node.stats().connections).toBe(1); // only the good client remains
  await stillServes();
});

test("well-formed CBOR with bad fields gets MALFORMED without a disconnect", async () => {
  const c = await RawClient.connect(node.clientPort);
  c.send({ type: 3, commands: [["PING"]] }); // no batch_id
  c.send({ type: 3, batch_id: "x" }); // no commands
  c.send({ type: 3, batch_id: "y", commands_cbor: encodeCbor({ not: "an array" }) });
  c.send({ type: 2, command: ["PING"] }); // no request_id
  await c.until(() => c.messages.length === 4);
  expect(c.messages.every((m) => m.code === Code.MALFORMED)).toBe(true);
  expect(c.closed).toBe(false);
  const ok = await c.batch([["PING"]]);
  expect(ok.codes).toEqual([Code.OK]);
  c.send({ type: 99 }); // unknown type: error and disconnect
  await c.until(() => c.closed);
  expect(c.messages.at(-1)).toMatchObject({ code: Code.MALFORMED });
});

test("commands_cbor that is an array header over garbage is refused at admission", async () => {
  const c = await RawClient.connect(node.clientPort);
  c.send({ type: 3, batch_id: "g", commands_cbor: new Uint8Array([0x82, 0xff, 0xff]) });
  await c.until(() => c.messages.length === 1);
  expect(c.messages[0]).toMatchObject({ type: 0xff, code: Code.MALFORMED, batch_id: "g" });
  expect(c.closed).toBe(false);
  c.close();
  await stillServes();
});

test("auth: a password-protected node refuses until AUTH; wrong passwords fail", async () => {
  const n = await startTestNode({ password: "s3cret" });
  try {
    const c = await RawClient.connect(n.clientPort);
    // Refused before the commands are looked at: one ERROR naming the batch.
    expect(await c.batch([["PING"]])).toMatchObject({ type: 0xff, code: Code.AUTH_REQUIRED });
    c.send({ type: 1, password: "wrong" });
    await c.until(() => c.messages.length === 1);
    expect(c.messages.shift()).toMatchObject({ type: 0x81, code: Code.AUTH_FAILED });
    expect((await c.batch([["PING"]], "p2", { auth_key: "s3cret" })).codes).toEqual([Code.OK]);
    c.send({ type: 1, password: "s3cret" });
    await c.until(() => c.messages.length === 1);
    expect(c.messages.shift()).toMatchObject({ code: Code.OK });
    expect((await c.batch([["PING"]])).codes).toEqual([Code.OK]);
    c.close();
  } finally {
    await n.stop();
  }
});
