import { describe, expect, test } from "bun:test";
import { Code } from "../../protocol/codes.ts";
import { Harness } from "./harness.ts";

describe("DEL / EXISTS / TYPE", () => {
  test("multi-key DEL and EXISTS (EXISTS counts repeats)", () => {
    const h = new Harness();
    h.ok("MSET", "a", "1", "b", "2");
    h.ok("RPUSH", "l", "x");
    expect(h.ok("EXISTS", "a", "b", "c", "a")).toBe(3);
    expect(h.ok("DEL", "a", "l", "c", "a")).toBe(2);
    expect(h.ok("EXISTS", "a", "l", "b")).toBe(1);
    expect(h.ok("DEL", "zzz")).toBe(0);
    h.err(Code.SYNTAX, "DEL");
    h.err(Code.SYNTAX, "EXISTS");
  });

  test("TYPE of each kind", () => {
    const h = new Harness();
    h.ok("SET", "s", "v");
    h.ok("RPUSH", "l", "v");
    h.ok("SADD", "S", "v");
    h.ok("HSET", "h", "f", "v");
    h.ok("ZADD", "z", "1", "v");
    expect(["s", "l", "S", "h", "z", "none"].map((k) => h.ok("TYPE", k))).toEqual([
      "string",
      "list",
      "set",
      "hash",
      "zset",
      "none",
    ]);
  });
});

describe("EXPIRE family and TTL", () => {
  test("TTL/PTTL: -2 missing, -1 no expiry, rounded seconds", () => {
    const h = new Harness();
    expect(h.ok("TTL", "nope")).toBe(-2);
    expect(h.ok("PTTL", "nope")).toBe(-2);
    h.ok("SET", "k", "v");
    expect(h.ok("TTL", "k")).toBe(-1);
    expect(h.ok("PTTL", "k")).toBe(-1);
    expect(h.ok("PEXPIRE", "k", "10400")).toBe(1);
    expect(h.ok("TTL", "k")).toBe(10);
    h.advance(5_000);
    expect(h.ok("PTTL", "k")).toBe(5_400);
    expect(h.ok("TTL", "k")).toBe(5);
  });

  test("EXPIRE works on every type; expired keys are absent for every command", () => {
    const h = new Harness();
    h.ok("SET", "s", "v");
    h.ok("RPUSH", "l", "v");
    h.ok("SADD", "S", "v");
    h.ok("HSET", "h", "f", "v");
    h.ok("ZADD", "z", "1", "v");
    for (const k of ["s", "l", "S", "h", "z"]) expect(h.ok("EXPIRE", k, "1")).toBe(1);
    h.advance(999);
    expect(h.ok("EXISTS", "s", "l", "S", "h", "z")).toBe(5);
    h.advance(1);
    expect(h.ok("EXISTS", "s", "l", "S", "h", "z")).toBe(0);
    h.nil("GET", "s");
    expect(h.ok("LRANGE", "l", "0", "-1")).toEqual([]);
    expect(h.ok("LLEN", "l")).toBe(0);
    expect(h.ok("SMEMBERS", "S")).toEqual([]);
    expect(h.ok("SCARD", "S")).toBe(0);
    h.nil("HGET", "h", "f");
    expect(h.ok("HGETALL", "h")).toEqual([]);
    h.nil("ZSCORE", "z", "v");
    expect(h.ok("ZCARD", "z")).toBe(0);
    expect(h.ok("TTL", "s")).toBe(-2);
    expect(h.ok("TYPE", "h")).toBe("none");
    // Writes on an expired key start from scratch (no WRONGTYPE from the stale value).
    expect(h.ok("LPUSH", "s", "x")).toBe(1);
    expect(h.ok("TTL", "s")).toBe(-1);
    expect(h.ok("INCR", "h")).toBe(1);
    expect(h.ok("SET", "z", "1", "NX")).toBe("OK");
    expect(h.ok("EXPIRE", "S", "10")).toBe(0);
  });

  test("EXPIRE with non-positive time deletes; EXPIREAT / PEXPIREAT absolute", () => {
    const h = new Harness(undefined, 50_000);
    h.ok("SET", "a", "1");
    expect(h.ok("EXPIRE", "a", "0")).toBe(1);
    expect(h.ok("EXISTS", "a")).toBe(0);
    h.ok("SET", "b", "1");
    expect(h.ok("EXPIRE", "b", "-10")).toBe(1);
    expect(h.ok("EXISTS", "b")).toBe(0);
    h.ok("SET", "c", "1");
    expect(h.ok("EXPIREAT", "c", "60")).toBe(1);
    expect(h.ok("PTTL", "c")).toBe(10_000);
    expect(h.ok("PEXPIREAT", "c", "50500")).toBe(1);
    expect(h.ok("PTTL", "c")).toBe(500);
    expect(h.ok("EXPIREAT", "c", "1")).toBe(1);
    expect(h.ok("EXISTS", "c")).toBe(0);
    expect(h.ok("EXPIRE", "missing", "10")).toBe(0);
  });

  test("EXPIRE NX / XX / GT / LT and errors", () => {
    const h = new Harness();
    h.ok("SET", "k", "v");
    expect(h.ok("EXPIRE", "k", "100", "XX")).toBe(0);
    expect(h.ok("EXPIRE", "k", "100", "GT")).toBe(0); // no TTL counts as infinite
    expect(h.ok("EXPIRE", "k", "100", "NX")).toBe(1);
    expect(h.ok("EXPIRE", "k", "200", "NX")).toBe(0);
    expect(h.ok("EXPIRE", "k", "50", "GT")).toBe(0);
    expect(h.ok("EXPIRE", "k", "150", "gt")).toBe(1);
    expect(h.ok("EXPIRE", "k", "300", "LT")).toBe(0);
    expect(h.ok("EXPIRE", "k", "20", "LT", "XX")).toBe(1);
    expect(h.ok("TTL", "k")).toBe(20);
    h.err(Code.SYNTAX, "EXPIRE", "k", "10", "NX", "XX");
    h.err(Code.SYNTAX, "EXPIRE", "k", "10", "GT", "LT");
    expect(h.err(Code.SYNTAX, "EXPIRE", "k", "10", "BOGUS")).toBe("Unsupported option BOGUS");
    h.err(Code.NOT_INTEGER, "EXPIRE", "k", "ten");
    h.err(Code.SYNTAX, "EXPIRE", "k", "9223372036854775807");
    h.err(Code.SYNTAX, "EXPIRE", "k");
    expect(h.ok("TTL", "k")).toBe(20);
  });

  test("PERSIST", () => {
    const h = new Harness();
    h.ok("SET", "k", "v", "EX", "10");
    expect(h.ok("PERSIST", "k")).toBe(1);
    expect(h.ok("PERSIST", "k")).toBe(0);
    expect(h.ok("PERSIST", "nope")).toBe(0);
    h.advance(20_000);
    expect(h.ok("GET", "k")).toBe("v");
  });
});

