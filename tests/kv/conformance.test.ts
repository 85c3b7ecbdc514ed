/**
 * Conformance of TinyKV's Deno KV API against the real Deno KV (the reference implementation):
 * the same seeded random sequence of get / getMany / set / delete / list (prefix, range,
 * prefix+start/end, reverse, limit, batchSize, cursor paging) / atomic (checks that hit and miss,
 * set, delete, sum/min/max with wrap-around and type errors) runs against
 * `Deno.openKv(":memory:")` and against `openKv` on a TinyKV node, and the results must be equal:
 * values, key order, cursors, check outcomes, error messages; versionstamps by rank (order and
 * equality), not bytes. TinyKV's side runs twice: from Deno (tests/kv/deno_driver.ts, spawned
 * with `deno run --unstable-kv`) and from Bun (here, in-process). A scripted watch sequence is
 * compared the same way (the arrays a watch stream yields after each awaited write).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect } from "../../client/client.ts";
import type { Client } from "../../client/types.ts";
import type { TinyKVNode } from "../../core/node/types.ts";
import { KvU64, openKv } from "../../mod.ts";
import { startTestNode } from "../helpers/in_process.ts";
import { runDenoDriver } from "./deno.ts";
import { genOps, type KvLike, runOps, runWatchScript, type WatchKvLike } from "./ops.ts";

const SEEDS = [1, 2, 3, 4];
const OPS = 500;

let denoNode: TinyKVNode, bunNode: TinyKVNode;
let denoAdmin: Client, bunAdmin: Client;

beforeAll(async () => {
  denoNode = await startTestNode();
  bunNode = await startTestNode();
  denoAdmin = await connect({ port: denoNode.clientPort });
  bunAdmin = await connect({ port: bunNode.clientPort });
});

afterAll(async () => {
  await denoAdmin?.close();
  await bunAdmin?.close();
  await denoNode?.stop();
  await bunNode?.stop();
});

async function runDeno(
  seed: number,
  port: number,
): Promise<{ deno: unknown[]; tinykv: unknown[] }> {
  return JSON.parse(await runDenoDriver([String(seed), String(OPS), String(port)]));
}

/** The first operations whose results differ (for a readable failure). */
function firstDiffs(a: unknown[], b: unknown[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < Math.max(a.length, b.length) && out.length < 3; i++) {
    const x = JSON.stringify(a[i]), y = JSON.stringify(b[i]);
    if (x !== y) out.push(`op ${i}:\n  deno:   ${x?.slice(0, 400)}\n  tinykv: ${y?.slice(0, 400)}`);
  }
  return out;
}

for (const seed of SEEDS) {
  test(
    `seed ${seed}: ${OPS} operations give Deno KV's results (TinyKV from Deno and from Bun)`,
    async () => {
      await denoAdmin.command("FLUSHALL");
      await bunAdmin.command("FLUSHALL");
      const [fromDeno, fromBun] = await Promise.all([
        runDeno(seed, denoNode.clientPort),
        (async () => {
          const kv = await openKv({ port: bunNode.clientPort });
          try {
            return await runOps(kv as unknown as KvLike, genOps(seed, OPS), KvU64);
          } finally {
            kv.close();
          }
        })(),
      ]);
      expect(fromDeno.deno.length).toBe(OPS);
      expect(firstDiffs(fromDeno.deno, fromDeno.tinykv)).toEqual([]);
      expect(firstDiffs(fromDeno.deno, fromBun)).toEqual([]);
      // The sequence really exercises what it claims (not all errors, checks both hit and miss).
      const flat = JSON.stringify(fromDeno.deno);
      expect(flat).toContain("[false]"); // a check that missed
      expect(flat).toContain("non-U64"); // a sum on a non-U64 value
      expect(flat).toContain('"u64"');
      expect((flat.match(/"error"/g) ?? []).length).toBeLessThan(OPS / 4);
    },
    60_000,
  );
}

test(
  "watch: a scripted sequence yields Deno KV's arrays (TinyKV from Deno and from Bun)",
  async () => {
    await denoAdmin.command("FLUSHALL");
    await bunAdmin.command("FLUSHALL");
    const fromDeno = JSON.parse(await runDenoDriver(["watch", String(denoNode.clientPort)]));
    const kv = await openKv({ port: bunNode.clientPort });
    const fromBun = await runWatchScript(kv as unknown as WatchKvLike, KvU64);
    kv.close();
    expect(fromDeno.deno.length).toBe(7);
    expect(fromDeno.tinykv).toEqual(fromDeno.deno);
    expect(fromBun).toEqual(fromDeno.deno);
  },
  60_000,
);
