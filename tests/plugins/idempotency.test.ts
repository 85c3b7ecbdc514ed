import { expect, test } from "bun:test";
import { encodeCbor } from "../../protocol/cbor.ts";
import { Code } from "../../protocol/codes.ts";
import type { BatchResult, ClientBatch, CommittedEntry } from "../../core/plugin/plugin.ts";
import { createIdempotencyPlugin } from "../../plugins/idempotency/mod.ts";
import { loadPlugins } from "../../core/plugin/loader.ts";
import { fakeContext } from "../helpers/fake_context.ts";
import process from "node:process";

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
  const ctx = fakeContext({}, p);
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

test("a result inside the window is never evicted: a full cache refuses new writes with BUSY instead", () => {
  const mk = () => {
    const p = createIdempotencyPlugin();
    const ctx = fakeContext({ idempotency_max_entries: 3, idempotency_max_age_ms: 10_000 }, p);
    p.setup!(ctx);
    return { p, ctx };
  };
  const a = mk();
  const t0 = Date.now();
  for (let i = 1; i <= 5; i++) {
    const b = batch(`b${i}`, [["SET", "k", String(i)]]);
    a.p.onApply!(entry(i, t0 + i, [b]), [ok(1)], a.ctx);
  }
  // Applied entries are always recorded (every replica the same); none is evicted by count.
  expect(a.p.cache()!.size).toBe(5);
  expect(a.p.onBatch!(batch("b1", [["SET", "k", "1"]]), a.ctx)).toEqual({ respond: ok(1) });
  expect(a.p.beforeApply!(batch("b1", [["SET", "k", "1"]]), entry(6, t0 + 6, []), a.ctx))
    .toEqual(ok(1));
  // The leader refuses a new write while the cache is full of results inside the window ...
  const d = a.p.onBatch!(batch("new", [["INCR", "n"]]), a.ctx) as {
    reject: { code: number; message: string };
  };
  expect(d.reject.code).toBe(Code.BUSY);
  expect(d.reject.message).toMatch(/idempotency cache full/);
  // ... but not a read (reads are not cached).
  const read = { ...batch("r", [["GET", "k"]]), readOnly: true };
  expect(a.p.onBatch!(read, a.ctx)).toBeUndefined();
  // Age: an entry 10 s later evicts everything older than 10 s of leader time.
  const late = batch("late", [["PING"]]);
  a.p.onApply!(entry(7, t0 + 5 + 10_001, [late]), [ok(1)], a.ctx);
  expect(a.p.cache()!.size).toBe(1);
  // A result applied under a lagging leader clock is kept (eviction stops at the first young one).
  const early = batch("early", [["PING"]]);
  a.p.onApply!(entry(8, t0, [early]), [ok(1)], a.ctx);
  expect(a.p.cache()!.size).toBe(2);
  // snapshot/restore gives the same cache on another replica
  const b = mk();
  b.p.restore!(a.p.snapshot!(a.ctx), b.ctx);
  expect(b.p.snapshot!(b.ctx)).toEqual(a.p.snapshot!(a.ctx));
  expect(b.p.onBatch!(late, b.ctx)).toEqual({ respond: ok(1) });
  expect(b.p.cache()!.bytes).toBe(a.p.cache()!.bytes);
  expect(() => b.p.restore!(encodeCbor({ v: 9 }), b.ctx)).toThrow(/unknown format/);
});

test("a full cache whose oldest result has aged out lets a write through (its apply evicts)", () => {
  const p = createIdempotencyPlugin();
  const ctx = fakeContext({ idempotency_max_entries: 2, idempotency_max_age_ms: 10_000 }, p);
  p.setup!(ctx);
  const old = Date.now() - 20_000;
  p.onApply!(entry(1, old, [batch("a", [["SET", "k", "1"]])]), [ok(1)], ctx);
  p.onApply!(entry(2, old + 1, [batch("b", [["SET", "k", "2"]])]), [ok(1)], ctx);
  expect(p.cache()!.size).toBe(2);
  expect(p.onBatch!(batch("c", [["SET", "k", "3"]]), ctx)).toBeUndefined();
  p.onApply!(entry(3, Date.now(), [batch("c", [["SET", "k", "3"]])]), [ok(1)], ctx);
  expect(p.cache()!.size).toBe(1);
});

