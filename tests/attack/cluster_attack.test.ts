/**
 * A 3-node in-process cluster under hostile #13 traffic sent raw to the leader: guards with bad
 * or failing checks (also several leading guards, as WATCH + MULTI + CHECK makes), KVATOMIC with
 * wrong counts and unstorable expiries, lease floods with keys, revokes, RENAME/COPY onto leased
 * keys, RANGE abuse. Every bad command gets an error, the good ones apply, and every replica
 * applied every entry with the same results (a plugin records each entry's results per node) and
 * holds the same number of keys; the leader's full RANGE listing is what the commands imply.
 */
import { afterAll, expect, test } from "bun:test";
import type { TinyKVNode } from "../../core/node/types.ts";
import type { Plugin } from "../../core/plugin/plugin.ts";
import { Code } from "../../protocol/codes.ts";
import { startTestCluster } from "../helpers/in_process.ts";
import { waitFor } from "../helpers/net.ts";
import { RawClient } from "../helpers/raw_client.ts";

let nodes: TinyKVNode[] = [];
const clients: RawClient[] = [];
afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all(nodes.map((n) => n.stop().catch(() => {})));
});

/** Records every applied entry's results (index, codes, errors, values) on one node. */
function recorder(into: string[]): Plugin {
  return {
    name: "attack-recorder",
    onApply: (e, results) => {
      into.push(
        JSON.stringify([e.index, results], (_k, v) => v instanceof Uint8Array ? [...v] : v),
      );
    },
  };
}

type Cmd = (string | Uint8Array)[];

async function batch(c: RawClient, cmds: Cmd[]): Promise<{ codes: number[]; errors: unknown[] }> {
  const r = await c.batch(cmds as string[][]);
  return { codes: r.codes as number[], errors: r.errors as unknown[] };
}

/** The whole keyspace from one node's own state (ReadIndex, then served locally), page by page. */
async function listing(c: RawClient): Promise<unknown[]> {
  const all: unknown[] = [];
  let start: Uint8Array = new Uint8Array(0);
  for (let page = 0; page < 100; page++) {
    const r = await c.batch([["RANGE", start, new Uint8Array(0), "LIMIT", "500"]] as never);
    expect((r.codes as number[])[0]).toBe(Code.OK);
    const entries = (r.data as unknown[][])[0] as [Uint8Array, ...unknown[]][];
    all.push(...entries);
    if (entries.length < 500) break;
    const last = entries[entries.length - 1][0];
    start = new Uint8Array([...last, 0]);
  }
  return all;
}

test("hostile traffic leaves every replica identical", async () => {
  const applied: string[][] = [];
  nodes = await startTestCluster(3, () => {
    const log: string[] = [];
    applied.push(log);
    return [recorder(log)];
  });
  const leader = nodes.find((n) => n.status().role === "leader")!;
  const c = await RawClient.connect(leader.clientPort);
  clients.push(c);
  // Guards: a failing CHECK after a passing one guards the rest too; bad checks lose nothing.
  let r = await batch(c, [["SET", "g", "1"]]);
  expect(r.codes).toEqual([Code.OK]);
  r = await batch(c, [["CHECK", "g", "EXISTS"], ["CHECK", "g", "VALUE", "2"], ["SET", "g", "x"]]);
  expect(r.codes).toEqual([Code.OK, Code.ABORTED, Code.ABORTED]);
  r = await batch(c, [["IFREV", "g", "0"], ["SET", "g", "y"]]);
  expect(r.codes).toEqual([Code.ABORTED, Code.ABORTED]);
  r = await batch(c, [["CHECK", "g"], ["SET", "g", "z"]]);
  expect(r.codes).toEqual([Code.SYNTAX, Code.ABORTED]);
  r = await batch(c, [["CHECK", "g", "ABSENT"]]);
  expect(r.codes).toEqual([Code.ABORTED]);
  // KVATOMIC raw: wrong counts, truncated, unstorable expiry; mixed with good commands.
  r = await batch(c, [
    ["SET", "before", "1"],
    ["KVATOMIC", "9007199254740992", "k", "0"],
    ["KVATOMIC", "0", "SET", "k", "v", "9007199254740991"],
    ["KVATOMIC", "0", "SUM", "k", "1"],
    ["KVATOMIC", "1", "before", "0", "SET", "k", "v", "0"],
    ["KVATOMIC", "0", "SET", "kv", "v", "0", "DEL", "before"],
    ["SET", "after", "1"],
  ]);
  expect(r.codes).toEqual([
    Code.OK,
    Code.SYNTAX,
    Code.SYNTAX,
    Code.SYNTAX,
    Code.ABORTED,
    Code.OK,
    Code.OK,
  ]);
  // Leases: a flood of grants with keys, revokes, RENAME and COPY of leased keys.
  const grants: Cmd[] = [];
  for (let i = 0; i < 200; i++) grants.push(["LEASE", "GRANT", String(60 + i)]);
  r = await batch(c, grants);
  expect(r.codes.every((x) => x === Code.OK)).toBe(true);
  const sets: Cmd[] = [];
  for (let i = 0; i < 2000; i++) {
    sets.push(["SET", `l:${i}`, `v${i}`, "LEASE", String(1 + i % 200)]);
  }
  r = await batch(c, sets);
  expect(r.codes.every((x) => x === Code.OK)).toBe(true);
  r = await batch(c, [
    ["RENAME", "l:0", "moved"],
    ["COPY", "l:1", "copied"],
    ["LEASE", "REVOKE", "2"],
    ["LEASE", "REVOKE", "2"],
    ["LEASE", "KEEPALIVE", "999999"],
    ["SET", "x", "1", "LEASE", "2"],
    ["LEASE", "GRANT", "0"],
    ["RANGE", "", "", "LIMIT", "0"],
    ["RANGE", "", "", "AT", "99999999"],
  ]);
  expect(r.codes).toEqual([
    Code.OK,
    Code.OK,
    Code.OK,
    Code.SYNTAX,
    Code.SYNTAX,
    Code.SYNTAX,
    Code.SYNTAX,
    Code.SYNTAX,
    Code.SYNTAX,
  ]);
  r = await batch(c, [["LEASE", "REVOKE", "1"], ["REVISION"]]);
  expect(r.codes[0]).toBe(Code.OK);
  // Every replica applied the same entries with the same results and holds the same keys.
  const want = leader.status().applied;
  await waitFor(
    "every replica to apply",
    () => nodes.every((n) => n.status().applied >= want) || undefined,
  );
  expect(applied[1]).toEqual(applied[0]);
  expect(applied[2]).toEqual(applied[0]);
  expect(applied[0].length).toBeGreaterThan(8);
  const keys = nodes.map((n) => n.stats().keys);
  // Leases 1 and 2 went with their keys (l:0 renamed to "moved" stays on lease 1 and goes too);
  // kept: 1,980 l:* keys, copied, g, after, kv.
  expect(keys).toEqual([1984, 1984, 1984]);
  const list = await listing(c);
  expect(list.length).toBe(1984);
}, 60_000);
