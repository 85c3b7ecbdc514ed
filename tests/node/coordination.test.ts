/**
 * CHECK-guarded atomic batches and RANGE through a node and the native client (#13 items 2, 3):
 * a guard that holds lets the whole batch apply, one that fails aborts every command with the
 * failing check named and changes nothing; 1,000 mutations of ~800 KiB in one checked batch
 * apply atomically; RANGE is a read (ReadIndex, not a log entry) that sees every write answered
 * before it, paged in byte order. Fails on the old tree: CHECK and RANGE were unknown commands.
 */
import { afterAll, expect, test } from "bun:test";
import { type Client, connect } from "../../client/client.ts";
import type { TinyKVNode } from "../../core/node/types.ts";
import { startTestNode } from "../helpers/in_process.ts";

let node: TinyKVNode;
let c: Client;
afterAll(async () => {
  await c?.close();
  await node?.stop();
});

const text = (v: unknown) => v instanceof Uint8Array ? new TextDecoder().decode(v) : v;

test("a CHECK-guarded batch applies whole or not at all", async () => {
  node = await startTestNode();
  c = await connect({ port: node.clientPort, endpoints: [`127.0.0.1:${node.clientPort}`] });
  await c.command("SET", "cfg", "v1");
  const [, , mod, ver] = await c.command("GETREV", "cfg") as [unknown, number, number, number];
  const ok = await c.batch([
    ["CHECK", "cfg", "MODREV", String(mod), "cfg", "VERSION", String(ver), "lock", "ABSENT"],
    ["SET", "cfg", "v2"],
    ["SET", "lock", "me"],
  ]);
  expect(ok.map((r) => r.code)).toEqual(["OK", "OK", "OK"]);
  // The same checks now fail (cfg changed): nothing of the batch applies.
  const no = await c.batch([
    ["CHECK", "cfg", "VALUE", "v2", "cfg", "MODREV", String(mod)],
    ["SET", "cfg", "v3"],
    ["DEL", "lock"],
  ]);
  expect(no.map((r) => r.code)).toEqual(["ABORTED", "ABORTED", "ABORTED"]);
  expect(no[0].error).toMatch(/^check 2 failed: key 'cfg' mod revision is \d+, not \d+$/);
  expect(no[1].error).toBe(`transaction aborted: ${no[0].error}`);
  expect(text(await c.command("GET", "cfg"))).toBe("v2");
  expect(text(await c.command("GET", "lock"))).toBe("me");
  // A bad CHECK aborts the rest too (bad input loses nothing).
  const bad = await c.batch([["CHECK", "cfg", "MODREV"], ["SET", "cfg", "zz"]]);
  expect(bad.map((r) => r.code)).toEqual(["SYNTAX", "ABORTED"]);
  expect(text(await c.command("GET", "cfg"))).toBe("v2");
  // Not first: a plain read.
  const later = await c.batch([["SET", "m", "1"], ["CHECK", "m", "ABSENT"], ["SET", "m", "2"]]);
  expect(later.map((r) => r.code)).toEqual(["OK", "ABORTED", "OK"]);
}, 30_000);

test("1,000 mutations / 800 KiB in one checked batch apply atomically", async () => {
  const value = "x".repeat(800);
  const cmds: string[][] = [["CHECK", "big:0000", "ABSENT"]];
  for (let i = 0; i < 1000; i++) cmds.push(["SET", `big:${String(i).padStart(4, "0")}`, value]);
  const r = await c.batch(cmds);
  expect(r.every((x) => x.code === "OK")).toBe(true);
  const rev = await c.command("GETREV", "big:0999") as number[];
  const first = await c.command("GETREV", "big:0000") as number[];
  expect(rev[2]).toBe(first[2]); // one log entry: one revision
  // Again: the check fails, none of the 1,000 SETs runs.
  cmds[1] = ["SET", "big:0000", "changed"];
  const again = await c.batch(cmds);
  expect(again.every((x) => x.code === "ABORTED")).toBe(true);
  expect(text((await c.command("GETREV", "big:0000") as unknown[])[0])).toBe(value);
}, 30_000);

