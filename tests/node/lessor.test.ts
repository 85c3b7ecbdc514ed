/**
 * The leader's lessor (core/node/lessor.ts) on a hand-driven clock: followers never propose; a
 * new leader refreshes first (only when leases exist) and expires nothing before its refresh
 * applied; deadlines are now + ttl from the apply; expiries carry the renewal revision, are made
 * again after retryMs, at most MAX_EXPIRES_PER_ENTRY per entry; leadership loss drops them.
 */
import { expect, test } from "bun:test";
import { decodeCbor } from "../../protocol/cbor.ts";
import { Lessor, LESSOR_CLIENT_ID, MAX_EXPIRES_PER_ENTRY } from "../../core/node/lessor.ts";
import type { ClientBatch } from "../../core/plugin/plugin.ts";
import type { LeaseInfo } from "../../core/state/types.ts";

function setup() {
  const t = { now: 1_000, leader: false, term: 3 };
  const leases: LeaseInfo[] = [];
  const proposed: string[][][] = [];
  const ids: string[] = [];
  const lessor = new Lessor({
    clock: { wallMs: () => t.now, monoMs: () => t.now },
    isLeader: () => t.leader,
    term: () => t.term,
    leases: () => leases,
    propose: (b: ClientBatch) => {
      expect(b.clientId).toBe(LESSOR_CLIENT_ID);
      ids.push(b.batchId);
      const cmds = decodeCbor(b.commands) as string[][];
      expect(b.count).toBe(cmds.length);
      proposed.push(cmds);
      return true;
    },
    retryMs: 500,
  });
  const take = () => proposed.splice(0);
  return { t, leases, lessor, take, ids };
}

test("a follower never proposes; a new leader with no lease proposes nothing", () => {
  const { t, lessor, take } = setup();
  lessor.renewed(1, 1, 5); // heard while following: ignored
  t.now += 10_000;
  lessor.tick();
  expect(take()).toEqual([]);
  t.leader = true;
  lessor.onLeadership(true);
  lessor.tick();
  t.now += 10_000;
  lessor.tick();
  expect(take()).toEqual([]);
  // A lease granted under this leader gets its deadline from the apply.
  lessor.renewed(1, 2, 7);
  t.now += 1_999;
  lessor.tick();
  expect(take()).toEqual([]);
  t.now += 1;
  lessor.tick();
  expect(take()).toEqual([[["LEASE", "EXPIRE", "1", "7"]]]);
});

test("a new leader refreshes before it expires anything; then now + ttl for every lease", () => {
  const { t, leases, lessor, take, ids } = setup();
  leases.push({ id: 1, ttl: 1, renewRev: 4 }, { id: 2, ttl: 5, renewRev: 6 });
  t.leader = true;
  lessor.onLeadership(true);
  lessor.tick();
  expect(take()).toEqual([[["LEASE", "REFRESH"]]]);
  t.now += 60_000; // the refresh has not applied: nothing expires however long it takes...
  lessor.tick();
  expect(take()).toEqual([[["LEASE", "REFRESH"]]]); // ...it is only proposed again
  (leases[0] as { renewRev: number }).renewRev = 20;
  (leases[1] as { renewRev: number }).renewRev = 20;
  lessor.reset(); // the refresh applied (index 20)
  expect(lessor.size).toBe(2);
  t.now += 999;
  lessor.tick();
  expect(take()).toEqual([]);
  t.now += 1;
  lessor.tick();
  expect(take()).toEqual([[["LEASE", "EXPIRE", "1", "20"]]]);
  t.now += 499;
  lessor.tick();
  expect(take()).toEqual([]);
  t.now += 1; // not applied within retryMs: made again
  lessor.tick();
  expect(take()).toEqual([[["LEASE", "EXPIRE", "1", "20"]]]);
  lessor.revoked(1);
  t.now += 600;
  lessor.tick();
  expect(take()).toEqual([]);
  // A keepalive that applies before the deadline moves it.
  lessor.renewed(2, 5, 30);
  t.now += 4_999;
  lessor.tick();
  expect(take()).toEqual([]);
  t.now += 1;
  lessor.tick();
  expect(take()).toEqual([[["LEASE", "EXPIRE", "2", "30"]]]);
  expect(new Set(ids).size).toBe(ids.length); // unique batch ids (idempotency cache keys)
  // Leadership lost: every deadline dropped, nothing proposed.
  t.leader = false;
  lessor.onLeadership(false);
  expect(lessor.size).toBe(0);
  t.now += 60_000;
  lessor.tick();
  expect(take()).toEqual([]);
});

test("at most MAX_EXPIRES_PER_ENTRY expiries per entry; the rest at the next tick", () => {
  const { t, lessor, take } = setup();
  t.leader = true;
  lessor.onLeadership(true);
  const n = MAX_EXPIRES_PER_ENTRY + 10;
  for (let i = 1; i <= n; i++) lessor.renewed(i, 1, i);
  t.now += 1_000;
  lessor.tick();
  const first = take();
  expect(first.length).toBe(1);
  expect(first[0].length).toBe(MAX_EXPIRES_PER_ENTRY);
  lessor.tick();
  const second = take();
  expect(second[0].length).toBe(10);
  expect(second[0][9]).toEqual(["LEASE", "EXPIRE", String(n), String(n)]);
});
