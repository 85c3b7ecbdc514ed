import { describe, expect, test } from "bun:test";
import { Code } from "../../protocol/codes.ts";
import { Harness, WRONGTYPE } from "./harness.ts";

describe("lists", () => {
  test("LPUSH / RPUSH / LRANGE / LLEN / LINDEX", () => {
    const h = new Harness();
    expect(h.ok("RPUSH", "l", "a", "b")).toBe(2);
    expect(h.ok("LPUSH", "l", "x", "y")).toBe(4);
    expect(h.ok("LRANGE", "l", "0", "-1")).toEqual(["y", "x", "a", "b"]);
    expect(h.ok("LRANGE", "l", "1", "2")).toEqual(["x", "a"]);
    expect(h.ok("LRANGE", "l", "-2", "100")).toEqual(["a", "b"]);
    expect(h.ok("LRANGE", "l", "-100", "0")).toEqual(["y"]);
    expect(h.ok("LRANGE", "l", "3", "1")).toEqual([]);
    expect(h.ok("LRANGE", "l", "10", "20")).toEqual([]);
    expect(h.ok("LRANGE", "nope", "0", "-1")).toEqual([]);
    expect(h.ok("LLEN", "l")).toBe(4);
    expect(h.ok("LLEN", "nope")).toBe(0);
    expect(h.ok("LINDEX", "l", "0")).toBe("y");
    expect(h.ok("LINDEX", "l", "-1")).toBe("b");
    h.nil("LINDEX", "l", "4");
    h.nil("LINDEX", "l", "-5");
    h.nil("LINDEX", "nope", "0");
    h.err(Code.NOT_INTEGER, "LINDEX", "l", "x");
    h.err(Code.NOT_INTEGER, "LRANGE", "l", "0", "z");
  });

  test("LPOP / RPOP with and without count; empty list is deleted", () => {
    const h = new Harness();
    h.ok("RPUSH", "l", "1", "2", "3", "4", "5");
    expect(h.ok("LPOP", "l")).toBe("1");
    expect(h.ok("RPOP", "l")).toBe("5");
    expect(h.ok("LPOP", "l", "2")).toEqual(["2", "3"]);
    expect(h.ok("LPOP", "l", "0")).toEqual([]);
    expect(h.ok("RPOP", "l", "10")).toEqual(["4"]);
    expect(h.ok("EXISTS", "l")).toBe(0);
    h.nil("LPOP", "l");
    h.nil("RPOP", "l", "3");
    expect(h.err(Code.NOT_INTEGER, "LPOP", "l", "-1")).toBe(
      "value is out of range, must be positive",
    );
    h.err(Code.NOT_INTEGER, "LPOP", "l", "x");
    expect(h.err(Code.SYNTAX, "LPOP", "l", "1", "2")).toBe(
      "wrong number of arguments for 'lpop' command",
    );
  });

  test("a long list stays consistent through ring-buffer growth and shrink", () => {
    const h = new Harness();
    const model: string[] = [];
    for (let i = 0; i < 300; i++) {
      if (i % 3 === 0) {
        h.ok("LPUSH", "l", `v${i}`);
        model.unshift(`v${i}`);
      } else {
        h.ok("RPUSH", "l", `v${i}`);
        model.push(`v${i}`);
      }
    }
    expect(h.ok("LRANGE", "l", "0", "-1")).toEqual(model);
    for (let i = 0; i < 250; i++) {
      if (i % 2) expect(h.ok("LPOP", "l")).toBe(model.shift());
      else expect(h.ok("RPOP", "l")).toBe(model.pop());
    }
    expect(h.ok("LRANGE", "l", "0", "-1")).toEqual(model);
    expect(h.ok("LINDEX", "l", "7")).toBe(model[7]);
  });
});

describe("sets", () => {
  test("SADD / SREM / SMEMBERS / SCARD / SISMEMBER", () => {
    const h = new Harness();
    expect(h.ok("SADD", "s", "a", "b", "a", "c")).toBe(3);
    expect(h.ok("SADD", "s", "a")).toBe(0);
    expect(h.ok("SMEMBERS", "s")).toEqual(["a", "b", "c"]);
    expect(h.ok("SCARD", "s")).toBe(3);
    expect(h.ok("SISMEMBER", "s", "b")).toBe(1);
    expect(h.ok("SISMEMBER", "s", "z")).toBe(0);
    expect(h.ok("SISMEMBER", "nope", "z")).toBe(0);
    expect(h.ok("SREM", "s", "b", "z")).toBe(1);
    expect(h.ok("SREM", "nope", "b")).toBe(0);
    expect(h.ok("SMEMBERS", "nope")).toEqual([]);
    expect(h.ok("SCARD", "nope")).toBe(0);
    expect(h.ok("SREM", "s", "a", "c")).toBe(2);
    expect(h.ok("EXISTS", "s")).toBe(0);
  });
});

