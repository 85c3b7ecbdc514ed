import { describe, expect, test } from "bun:test";
import { Code } from "../../protocol/codes.ts";
import { Harness, WRONGTYPE } from "./harness.ts";

describe("SET / GET", () => {
  test("basic set, get, overwrite, missing key is NOT_FOUND + null", () => {
    const h = new Harness();
    expect(h.ok("SET", "k", "v1")).toBe("OK");
    expect(h.ok("GET", "k")).toBe("v1");
    expect(h.ok("set", "k", "v2")).toBe("OK");
    expect(h.ok("get", "k")).toBe("v2");
    h.nil("GET", "missing");
  });

  test("GET returns the stored bytes; empty value is a value, not nil", () => {
    const h = new Harness();
    h.ok("SET", "e", "");
    const r = h.run("GET", "e");
    expect(r.code).toBe(Code.OK);
    expect(r.raw).toBeInstanceOf(Uint8Array);
    expect((r.raw as Uint8Array).length).toBe(0);
  });

  test("stored values do not alias a view's underlying buffer", () => {
    const h = new Harness();
    const buf = new TextEncoder().encode("xxhelloxx");
    h.ok("SET", "k", buf.subarray(2, 7));
    buf.fill(0x41);
    expect(h.ok("GET", "k")).toBe("hello");
  });

  test("NX / XX", () => {
    const h = new Harness();
    h.nil("SET", "k", "1", "XX");
    h.nil("GET", "k");
    expect(h.ok("SET", "k", "1", "NX")).toBe("OK");
    h.nil("SET", "k", "2", "NX");
    expect(h.ok("GET", "k")).toBe("1");
    expect(h.ok("SET", "k", "3", "xx")).toBe("OK");
    expect(h.ok("GET", "k")).toBe("3");
  });

  test("EX / PX / EXAT / PXAT set expiry from ctx.nowMs", () => {
    const h = new Harness(undefined, 10_000);
    h.ok("SET", "a", "1", "EX", "10");
    h.ok("SET", "b", "1", "PX", "1500");
    h.ok("SET", "c", "1", "EXAT", "20");
    h.ok("SET", "d", "1", "PXAT", "10500");
    expect(h.ok("PTTL", "a")).toBe(10_000);
    expect(h.ok("PTTL", "b")).toBe(1500);
    expect(h.ok("PTTL", "c")).toBe(10_000);
    expect(h.ok("PTTL", "d")).toBe(500);
    h.advance(500);
    h.nil("GET", "d");
    expect(h.ok("GET", "b")).toBe("1");
    h.advance(1000);
    h.nil("GET", "b");
    h.advance(8_499);
    expect(h.ok("GET", "a")).toBe("1");
    h.advance(1);
    h.nil("GET", "a");
    h.nil("GET", "c");
  });

  test("SET without expiry option clears TTL; KEEPTTL keeps it", () => {
    const h = new Harness();
    h.ok("SET", "k", "1", "EX", "100");
    h.ok("SET", "k", "2");
    expect(h.ok("TTL", "k")).toBe(-1);
    h.ok("SET", "k", "1", "EX", "100");
    h.ok("SET", "k", "3", "KEEPTTL");
    expect(h.ok("TTL", "k")).toBe(100);
    expect(h.ok("GET", "k")).toBe("3");
  });

  test("EXAT in the past: key is set and immediately gone", () => {
    const h = new Harness(undefined, 100_000);
    h.ok("SET", "k", "old");
    expect(h.ok("SET", "k", "v", "PXAT", "5")).toBe("OK");
    h.nil("GET", "k");
    expect(h.ok("EXISTS", "k")).toBe(0);
  });

  test("GET option returns the old value", () => {
    const h = new Harness();
    h.nil("SET", "k", "1", "GET");
    expect(h.ok("SET", "k", "2", "GET")).toBe("1");
    expect(h.ok("GET", "k")).toBe("2");
    expect(h.ok("SET", "k", "3", "NX", "GET")).toBe("2");
    expect(h.ok("GET", "k")).toBe("2");
    h.ok("RPUSH", "l", "x");
    expect(h.err(Code.WRONG_TYPE, "SET", "l", "v", "GET")).toBe(WRONGTYPE);
    expect(h.ok("TYPE", "l")).toBe("list");
  });

  test("SET overwrites any type", () => {
    const h = new Harness();
    h.ok("SADD", "s", "m");
    h.ok("SET", "s", "v");
    expect(h.ok("TYPE", "s")).toBe("string");
    expect(h.ok("GET", "s")).toBe("v");
  });

  test("bad options", () => {
    const h = new Harness();
    expect(h.err(Code.NOT_INTEGER, "SET", "k", "v", "EX", "notanumber")).toBe(
      "value is not an integer or out of range",
    );
    expect(h.err(Code.SYNTAX, "SET", "k", "v", "EX", "0")).toBe(
      "invalid expire time in 'set' command",
    );
    h.err(Code.SYNTAX, "SET", "k", "v", "PX", "-5");
    h.err(Code.SYNTAX, "SET", "k", "v", "EX", "9223372036854775807");
    h.err(Code.NOT_INTEGER, "SET", "k", "v", "EX", "1.5");
    h.err(Code.NOT_INTEGER, "SET", "k", "v", "EX", " 1");
    expect(h.err(Code.SYNTAX, "SET", "k", "v", "NX", "XX")).toBe("syntax error");
    h.err(Code.SYNTAX, "SET", "k", "v", "XX", "NX");
    h.err(Code.SYNTAX, "SET", "k", "v", "EX");
    h.err(Code.SYNTAX, "SET", "k", "v", "EX", "10", "PX", "100");
    h.err(Code.SYNTAX, "SET", "k", "v", "EX", "10", "KEEPTTL");
    h.err(Code.SYNTAX, "SET", "k", "v", "KEEPTTL", "EX", "10");
    h.err(Code.SYNTAX, "SET", "k", "v", "FOO");
    h.nil("GET", "k"); // nothing was written by the failed commands
    expect(h.err(Code.SYNTAX, "SET", "k")).toBe("wrong number of arguments for 'set' command");
    h.err(Code.SYNTAX, "GET");
    h.err(Code.SYNTAX, "GET", "a", "b");
  });

  test("GET on another type is WRONGTYPE", () => {
    const h = new Harness();
    h.ok("HSET", "h", "f", "v");
    expect(h.err(Code.WRONG_TYPE, "GET", "h")).toBe(WRONGTYPE);
  });
});

