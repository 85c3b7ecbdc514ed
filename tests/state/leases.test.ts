/**
 * Lease state (core/state/leases.ts): GRANT/KEEPALIVE/REVOKE/TTL/LIST/EXPIRE/REFRESH, keys
 * attached with SET ... LEASE, the key set kept consistent by every way a key goes (DEL, expiry,
 * overwrite, RENAME, FLUSHALL, a collection emptied), bounds and errors, the listener the
 * lessor hears, and the snapshot's leases section (also taken incrementally).
 */
import { describe, expect, test } from "bun:test";
import { Code } from "../../protocol/codes.ts";
import { MAX_LEASE_TTL, MAX_LEASES } from "../../core/state/leases.ts";
import { decodeSnapshot } from "../../core/state/snapshot.ts";
import type { LeaseListener } from "../../core/state/types.ts";
import { canonical, Harness } from "./harness.ts";

function keysOf(h: Harness, id: number): string[] {
  return (h.ok("LEASE", "TTL", String(id), "KEYS") as unknown[])[2] as string[];
}

describe("lease commands", () => {
  test("grant gives increasing ids; ttl, keepalive, list", () => {
    const h = new Harness();
    expect(h.ok("LEASE", "GRANT", "10")).toBe(1);
    expect(h.ok("lease", "grant", "5")).toBe(2);
    expect(h.ok("LEASE", "LIST")).toEqual([1, 2]);
    expect(h.ok("LEASE", "TTL", "1")).toEqual([10, 10]);
    h.advance(3_500);
    expect(h.ok("LEASE", "TTL", "1")).toEqual([7, 10]);
    expect(h.ok("LEASE", "KEEPALIVE", "1")).toBe(10);
    expect(h.ok("LEASE", "TTL", "1")).toEqual([10, 10]);
    h.advance(60_000); // log time passing expires nothing: only the leader's lessor does
    expect(h.ok("LEASE", "TTL", "2")).toEqual([0, 5]);
    expect(h.ok("LEASE", "LIST")).toEqual([1, 2]);
  });

  test("SET ... LEASE attaches; revoke deletes the lease and its keys", () => {
    const h = new Harness();
    const id = String(h.ok("LEASE", "GRANT", "10"));
    h.ok("SET", "a", "1", "LEASE", id);
    h.ok("SET", "b", "2", "EX", "100", "LEASE", id);
    h.ok("SET", "c", "3");
    expect(keysOf(h, 1)).toEqual(["a", "b"]);
    expect(h.ok("LEASE", "REVOKE", id)).toBe(2);
    h.nil("GET", "a");
    h.nil("GET", "b");
    expect(h.ok("GET", "c")).toBe("3");
    expect(h.ok("LEASE", "LIST")).toEqual([]);
    expect(h.err(Code.SYNTAX, "LEASE", "TTL", id)).toBe("lease not found");
    // ids are never reused
    expect(h.ok("LEASE", "GRANT", "10")).toBe(2);
  });

  test("errors and bounds", () => {
    const h = new Harness();
    expect(h.err(Code.SYNTAX, "LEASE", "KEEPALIVE", "7")).toBe("lease not found");
    expect(h.err(Code.SYNTAX, "LEASE", "REVOKE", "7")).toBe("lease not found");
    expect(h.err(Code.SYNTAX, "SET", "k", "v", "LEASE", "7")).toBe("lease not found");
    h.nil("GET", "k"); // nothing written
    h.err(Code.SYNTAX, "SET", "k", "v", "LEASE", "0");
    h.err(Code.SYNTAX, "SET", "k", "v", "LEASE");
    for (const bad of ["0", "-1", "x", String(MAX_LEASE_TTL + 1)]) {
      expect(h.err(Code.SYNTAX, "LEASE", "GRANT", bad)).toContain("invalid lease ttl");
    }
    expect(h.ok("LEASE", "GRANT", String(MAX_LEASE_TTL))).toBe(1);
    h.err(Code.SYNTAX, "LEASE", "GRANT");
    h.err(Code.SYNTAX, "LEASE", "TTL", "1", "VALUES");
    expect(h.err(Code.SYNTAX, "LEASE", "NOPE")).toContain("unknown LEASE subcommand");
    h.err(Code.SYNTAX, "LEASE");
    h.ok("SET", "k", "v", "LEASE", "1");
    h.err(Code.SYNTAX, "SET", "k", "v", "LEASE", "1", "LEASE", "1");
  });

  test("at most MAX_LEASES leases", () => {
    const h = new Harness();
    for (let i = 0; i < MAX_LEASES; i++) h.ok("LEASE", "GRANT", "60");
    expect(h.err(Code.TOO_LARGE, "LEASE", "GRANT", "60")).toContain("too many leases");
    h.ok("LEASE", "REVOKE", "5");
    expect(h.ok("LEASE", "GRANT", "60")).toBe(MAX_LEASES + 1);
  });

  test("EXPIRE applies only if not renewed since the revision; REFRESH renews all", () => {
    const h = new Harness();
    h.ok("LEASE", "GRANT", "10"); // index 1
    h.ok("SET", "a", "1", "LEASE", "1");
    h.ok("LEASE", "KEEPALIVE", "1"); // index 3: renewRev 3
    h.nil("LEASE", "EXPIRE", "1", "1"); // decided before the keepalive: stale, no-op
    expect(h.ok("GET", "a")).toBe("1");
    h.nil("LEASE", "EXPIRE", "9", "1"); // unknown: nothing to do
    h.advance(8_000);
    expect(h.ok("LEASE", "REFRESH")).toBe(1); // index 7
    expect(h.ok("LEASE", "TTL", "1")).toEqual([10, 10]);
    h.nil("LEASE", "EXPIRE", "1", "3");
    expect(h.ok("LEASE", "EXPIRE", "1", "7")).toBe(1);
    h.nil("GET", "a");
    expect(h.ok("LEASE", "LIST")).toEqual([]);
  });
});

