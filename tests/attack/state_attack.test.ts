/**
 * Attacks on the #13 state commands from outside (hostile arguments, as a client sends them raw):
 * RANGE/RANGEPREFIX bounds, binary keys, paging 100k keys with deletes between pages; CHECK's
 * malformed argument lists and sizes; LEASE floods, per-lease key bound and the cost of revoking a
 * full lease; KVATOMIC/KVSUM with wrong counts, truncated mutations, bad u64s and expiry times
 * that a snapshot cannot hold. Each bad input must get a clear error, change nothing and leave the
 * snapshot restorable.
 */
import { describe, expect, test } from "bun:test";
import { Code } from "../../protocol/codes.ts";
import { MAX_LEASE_KEYS, MAX_LEASES } from "../../core/state/leases.ts";
import { KV_MAX_CHECKS, KV_MAX_MUTATIONS } from "../../core/state/kv_ops.ts";
import { MAX_RANGE_LIMIT } from "../../core/state/range.ts";
import { createStateMachine } from "../../core/state/state_machine.ts";
import { decodeSnapshot } from "../../core/state/snapshot.ts";
import { canonical, Harness } from "../state/harness.ts";

/** The snapshot restores on a fresh replica to the same state and the same bytes. */
function restorable(h: Harness): void {
  const snap = h.sm.snapshot();
  const b = createStateMachine();
  b.restore(snap);
  expect(b.snapshot()).toEqual(snap);
  expect(canonical(decodeSnapshot(snap))).toEqual(canonical(decodeSnapshot(b.snapshot())));
}

function state(h: Harness): string[] {
  return canonical(decodeSnapshot(h.sm.snapshot()));
}

function bin(...bytes: number[]): Uint8Array {
  return Uint8Array.from(bytes);
}

