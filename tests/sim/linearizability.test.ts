import { describe, expect, test } from "bun:test";
import {
  checkHistory,
  type Operation,
  type RegisterInput,
  registerModel,
} from "./linearizability.ts";

type Op = Operation<RegisterInput, string | null>;
const put = (key: string, value: string, call: number, ret: number): Op => ({
  key,
  input: { kind: "put", value },
  output: null,
  call,
  ret,
});
const get = (key: string, output: string | null, call: number, ret: number): Op => ({
  key,
  input: { kind: "get" },
  output,
  call,
  ret,
});

describe("linearizability checker (register)", () => {
  test("sequential history is linearizable", () => {
    const h = [put("a", "1", 1, 2), get("a", "1", 3, 4), put("a", "2", 5, 6), get("a", "2", 7, 8)];
    expect(checkHistory(registerModel, h).ok).toBe(true);
  });

  test("stale read after a completed write is not linearizable", () => {
    const h = [put("a", "1", 1, 2), put("a", "2", 3, 4), get("a", "1", 5, 6)];
    const r = checkHistory(registerModel, h);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.key).toBe("a");
  });

  test("read of a never-written value is not linearizable", () => {
    expect(checkHistory(registerModel, [get("a", "x", 1, 2)]).ok).toBe(false);
    expect(checkHistory(registerModel, [get("a", null, 1, 2)]).ok).toBe(true);
  });

  test("concurrent write may be seen before or after", () => {
    // put 1 overlaps both reads: old-then-new is fine.
    const ok = [
      put("a", "0", 0, 1),
      put("a", "1", 2, 10),
      get("a", "0", 3, 4),
      get("a", "1", 5, 6),
    ];
    expect(checkHistory(registerModel, ok).ok).toBe(true);
    // But new-then-old (both reads after each other, both inside the write) is not.
    const bad = [
      put("a", "0", 0, 1),
      put("a", "1", 2, 10),
      get("a", "1", 3, 4),
      get("a", "0", 5, 6),
    ];
    expect(checkHistory(registerModel, bad).ok).toBe(false);
  });

  test("unknown-outcome write may take effect or not", () => {
    const seen = [put("a", "1", 1, Infinity), get("a", "1", 5, 6)];
    expect(checkHistory(registerModel, seen).ok).toBe(true);
    const notSeen = [put("a", "1", 1, Infinity), get("a", null, 5, 6)];
    expect(checkHistory(registerModel, notSeen).ok).toBe(true);
    // ...but not before it was invoked.
    const early = [get("a", "1", 1, 2), put("a", "1", 3, Infinity)];
    expect(checkHistory(registerModel, early).ok).toBe(false);
    // And once observed it cannot un-happen.
    const flip = [put("a", "1", 1, Infinity), get("a", "1", 5, 6), get("a", null, 7, 8)];
    expect(checkHistory(registerModel, flip).ok).toBe(false);
  });

  test("lost acknowledged write is detected", () => {
    const h = [put("a", "1", 1, 2), get("a", null, 3, 4)];
    expect(checkHistory(registerModel, h).ok).toBe(false);
  });

  test("keys are checked independently", () => {
    const h = [put("a", "1", 1, 2), put("b", "2", 1, 2), get("b", "2", 3, 4), get("a", "1", 3, 4)];
    expect(checkHistory(registerModel, h).ok).toBe(true);
    const bad = [...h, get("b", "1", 5, 6)];
    const r = checkHistory(registerModel, bad);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.key).toBe("b");
  });

  test("many concurrent writers with a consistent order", () => {
    // 12 overlapping writes then reads that see the values in one order: needs search + memo.
    const h: Op[] = [];
    for (let i = 0; i < 12; i++) h.push(put("k", `v${i}`, i, 100 + i));
    h.push(get("k", "v7", 200, 201));
    h.push(get("k", "v7", 202, 203));
    expect(checkHistory(registerModel, h).ok).toBe(true);
    h.push(get("k", "v3", 204, 205));
    expect(checkHistory(registerModel, h).ok).toBe(false);
  });

  test("search budget is bounded", () => {
    const h: Op[] = [];
    for (let i = 0; i < 14; i++) h.push(put("k", `v${i}`, i, 1000 + i));
    h.push(get("k", "nope", 2000, 2001));
    const r = checkHistory(registerModel, h, 50);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toBe("search budget exhausted");
  });
});
