/**
 * Conformance of TinyKV's Deno KV API against the real Deno KV (the reference implementation):
 * the same seeded random sequence of get / getMany / set / delete / list (prefix, range,
 * prefix+start/end, reverse, limit, batchSize, cursor paging) / atomic (checks that hit and miss,
 * set, delete, sum/min/max with wrap-around and type errors) runs against
 * `Deno.openKv(":memory:")` and against `openKv` on a TinyKV node, and the results must be equal:
 * values, key order, cursors, check outcomes, error messages; versionstamps by rank (order and
 * equality), not bytes. TinyKV's side runs twice: from Deno (tests/kv/deno_driver.ts, spawned
 * with `deno run --unstable-kv`) and from Bun (here, in-process).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { connect } from "../../client/client.ts";
import type { Client } from "../../client/types.ts";
import type { TinyKVNode } from "../../core/node/types.ts";
import { KvU64, openKv } from "../../mod.ts";
import { startTestNode } from "../helpers/in_process.ts";
import { genOps, type KvLike, runOps } from "./ops.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DENO = join(ROOT, "node_modules", ".bin", "deno");
const SEEDS = [1, 2, 3, 4, 5, 6];
const OPS = 400;

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

/** Runs the Deno driver (bounded by a timeout); resolves to its parsed JSON line. */
function runDeno(seed: number, port: number): Promise<{ deno: unknown[]; tinykv: unknown[] }> {
  return new Promise((resolve, reject) => {
    const p = spawn(
      DENO,
      [
        "run",
        "--unstable-kv",
        "-A",
        join(ROOT, "tests/kv/deno_driver.ts"),
        String(seed),
        String(OPS),
        String(port),
      ],
      { cwd: ROOT, env: { ...process.env, CBOR_NATIVE_ACCELERATION_DISABLED: "true" } },
    );
    let out = "", err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    const t = setTimeout(() => p.kill("SIGKILL"), 60_000);
    p.on("exit", (code) => {
      clearTimeout(t);
      if (code !== 0) return reject(new Error(`deno driver exited ${code}: ${err}`));
      try {
        resolve(JSON.parse(out));
      } catch (e) {
        reject(
          new Error(`deno driver output: ${(e as Error).message}: ${out.slice(0, 500)} ${err}`),
        );
      }
    });
  });
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