describe("RANGE / RANGEPREFIX", () => {
  test("bad options get clear errors", () => {
    const h = new Harness();
    h.ok("SET", "a", "1");
    for (const lim of ["0", "-1", "1.5", "x", String(MAX_RANGE_LIMIT + 1), "9223372036854775807"]) {
      expect(h.err(Code.SYNTAX, "RANGE", "", "", "LIMIT", lim)).toContain("LIMIT must be");
    }
    expect(h.err(Code.SYNTAX, "RANGE", "", "", "AT", "-1")).toContain("AT revision");
    expect(h.err(Code.SYNTAX, "RANGE", "", "", "AT", "garbage")).toContain("AT revision");
    expect(h.err(Code.SYNTAX, "RANGE", "", "", "AT", "99999999999")).toContain("in the future");
    expect(h.err(Code.SYNTAX, "RANGE", "", "", "LIMIT")).toContain("unknown option");
    expect(h.err(Code.SYNTAX, "RANGE", "", "", "BOGUS")).toContain("unknown option");
    expect(h.err(Code.SYNTAX, "RANGE", "a")).toContain("wrong number");
    expect(h.err(Code.SYNTAX, "RANGEPREFIX")).toContain("wrong number");
    // AT in the past with nothing changed since: fine; AT 0 on a store changed since: ABORTED.
    expect(h.err(Code.ABORTED, "RANGE", "", "", "AT", "0")).toContain("current revision is");
    expect(h.ok("RANGE", "", "", "AT", "1")).toEqual([["a", "1", 1, 1, 1]]);
  });

  test("inverted and empty ranges are empty, forward and REV", () => {
    const h = new Harness();
    for (const k of ["a", "b", "c"]) h.ok("SET", k, k);
    expect(h.ok("RANGE", "c", "a")).toEqual([]);
    expect(h.ok("RANGE", "c", "a", "REV")).toEqual([]);
    expect(h.ok("RANGE", "b", "b")).toEqual([]);
    expect(h.ok("RANGE", "b", "b", "REV")).toEqual([]);
    expect(h.ok("RANGE", "b", "c", "REV")).toEqual([["b", "b", 2, 2, 1]]);
    expect(h.ok("RANGEPREFIX", "zz")).toEqual([]);
  });

  test("binary keys with 0x00 and 0xff sort by unsigned bytes; prefix of 0xff bytes", () => {
    const h = new Harness();
    const keys = [
      bin(),
      bin(0x00),
      bin(0x00, 0x00),
      bin(0x00, 0xff),
      bin(0x01),
      bin(0x7f),
      bin(0x80),
      bin(0xc3, 0xa9), // é in UTF-8
      bin(0xff),
      bin(0xff, 0x00),
      bin(0xff, 0xff),
      bin(0xff, 0xff, 0xff),
    ];
    const shuffled = [...keys].sort(() => 0).reverse();
    for (const k of shuffled) h.ok("SET", k, "v");
    const all = (h.ok("RANGE", "", "", "KEYSONLY") as unknown[][]).map((e) => e[0]);
    const want = keys.map((k) => String.fromCharCode(...k));
    expect(all).toEqual(want);
    const rev = (h.ok("RANGE", "", "", "KEYSONLY", "REV") as unknown[][]).map((e) => e[0]);
    expect(rev).toEqual([...want].reverse());
    const ff = (h.ok("RANGEPREFIX", bin(0xff), "KEYSONLY") as unknown[][]).map((e) => e[0]);
    expect(ff).toEqual(want.slice(8));
    const ffff = (h.ok("RANGEPREFIX", bin(0xff, 0xff)) as unknown[][]).map((e) => e[0]);
    expect(ffff).toEqual(want.slice(10));
    const z = (h.ok("RANGEPREFIX", bin(0x00), "REV") as unknown[][]).map((e) => e[0]);
    expect(z).toEqual(want.slice(1, 4).reverse());
    // KEYS and SCAN walk the same byte order.
    expect(h.ok("KEYS", "*")).toEqual(want);
    expect(state(h)).toEqual(canonical(decodeSnapshot(h.sm.snapshot())));
    restorable(h);
  });

  test("KEYSONLY and non-string keys: value nil, revisions given", () => {
    const h = new Harness();
    h.ok("RPUSH", "l", "x");
    h.ok("HSET", "h", "f", "v");
    h.ok("SET", "s", "v");
    expect(h.ok("RANGE", "", "")).toEqual([["h", null, 2, 2, 1], ["l", null, 1, 1, 1], [
      "s",
      "v",
      3,
      3,
      1,
    ]]);
    expect(h.ok("RANGE", "", "", "KEYSONLY")).toEqual([["h", null, 2, 2, 1], [
      "l",
      null,
      1,
      1,
      1,
    ], ["s", null, 3, 3, 1]]);
  });

  test("replies near the 16 MiB bound fail clearly with a LIMIT hint, KEYSONLY works", () => {
    const h = new Harness();
    const big = new Uint8Array(1 << 20).fill(0x61); // 1 MiB
    for (let i = 0; i < 20; i++) h.ok("SET", `big:${String(i).padStart(2, "0")}`, big);
    const msg = h.err(Code.TOO_LARGE, "RANGEPREFIX", "big:");
    expect(msg).toMatch(/after 15 entries \(use LIMIT 15 or KEYSONLY\)/);
    expect((h.ok("RANGEPREFIX", "big:", "LIMIT", "15") as unknown[]).length).toBe(15);
    expect((h.ok("RANGEPREFIX", "big:", "KEYSONLY") as unknown[]).length).toBe(20);
  });

  test("100k keys paged at every LIMIT shape: each key once, in order, with deletes between", () => {
    const h = new Harness();
    const N = 100_000;
    const name = (i: number) => `k:${String(i * 7919 % N).padStart(6, "0")}`;
    for (let i = 0; i < N; i++) h.run("SET", name(i), "v");
    // Forward, 10,000 a page, deleting every 10th key not yet reached between pages.
    const seen: string[] = [];
    let start = "k:";
    let deleted = 0;
    for (let page = 0; page < 100; page++) {
      const r = h.ok("RANGE", start, "k;", "LIMIT", String(MAX_RANGE_LIMIT), "KEYSONLY") as [
        string,
      ][];
      for (const [k] of r) seen.push(k);
      if (r.length < MAX_RANGE_LIMIT) break;
      start = r[r.length - 1][0] + "\x00";
      // Delete keys ahead of the cursor (every 10th of the next 10,000).
      const from = Number(start.slice(2, 8)) + 1;
      for (let j = from; j < Math.min(N, from + 10_000); j += 10) {
        if (h.ok("DEL", `k:${String(j).padStart(6, "0")}`) === 1) deleted++;
      }
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort()).toEqual(seen);
    expect(seen.length).toBe(N - deleted);
    // REV paging of what is left, 777 a page: the same keys reversed.
    const back: string[] = [];
    let end = "k;";
    for (let page = 0; page < 1000; page++) {
      const r = h.ok("RANGE", "k:", end, "LIMIT", "777", "REV", "KEYSONLY") as [string][];
      for (const [k] of r) back.push(k);
      if (r.length < 777) break;
      end = r[r.length - 1][0];
    }
    expect(back).toEqual([...seen].reverse());
  });
});

