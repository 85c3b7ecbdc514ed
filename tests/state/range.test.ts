/**
 * RANGE / RANGEPREFIX (core/state/range.ts): byte order over binary keys, bounds, LIMIT, REV,
 * KEYSONLY, expired keys skipped, non-string values nil, client-side paging both ways, AT rev
 * (succeeds while the page's keys are unchanged, fails naming the current revision otherwise),
 * option errors. Fails on the old tree: RANGE was an unknown command.
 */
import { expect, test } from "bun:test";
import { Code } from "../../protocol/codes.ts";
import { prefixEnd } from "../../core/state/range.ts";
import { Harness } from "./harness.ts";

type Entry = [string, string | null, number, number, number];

function keys(v: unknown): string[] {
  return (v as Entry[]).map((e) => e[0]);
}

test("byte order, bounds, entries with revisions", () => {
  const h = new Harness();
  for (const k of ["b", "a", "\xff", "\x00", "ab", "a\x00", "c"]) {
    h.ok(
      "SET",
      new Uint8Array([...k].map((c) => c.charCodeAt(0))),
      `v${k}`,
    );
  }
  expect(keys(h.ok("RANGE", "", ""))).toEqual(["\x00", "a", "a\x00", "ab", "b", "c", "\xff"]);
  expect(keys(h.ok("RANGE", "a", "b"))).toEqual(["a", "a\x00", "ab"]);
  expect(keys(h.ok("RANGE", "a", "b", "REV"))).toEqual(["ab", "a\x00", "a"]);
  expect(keys(h.ok("RANGE", "b", "a"))).toEqual([]);
  expect(keys(h.ok("RANGE", "b", "b"))).toEqual([]);
  h.ok("SET", "b", "v2");
  const [e] = h.ok("RANGE", "b", "b\x00") as Entry[];
  expect(e[0]).toBe("b");
  expect(e[1]).toBe("v2");
  expect(e[4]).toBe(2);
  expect(e[3]).toBeGreaterThan(e[2]);
  expect(h.ok("GETREV", "b")).toEqual([e[1], e[2], e[3], e[4]]);
});

test("LIMIT, KEYSONLY, non-string values, expired keys", () => {
  const h = new Harness();
  for (let i = 0; i < 30; i++) h.ok("SET", `k${String(i).padStart(2, "0")}`, "x");
  h.ok("DEL", "k05");
  h.ok("RPUSH", "k05", "l"); // now a list
  h.ok("SET", "k07", "x", "PX", "10");
  expect(keys(h.ok("RANGE", "k", "l", "LIMIT", "3"))).toEqual(["k00", "k01", "k02"]);
  expect(keys(h.ok("RANGE", "k", "l", "LIMIT", "3", "REV"))).toEqual(["k29", "k28", "k27"]);
  const all = h.ok("RANGE", "k", "l") as Entry[];
  expect(all.length).toBe(30);
  expect(all[5][1]).toBeNull(); // a list: no value
  expect(all[5][4]).toBe(1);
  h.ctx.nowMs += 11;
  expect(keys(h.ok("RANGE", "k", "l"))).not.toContain("k07");
  expect((h.ok("RANGE", "k", "l", "KEYSONLY") as Entry[]).every((e) => e[1] === null)).toBe(true);
  expect(keys(h.ok("RANGEPREFIX", "k0"))).toEqual([
    "k00",
    "k01",
    "k02",
    "k03",
    "k04",
    "k05",
    "k06",
    "k08",
    "k09",
  ]);
  expect(keys(h.ok("RANGEPREFIX", "k2", "REV", "LIMIT", "2"))).toEqual(["k29", "k28"]);
});

test("paging forward and backward covers every key exactly once", () => {
  const h = new Harness();
  const want: string[] = [];
  for (let i = 0; i < 250; i++) {
    const k = `p:${(i * 7919) % 1000}`;
    h.ok("SET", k, "v");
    want.push(k);
  }
  want.sort();
  const fwd: string[] = [];
  let start = "p:";
  for (let guard = 0; guard < 100; guard++) {
    const page = keys(h.ok("RANGE", start, "p;", "LIMIT", "16"));
    fwd.push(...page);
    if (page.length < 16) break;
    start = page[page.length - 1] + "\x00";
  }
  expect(fwd).toEqual(want);
  const back: string[] = [];
  let end = "p;";
  for (let guard = 0; guard < 100; guard++) {
    const page = keys(h.ok("RANGE", "p:", end, "LIMIT", "16", "REV"));
    back.push(...page);
    if (page.length < 16) break;
    end = page[page.length - 1];
  }
  expect(back).toEqual([...want].reverse());
});

