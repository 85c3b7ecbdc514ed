/**
 * openKv (client/kv.ts) with hostile values and options against a real node: values nested past
 * the decoder's bound (used to be written and then unreadable by get/list; 100k levels threw a
 * stack overflow), cyclic and shared structures, keys and values past the limits, bad key parts,
 * expiries the server cannot store, bad list options and cursors. Each gets a clear error, writes
 * nothing, and the connection keeps working.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type Kv, openKv } from "../../client/kv.ts";
import { decodeValue, encodeValue, MAX_VALUE_DEPTH } from "../../client/kv_value.ts";
import type { TinyKVNode } from "../../core/node/types.ts";
import { startTestNode } from "../helpers/in_process.ts";

let node: TinyKVNode;
let kv: Kv;
beforeAll(async () => {
  node = await startTestNode();
  kv = await openKv({ port: node.clientPort });
});
afterAll(async () => {
  kv?.close();
  await node?.stop();
});

function nest(depth: number, wrap: (v: unknown) => unknown): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = wrap(v);
  return v;
}

async function stillWorks(): Promise<void> {
  const r = await kv.set(["alive"], Math.random());
  expect(r.ok).toBe(true);
  expect((await kv.get(["alive"])).versionstamp).toBe(r.versionstamp);
}

test("values nested deeper than the decoder reads are refused before they are written", async () => {
  const wraps: ((v: unknown) => unknown)[] = [
    (v) => [v],
    (v) => ({ v }),
    (v) => new Map([["k", v]]),
    (v) => new Set([v]),
  ];
  for (const w of wraps) {
    const ok = nest(MAX_VALUE_DEPTH, w);
    expect(decodeValue(encodeValue(ok))).toEqual(ok);
    await kv.set(["deep", "ok"], ok);
    expect((await kv.get(["deep", "ok"])).value).toEqual(ok);
    for (const d of [MAX_VALUE_DEPTH + 1, 5_000, 100_000]) {
      const v = nest(d, w);
      expect(() => encodeValue(v)).toThrow(`nested too deeply (max ${MAX_VALUE_DEPTH} levels)`);
      await expect(kv.set(["deep", "bad"], v)).rejects.toThrow(TypeError);
      expect(() => kv.atomic().set(["deep", "bad"], v)).toThrow(TypeError);
    }
  }
  expect((await kv.get(["deep", "bad"])).versionstamp).toBeNull();
  // Every entry under the prefix can be listed (nothing unreadable was stored).
  const all = [];
  for await (const e of kv.list({ prefix: ["deep"] })) all.push(e.key);
  expect(all).toEqual([["deep", "ok"]]);
  await stillWorks();
});

test("cyclic values are refused; shared (acyclic) references are fine", async () => {
  const a: Record<string, unknown> = {};
  a.self = a;
  await expect(kv.set(["cyc"], a)).rejects.toThrow("cyclic");
  const arr: unknown[] = [];
  arr.push([arr]);
  await expect(kv.set(["cyc"], arr)).rejects.toThrow("cyclic");
  const m = new Map<string, unknown>();
  m.set("m", m);
  await expect(kv.set(["cyc"], m)).rejects.toThrow("cyclic");
  const shared = { x: 1 };
  await kv.set(["shared"], [shared, shared, { shared }]);
  expect((await kv.get(["shared"])).value).toEqual([{ x: 1 }, { x: 1 }, { shared: { x: 1 } }]);
  expect((await kv.get(["cyc"])).versionstamp).toBeNull();
  await stillWorks();
});

test("keys and values past the limits, bad key parts, bad options: clear errors", async () => {
  await expect(kv.set(["k".repeat(3000)], 1)).rejects.toThrow("Key too large for write");
  await expect(kv.get([new Uint8Array(5000)])).rejects.toThrow("Key too large for read");
  await expect(kv.set(["v"], "x".repeat(70_000))).rejects.toThrow("Value too large");
  await expect(kv.set(["v"], new Uint8Array(1 << 20))).rejects.toThrow("Value too large");
  for (const bad of [Symbol("s"), {}, null, undefined, () => 1, [1]]) {
    await expect(kv.set([bad as never], 1)).rejects.toThrow(TypeError);
  }
  await expect(kv.set([], 1)).rejects.toThrow(TypeError);
  await expect(kv.set("notakey" as never, 1)).rejects.toThrow(TypeError);
  await expect(kv.set(["f"], () => 1)).rejects.toThrow(TypeError);
  await expect(kv.set(["f"], Symbol("x"))).rejects.toThrow(TypeError);
  for (const ex of [-1, 1.5, NaN, Infinity, 2 ** 60]) {
    await expect(kv.set(["e"], 1, { expireIn: ex })).rejects.toThrow(TypeError);
  }
  const big = kv.atomic();
  for (let i = 0; i < 1001; i++) big.set(["m", i], i);
  await expect(big.commit()).rejects.toThrow("Too many mutations");
  const keys = Array.from({ length: 11 }, (_, i) => ["g", i]);
  await expect(kv.getMany(keys)).rejects.toThrow(TypeError);
  for (const opts of [{ limit: -1 }, { limit: 1.5 }, { batchSize: 0 }, { batchSize: 5000 }]) {
    const go = async () => {
      for await (const _ of kv.list({ prefix: ["m"] }, opts)) { /* nothing */ }
    };
    await expect(go()).rejects.toThrow();
  }
  for (const cursor of ["!!!", "AAAA", "x".repeat(10_000)]) {
    const go = async () => {
      for await (const _ of kv.list({ prefix: ["m"] }, { cursor })) { /* nothing */ }
    };
    await go().then(() => {}, (e: Error) => expect(e).toBeInstanceOf(Error));
  }
  expect((await kv.get(["m", 0])).versionstamp).toBeNull();
  expect((await kv.get(["e"])).versionstamp).toBeNull();
  await stillWorks();
});

test("an expireIn the server cannot store: an error, nothing written", async () => {
  const r = kv.set(["far"], 1, { expireIn: Number.MAX_SAFE_INTEGER });
  await r.then((x) => expect(x).toBeUndefined(), (e: Error) => {
    console.log("expireIn MAX_SAFE_INTEGER:", e.constructor.name, e.message);
    expect(e.message).toContain("expiry px must be an integer");
  });
  expect((await kv.get(["far"])).versionstamp).toBeNull();
  await stillWorks();
});