describe("CHECK", () => {
  test("malformed argument lists: clear errors", () => {
    const h = new Harness();
    h.ok("SET", "k", "v");
    expect(h.err(Code.SYNTAX, "CHECK")).toContain("wrong number");
    expect(h.err(Code.SYNTAX, "CHECK", "k")).toContain("wrong number");
    expect(h.err(Code.SYNTAX, "CHECK", "k", "ABSENT", "j")).toContain("key without a condition");
    expect(h.err(Code.SYNTAX, "CHECK", "k", "VALUE")).toContain("needs an operand");
    expect(h.err(Code.SYNTAX, "CHECK", "k", "MODREV")).toContain("needs an operand");
    expect(h.err(Code.SYNTAX, "CHECK", "k", "MODREV", "-1")).toContain(">= 0");
    expect(h.err(Code.SYNTAX, "CHECK", "k", "VERSION", "1.5")).toContain(">= 0");
    expect(h.err(Code.SYNTAX, "CHECK", "k", "EQUALS", "v")).toContain("unknown condition");
    // Parse errors come before evaluation: a failing first check does not hide a bad later one.
    expect(h.err(Code.SYNTAX, "CHECK", "k", "ABSENT", "k", "BOGUS")).toContain("unknown");
    expect(h.err(Code.SYNTAX, "CHECK", "k", "MODREV", "99999999999999999999")).toContain(">= 0");
    expect(h.err(Code.ABORTED, "CHECK", "k", "MODREV", "9223372036854775807")).toContain(
      "check 1 failed",
    );
  });

  test("thousands of checks and a huge VALUE", () => {
    const h = new Harness();
    const args: string[] = ["CHECK"];
    for (let i = 0; i < 5000; i++) {
      h.run("SET", `c${i}`, "v");
      args.push(`c${i}`, "EXISTS");
    }
    expect(h.ok(...args)).toBe("OK");
    args.push("missing", "EXISTS");
    expect(h.err(Code.ABORTED, ...args)).toBe("check 5001 failed: key 'missing' is absent");
    const big = new Uint8Array(8 << 20).fill(0x62);
    h.ok("SET", "big", big);
    expect(h.ok("CHECK", "big", "VALUE", big)).toBe("OK");
    const other = big.slice();
    other[other.length - 1] = 0x63;
    expect(h.err(Code.ABORTED, "CHECK", "big", "VALUE", other)).toContain("value differs");
  });
});

