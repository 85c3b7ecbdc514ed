/**
 * CHECK (core/state/check.ts): each condition holds or fails with a message naming the failing
 * check (1-based) and what the key actually has; parse errors are SYNTAX and name the problem.
 * (As a batch guard it is tested through a node: tests/node/coordination.test.ts.) Fails on the
 * old tree: CHECK was an unknown command.
 */
import { expect, test } from "bun:test";
import { Code } from "../../protocol/codes.ts";
import { isGuard } from "../../core/state/txn.ts";
import { Harness } from "./harness.ts";

function revs(h: Harness, key: string): [number, number, number] {
  return (h.ok("GETREV", key) as unknown[]).slice(1) as [number, number, number];
}

test("each condition, holding and failing", () => {
  const h = new Harness();
  h.ok("SET", "x", "a");
  h.ok("SET", "x", "b");
  const [, mod, ver] = revs(h, "x");
  expect(ver).toBe(2);
  h.ok("RPUSH", "l", "1");
  expect(h.ok("CHECK", "x", "MODREV", String(mod))).toBe("OK");
  expect(h.ok("CHECK", "x", "version", "2", "x", "VALUE", "b", "x", "EXISTS", "nope", "ABSENT"))
    .toBe("OK");
  expect(h.ok("CHECK", "nope", "MODREV", "0", "nope", "VERSION", "0")).toBe("OK");

  expect(h.err(Code.ABORTED, "CHECK", "x", "EXISTS", "x", "MODREV", "5")).toBe(
    `check 2 failed: key 'x' mod revision is ${mod}, not 5`,
  );
  expect(h.err(Code.ABORTED, "CHECK", "x", "VERSION", "7")).toBe(
    "check 1 failed: key 'x' version is 2, not 7",
  );
  expect(h.err(Code.ABORTED, "CHECK", "x", "VALUE", "a")).toBe(
    "check 1 failed: key 'x' value differs",
  );
  expect(h.err(Code.ABORTED, "CHECK", "l", "VALUE", "1")).toBe(
    "check 1 failed: key 'l' holds a list, not a string value",
  );
  expect(h.err(Code.ABORTED, "CHECK", "nope", "VALUE", "")).toBe(
    "check 1 failed: key 'nope' is absent, not the given value",
  );
  expect(h.err(Code.ABORTED, "CHECK", "x", "ABSENT")).toBe(
    `check 1 failed: key 'x' exists (mod revision ${mod})`,
  );
  expect(h.err(Code.ABORTED, "CHECK", "x", "EXISTS", "y", "EXISTS")).toBe(
    "check 2 failed: key 'y' is absent",
  );
  expect(h.err(Code.ABORTED, "CHECK", "nope", "MODREV", "3")).toContain("is absent");
  // Binary keys are shown printable.
  expect(h.err(Code.ABORTED, "CHECK", new Uint8Array([0, 0xff]), "EXISTS")).toContain("key '");
});

test("an expired key is absent", () => {
  const h = new Harness();
  h.ok("SET", "t", "v", "PX", "10");
  h.ok("CHECK", "t", "EXISTS");
  h.advance(11);
  h.ok("CHECK", "t", "ABSENT", "t", "MODREV", "0");
});

test("syntax errors", () => {
  const h = new Harness();
  expect(h.err(Code.SYNTAX, "CHECK", "x", "MODREV")).toContain("needs an operand");
  expect(h.err(Code.SYNTAX, "CHECK", "x", "MODREV", "-1")).toContain(">= 0");
  expect(h.err(Code.SYNTAX, "CHECK", "x", "VERSION", "abc")).toContain(">= 0");
  expect(h.err(Code.SYNTAX, "CHECK", "x", "EQUALS", "1")).toContain("unknown condition 'EQUALS'");
  expect(h.err(Code.SYNTAX, "CHECK", "x", "EXISTS", "y")).toContain("key without a condition");
  h.err(Code.SYNTAX, "CHECK", "x");
});

test("CHECK and IFREV are guards, any case; nothing else is", () => {
  const enc = new TextEncoder();
  for (const n of ["CHECK", "check", "Check", "IFREV", "ifrev"]) {
    expect(isGuard(enc.encode(n))).toBe(true);
  }
  for (const n of ["CHECKS", "chec", "GET", "WATCH", "ifrex"]) {
    expect(isGuard(enc.encode(n))).toBe(false);
  }
});
