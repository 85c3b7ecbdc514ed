/**
 * Optimistic transactions: WATCHREV reads revisions, a batch starting with IFREV runs only if they
 * still hold (one log entry: all or nothing, on every replica). What Redis WATCH/MULTI/EXEC map to.
 */
import { afterAll, expect, test } from "bun:test";
import { Code } from "../../protocol/codes.ts";
import type { TinyKVNode } from "../../core/node/types.ts";
import { startTestNode } from "../helpers/in_process.ts";
import { RawClient } from "../helpers/raw_client.ts";

let node: TinyKVNode;
let c: RawClient;
afterAll(async () => {
  c?.close();
  await node?.stop();
});

const text = (v: unknown) => v instanceof Uint8Array ? new TextDecoder().decode(v) : v;

test("IFREV guards the rest of its batch", async () => {
  node = await startTestNode();
  c = await RawClient.connect(node.clientPort);
  await c.batch([["SET", "k", "v1"]], "t0");
  const w = await c.batch([["WATCHREV", "k", "missing"]], "t1");
  expect(w.codes).toEqual([Code.OK]);
  const [rev, none] = (w.data as number[][])[0];
  expect(rev).toBeGreaterThan(0);
  expect(none).toBe(0);

  // Unchanged: the guarded batch runs.
  const ok = await c.batch([["IFREV", "k", String(rev), "missing", "0"], ["SET", "k", "v2"], [
    "INCR",
    "n",
  ]], "t2");
  expect(ok.codes).toEqual([Code.OK, Code.OK, Code.OK]);

  // k changed since (the batch above wrote it): the same guard now aborts everything after it.
  const no = await c.batch([["IFREV", "k", String(rev)], ["SET", "k", "v3"], ["INCR", "n"]], "t3");
  expect(no.codes).toEqual([Code.ABORTED, Code.ABORTED, Code.ABORTED]);
  const r = await c.batch([["GET", "k"], ["GET", "n"]], "t4");
  expect(text((r.data as unknown[])[0])).toBe("v2");
  expect(text((r.data as unknown[])[1])).toBe("1");

  // A key created after WATCH aborts too; bad guards are syntax errors (and abort the rest).
  const created = await c.batch([["IFREV", "n2", "0"], ["SET", "n2", "x"]], "t5");
  expect(created.codes).toEqual([Code.OK, Code.OK]);
  const again = await c.batch([["IFREV", "n2", "0"], ["SET", "n2", "y"]], "t6");
  expect(again.codes).toEqual([Code.ABORTED, Code.ABORTED]);
  const bad = await c.batch([["IFREV", "k"], ["SET", "k", "zz"]], "t7");
  expect((bad.codes as number[])[1]).toBe(Code.ABORTED);
  const bad2 = await c.batch([["IFREV", "k", "-1"], ["SET", "k", "zz"]], "t8");
  expect(bad2.codes).toEqual([Code.SYNTAX, Code.ABORTED]);
  // IFREV anywhere but first is only a check.
  const later = await c.batch([["SET", "m", "1"], ["IFREV", "k", "1"], ["SET", "m", "2"]], "t9");
  expect(later.codes).toEqual([Code.OK, Code.ABORTED, Code.OK]);

  // GETREV / REVISION: revisions are readable with the value.
  await c.batch([["SET", "gr", "a"]], "g1");
  const g1 = await c.batch([["GETREV", "gr"], ["REVISION"]], "g2");
  const [v1, create1, mod1] = (g1.data as unknown[][])[0] as [Uint8Array, number, number];
  expect(text(v1)).toBe("a");
  expect(create1).toBe(mod1);
  expect((g1.data as number[])[1]).toBeGreaterThanOrEqual(mod1);
  await c.batch([["SET", "gr", "b"]], "g3");
  const g2 = await c.batch([["GETREV", "gr"], ["GETREV", "nope"], ["GETREV", "n"]], "g4");
  const [v2, create2, mod2] = (g2.data as unknown[][])[0] as [Uint8Array, number, number];
  expect(text(v2)).toBe("b");
  expect(create2).toBe(create1);
  expect(mod2).toBeGreaterThan(mod1);
  expect((g2.codes as number[]).slice(1)).toEqual([Code.NOT_FOUND, Code.OK]);
});