describe("LEASE", () => {
  test("GRANT flood to the limit and past it; bad ttls and ids", () => {
    const h = new Harness();
    for (const bad of ["0", "-1", "1.5", "1e3", "", "31536001", "9223372036854775808"]) {
      expect(h.err(Code.SYNTAX, "LEASE", "GRANT", bad)).toContain("invalid lease ttl");
    }
    for (let i = 0; i < MAX_LEASES; i++) h.run("LEASE", "GRANT", "60");
    expect(h.err(Code.TOO_LARGE, "LEASE", "GRANT", "60")).toContain("too many leases");
    expect(h.err(Code.TOO_LARGE, "LEASE", "GRANT", "60")).toContain("too many leases");
    expect((h.ok("LEASE", "LIST") as number[]).length).toBe(MAX_LEASES);
    h.ok("LEASE", "REVOKE", "5");
    expect(h.ok("LEASE", "GRANT", "60")).toBe(MAX_LEASES + 1);
    for (const id of ["0", "-1", "x", "1.5"]) {
      expect(h.err(Code.SYNTAX, "LEASE", "KEEPALIVE", id)).toContain("positive integer");
    }
    expect(h.err(Code.SYNTAX, "LEASE", "KEEPALIVE", "5")).toBe("lease not found");
    expect(h.err(Code.SYNTAX, "LEASE", "REVOKE", "99999999")).toBe("lease not found");
    expect(h.err(Code.SYNTAX, "LEASE", "REVOKE", "5", "6")).toContain("wrong number");
    expect(h.err(Code.SYNTAX, "LEASE", "FROB")).toContain("unknown LEASE subcommand");
    restorable(h);
  });

  test("SET ... LEASE with a revoked id writes nothing; RENAME/COPY/FLUSHALL keep the sets in step", () => {
    const h = new Harness();
    const id = String(h.ok("LEASE", "GRANT", "60"));
    h.ok("SET", "a", "1", "LEASE", id);
    h.ok("LEASE", "REVOKE", id);
    expect(h.err(Code.SYNTAX, "SET", "b", "2", "LEASE", id)).toBe("lease not found");
    h.nil("GET", "b");
    const id2 = String(h.ok("LEASE", "GRANT", "60"));
    h.ok("SET", "x", "1", "LEASE", id2);
    h.ok("RENAME", "x", "y");
    h.ok("COPY", "y", "z");
    expect((h.ok("LEASE", "TTL", id2, "KEYS") as unknown[])[2]).toEqual(["y"]);
    h.ok("FLUSHALL");
    expect((h.ok("LEASE", "TTL", id2, "KEYS") as unknown[])[2]).toEqual([]);
    h.ok("SET", "w", "1", "LEASE", id2);
    expect(h.ok("LEASE", "REVOKE", id2)).toBe(1);
    restorable(h);
  });

  test("at most MAX_LEASE_KEYS keys on one lease; revoking a full lease is a bounded apply", () => {
    const h = new Harness();
    const id = String(h.ok("LEASE", "GRANT", "60"));
    for (let i = 0; i < MAX_LEASE_KEYS; i++) h.run("SET", `k${i}`, "v", "LEASE", id);
    const msg = h.err(Code.TOO_LARGE, "SET", "one-more", "v", "LEASE", id);
    expect(msg).toContain(`at most ${MAX_LEASE_KEYS}`);
    h.nil("GET", "one-more"); // nothing written
    h.ok("SET", "k0", "again", "LEASE", id); // a key already on the lease may be rewritten
    const other = String(h.ok("LEASE", "GRANT", "60"));
    h.ok("SET", "one-more", "v", "LEASE", other);
    const t0 = performance.now();
    expect(h.ok("LEASE", "REVOKE", id)).toBe(MAX_LEASE_KEYS);
    const ms = performance.now() - t0;
    console.log(`revoking a lease of ${MAX_LEASE_KEYS} keys applied in ${ms.toFixed(1)} ms`);
    expect(ms).toBeLessThan(250); // ~9 ms measured in Bun; generous for a loaded machine
    expect(h.ok("DBSIZE")).toBe(1);
    restorable(h);
  });
});

