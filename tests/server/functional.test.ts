// The plan's functional cases (seed plan §5.1) against a live single node, over TCP.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Code } from "../../protocol/codes.ts";
import type { TinyKVNode } from "../../core/node/types.ts";
import { createIdempotencyPlugin } from "../../plugins/idempotency/mod.ts";
import { startTestNode } from "../helpers/in_process.ts";
import { RawClient } from "../helpers/raw_client.ts";

let node: TinyKVNode;
let c: RawClient;
const dec = new TextDecoder();

beforeAll(async () => {
  node = await startTestNode({}, [createIdempotencyPlugin()]);
  c = await RawClient.connect(node.clientPort);
});
afterAll(async () => {
  c.close();
  await node.stop();
});

test("a batch of 100 SETs answers 100 OKs", async () => {
  const cmds = Array.from({ length: 100 }, (_, i) => ["SET", `k${i}`, `v${i}`]);
  const r = await c.batch(cmds);
  expect(r.type).toBe(0x83);
  expect(r.codes).toEqual(new Array(100).fill(Code.OK));
  expect((r.errors as unknown[]).every((e) => e === null)).toBe(true);
  const g = await c.batch([["GET", "k42"]]);
  expect(dec.decode((g.data as Uint8Array[])[0])).toBe("v42");
});

test("one invalid command fails alone with the right code; the rest is applied", async () => {
  const r = await c.batch([
    ["SET", "p1", "a"],
    ["NOSUCHCMD", "x"],
    ["SET", "p2"], // wrong arity
    ["LPUSH", "p1", "x"], // wrong type
    ["INCR", "p1"], // not an integer
    ["SET", "p3", "c"],
  ]);
  expect(r.codes).toEqual([
    Code.OK,
    Code.UNKNOWN_COMMAND,
    Code.SYNTAX,
    Code.WRONG_TYPE,
    Code.NOT_INTEGER,
    Code.OK,
  ]);
  const errors = r.errors as (string | null)[];
  expect(errors[0]).toBeNull();
  expect(errors[1]).toMatch(/unknown command/i);
  expect(errors[3]).toMatch(/WRONGTYPE/);
  const g = await c.batch([["GET", "p1"], ["GET", "p3"], ["GET", "p2"]]);
  expect(g.codes).toEqual([Code.OK, Code.OK, Code.NOT_FOUND]);
});

test("re-sending a batch id returns the cached results without applying twice", async () => {
  const first = await c.batch([["INCR", "ctr"], ["INCR", "ctr"]], "same-id", {
    client_id: "cli-1",
  });
  expect(first.data).toEqual([1, 2]);
  const again = await c.batch([["INCR", "ctr"], ["INCR", "ctr"]], "same-id", {
    client_id: "cli-1",
  });
  expect(again.data).toEqual([1, 2]);
  const now = await c.batch([["GET", "ctr"]]);
  expect(dec.decode((now.data as Uint8Array[])[0])).toBe("2");
  const conflict = await c.batch([["INCR", "other"]], "same-id", { client_id: "cli-1" });
  expect(conflict.codes).toEqual([Code.BATCH_CONFLICT]);
});

test("a 1000-command batch is processed", async () => {
  const cmds = Array.from({ length: 1000 }, (_, i) => ["RPUSH", "biglist", `item${i}`]);
  const r = await c.batch(cmds);
  expect((r.codes as number[]).filter((x) => x === Code.OK).length).toBe(1000);
  expect((r.data as number[])[999]).toBe(1000);
  const len = await c.batch([["LLEN", "biglist"]]);
  expect(len.data).toEqual([1000]);
});

test("plain commands array and the plan's string form work, as does a single COMMAND", async () => {
  c.send({ type: 3, batch_id: "plain", commands: [["SET", "s1", "x"], "set s2 y", "get s2"] });
  await c.until(() => c.messages.some((m) => m.batch_id === "plain"));
  const r = c.messages.find((m) => m.batch_id === "plain")!;
  expect(r.codes).toEqual([Code.OK, Code.OK, Code.OK]);
  expect(dec.decode((r.data as Uint8Array[])[2])).toBe("y");
  c.send({ type: 2, request_id: "r1", command: ["GET", "s1"] });
  await c.until(() => c.messages.some((m) => m.request_id === "r1"));
  const one = c.messages.find((m) => m.request_id === "r1")!;
  expect(one.code).toBe(Code.OK);
  expect(dec.decode(one.data as Uint8Array)).toBe("x");
});

test("server commands: INFO, GET_LEADER, MEMBERS", async () => {
  const r = await c.batch([["INFO"]]);
  expect(String(r.data && (r.data as string[])[0])).toMatch(/role:leader/);
  const l = await c.batch([["GET_LEADER"]]);
  expect((l.data as unknown[][])[0][0]).toBe(node.id);
  const m = await c.batch([["MEMBERS"], ["PING"]]);
  expect(m.codes).toEqual([Code.OK, Code.OK]);
  expect((m.data as unknown[][][])[0][0][0]).toBe(1);
});
