/**
 * The native client's auto-batching (client/auto_batcher.ts) must not make a guard out of a
 * concurrent CHECK/IFREV: `command()` calls that happen to leave in one frame mean what they mean
 * one by one, so a failing CHECK never aborts an unrelated SET queued behind it.
 */
import { afterAll, expect, test } from "bun:test";
import { type Client, connect } from "../../client/client.ts";
import type { TinyKVNode } from "../../core/node/types.ts";
import { startTestNode } from "../helpers/in_process.ts";

let node: TinyKVNode;
let c: Client;
afterAll(async () => {
  await c?.close();
  await node?.stop();
});

test("auto-batched commands behind a failing CHECK or IFREV still apply", async () => {
  node = await startTestNode();
  c = await connect({ port: node.clientPort, autoBatch: {} });
  const bytes = new TextEncoder().encode("check");
  const rs = await Promise.allSettled([
    c.command("CHECK", "missing", "EXISTS"),
    c.command("SET", "a", "1"),
    c.command("IFREV", "missing", "7"),
    c.command("SET", "b", "1"),
    c.command(bytes, "missing", "EXISTS"),
    c.command("CHECK", "a", "ABSENT"),
    c.command("SET", "c", "1"),
  ]);
  expect(rs.map((r) => r.status)).toEqual([
    "rejected",
    "fulfilled",
    "rejected",
    "fulfilled",
    "rejected",
    "rejected",
    "fulfilled",
  ]);
  const got = await c.command("MGET", "a", "b", "c") as Uint8Array[];
  expect(got.map((v) => new TextDecoder().decode(v))).toEqual(["1", "1", "1"]);
});