describe("expiry bookkeeping", () => {
  test("read-only commands never mutate; writes reclaim lazily; sweep bounds memory", () => {
    const h = new Harness();
    for (let i = 0; i < 200; i++) h.ok("SET", `k${i}`, "v", "PX", String(100 + i));
    expect(h.sm.size()).toBe(200);
    h.advance(10_000);
    for (let i = 0; i < 200; i++) h.nil("GET", `k${i}`);
    expect(h.sm.size()).toBe(200); // reads did not delete anything
    // Each write reclaims a bounded number of expired keys, oldest first.
    h.ok("SET", "other", "v");
    expect(h.sm.size()).toBe(200 - 4 + 1);
    for (let i = 0; i < 60; i++) h.ok("SET", "other", "v");
    expect(h.sm.size()).toBe(1);
    expect(h.ok("DBSIZE")).toBe(1);
  });

  test("re-timing the same key many times does not grow bookkeeping unboundedly", () => {
    const h = new Harness();
    for (let i = 0; i < 20_000; i++) h.ok("SET", "k", "v", "EX", "1000");
    expect(h.ok("TTL", "k")).toBe(1000);
    h.advance(1_000_000);
    h.ok("SET", "x", "y");
    expect(h.sm.size()).toBe(1);
  });

  test("unexpired keys are not swept early", () => {
    const h = new Harness();
    h.ok("SET", "a", "1", "PX", "1000");
    h.ok("SET", "b", "1", "PX", "3000");
    h.advance(2000);
    for (let i = 0; i < 10; i++) h.ok("SET", "w", String(i));
    expect(h.sm.size()).toBe(2);
    expect(h.ok("PTTL", "b")).toBe(1000);
  });
});