describe("the key set stays consistent", () => {
  test("overwrite without LEASE detaches; in-place changes keep it; re-attach moves it", () => {
    const h = new Harness();
    h.ok("LEASE", "GRANT", "10");
    h.ok("LEASE", "GRANT", "10");
    for (const k of ["a", "b", "c", "d", "e", "f"]) h.ok("SET", k, "1", "LEASE", "1");
    h.ok("SET", "a", "2"); // a put without a lease detaches (etcd)
    h.ok("MSET", "b", "2");
    h.ok("GETSET", "c", "2");
    h.ok("APPEND", "d", "x"); // in place: stays attached
    h.ok("INCR", "e");
    h.ok("EXPIRE", "e", "100");
    h.ok("SET", "f", "2", "LEASE", "2"); // moves
    expect(keysOf(h, 1)).toEqual(["d", "e"]);
    expect(keysOf(h, 2)).toEqual(["f"]);
    expect(h.ok("LEASE", "REVOKE", "1")).toBe(2);
    expect(h.ok("MGET", "a", "b", "c", "d", "e", "f")).toEqual(["2", "2", "2", null, null, "2"]);
  });

  test("DEL, expiry, RENAME, COPY, FLUSHALL and the *STORE commands", () => {
    const h = new Harness();
    h.ok("LEASE", "GRANT", "10");
    for (const k of ["a", "b", "c", "d", "x"]) h.ok("SET", k, "1", "LEASE", "1");
    h.ok("DEL", "a");
    h.ok("SET", "b", "1", "PX", "10", "LEASE", "1");
    h.advance(20);
    h.ok("SET", "other", "1"); // a write: the sweep reclaims b
    h.ok("RENAME", "c", "c2"); // carries the lease, as it carries a TTL
    h.ok("COPY", "d", "d2"); // a new key: no lease
    h.ok("SET", "set", "x");
    expect(keysOf(h, 1)).toEqual(["c2", "d", "x"]);
    h.ok("SADD", "s", "m");
    h.ok("RENAME", "s", "x"); // x overwritten by a key with no lease
    expect(keysOf(h, 1)).toEqual(["c2", "d"]);
    h.ok("FLUSHALL");
    expect(keysOf(h, 1)).toEqual([]);
    expect(h.ok("LEASE", "LIST")).toEqual([1]); // the lease stays (etcd: deleting keys keeps it)
    h.ok("SET", "n", "1", "LEASE", "1");
    expect(h.ok("LEASE", "REVOKE", "1")).toBe(1);
  });
});

describe("listener (what the leader's lessor hears)", () => {
  test("renewed, revoked, reset", () => {
    const h = new Harness();
    const events: unknown[] = [];
    const l: LeaseListener = {
      renewed: (id, ttl, rev) => events.push(["renewed", id, ttl, rev]),
      revoked: (id) => events.push(["revoked", id]),
      reset: () => events.push(["reset"]),
    };
    h.sm.setLeaseListener!(l);
    h.ok("LEASE", "GRANT", "5");
    h.ok("LEASE", "KEEPALIVE", "1");
    h.ok("LEASE", "REFRESH");
    h.ok("LEASE", "REVOKE", "1");
    h.ok("LEASE", "GRANT", "6");
    expect([...h.sm.leases!()].map((x) => [x.id, x.ttl, x.renewRev])).toEqual([[2, 6, 5]]);
    h.ok("LEASE", "EXPIRE", "2", "5");
    h.sm.restore(h.sm.snapshot());
    expect(events).toEqual([
      ["renewed", 1, 5, 1],
      ["renewed", 1, 5, 2],
      ["reset"],
      ["revoked", 1],
      ["renewed", 2, 6, 5],
      ["revoked", 2],
      ["reset"], // restore: the table was replaced
    ]);
  });
});

