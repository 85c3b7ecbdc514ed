import { expect, test } from "bun:test";
import { encodeCbor } from "../../core/cbor.ts";
import { Code } from "../../core/errors.ts";
import type { BatchResult, ClientBatch, CommittedEntry } from "../../core/plugin.ts";
import { createIdempotencyPlugin } from "../../plugins/idempotency/mod.ts";
import { fakeContext } from "../helpers/fake_context.ts";

function batch(batchId: string, cmds: unknown[], clientId = "c1"): ClientBatch {
  return { clientId, batchId, commands: encodeCbor(cmds).slice(), count: cmds.length };
}
function entry(index: number, nowMs: number, batches: ClientBatch[]): CommittedEntry {
  return {
    index,
    term: 1,
    nowMs,
    batches,
    raw: { index, term: 1, type: 0, data: new Uint8Array() },
  };
}
const ok = (n: number): BatchResult => ({
  codes: new Array(n).fill(Code.OK),
  data: new Array(n).fill("OK"),
  errors: new Array(n).fill(null),
});

test("a retried batch is answered from the cache and skipped at apply; other content conflicts", () => {
  const p = createIdempotencyPlugin();
  const ctx = fakeContext();
  p.setup!(ctx);
  const b = batch("b1", [["INCR", "x"]]);
  expect(p.onBatch!(b, ctx)).toBeUndefined();
  expect(p.beforeApply!(b, entry(1, 1000, [b]), ctx)).toBeUndefined();
  const r: BatchResult = { codes: [Code.OK], data: [1], errors: [null] };
  p.onApply!(entry(1, 1000, [b]), [r], ctx);
  // retry: same ids, same content
  const again = batch("b1", [["INCR", "x"]]);
  expect(p.onBatch!(again, ctx)).toEqual({ respond: r });
  expect(p.beforeApply!(again, entry(2, 1001, [again]), ctx)).toEqual(r);
  // same ids, other content
  const other = batch("b1", [["INCR", "y"]]);
  const d = p.onBatch!(other, ctx) as { reject: { code: number } };
  expect(d.reject.code).toBe(Code.BATCH_CONFLICT);
  expect(p.beforeApply!(other, entry(3, 1002, [other]), ctx)!.codes).toEqual([Code.BATCH_CONFLICT]);
  // another client with the same batch id is a different batch
  expect(p.onBatch!(batch("b1", [["INCR", "x"]], "c2"), ctx)).toBeUndefined();
});

test("eviction by count and by leader time is deterministic and survives snapshot/restore", () => {
  const mk = () => {
    const p = createIdempotencyPlugin();
    const ctx = fakeContext({ idempotency_max_entries: 3, idempotency_max_age_ms: 10_000 });
    p.setup!(ctx);
    return { p, ctx };
  };
  const a = mk();
  for (let i = 1; i <= 5; i++) {
    const b = batch(`b${i}`, [["SET", "k", String(i)]]);
    a.p.onApply!(entry(i, 1000 + i, [b]), [ok(1)], a.ctx);
  }
  expect(a.p.cache()!.size).toBe(3);
  expect(a.p.onBatch!(batch("b1", [["SET", "k", "1"]]), a.ctx)).toBeUndefined(); // evicted by count
  expect(a.p.onBatch!(batch("b5", [["SET", "k", "5"]]), a.ctx)).toBeDefined();
  // age: an entry 10 s later evicts everything older than 10 s of leader time
  const late = batch("late", [["PING"]]);
  a.p.onApply!(entry(6, 1000 + 5 + 10_001, [late]), [ok(1)], a.ctx);
  expect(a.p.cache()!.size).toBe(1);
  // snapshot/restore gives the same cache on another replica
  const b = mk();
  b.p.restore!(a.p.snapshot!(a.ctx), b.ctx);
  expect(b.p.snapshot!(b.ctx)).toEqual(a.p.snapshot!(a.ctx));
  expect(b.p.onBatch!(late, b.ctx)).toEqual({ respond: ok(1) });
  expect(() => b.p.restore!(encodeCbor({ v: 9 }), b.ctx)).toThrow(/unknown format/);
});
