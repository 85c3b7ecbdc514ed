import { describe, expect, test } from "bun:test";
import { Code } from "../../protocol/codes.ts";
import { SortedSet } from "../../core/state/sorted_set.ts";
import { Harness, prng } from "./harness.ts";

function fill(h: Harness) {
  h.ok("ZADD", "z", "1", "a", "2", "b", "3", "c", "3", "cc", "5", "e");
}

describe("ZADD / ZSCORE / ZCARD / ZREM", () => {
  test("plain pairs, re-score, scores as numbers", () => {
    const h = new Harness();
    expect(h.ok("ZADD", "z", "1", "a", "2.5", "b")).toBe(2);
    expect(h.ok("ZADD", "z", "10", "a", "-inf", "c")).toBe(1);
    expect(h.ok("ZSCORE", "z", "a")).toBe(10);
    expect(h.ok("ZSCORE", "z", "b")).toBe(2.5);
    expect(h.ok("ZSCORE", "z", "c")).toBe(-Infinity);
    h.nil("ZSCORE", "z", "nope");
    h.nil("ZSCORE", "nope", "a");
    expect(h.ok("ZCARD", "z")).toBe(3);
    expect(h.ok("ZCARD", "nope")).toBe(0);
    expect(h.ok("ZREM", "z", "a", "x")).toBe(1);
    expect(h.ok("ZREM", "nope", "a")).toBe(0);
    expect(h.ok("ZRANGE", "z", "0", "-1")).toEqual(["c", "b"]);
    expect(h.ok("ZREM", "z", "b", "c")).toBe(2);
    expect(h.ok("EXISTS", "z")).toBe(0);
  });

  test("NX / XX / GT / LT / CH / INCR and ZINCRBY", () => {
    const h = new Harness();
    h.ok("ZADD", "z", "5", "a");
    expect(h.ok("ZADD", "z", "NX", "1", "a", "1", "b")).toBe(1);
    expect(h.ok("ZSCORE", "z", "a")).toBe(5);
    expect(h.ok("ZADD", "z", "XX", "7", "a", "1", "c")).toBe(0);
    expect(h.ok("ZSCORE", "z", "a")).toBe(7);
    h.nil("ZSCORE", "z", "c");
    expect(h.ok("ZADD", "z", "XX", "CH", "8", "a", "1", "b")).toBe(1);
    expect(h.ok("ZADD", "z", "GT", "CH", "3", "a", "9", "b")).toBe(1);
    expect(h.ok("ZSCORE", "z", "a")).toBe(8);
    expect(h.ok("ZSCORE", "z", "b")).toBe(9);
    expect(h.ok("ZADD", "z", "LT", "CH", "1", "a", "100", "b", "4", "new")).toBe(2);
    expect(h.ok("ZSCORE", "z", "a")).toBe(1);
    expect(h.ok("ZADD", "z", "INCR", "2.5", "a")).toBe(3.5);
    h.nil("ZADD", "z", "NX", "INCR", "1", "a");
    h.nil("ZADD", "nope", "XX", "INCR", "1", "a");
    expect(h.ok("ZADD", "nope", "XX", "1", "a")).toBe(0);
    expect(h.ok("EXISTS", "nope")).toBe(0);
    expect(h.ok("ZINCRBY", "z", "-1.5", "a")).toBe(2);
    expect(h.ok("ZINCRBY", "z", "3", "fresh")).toBe(3);
    h.ok("ZADD", "z", "+inf", "big");
    expect(h.err(Code.NOT_INTEGER, "ZINCRBY", "z", "-inf", "big")).toBe(
      "resulting score is not a number (NaN)",
    );
    expect(h.ok("ZSCORE", "z", "big")).toBe(Infinity);
  });

  test("errors", () => {
    const h = new Harness();
    expect(h.err(Code.NOT_INTEGER, "ZADD", "z", "abc", "m")).toBe("value is not a valid float");
    h.err(Code.NOT_INTEGER, "ZADD", "z", "1", "a", "nan", "b");
    expect(h.ok("EXISTS", "z")).toBe(0); // all-or-nothing validation
    h.err(Code.SYNTAX, "ZADD", "z", "1", "a", "2");
    h.err(Code.SYNTAX, "ZADD", "z", "NX", "XX", "1", "a");
    h.err(Code.SYNTAX, "ZADD", "z", "GT", "LT", "1", "a");
    h.err(Code.SYNTAX, "ZADD", "z", "NX", "GT", "1", "a");
    h.err(Code.SYNTAX, "ZADD", "z", "INCR", "1", "a", "2", "b");
    h.err(Code.SYNTAX, "ZADD", "z", "1");
    h.err(Code.SYNTAX, "ZADD", "z", "NX");
    h.err(Code.NOT_INTEGER, "ZINCRBY", "z", "x", "a");
  });
});

