import { describe, expect, test } from "bun:test";
import { bytesToKey, keyToBytes, parseInt64 } from "../../core/state/bytes.ts";
import { createStateMachine } from "../../core/state/state_machine.ts";
import { Harness } from "./harness.ts";

const ALL = Uint8Array.from({ length: 256 }, (_, i) => i);

describe("binary safety", () => {
  test("bytes ⇄ key mapping is lossless for every byte and order-preserving", () => {
    expect(keyToBytes(bytesToKey(ALL))).toEqual(ALL);
    const big = new Uint8Array(10_000).map((_, i) => (i * 7) & 0xff);
    expect(keyToBytes(bytesToKey(big))).toEqual(big);
    expect(bytesToKey(new Uint8Array([0x80])) < bytesToKey(new Uint8Array([0x9f]))).toBe(true);
    expect(bytesToKey(new Uint8Array([0x7f])) < bytesToKey(new Uint8Array([0x80]))).toBe(true);
    expect(bytesToKey(new Uint8Array([0x80]))).not.toBe(bytesToKey(new Uint8Array([0x81])));
  });

  test("keys, values, members and fields with bytes 0x00..0xFF", () => {
    const h = new Harness();
    const keys: Uint8Array[] = [];
    for (let b = 0; b < 256; b++) keys.push(new Uint8Array([b, 0, 0xff - b]));
    for (let b = 0; b < 256; b++) h.ok("SET", keys[b], new Uint8Array([0xff - b, b, 0]));
    expect(h.ok("DBSIZE")).toBe(256);
    for (let b = 0; b < 256; b++) {
      expect(h.run("GET", keys[b]).raw).toEqual(new Uint8Array([0xff - b, b, 0]));
    }
    h.ok("SET", ALL, ALL);
    expect(h.run("GET", ALL).raw).toEqual(ALL);
    // Keys differing only in 0x80..0x9F (where windows-1252 decoding would collide) stay apart.
    h.ok("SET", new Uint8Array([0x81]), "a");
    h.ok("SET", new Uint8Array([0x8d]), "b");
    expect(h.ok("GET", new Uint8Array([0x81]))).toBe("a");

    const key = new Uint8Array([0, 1, 2]);
    h.ok("RPUSH", key, ALL, new Uint8Array([0]));
    expect(h.run("LRANGE", key, "0", "-1").raw).toEqual([ALL, new Uint8Array([0])]);
    const s = new Uint8Array([0xff, 0xfe]);
    h.ok("SADD", s, ALL, new Uint8Array([0x80]), new Uint8Array([0x81]));
    expect(h.ok("SCARD", s)).toBe(3);
    expect(h.run("SMEMBERS", s).raw).toEqual([ALL, new Uint8Array([0x80]), new Uint8Array([0x81])]);
    const hk = new Uint8Array([0x9f]);
    h.ok("HSET", hk, ALL, new Uint8Array([1]), new Uint8Array([0x90]), ALL);
    expect(h.run("HGETALL", hk).raw).toEqual([
      ALL,
      new Uint8Array([1]),
      new Uint8Array([0x90]),
      ALL,
    ]);
    const z = new Uint8Array([0]);
    h.ok("ZADD", z, "1", new Uint8Array([0x90]), "1", new Uint8Array([0x10]), "1", ALL);
    // Equal scores order by unsigned bytes: [0..] < [0x10] < [0x90]
    expect(h.run("ZRANGE", z, "0", "-1").raw).toEqual([
      ALL,
      new Uint8Array([0x10]),
      new Uint8Array([0x90]),
    ]);

    const sm2 = createStateMachine();
    sm2.restore(h.sm.snapshot());
    expect(sm2.snapshot()).toEqual(h.sm.snapshot());
    const h2 = new Harness(sm2);
    expect(h2.run("GET", ALL).raw).toEqual(ALL);
    expect(h2.run("HGET", hk, new Uint8Array([0x90])).raw).toEqual(ALL);
  });

  test("strict integer parsing", () => {
    const e = new TextEncoder();
    expect(parseInt64(e.encode("0"))).toBe(0);
    expect(parseInt64(e.encode("-123"))).toBe(-123);
    expect(parseInt64(e.encode("999999999999999"))).toBe(999999999999999);
    expect(parseInt64(e.encode("9223372036854775807"))).toBe(9223372036854775807n);
    expect(parseInt64(e.encode("-9223372036854775808"))).toBe(-9223372036854775808n);
    for (const bad of ["9223372036854775808", "-", "", "00", "-0", "+1", "1a", "１"]) {
      expect(typeof parseInt64(e.encode(bad))).toBe("symbol");
    }
  });
});