test("RANGE pages in byte order and is a read, not a log entry", async () => {
  const proposals = () => node.stats().proposals;
  for (let i = 0; i < 30; i++) await c.command("SET", `r:${String(i).padStart(2, "0")}`, `v${i}`);
  const before = proposals();
  expect(before).toBeGreaterThan(0);
  const seen: string[] = [];
  let start = "r:";
  for (let guard = 0; guard < 10; guard++) {
    const page = await c.command("RANGE", start, "r;", "LIMIT", "7") as unknown[][];
    for (const e of page) seen.push(text(e[0]) as string);
    if (page.length < 7) break;
    start = text(page[page.length - 1][0]) + "\x00";
  }
  expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => `r:${String(i).padStart(2, "0")}`));
  const [e] = await c.command("RANGEPREFIX", "r:29") as unknown[][];
  expect(text(e[1])).toBe("v29");
  expect(proposals()).toBe(before); // served by ReadIndex
  // A write answered before the read is seen by it (another connection).
  const c2 = await connect({ port: node.clientPort, endpoints: [`127.0.0.1:${node.clientPort}`] });
  try {
    await c2.command("SET", "r:15", "new");
    const got = await c.command("RANGE", "r:15", "r:16") as unknown[][];
    expect(text(got[0][1])).toBe("new");
  } finally {
    await c2.close();
  }
}, 30_000);

test(
  "the client refuses to split a guarded batch into frames (only the first would be guarded)",
  async () => {
    const small = await connect({
      port: node.clientPort,
      endpoints: [`127.0.0.1:${node.clientPort}`],
      maxBatchBytes: 4096,
    });
    try {
      const cmds: string[][] = [["CHECK", "split", "ABSENT"]];
      for (let i = 0; i < 100; i++) cmds.push(["SET", `split:${i}`, "v".repeat(100)]);
      await expect(small.batch(cmds)).rejects.toThrow(/guarded batch \(CHECK first\) must fit/);
      expect(await small.command("EXISTS", "split:99")).toBe(0);
      // Unguarded, the same batch is split and sent.
      const r = await small.batch(cmds.slice(1));
      expect(r.every((x) => x.ok)).toBe(true);
    } finally {
      await small.close();
    }
  },
  30_000,
);

test("RANGE AT: pages at the revision read with the first page, or a clear refusal", async () => {
  for (let i = 0; i < 20; i++) await c.command("SET", `at:${String(i).padStart(2, "0")}`, "v");
  const [first, rev] = (await c.batch([["RANGE", "at:", "at;", "LIMIT", "10"], ["REVISION"]]))
    .map((r) => r.value) as [unknown[][], number];
  expect(first.length).toBe(10);
  await c.command("SET", "elsewhere", "x"); // outside the range: the scan stays consistent
  const next = await c.command("RANGE", `${text(first[9][0])}\x00`, "at;", "AT", String(rev));
  expect((next as unknown[][]).map((e) => text(e[0]))[0]).toBe("at:10");
  // Changes inside the range after `rev`: the page is still the page at `rev`, from the node's
  // watch history (the deleted key is there, the overwritten one has its old value and revision).
  const before15 = (next as unknown[][]).find((e) => text(e[0]) === "at:15")!;
  await c.command("DEL", "at:15");
  await c.command("SET", "at:12", "new");
  await c.command("SET", "at:105", "created later");
  const again = await c.command("RANGE", "at:10", "at;", "AT", String(rev)) as unknown[][];
  expect(again.map((e) => text(e[0]))).toEqual(
    Array.from({ length: 10 }, (_, i) => `at:${10 + i}`),
  );
  expect(again.find((e) => text(e[0]) === "at:15")).toEqual(before15);
  expect(text(again.find((e) => text(e[0]) === "at:12")![1] as Uint8Array)).toBe("v");
  // Past what the history retains (here: before a FLUSHALL), a clear refusal.
  await c.command("FLUSHALL");
  await expect(c.command("RANGE", "at:10", "at;", "AT", String(rev))).rejects.toThrow(
    /changed after revision \d+ .*current revision is \d+/,
  );
}, 30_000);