describe("hashes", () => {
  test("HSET multi-field / HGET / HDEL / HKEYS / HVALS / HGETALL / HLEN / HEXISTS", () => {
    const h = new Harness();
    expect(h.ok("HSET", "h", "f1", "v1", "f2", "v2")).toBe(2);
    expect(h.ok("HSET", "h", "f1", "V1", "f3", "v3")).toBe(1);
    expect(h.ok("HGET", "h", "f1")).toBe("V1");
    h.nil("HGET", "h", "nope");
    h.nil("HGET", "nope", "f");
    expect(h.ok("HKEYS", "h")).toEqual(["f1", "f2", "f3"]);
    expect(h.ok("HVALS", "h")).toEqual(["V1", "v2", "v3"]);
    expect(h.ok("HGETALL", "h")).toEqual(["f1", "V1", "f2", "v2", "f3", "v3"]);
    expect(h.ok("HLEN", "h")).toBe(3);
    expect(h.ok("HEXISTS", "h", "f2")).toBe(1);
    expect(h.ok("HEXISTS", "h", "f9")).toBe(0);
    expect(h.ok("HDEL", "h", "f2", "zz")).toBe(1);
    expect(h.ok("HDEL", "nope", "f2")).toBe(0);
    expect(h.ok("HKEYS", "nope")).toEqual([]);
    expect(h.ok("HLEN", "nope")).toBe(0);
    expect(h.ok("HDEL", "h", "f1", "f3")).toBe(2);
    expect(h.ok("EXISTS", "h")).toBe(0);
    expect(h.err(Code.SYNTAX, "HSET", "h", "f1", "v1", "f2")).toBe(
      "wrong number of arguments for 'hset' command",
    );
    h.err(Code.SYNTAX, "HSET", "h", "f1");
    expect(h.ok("EXISTS", "h")).toBe(0);
  });
});

describe("WRONGTYPE across types", () => {
  const setup = (h: Harness) => {
    h.ok("SET", "string", "1");
    h.ok("RPUSH", "list", "v");
    h.ok("SADD", "set", "v");
    h.ok("HSET", "hash", "f", "v");
    h.ok("ZADD", "zset", "1", "v");
  };
  // Each command with `K` standing for the key; the kind it accepts.
  const cmds: [string[], string][] = [
    [["GET", "K"], "string"],
    [["INCR", "K"], "string"],
    [["INCRBY", "K", "2"], "string"],
    [["DECR", "K"], "string"],
    [["APPEND", "K", "x"], "string"],
    [["STRLEN", "K"], "string"],
    [["LPUSH", "K", "x"], "list"],
    [["RPUSH", "K", "x"], "list"],
    [["LPOP", "K"], "list"],
    [["RPOP", "K", "1"], "list"],
    [["LRANGE", "K", "0", "-1"], "list"],
    [["LINDEX", "K", "0"], "list"],
    [["LLEN", "K"], "list"],
    [["SADD", "K", "x"], "set"],
    [["SREM", "K", "x"], "set"],
    [["SMEMBERS", "K"], "set"],
    [["SCARD", "K"], "set"],
    [["SISMEMBER", "K", "x"], "set"],
    [["HSET", "K", "f", "x"], "hash"],
    [["HGET", "K", "f"], "hash"],
    [["HDEL", "K", "f"], "hash"],
    [["HKEYS", "K"], "hash"],
    [["HVALS", "K"], "hash"],
    [["HGETALL", "K"], "hash"],
    [["HLEN", "K"], "hash"],
    [["HEXISTS", "K", "f"], "hash"],
    [["ZADD", "K", "1", "x"], "zset"],
    [["ZINCRBY", "K", "1", "x"], "zset"],
    [["ZREM", "K", "x"], "zset"],
    [["ZRANGE", "K", "0", "-1"], "zset"],
    [["ZRANGEBYSCORE", "K", "-inf", "+inf"], "zset"],
    [["ZSCORE", "K", "v"], "zset"],
    [["ZCARD", "K"], "zset"],
  ];
  test("every typed command rejects every other type and leaves it unchanged", () => {
    const h = new Harness();
    setup(h);
    const snap = h.sm.snapshot();
    for (const [args, kind] of cmds) {
      for (const other of ["string", "list", "set", "hash", "zset"]) {
        if (other === kind) continue;
        const argv = args.map((a) => (a === "K" ? other : a));
        expect(h.err(Code.WRONG_TYPE, ...argv)).toBe(WRONGTYPE);
      }
    }
    expect(h.sm.snapshot()).toEqual(snap);
  });

  test("every typed command accepts its own type", () => {
    for (const [args, kind] of cmds) {
      const h = new Harness();
      setup(h);
      const r = h.run(...args.map((a) => (a === "K" ? kind : a)));
      expect(r.code === Code.OK || r.code === Code.NOT_FOUND).toBe(true);
    }
  });
});