describe("MGET / MSET / APPEND / STRLEN", () => {
  test("MGET returns nil slots for missing and non-string keys", () => {
    const h = new Harness();
    h.ok("MSET", "a", "1", "b", "2");
    h.ok("LPUSH", "l", "x");
    expect(h.ok("MGET", "a", "nope", "b", "l")).toEqual(["1", null, "2", null]);
    expect(h.err(Code.SYNTAX, "MSET", "a", "1", "b")).toBe(
      "wrong number of arguments for 'mset' command",
    );
  });

  test("APPEND and STRLEN", () => {
    const h = new Harness();
    expect(h.ok("APPEND", "k", "ab")).toBe(2);
    expect(h.ok("APPEND", "k", "cde")).toBe(5);
    expect(h.ok("GET", "k")).toBe("abcde");
    expect(h.ok("STRLEN", "k")).toBe(5);
    expect(h.ok("STRLEN", "none")).toBe(0);
    h.ok("SADD", "s", "x");
    h.err(Code.WRONG_TYPE, "APPEND", "s", "x");
    h.err(Code.WRONG_TYPE, "STRLEN", "s");
  });
});

describe("INCR family", () => {
  test("INCR / INCRBY / DECR / DECRBY", () => {
    const h = new Harness();
    expect(h.ok("INCR", "n")).toBe(1);
    expect(h.ok("INCRBY", "n", "10")).toBe(11);
    expect(h.ok("DECR", "n")).toBe(10);
    expect(h.ok("DECRBY", "n", "25")).toBe(-15);
    expect(h.ok("GET", "n")).toBe("-15");
    expect(h.ok("INCRBY", "n", "-5")).toBe(-20);
    h.ok("SET", "z", "0");
    expect(h.ok("DECR", "z")).toBe(-1);
  });

  test("INCR keeps the TTL", () => {
    const h = new Harness();
    h.ok("SET", "n", "5", "EX", "50");
    expect(h.ok("INCR", "n")).toBe(6);
    expect(h.ok("TTL", "n")).toBe(50);
  });

  test("non-integer values and arguments", () => {
    const h = new Harness();
    for (const bad of ["abc", "1.5", " 1", "1 ", "+1", "01", "-0", "", "99999999999999999999"]) {
      h.ok("SET", "s", bad);
      expect(h.err(Code.NOT_INTEGER, "INCR", "s")).toBe("value is not an integer or out of range");
      expect(h.ok("GET", "s")).toBe(bad);
    }
    h.err(Code.NOT_INTEGER, "INCRBY", "n", "x");
    h.err(Code.NOT_INTEGER, "DECRBY", "n", "1e3");
    h.nil("GET", "n");
    h.ok("LPUSH", "l", "1");
    expect(h.err(Code.WRONG_TYPE, "INCR", "l")).toBe(WRONGTYPE);
  });

  test("int64 range: exact beyond 2^53 (replied as decimal string), overflow is an error", () => {
    const h = new Harness();
    h.ok("SET", "n", "9223372036854775806");
    expect(h.ok("INCR", "n")).toBe("9223372036854775807");
    expect(h.ok("GET", "n")).toBe("9223372036854775807");
    expect(h.err(Code.NOT_INTEGER, "INCR", "n")).toBe("increment or decrement would overflow");
    expect(h.ok("GET", "n")).toBe("9223372036854775807");
    h.ok("SET", "m", "-9223372036854775808");
    h.err(Code.NOT_INTEGER, "DECR", "m");
    h.err(Code.NOT_INTEGER, "DECRBY", "x", "-9223372036854775808");
    h.ok("SET", "s", String(Number.MAX_SAFE_INTEGER - 1));
    expect(h.ok("INCR", "s")).toBe(Number.MAX_SAFE_INTEGER);
    expect(h.ok("INCR", "s")).toBe("9007199254740992");
    expect(h.ok("DECR", "s")).toBe(Number.MAX_SAFE_INTEGER);
    h.err(Code.NOT_INTEGER, "INCRBY", "q", "9223372036854775808");
    expect(h.ok("INCRBY", "q", "-9223372036854775808")).toBe("-9223372036854775808");
  });
});
