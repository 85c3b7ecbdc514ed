/** The client library and CLI against a real node started in-process on ephemeral ports. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { PassThrough } from "node:stream";
import { makeConfig } from "../../core/config/config.ts";
import type { Config } from "../../core/config/config.ts";
import { TinyKVError } from "../../protocol/codes.ts";
import { createLogger } from "../../core/config/logger.ts";
import { startNode } from "../../core/node/node.ts";
import type { TinyKVNode } from "../../core/node/types.ts";
import type { Plugin } from "../../core/plugin/plugin.ts";
import { createIdempotencyPlugin } from "../../plugins/idempotency/mod.ts";
import { runClientCli } from "../../cli/client.ts";
import { type Client, connect } from "../../client/client.ts";

const dec = new TextDecoder();
const text = (v: unknown) => dec.decode(v as Uint8Array);

async function startTestNode(overrides: Partial<Config>, plugins: Plugin[] = []) {
  const config = makeConfig({ port: 0, raft_port: 0, log_level: "error", ...overrides });
  const node = await startNode(config, { plugins, logger: createLogger(config.log_level) });
  const end = Date.now() + 5000;
  while (node.status().role !== "leader") {
    if (Date.now() > end) throw new Error("single node did not become leader");
    await new Promise((r) => setTimeout(r, 5));
  }
  return node;
}

let node: TinyKVNode;
let c: Client;

beforeAll(async () => {
  node = await startTestNode({}, [createIdempotencyPlugin()]);
  c = await connect({ port: node.clientPort });
});

afterAll(async () => {
  await c?.close();
  await node?.stop();
});

describe("client against a real node", () => {
  test("command(): values, NOT_FOUND as null, typed errors", async () => {
    expect(await c.command("SET", "k1", "hello world")).toBe("OK");
    expect(text(await c.command("GET", "k1"))).toBe("hello world");
    expect(await c.command("GET", "missing-key")).toBeNull();
    expect(await c.command("INCR", "n1")).toBe(1);
    const bin = new Uint8Array([0, 1, 255]);
    await c.command("SET", new Uint8Array([107, 0]), bin);
    expect(await c.command("GET", new Uint8Array([107, 0]))).toEqual(bin);
    let err: unknown;
    try {
      await c.command("LPUSH", "k1", "x");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TinyKVError);
    expect((err as TinyKVError).codeName).toBe("WRONG_TYPE");
  });

  test("batch of 100 SETs answers 100 OKs; one bad command fails alone", async () => {
    const cmds = Array.from({ length: 100 }, (_, i) => ["SET", `b:${i}`, `v${i}`]);
    const res = await c.batch(cmds);
    expect(res.length).toBe(100);
    expect(res.every((r) => r.ok && r.code === "OK")).toBe(true);
    const mixed = await c.batch([["SET", "m", "1"], ["NOSUCHCMD"], ["INCR", "m"]]);
    expect(mixed.map((r) => r.code)).toEqual(["OK", "UNKNOWN_COMMAND", "OK"]);
    expect(mixed[2].value).toBe(2);
  });

  test("a 1000-command batch over maxBatchBytes is split and fully applied, in order", async () => {
    const small = await connect({ port: node.clientPort, maxBatchBytes: 8 * 1024 });
    try {
      const cmds = Array.from({ length: 1000 }, (_, i) => ["RPUSH", "split-list", `item-${i}`]);
      const res = await small.batch(cmds, { batchId: "split-1" });
      expect(res.length).toBe(1000);
      expect(res[999]).toEqual({ ok: true, code: "OK", value: 1000, error: null });
      expect(small.stats().framesSent).toBeGreaterThan(3);
      const items = await small.command("LRANGE", "split-list", "0", "-1") as Uint8Array[];
      expect(items.map(text)).toEqual(cmds.map((x) => x[2]));
    } finally {
      await small.close();
    }
  });

  test("resending a batch id returns the cached results without applying twice", async () => {
    const first = await c.batch([["INCR", "idem"]], { batchId: "same-id" });
    const again = await c.batch([["INCR", "idem"]], { batchId: "same-id" });
    expect(first[0].value).toBe(1);
    expect(again[0].value).toBe(1);
    expect(await c.command("GET", "idem")).toEqual(new TextEncoder().encode("1"));
  });

  test("autoBatch: 500 concurrent INCRs travel in few frames and all apply", async () => {
    const auto = await connect({ port: node.clientPort, autoBatch: true });
    try {
      const out = await Promise.all(Array.from({ length: 500 }, () => auto.command("INCR", "ctr")));
      expect(out.slice().sort((a, b) => (a as number) - (b as number))[499]).toBe(500);
      expect(auto.stats().framesSent).toBeLessThanOrEqual(10);
      expect(await auto.command("GET", "ctr")).toEqual(new TextEncoder().encode("500"));
    } finally {
      await auto.close();
    }
  });

  test("pipeline().exec()", async () => {
    const res = await c.pipeline().command("SET", "p", "1").command("GET", "p").exec();
    expect(res.map((r) => r.code)).toEqual(["OK", "OK"]);
    expect(text(res[1].value)).toBe("1");
  });

  test("CLI one-shot against the node", async () => {
    const out = new PassThrough();
    let written = "";
    out.on("data", (d: Buffer) => (written += d.toString("utf8")));
    const stdin = new PassThrough();
    stdin.end('SET cli "a b"\nGET cli\nLRANGE split-list 0 1\n');
    const io = { stdin, stdout: out, stderr: out, isTTY: false };
    expect(await runClientCli(["--port", String(node.clientPort)], io)).toBe(0);
    expect(written).toBe('OK\n"a b"\n1) "item-0"\n2) "item-1"\n');
  });
});

describe("password", () => {
  test("AUTH on connect: right password works, wrong one fails, none gets AUTH_REQUIRED", async () => {
    const locked = await startTestNode({ password: "s3cret" });
    try {
      const ok = await connect({ port: locked.clientPort, password: "s3cret" });
      expect(await ok.command("SET", "a", "1")).toBe("OK");
      await ok.close();
      await expect(connect({ port: locked.clientPort, password: "nope" })).rejects.toThrow();
      const anon = await connect({ port: locked.clientPort });
      const res = await anon.batch([["GET", "a"]]);
      expect(res[0].code).toBe("AUTH_REQUIRED");
      await anon.close();
    } finally {
      await locked.stop();
    }
  });
});