describe("snapshot", () => {
  test("leases, their keys and the next id survive snapshot/restore", () => {
    const a = new Harness();
    a.ok("LEASE", "GRANT", "10");
    a.ok("LEASE", "GRANT", "20");
    a.ok("LEASE", "GRANT", "30");
    a.ok("LEASE", "REVOKE", "2");
    a.ok("SET", "k1", "v", "LEASE", "1");
    a.ok("SET", "k\u0001\u0000", "v", "LEASE", "3");
    a.ok("SET", "free", "v");
    a.advance(2_000);
    a.ok("LEASE", "KEEPALIVE", "3");
    const snap = a.sm.snapshot();
    const b = new Harness();
    b.ctx.nowMs = a.ctx.nowMs;
    b.ctx.index = a.ctx.index;
    b.sm.restore(snap);
    expect(b.sm.snapshot()).toEqual(snap);
    for (const h of [a, b]) {
      expect(h.ok("LEASE", "LIST")).toEqual([1, 3]);
      expect(h.ok("LEASE", "TTL", "1", "KEYS")).toEqual([8, 10, ["k1"]]);
      expect(h.ok("LEASE", "TTL", "3", "KEYS")).toEqual([30, 30, ["k\u0001\u0000"]]);
      expect(h.ok("LEASE", "GRANT", "5")).toBe(4); // same next id
      expect(h.ok("LEASE", "REVOKE", "1")).toBe(1);
    }
    expect(canonical(decodeSnapshot(b.sm.snapshot()))).toEqual(
      canonical(decodeSnapshot(a.sm.snapshot())),
    );
    expect(b.sm.snapshot()).toEqual(a.sm.snapshot());
  });

  test("a state that never had a lease has no leases section; corrupt sections are refused", () => {
    const h = new Harness();
    h.ok("SET", "a", "1");
    const plain = h.sm.snapshot();
    h.ok("LEASE", "GRANT", "10");
    h.ok("LEASE", "REVOKE", "1");
    const withSection = h.sm.snapshot();
    expect(withSection.length).toBeGreaterThan(plain.length); // the next id is kept
    const fresh = new Harness();
    fresh.sm.restore(withSection);
    expect(fresh.ok("LEASE", "GRANT", "10")).toBe(2);
    // A lease naming a key that is not in the snapshot: corrupt (built by hand, CRC fixed).
    const bad = new Harness();
    bad.ok("LEASE", "GRANT", "10");
    bad.ok("SET", "zz", "1", "LEASE", "1");
    const snap = bad.sm.snapshot().slice();
    const at = snap.lastIndexOf(0x7a); // the last "z" of the lease's key "zz"
    snap[at] = 0x79; // "zy"
    expect(() => fresh.sm.restore(fixCrc(snap))).toThrow("lease key not in the snapshot");
  });

  test("an incremental snapshot holds the leases as they were when it began", () => {
    const h = new Harness();
    h.ok("LEASE", "GRANT", "10");
    for (let i = 0; i < 50; i++) h.ok("SET", `k${i}`, "v", "LEASE", "1");
    const expected = h.sm.snapshot();
    const job = h.sm.beginSnapshot();
    job.step(10);
    h.ok("LEASE", "REVOKE", "1"); // deletes every key mid-way
    h.ok("LEASE", "GRANT", "10");
    h.ok("SET", "new", "v", "LEASE", "2");
    while (!job.step(10));
    const got = job.finish();
    const r = new Harness();
    r.sm.restore(got);
    expect(r.ok("LEASE", "LIST")).toEqual([1]);
    expect(keysOf(r, 1).length).toBe(50);
    const e = new Harness();
    e.sm.restore(expected);
    expect(canonical(decodeSnapshot(got))).toEqual(canonical(decodeSnapshot(expected)));
    expect(r.sm.snapshot()).toEqual(expected);
  });
});

/** Rewrites a state snapshot's trailing CRC-32 (IEEE) after a deliberate edit. */
function fixCrc(b: Uint8Array): Uint8Array {
  let c = 0xffffffff;
  const end = b.length - 4;
  for (let i = 0; i < end; i++) {
    c ^= b[i];
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  c = (c ^ 0xffffffff) >>> 0;
  b[end] = c >>> 24;
  b[end + 1] = (c >>> 16) & 0xff;
  b[end + 2] = (c >>> 8) & 0xff;
  b[end + 3] = c & 0xff;
  return b;
}