test("the byte bound counts result payloads; a reply over 64 KiB is kept without its large values", () => {
  const p = createIdempotencyPlugin();
  const ctx = fakeContext(
    { idempotency_max_bytes: 1024 * 1024, idempotency_max_age_ms: 10_000 },
    p,
  );
  p.setup!(ctx);
  const now = Date.now();
  // Over 64 KiB: kept with TOO_LARGE in place of the value, so it costs next to nothing.
  const huge: BatchResult = { codes: [Code.OK], data: [new Uint8Array(600_000)], errors: [null] };
  p.onApply!(entry(1, now, [batch("g0", [["GETSET", "k", "v"]])]), [huge], ctx);
  expect(p.cache()!.bytes).toBeLessThan(4096);
  const kept = p.onBatch!(batch("g0", [["GETSET", "k", "v"]]), ctx) as { respond: BatchResult };
  expect(kept.respond.codes).toEqual([Code.TOO_LARGE]);
  // Within 64 KiB each: kept whole, and counted.
  const big: BatchResult = { codes: [Code.OK], data: [new Uint8Array(60_000)], errors: [null] };
  for (let i = 1; i <= 17; i++) {
    p.onApply!(entry(1 + i, now, [batch(`g${i}`, [["GETSET", "k", "v"]])]), [big], ctx);
  }
  expect(p.cache()!.bytes).toBeGreaterThan(1_020_000);
  p.onApply!(entry(30, now, [batch("g30", [["GETSET", "k", "v"]])]), [big], ctx);
  expect(p.cache()!.bytes).toBeGreaterThan(1024 * 1024);
  expect(
    (p.onBatch!(batch("y", [["SET", "a", "1"]]), ctx) as { reject: { code: number } }).reject
      .code,
  ).toBe(Code.BUSY);
});

test("every node loads idempotency: with --plugins wal, none, or nothing listed", async () => {
  const names = async (specs: string[]) =>
    (await loadPlugins(specs, process.cwd())).map((x) => x.name);
  expect(await names([])).toEqual(["idempotency"]);
  expect(await names(["none"])).toEqual(["idempotency"]);
  expect(await names(["coalesce"])).toEqual(["idempotency", "coalesce"]);
  expect(await names(["coalesce", "idempotency"])).toEqual(["coalesce", "idempotency"]);
});

test("uniform results (a batch of 100 OKs) are kept compactly: small snapshot, exact replies after restore", () => {
  const p = createIdempotencyPlugin();
  const ctx = fakeContext({}, p);
  p.setup!(ctx);
  const batches: ClientBatch[] = [];
  for (let i = 0; i < 2000; i++) {
    const b = batch(`u${i}`, Array.from({ length: 100 }, (_, j) => ["SET", `k${i}:${j}`, "v"]));
    batches.push(b);
    p.onApply!(entry(i + 1, 1000 + i, [b]), [i % 2 === 0 ? ok(100) : mixed()], ctx);
  }
  const snap = p.snapshot!(ctx) as Uint8Array;
  // 1,000 uniform rows of a few dozen bytes, 1,000 full rows of 100 slots (~500 bytes each).
  expect(snap.length).toBeLessThan(1000 * 80 + 1000 * 700);
  const q = createIdempotencyPlugin();
  const qctx = fakeContext({}, q);
  q.setup!(qctx);
  q.restore!(snap, qctx);
  for (const i of [0, 1, 1998, 1999]) {
    const want = i % 2 === 0 ? ok(100) : mixed();
    expect(q.onBatch!(batches[i], qctx)).toEqual({ respond: want });
    expect(q.beforeApply!(batches[i], entry(5000, 3000, [batches[i]]), qctx)).toEqual(want);
  }
  // A version-1 snapshot (every row with three arrays) still restores.
  const v1 = encodeCbor({
    v: 1,
    now: 1000,
    rows: [["c1\u0000x", 0, 0, 1000, [Code.OK], ["OK"], [null]]],
  }).slice();
  q.restore!(v1, qctx);
  // A uniform row claiming more slots than a batch can hold is refused.
  const bad = encodeCbor({ v: 2, now: 1, rows: [["k", 0, 0, 1, 1e9, Code.OK, "OK"]] }).slice();
  expect(() => q.restore!(bad, qctx)).toThrow(/malformed uniform row/);
});

function mixed(): BatchResult {
  const r = ok(100);
  r.codes[7] = Code.NOT_INTEGER;
  r.data[7] = null;
  r.errors[7] = "value is not an integer or out of range";
  return r;
}