test("AT rev: pages at one revision, or a clear error naming the current revision", () => {
  const h = new Harness();
  for (let i = 0; i < 40; i++) h.ok("SET", `a${String(i).padStart(2, "0")}`, "v");
  h.ok("SET", "z", "v");
  const rev = h.ctx.index;
  // Writes outside the range do not matter.
  h.ok("SET", "b", "v");
  h.ok("SET", "z", "w");
  const p1 = keys(h.ok("RANGE", "a", "b", "LIMIT", "10", "AT", String(rev)));
  expect(p1[0]).toBe("a00");
  // A change after rev, beyond this page: the page is still the one of rev.
  h.ok("SET", "a30", "changed");
  expect(keys(h.ok("RANGE", "a09\x00", "b", "LIMIT", "10", "AT", String(rev)))[0]).toBe("a10");
  // ...but the page that holds it fails, naming the key and the current revision.
  const msg = h.err(Code.ABORTED, "RANGE", "a25", "b", "LIMIT", "10", "AT", String(rev));
  expect(msg).toContain("a30");
  expect(msg).toContain(`current revision is ${h.ctx.index}`);
  // A removal is a change too.
  h.ok("DEL", "a15");
  expect(h.err(Code.ABORTED, "RANGE", "a10", "a20", "AT", String(rev))).toContain("removed");
  // A new key inside the range fails; the current revision always works.
  h.ok("SET", "a04x", "new");
  h.err(Code.ABORTED, "RANGE", "a", "b", "LIMIT", "10", "AT", String(rev));
  expect(keys(h.ok("RANGE", "a", "b", "LIMIT", "10", "AT", String(h.ctx.index + 1)))).toContain(
    "a04x",
  );
  // Future revision, expired key, FLUSHALL.
  expect(h.err(Code.SYNTAX, "RANGE", "a", "b", "AT", "999999")).toContain("future");
  const r2 = h.ctx.index;
  h.ok("SET", "a50", "v", "PX", "5");
  const r3 = h.ctx.index;
  h.ctx.nowMs += 10;
  expect(h.err(Code.ABORTED, "RANGE", "a4", "a6", "AT", String(r3))).toContain("expired");
  expect(keys(h.ok("RANGE", "a0", "a1", "AT", String(r2)))).toContain("a04x");
  h.ok("FLUSHALL");
  h.err(Code.ABORTED, "RANGE", "a", "b", "AT", String(r2));
});

test("AT after a snapshot restore: history before the restore is not known", () => {
  const h = new Harness();
  h.ok("SET", "a", "1");
  const rev = h.ctx.index;
  h.ok("SET", "b", "1");
  const h2 = new Harness();
  h2.sm.restore(h.sm.snapshot());
  h2.ctx.index = h.ctx.index;
  h2.err(Code.ABORTED, "RANGE", "a", "c", "AT", String(rev));
  expect(keys(h2.ok("RANGE", "a", "c", "AT", String(h2.ctx.index + 1)))).toEqual(["a", "b"]);
});

test("option errors and prefixEnd", () => {
  const h = new Harness();
  expect(h.err(Code.SYNTAX, "RANGE", "a", "b", "LIMIT", "0")).toContain("1..10000");
  h.err(Code.SYNTAX, "RANGE", "a", "b", "LIMIT", "10001");
  h.err(Code.SYNTAX, "RANGE", "a", "b", "LIMIT");
  h.err(Code.SYNTAX, "RANGE", "a", "b", "AT", "-1");
  expect(h.err(Code.SYNTAX, "RANGE", "a", "b", "BOGUS")).toContain("BOGUS");
  h.err(Code.SYNTAX, "RANGE", "a");
  expect(prefixEnd("ab")).toBe("ac");
  expect(prefixEnd("a\xff\xff")).toBe("b");
  expect(prefixEnd("\xff")).toBeNull();
  expect(prefixEnd("")).toBeNull();
});

test("a reply past MAX_REPLY_BYTES is refused with the count that fits", () => {
  const h = new Harness();
  const big = "x".repeat(1 << 20);
  for (let i = 0; i < 80; i++) h.ok("SET", `big${String(i).padStart(2, "0")}`, big);
  const msg = h.err(Code.TOO_LARGE, "RANGE", "big", "bih");
  expect(msg).toMatch(/use LIMIT \d+ or KEYSONLY/);
  expect((h.ok("RANGE", "big", "bih", "KEYSONLY") as Entry[]).length).toBe(80);
});

test("KEYS answers in byte order from the pattern's prefix range; SCAN MATCH keeps its guarantee", () => {
  const h = new Harness();
  for (const k of ["u:b", "u:a", "v:1", "u:c", "u", "u\xff"]) {
    h.ok("SET", new Uint8Array([...k].map((c) => c.charCodeAt(0))), "x");
  }
  expect(h.ok("KEYS", "*")).toEqual(["u", "u:a", "u:b", "u:c", "u\xff", "v:1"]);
  expect(h.ok("KEYS", "u:*")).toEqual(["u:a", "u:b", "u:c"]);
  expect(h.ok("KEYS", "u*")).toEqual(["u", "u:a", "u:b", "u:c", "u\xff"]);
  expect(h.ok("KEYS", "u?b")).toEqual(["u:b"]);
  expect(h.ok("KEYS", "[uv]:1")).toEqual(["v:1"]);
  // SCAN MATCH with a prefix: keys present for the whole scan come back, others churn meanwhile.
  const stay: string[] = [];
  for (let i = 0; i < 300; i++) {
    h.ok("SET", `s:${i}`, "x");
    stay.push(`s:${i}`);
  }
  const seen = new Set<string>();
  let cursor = "0";
  let n = 0;
  do {
    const [next, got] = h.ok("SCAN", cursor, "MATCH", "s:*", "COUNT", "20") as [string, string[]];
    for (const k of got) seen.add(k);
    h.ok("SET", `s:new${n}`, "x");
    h.ok("DEL", `s:new${n - 1}`);
    h.ok("SET", `t:${n}`, "x");
    cursor = next;
  } while (cursor !== "0" && ++n < 1000);
  for (const k of stay) expect(seen.has(k)).toBe(true);
  for (const k of seen) expect(k.startsWith("s:")).toBe(true);
});
