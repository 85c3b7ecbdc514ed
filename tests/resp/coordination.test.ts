/**
 * The coordination commands on the RESP port (they are in the one command table): RANGE answers
 * an array of [key, value, create_rev, mod_rev, version] entries, CHECK answers +OK or an error
 * naming the failing check. A guard (IFREV, CHECK) pipelined before other commands guards nothing:
 * RESP pipelines are batches, and a guard first in a batch used to abort the commands that
 * happened to be batched behind it (fails on the old resp/server.ts: the SET answered ABORTED).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { TinyKVNode } from "../../core/node/types.ts";
import { RawResp, resp, startRespNode } from "./helpers.ts";

let node: TinyKVNode;
beforeAll(async () => {
  node = await startRespNode();
});
afterAll(async () => {
  await node?.stop();
});

async function exchange(bytes: Uint8Array, until: (t: string) => boolean): Promise<string> {
  const c = await RawResp.connect(node.redisPort);
  try {
    await c.write(bytes);
    await c.until(until);
    return c.text();
  } finally {
    c.close();
  }
}

/** The commands' RESP encodings back to back (one write: one pipeline). */
const cat = (...parts: Uint8Array[]) => new Uint8Array(parts.flatMap((p) => [...p]));

test("a pipelined guard does not guard the commands behind it", async () => {
  const t = await exchange(
    cat(
      resp("IFREV", "g", "5"),
      resp("SET", "after-ifrev", "1"),
      resp("CHECK", "g", "EXISTS"),
      resp("SET", "after-check", "1"),
      resp("MGET", "after-ifrev", "after-check"),
    ),
    (t) => t.includes("*2\r\n$1\r\n1\r\n$1\r\n1\r\n") || t.split("\r\n").length > 12,
  );
  const lines = t.split("\r\n");
  expect(lines[0]).toMatch(/^-/); // IFREV: aborted
  expect(lines[1]).toBe("+OK");
  expect(lines[2]).toMatch(/^-.*check 1 failed: key 'g' is absent/);
  expect(lines[3]).toBe("+OK");
  expect(t).toContain("*2\r\n$1\r\n1\r\n$1\r\n1\r\n");
});

test("RANGE and CHECK answer on the RESP port", async () => {
  const t = await exchange(
    cat(
      resp("SET", "ra", "1"),
      resp("SET", "rb", "2"),
      resp("RANGE", "r", "s", "LIMIT", "1", "REV"),
      resp("CHECK", "ra", "VALUE", "1", "rb", "VERSION", "1"),
    ),
    (t) => t.endsWith("+OK\r\n") && t.includes("*1\r\n"),
  );
  expect(t).toMatch(
    /^\+OK\r\n\+OK\r\n\*1\r\n\*5\r\n\$2\r\nrb\r\n\$1\r\n2\r\n:\d+\r\n:\d+\r\n:1\r\n\+OK\r\n$/,
  );
});
