/**
 * The Deno KV API's parts: key encoding (byte vectors from denokv's codec tests, round trips, and
 * the order of random tuples equal to the order the real Deno KV lists them in), the value
 * encoding, the KVATOMIC/KVSUM/KVMIN/KVMAX commands (all or nothing, wrap-around, limits), and on
 * a node: limits with Deno KV's error texts, versionstamps, list paging, and watch streams.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { compareBytes, decodeKey, encodeKey, type KvKey } from "../../client/kv_key.ts";
import { decodeValue, encodeValue, KvU64 } from "../../client/kv_value.ts";
import { Kv, openKv, revisionOf, versionstampOf } from "../../client/kv.ts";
import { Code } from "../../protocol/codes.ts";
import type { TinyKVNode } from "../../core/node/types.ts";
import { Harness } from "../state/harness.ts";
import { startTestNode } from "../helpers/in_process.ts";
import { runDenoDriver } from "./deno.ts";
import { genKeys, norm } from "./ops.ts";

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");

describe("key encoding", () => {
  test("byte vectors (denokv's codec tests and the FoundationDB tuple layout)", () => {
    expect(hex(encodeKey(["hello"]))).toBe("02 68 65 6c 6c 6f 00");
    expect(hex(encodeKey([new Uint8Array([1, 2, 0, 7, 8])]))).toBe("01 01 02 00 ff 07 08 00");
    expect(hex(encodeKey([0n]))).toBe("14");
    expect(hex(encodeKey([1n, -1n, 256n]))).toBe("15 01 13 fe 16 01 00");
    expect(hex(encodeKey([2n ** 64n]))).toBe("1d 09 01 00 00 00 00 00 00 00 00");
    expect(hex(encodeKey([-(2n ** 64n)]))).toBe("0b f6 fe ff ff ff ff ff ff ff ff");
    expect(hex(encodeKey([1]))).toBe("21 bf f0 00 00 00 00 00 00");
    expect(hex(encodeKey([-0]))).toBe("21 7f ff ff ff ff ff ff ff");
    expect(hex(encodeKey([false, true]))).toBe("26 27");
    expect(encodeKey([]).length).toBe(0);
    expect(() => encodeKey([{} as unknown as string])).toThrow(
      "expected string, number, bigint, ArrayBufferView, boolean",
    );
  });

  test("random tuples round-trip and byte order is a total order consistent with the parts", () => {
    const keys = genKeys(7, 2000);
    for (const k of keys) {
      const b = encodeKey(k);
      expect(norm(decodeKey(b), KvU64)).toEqual(norm(k, KvU64));
      expect(compareBytes(encodeKey(decodeKey(b)), b)).toBe(0);
    }
  });

  test("sorting random tuples by their bytes gives the real Deno KV's list order", async () => {
    const seed = 11, n = 600;
    const theirs = JSON.parse(await runDenoDriver(["order", String(seed), String(n)]));
    const seen = new Map<string, KvKey>();
    for (const k of genKeys(seed, n)) seen.set(hex(encodeKey(k)), k); // Deno KV dedups too
    const ours = [...seen.values()].sort((a, b) => compareBytes(encodeKey(a), encodeKey(b)));
    expect(theirs.length).toBe(ours.length);
    expect(theirs).toEqual(ours.map((k) => norm(k, KvU64)));
  }, 60_000);
});

describe("value encoding", () => {
  test("structured-clone values round-trip", () => {
    const vals: unknown[] = [
      undefined,
      null,
      true,
      -0,
      NaN,
      -Infinity,
      2 ** 60,
      "héllo",
      123456789012345678901234567890n,
      -5n,
      new Uint8Array([0, 1, 255]),
      new Map<unknown, unknown>([[1, "a"], [{ k: 1 }, new Set([2n])]]),
      new Date(86_400_000),
      /a+b/gi,
      new Int16Array([-1, 2]),
      new Float64Array([0.5]),
      { a: [1, { b: undefined }], "2": "x" },
      [1, [2, [3]]],
      new KvU64(2n ** 64n - 1n),
    ];
    for (const v of vals) expect(norm(decodeValue(encodeValue(v)), KvU64)).toEqual(norm(v, KvU64));
    const e = decodeValue(encodeValue(new RangeError("boom"))) as Error;
    expect(e).toBeInstanceOf(RangeError);
    expect(e.message).toBe("boom");
    expect(decodeValue(encodeValue(/x/g))).toEqual(/x/g);
  });

  test("KvU64 is the fixed 12 bytes the server adds to; bad values are refused", () => {
    expect(hex(encodeValue(new KvU64(5n)))).toBe("d9 4b 56 48 00 00 00 00 00 00 00 05");
    expect(() => new KvU64(-1n)).toThrow("Value must be a positive bigint: received -1");
    expect(() => new KvU64(2n ** 64n)).toThrow("Value must fit in a 64-bit unsigned integer");
    expect(() => new KvU64(1 as unknown as bigint)).toThrow(
      "Value must be a bigint: received number",
    );
    expect(() => encodeValue(() => 1)).toThrow("could not be cloned");
    expect(() => encodeValue(Symbol("s"))).toThrow("could not be cloned");
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => encodeValue(cyclic)).toThrow("cyclic");
    expect(() => decodeValue(new TextEncoder().encode("hello"))).toThrow(
      "not a TinyKV KV value",
    );
  });

  test("versionstamps: 16 hex digits of revision + 0000; checks map back", () => {
    expect(versionstampOf(10)).toBe("000000000000000a0000");
    expect(revisionOf(versionstampOf(123456))).toBe(123456);
    expect(revisionOf(null)).toBe(0);
    expect(revisionOf("000000000000000a0001")).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => revisionOf("zz")).toThrow("Invalid check");
  });
});

describe("KVATOMIC / KVSUM / KVMIN / KVMAX", () => {
  const u64 = (n: bigint) => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, n);
    return b;
  };
  const stored = (h: Harness, k: string) => {
    const r = h.run("GETREV", k);
    return r.raw === null ? null : decodeValue((r.raw as Uint8Array[])[0]);
  };

  test("answers the entry's revision; checks are mod revisions (0 = absent)", () => {
    const h = new Harness();
    const rev = h.ok("KVATOMIC", "1", "k", "0", "SET", "k", encodeValue("v"), "0");
    expect(rev).toBe(h.ctx.index);
    expect(h.err(Code.ABORTED, "KVATOMIC", "1", "k", "0", "SET", "k", encodeValue("w"), "0"))
      .toContain("check 0 failed");
    expect(stored(h, "k")).toBe("v");
    h.ok("KVATOMIC", "1", "k", String(rev), "DEL", "k");
    expect(stored(h, "k")).toBeNull();
  });

  test("a sum on a non-U64 value fails the whole command: nothing applied", () => {
    const h = new Harness();
    h.ok("KVATOMIC", "0", "SET", "s", encodeValue("str"), "0");
    const before = h.run("GETREV", "s").value;
    const msg = h.err(
      Code.WRONG_TYPE,
      "KVATOMIC",
      "0",
      "SET",
      "other",
      encodeValue(1),
      "0",
      "SUM",
      "s",
      u64(1n),
    );
    expect(msg).toBe("Failed to perform 'sum' mutation on a non-U64 value in the database");
    expect(stored(h, "other")).toBeNull();
    expect(h.run("GETREV", "s").value).toEqual(before);
    h.run("RPUSH", "list", "x");
    expect(h.err(Code.WRONG_TYPE, "KVMAX", "list", u64(1n))).toContain("'max' mutation");
  });

  test("sum wraps modulo 2^64, min/max keep the smaller/larger, absent keys take the operand", () => {
    const h = new Harness();
    h.ok("KVSUM", "c", u64(5n));
    h.ok("KVSUM", "c", u64(2n ** 64n - 1n));
    expect((stored(h, "c") as KvU64).value).toBe(4n);
    h.ok("KVMIN", "c", u64(9n));
    expect((stored(h, "c") as KvU64).value).toBe(4n);
    h.ok("KVMAX", "c", u64(9n));
    expect((stored(h, "c") as KvU64).value).toBe(9n);
    h.ok("KVMIN", "m", u64(3n));
    expect((stored(h, "m") as KvU64).value).toBe(3n);
    // a SUM after a SET of the same key in one command sees the SET
    h.ok("KVATOMIC", "0", "SET", "z", encodeValue(new KvU64(1n)), "0", "SUM", "z", u64(2n));
    expect((stored(h, "z") as KvU64).value).toBe(3n);
  });

  test("SET px expires with the entry's clock; bad input is refused, bounded", () => {
    const h = new Harness();
    h.ok("KVATOMIC", "0", "SET", "e", encodeValue(1), "100");
    h.advance(99);
    expect(stored(h, "e")).toBe(1);
    h.advance(1);
    expect(stored(h, "e")).toBeNull();
    h.err(Code.SYNTAX, "KVATOMIC", "x");
    h.err(Code.SYNTAX, "KVATOMIC", "2", "k", "0");
    h.err(Code.SYNTAX, "KVATOMIC", "0", "PUT", "k");
    h.err(Code.SYNTAX, "KVATOMIC", "0", "SUM", "k", "short");
    h.err(Code.SYNTAX, "KVATOMIC", "0", "SET", "k", "v", "-1");
    const many: string[] = [];
    for (let i = 0; i < 1001; i++) many.push("DEL", `k${i}`);
    expect(h.err(Code.TOO_LARGE, "KVATOMIC", "0", ...many)).toBe("Too many mutations (max 1000)");
    const checks: string[] = [];
    for (let i = 0; i < 101; i++) checks.push(`k${i}`, "0");
    expect(h.err(Code.TOO_LARGE, "KVATOMIC", "101", ...checks)).toBe("Too many checks (max 100)");
  });
});

describe("openKv on a node", () => {
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

  test("limits with Deno KV's error texts", async () => {
    const big = "x".repeat(2100);
    await expect(kv.set([big], 1)).rejects.toThrow("Key too large for write (max 2048 bytes)");
    await expect(kv.get([big])).rejects.toThrow("Key too large for read (max 2049 bytes)");
    await expect(kv.set(["v"], new Uint8Array(65_537))).rejects.toThrow(
      "Value too large (max 65536 bytes)",
    );
    expect((await kv.set(["v"], new Uint8Array(65_000))).ok).toBe(true);
    await expect(kv.set([], 1)).rejects.toThrow("key cannot be empty");
    const a = kv.atomic();
    for (let i = 0; i < 1001; i++) a.set(["m", i], 1);
    await expect(a.commit()).rejects.toThrow("Too many mutations (max 1000)");
    const b = kv.atomic();
    for (let i = 0; i < 14; i++) b.set(["m", i], new Uint8Array(60_000));
    await expect(b.commit()).rejects.toThrow("Total mutation size too large (max 819200 bytes)");
    const c = kv.atomic();
    for (let i = 0; i < 101; i++) c.check({ key: ["m", i], versionstamp: null });
    await expect(c.commit()).rejects.toThrow("Too many checks (max 100)");
    await expect(kv.getMany(Array.from({ length: 11 }, (_, i) => ["k", i]))).rejects.toThrow(
      "Too many ranges (max 10)",
    );
    expect(() => kv.watch(Array.from({ length: 11 }, (_, i) => ["k", i]))).toThrow(
      "Too many keys (max 10)",
    );
    expect(() => kv.list({ prefix: ["m"] }, { limit: 0 })).toThrow(
      "Limit must be a positive integer: received 0",
    );
    const it = kv.list({ prefix: ["m"] });
    expect(() => it.cursor).toThrow("Cannot get cursor before first iteration");
    // As Deno KV: these are thrown by the first next(), not by list()
    const later = [
      [{ prefix: ["m"] }, { batchSize: 1001 }, "Too many entries (max 1000)"],
      [{ prefix: ["m"] }, { cursor: "!!" }, "invalid cursor"],
      [{ start: ["b"], end: ["a"] }, {}, "Start key is greater than end key"],
      [{ prefix: ["a"], start: ["a"] }, {}, "Start key is not in the keyspace defined by prefix"],
      [{ prefix: ["a"], end: ["b"] }, {}, "End key is not in the keyspace defined by prefix"],
    ] as const;
    for (const [sel, opts, msg] of later) {
      const it = kv.list(sel, opts);
      await expect(it.next()).rejects.toThrow(msg);
    }
    expect(() => kv.list({ start: ["a"] } as unknown as { prefix: [] })).toThrow(
      "Selector must specify either 'prefix' or both 'start' and 'end' key",
    );
    await expect(kv.set(["e"], 1, { expireIn: -5 })).rejects.toThrow(
      "expireIn must be a non-negative integer: received -5",
    );
    expect(await kv.watch([]).getReader().read()).toEqual({ done: true, value: undefined });
  });

  test("a 1000-mutation atomic commit is one revision; list pages through it in order", async () => {
    const a = kv.atomic();
    for (let i = 0; i < 1000; i++) a.set(["bulk", i], { i });
    const r = await a.commit();
    expect(r.ok).toBe(true);
    let n = 0, cursor: string | undefined;
    for (let page = 0; page < 4; page++) {
      const it = kv.list<{ i: number }>({ prefix: ["bulk"] }, {
        limit: 300,
        cursor,
        batchSize: 77,
      });
      for await (const e of it) {
        expect(e.key).toEqual(["bulk", n]);
        expect(e.value.i).toBe(n);
        expect(e.versionstamp).toBe((r as { versionstamp: string }).versionstamp);
        n++;
      }
      cursor = it.cursor;
    }
    expect(n).toBe(1000);
    const rev: number[] = [];
    for await (
      const e of kv.list<{ i: number }>({ prefix: ["bulk"] }, { reverse: true, limit: 3 })
    ) {
      rev.push(e.value.i);
    }
    expect(rev).toEqual([999, 998, 997]);
  });

  test("list skips keys in the range that are not KV entries", async () => {
    await kv.set(["mixed", 1], "a");
    const raw = new Uint8Array([...encodeKey(["mixed"]), 0x7f]); // not a tuple encoding
    await kv.client.command("SET", raw, "redis");
    await kv.client.command("RPUSH", encodeKey(["mixed", 2]), "x"); // not a string
    await kv.set(["mixed", 3], "c");
    const got: unknown[] = [];
    for await (const e of kv.list({ prefix: ["mixed"] }, { batchSize: 1 })) got.push(e.value);
    expect(got).toEqual(["a", "c"]);
  });

  test("watch: the current entries, then one array per change, atomic commits at once", async () => {
    const stream = kv.watch([["w", 1], ["w", 2], ["w", 1]]);
    const reader = stream.getReader();
    const first = await reader.read();
    expect(first.value!.map((e) => e.value)).toEqual([null, null, null]);
    const r1 = await kv.set(["w", 1], "one");
    const second = await reader.read();
    expect(second.value!.map((e) => e.value)).toEqual(["one", null, "one"]);
    expect(second.value![0].versionstamp).toBe(r1.versionstamp);
    await kv.set(["w", 1, "not watched"], "x"); // inside the watched range: no array for it
    const r2 = await kv.atomic().set(["w", 2], 2).delete(["w", 1]).commit();
    const third = await reader.read();
    expect(third.value!.map((e) => e.value)).toEqual([null, 2, null]);
    expect(third.value![1].versionstamp).toBe((r2 as { versionstamp: string }).versionstamp);
    await reader.cancel();
  });

  test("watch ends when the Kv is closed", async () => {
    const other = await openKv({ port: node.clientPort });
    const reader = other.watch([["x"]]).getReader();
    await reader.read();
    other.close();
    expect((await reader.read()).done).toBe(true);
  });
});