describe("KVATOMIC / KVSUM / KVMIN / KVMAX sent raw", () => {
  const U1 = bin(0, 0, 0, 0, 0, 0, 0, 1);

  test("wrong counts, truncated mutations, bad u64s: clear errors, nothing applied", () => {
    const h = new Harness();
    h.ok("SET", "keep", "v");
    const before = state(h);
    const bad: (string | Uint8Array)[][] = [
      ["KVATOMIC", "-1"],
      ["KVATOMIC", "1"],
      ["KVATOMIC", "2", "k", "0"],
      ["KVATOMIC", "9007199254740992", "k", "0"],
      ["KVATOMIC", "18446744073709551616"],
      ["KVATOMIC", "1.5"],
      ["KVATOMIC", "1", "k", "x"],
      ["KVATOMIC", "1", "k", "-1"],
      ["KVATOMIC", "0", "SET", "k", "v"],
      ["KVATOMIC", "0", "SET", "k", "v", "-1"],
      ["KVATOMIC", "0", "SET", "k", "v", "1.5"],
      ["KVATOMIC", "0", "DEL"],
      ["KVATOMIC", "0", "SUM", "k"],
      ["KVATOMIC", "0", "SUM", "k", "1234567"],
      ["KVATOMIC", "0", "SUM", "k", "123456789"],
      ["KVATOMIC", "0", "FROB", "k", "v"],
      ["KVATOMIC", "0", "SET", "a", "1", "0", "SUM", "keep", U1], // SUM on a non-U64
      ["KVATOMIC", "0", "SET", "a", "1", "0", "DEL"],
      ["KVSUM", "k", "1"],
      ["KVMIN", "k", bin(1, 2, 3, 4, 5, 6, 7, 8, 9)],
      ["KVMAX", "keep", U1],
      ["KVSUM", "k"],
    ];
    for (const argv of bad) {
      const r = h.run(...argv);
      expect(r.code === Code.OK).toBe(false);
      expect(typeof r.error).toBe("string");
      expect(r.error!.length).toBeGreaterThan(5);
    }
    expect(state(h)).toEqual(before);
    const checks: string[] = ["KVATOMIC", String(KV_MAX_CHECKS + 1)];
    for (let i = 0; i <= KV_MAX_CHECKS; i++) checks.push(`c${i}`, "0");
    expect(h.err(Code.TOO_LARGE, ...checks)).toContain("Too many checks");
    const muts: string[] = ["KVATOMIC", "0"];
    for (let i = 0; i <= KV_MAX_MUTATIONS; i++) muts.push("DEL", `m${i}`);
    expect(h.err(Code.TOO_LARGE, ...muts)).toContain("Too many mutations");
    expect(state(h)).toEqual(before);
  });

  test("an expiry the snapshot cannot hold is refused (the snapshot stays restorable)", () => {
    const h = new Harness();
    for (const px of ["9007199254740991", "9223372036854775807", "9007199254740000"]) {
      expect(h.err(Code.SYNTAX, "KVATOMIC", "0", "SET", `k${px}`, "v", px)).toContain(
        "px must be an integer from 0 to",
      );
    }
    expect(h.ok("DBSIZE")).toBe(0);
    h.ok("KVATOMIC", "0", "SET", "fine", "v", "86400000");
    restorable(h);
  });

  test("a KVATOMIC SET is a put: it detaches the key from its lease (SUM keeps it)", () => {
    const h = new Harness();
    const id = String(h.ok("LEASE", "GRANT", "60"));
    h.ok("SET", "a", "1", "LEASE", id);
    h.ok("KVSUM", "n", U1);
    h.ok("SET", "n", h.run("GET", "n").raw as Uint8Array, "LEASE", id); // a KvU64 on the lease
    h.ok("KVATOMIC", "0", "SET", "a", "2", "0", "SUM", "n", U1);
    expect((h.ok("LEASE", "TTL", id, "KEYS") as unknown[])[2]).toEqual(["n"]);
    expect(h.ok("LEASE", "REVOKE", id)).toBe(1);
    expect(h.ok("GET", "a")).toBe("2");
    h.nil("GET", "n");
    restorable(h);
  });
});
