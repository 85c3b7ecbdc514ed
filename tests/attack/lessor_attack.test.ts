/**
 * The leader's lessor under a flood of due leases that hold many keys: one EXPIRE entry never
 * deletes more than MAX_EXPIRE_KEYS_PER_ENTRY keys (a lease with more goes alone), the rest wait
 * for the next ticks, and every due lease is proposed exactly once before its retry time.
 */
import { expect, test } from "bun:test";
import { decodeCbor } from "../../protocol/cbor.ts";
import {
  Lessor,
  MAX_EXPIRE_KEYS_PER_ENTRY,
  MAX_EXPIRES_PER_ENTRY,
} from "../../core/node/lessor.ts";
import type { ClientBatch } from "../../core/plugin/plugin.ts";
import { MAX_LEASE_KEYS } from "../../core/state/leases.ts";
import type { LeaseInfo } from "../../core/state/types.ts";

test("expiry entries are bounded by the keys their leases hold", () => {
  const t = { now: 1_000 };
  const leases: LeaseInfo[] = [];
  const proposed: string[][][] = [];
  const lessor = new Lessor({
    clock: { wallMs: () => t.now, monoMs: () => t.now },
    isLeader: () => true,
    term: () => 2,
    leases: () => leases,
    propose: (b: ClientBatch) => {
      proposed.push(decodeCbor(b.commands) as string[][]);
      return true;
    },
    retryMs: 60_000,
  });
  lessor.onLeadership(true);
  // 40 leases: 10 full ones, 30 with 1,000 keys each; all with a 1 s ttl.
  const keysOf = new Map<string, number>();
  for (let id = 1; id <= 40; id++) {
    const n = id <= 10 ? MAX_LEASE_KEYS : 1_000;
    leases.push({ id, ttl: 1, renewRev: id, keys: { size: n } });
    keysOf.set(String(id), n);
  }
  lessor.tick(); // the refresh
  expect(proposed.splice(0)).toEqual([[["LEASE", "REFRESH"]]]);
  lessor.reset(); // the refresh applied: deadlines now + ttl
  t.now += 1_000;
  const seen: string[] = [];
  for (let i = 0; i < 100 && seen.length < 40; i++) {
    lessor.tick();
    for (const cmds of proposed.splice(0)) {
      expect(cmds.length).toBeLessThanOrEqual(MAX_EXPIRES_PER_ENTRY);
      let keys = 0;
      for (const c of cmds) {
        expect(c[1]).toBe("EXPIRE");
        keys += keysOf.get(c[2])!;
        seen.push(c[2]);
      }
      if (cmds.length > 1) expect(keys).toBeLessThanOrEqual(MAX_EXPIRE_KEYS_PER_ENTRY);
    }
    t.now += 10;
  }
  expect(seen.sort((a, b) => Number(a) - Number(b))).toEqual(
    Array.from({ length: 40 }, (_, i) => String(i + 1)),
  );
});
