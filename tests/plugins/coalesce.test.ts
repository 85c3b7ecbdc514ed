import { expect, test } from "bun:test";
import { encodeCbor } from "../../protocol/cbor.ts";
import { Code } from "../../protocol/codes.ts";
import type { ClientBatch, CommittedEntry } from "../../core/plugin/plugin.ts";
import { createCoalescePlugin } from "../../plugins/coalesce/mod.ts";
import { fakeContext } from "../helpers/fake_context.ts";

let seq = 0;
function batch(n: number, valueBytes = 10): ClientBatch {
  const cmds = [];
  for (let i = 0; i < n; i++) cmds.push(["SET", `k${i}`, "x".repeat(valueBytes)]);
  return { clientId: "c", batchId: `b${++seq}`, commands: encodeCbor(cmds).slice(), count: n };
}
const applied = (batches: ClientBatch[]): CommittedEntry => ({
  index: 1,
  term: 1,
  nowMs: 0,
  batches,
  raw: { index: 1, term: 1, type: 0, data: new Uint8Array() },
});
const tick = () => new Promise((r) => setTimeout(r, 0));

test("idle pipeline: batches arriving in one tick are proposed together right away", async () => {
  const p = createCoalescePlugin();
  const ctx = fakeContext({ batch_size: 100 }, p);
  p.setup!(ctx);
  for (let i = 0; i < 5; i++) expect(p.onBatch!(batch(1), ctx)).toEqual({ defer: true });
  expect(ctx.proposed.length).toBe(0);
  await tick();
  expect(ctx.proposed.length).toBe(1);
  expect(ctx.proposed[0].length).toBe(5);
});

test("size trigger flushes at batch_size; in-flight proposals make the next one accumulate until applied", async () => {
  const p = createCoalescePlugin();
  const ctx = fakeContext({ batch_size: 10, batch_timeout_ms: 1000 }, p);
  p.setup!(ctx);
  p.onBatch!(batch(10), ctx); // reaches batch_size: proposed now
  expect(ctx.proposed.length).toBe(1);
  p.onBatch!(batch(3), ctx);
  p.onBatch!(batch(3), ctx);
  await tick();
  expect(ctx.proposed.length).toBe(1); // one proposal in flight: waiting
  p.onApply!(applied(ctx.proposed[0]), [], ctx);
  expect(ctx.proposed.length).toBe(2);
  expect(ctx.proposed[1].map((b) => b.count)).toEqual([3, 3]);
  expect(p.stats().flushes).toMatchObject({ size: 1, applied: 1 });
});

test("timeout trigger, and proposals never exceed batch_size / batch_max_bytes", async () => {
  const p = createCoalescePlugin();
  const ctx = fakeContext({ batch_size: 10, batch_timeout_ms: 5 }, p);
  p.setup!(ctx);
  p.onBatch!(batch(10), ctx);
  for (let i = 0; i < 4; i++) p.onBatch!(batch(3), ctx);
  // 12 queued commands >= 10: flushed by size, split into proposals of at most 10 commands
  expect(ctx.proposed.slice(1).map((x) => x.reduce((s, b) => s + b.count, 0))).toEqual([9, 3]);
  p.onBatch!(batch(2), ctx);
  await new Promise((r) => setTimeout(r, 30));
  expect(ctx.proposed.length).toBe(4);
  expect(p.stats().flushes.timeout).toBe(1);
});

test("a full queue answers BUSY and memory stays bounded", () => {
  const p = createCoalescePlugin();
  const ctx = fakeContext({
    batch_size: 100_000,
    batch_max_bytes: 16 * 1024 * 1024,
    coalesce_max_queue_bytes: 64 * 1024,
  }, p);
  p.setup!(ctx);
  // Synchronous flood: the idle flush (next macrotask) cannot run in between, so the queue fills.
  let busy = 0, deferred = 0;
  for (let i = 0; i < 5000; i++) {
    const d = p.onBatch!(batch(10, 50), ctx) as {
      reject?: { code: number; message: string };
      defer?: boolean;
    };
    if (d.reject) {
      expect(d.reject.code).toBe(Code.BUSY);
      expect(d.reject.message).toMatch(/server busy/);
      busy++;
    } else deferred++;
  }
  expect(busy).toBeGreaterThan(4000);
  expect(p.stats().queued).toBe(deferred);
  expect(deferred * 600).toBeLessThan(64 * 1024 * 1.5);
});