describe("ZRANGE / ZRANGEBYSCORE", () => {
  test("by rank, negative indexes, WITHSCORES, REV; ties ordered by member bytes", () => {
    const h = new Harness();
    fill(h);
    expect(h.ok("ZRANGE", "z", "0", "-1")).toEqual(["a", "b", "c", "cc", "e"]);
    expect(h.ok("ZRANGE", "z", "1", "2", "WITHSCORES")).toEqual(["b", 2, "c", 3]);
    expect(h.ok("ZRANGE", "z", "-2", "-1")).toEqual(["cc", "e"]);
    expect(h.ok("ZRANGE", "z", "-100", "0")).toEqual(["a"]);
    expect(h.ok("ZRANGE", "z", "3", "1")).toEqual([]);
    expect(h.ok("ZRANGE", "z", "5", "10")).toEqual([]);
    expect(h.ok("ZRANGE", "z", "0", "1", "REV")).toEqual(["e", "cc"]);
    expect(h.ok("ZRANGE", "nope", "0", "-1")).toEqual([]);
    h.err(Code.NOT_INTEGER, "ZRANGE", "z", "a", "1");
    h.err(Code.SYNTAX, "ZRANGE", "z", "0", "1", "BOGUS");
    h.err(Code.SYNTAX, "ZRANGE", "z", "0", "1", "LIMIT", "0", "1");
  });

  test("by score: inclusive, exclusive, infinities, LIMIT, WITHSCORES", () => {
    const h = new Harness();
    fill(h);
    expect(h.ok("ZRANGEBYSCORE", "z", "-inf", "+inf")).toEqual(["a", "b", "c", "cc", "e"]);
    expect(h.ok("ZRANGEBYSCORE", "z", "2", "3")).toEqual(["b", "c", "cc"]);
    expect(h.ok("ZRANGEBYSCORE", "z", "(2", "3")).toEqual(["c", "cc"]);
    expect(h.ok("ZRANGEBYSCORE", "z", "2", "(3")).toEqual(["b"]);
    expect(h.ok("ZRANGEBYSCORE", "z", "(1", "(5", "WITHSCORES")).toEqual([
      "b",
      2,
      "c",
      3,
      "cc",
      3,
    ]);
    expect(h.ok("ZRANGEBYSCORE", "z", "3", "inf", "LIMIT", "1", "1")).toEqual(["cc"]);
    expect(h.ok("ZRANGEBYSCORE", "z", "-inf", "inf", "LIMIT", "2", "-1")).toEqual([
      "c",
      "cc",
      "e",
    ]);
    expect(h.ok("ZRANGEBYSCORE", "z", "-inf", "inf", "LIMIT", "-1", "2")).toEqual([]);
    expect(h.ok("ZRANGEBYSCORE", "z", "-inf", "inf", "LIMIT", "0", "0")).toEqual([]);
    expect(h.ok("ZRANGEBYSCORE", "z", "6", "10")).toEqual([]);
    expect(h.ok("ZRANGEBYSCORE", "z", "4", "2")).toEqual([]);
    expect(h.ok("ZRANGEBYSCORE", "z", "1.5", "2.5", "withscores")).toEqual(["b", 2]);
    expect(h.ok("ZRANGE", "z", "(5", "2", "BYSCORE", "REV", "WITHSCORES")).toEqual([
      "cc",
      3,
      "c",
      3,
      "b",
      2,
    ]);
    expect(h.ok("ZRANGE", "z", "2", "3", "BYSCORE", "LIMIT", "1", "5")).toEqual(["c", "cc"]);
    expect(h.ok("ZRANGEBYSCORE", "nope", "-inf", "inf")).toEqual([]);
    expect(h.err(Code.NOT_INTEGER, "ZRANGEBYSCORE", "z", "x", "1")).toBe(
      "min or max is not a float",
    );
    h.err(Code.NOT_INTEGER, "ZRANGEBYSCORE", "z", "(", "1");
    h.err(Code.SYNTAX, "ZRANGEBYSCORE", "z", "1", "2", "LIMIT", "1");
    h.err(Code.NOT_INTEGER, "ZRANGEBYSCORE", "z", "1", "2", "LIMIT", "a", "1");
    h.err(Code.SYNTAX, "ZRANGEBYSCORE", "z", "1", "2", "REV");
  });
});

describe("skip list", () => {
  test("random operations match a sorted-array model (ranks, seeks, prev links)", () => {
    const rnd = prng(7);
    const z = new SortedSet();
    const model = new Map<string, number>();
    for (let step = 0; step < 4000; step++) {
      const m = `m${Math.floor(rnd() * 300)}`;
      if (rnd() < 0.3) {
        expect(z.delete(m)).toBe(model.delete(m));
      } else {
        const s = Math.floor(rnd() * 50) - 25;
        expect(z.set(m, s)).toBe(!model.has(m));
        model.set(m, s);
      }
      if (step % 200 === 0 || step === 3999) {
        const sorted = [...model].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
        expect(z.size).toBe(sorted.length);
        const fwd: [string, number][] = [];
        for (let n = z.first(); n !== null; n = n.next[0]) fwd.push([n.member, n.score]);
        expect(fwd).toEqual(sorted);
        for (let r = 0; r < sorted.length; r += 7) expect(z.byRank(r)?.member).toBe(sorted[r][0]);
        const last = z.lastUpTo(Infinity, false);
        const back: string[] = [];
        for (let n = last; n !== null; n = n.prev) back.push(n.member);
        expect(back).toEqual(sorted.map((e) => e[0]).reverse());
        for (let t = -26; t <= 26; t += 3) {
          expect(z.firstFrom(t, false)?.member).toBe(sorted.find((e) => e[1] >= t)?.[0]);
          expect(z.firstFrom(t, true)?.member).toBe(sorted.find((e) => e[1] > t)?.[0]);
          expect(z.lastUpTo(t, true)?.member).toBe(sorted.findLast((e) => e[1] < t)?.[0]);
        }
      }
    }
  });
});
