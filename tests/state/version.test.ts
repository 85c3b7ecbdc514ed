/**
 * Per-key version (etcd's `version`, #13 item 1): 1 at creation, +1 for every later revision that
 * changes the key's value or expiry; a re-created key starts again at 1. Carried in snapshots;
 * version-1 snapshots (no version field) still restore, with version 1.
 */
import { expect, test } from "bun:test";
import { crc32 } from "@node-rs/crc32";
import { createStateMachine } from "../../core/state/state_machine.ts";
import type { Value } from "../../core/state/types.ts";
import { Harness } from "./harness.ts";

const enc = new TextEncoder();

function rev(h: Harness, key: string): number[] {
  return (h.ok("GETREV", key) as unknown[]).slice(1) as number[];
}

test("version counts the revisions that changed a key", () => {
  const h = new Harness();
  h.ok("SET", "k", "a");
  const create = rev(h, "k")[0];
  expect(rev(h, "k")).toEqual([create, create, 1]);
  h.ok("SET", "k", "b");
  h.ok("APPEND", "k", "c");
  h.ok("PEXPIRE", "k", "100000");
  const [c2, m2, v2] = rev(h, "k");
  expect([c2, v2]).toEqual([create, 4]);
  expect(m2).toBeGreaterThan(create);
  // A failed or no-op write changes nothing.
  expect(h.run("LPUSH", "k", "x").code).not.toBe(0);
  expect(rev(h, "k")).toEqual([c2, m2, v2]);
  // Re-created: version starts again.
  h.ok("DEL", "k");
  h.ok("SET", "k", "z");
  expect(rev(h, "k")[2]).toBe(1);
});

test("several changes by one entry (same revision) count once", () => {
  const sm = createStateMachine();
  const ctx = { nowMs: 1_000, index: 7 };
  const out = { codes: [] as number[], data: [] as Value[], errors: [] as (string | null)[] };
  sm.apply([enc.encode("SET"), enc.encode("k"), enc.encode("1")], ctx, out);
  sm.apply([enc.encode("INCR"), enc.encode("k")], ctx, out);
  sm.apply([enc.encode("INCR"), enc.encode("k")], { nowMs: 1_000, index: 8 }, out);
  sm.apply([enc.encode("GETREV"), enc.encode("k")], { nowMs: 1_000, index: 9 }, out);
  expect((out.data[3] as unknown[]).slice(1)).toEqual([7, 8, 2]);
});

test("versions survive a snapshot; a version-1 snapshot restores with version 1", () => {
  const h = new Harness();
  h.ok("SET", "k", "a");
  h.ok("SET", "k", "b");
  const before = rev(h, "k");
  const h2 = new Harness();
  h2.sm.restore(h.sm.snapshot());
  h2.ctx.index = h.ctx.index;
  expect(rev(h2, "k")).toEqual(before);

  // "TKVS", format 1, one key: kind 0, key "v", expireAt 0, createRev 5, modRev 9, value "x".
  const body = [0x54, 0x4b, 0x56, 0x53, 1, 1, 0, 1, 0x76, 0, 5, 9, 1, 0x78];
  const crc = crc32(new Uint8Array(body)) >>> 0;
  const old = new Uint8Array([
    ...body,
    crc >>> 24,
    (crc >>> 16) & 255,
    (crc >>> 8) & 255,
    crc & 255,
  ]);
  const h3 = new Harness();
  h3.sm.restore(old);
  expect(rev(h3, "v")).toEqual([5, 9, 1]);
});
