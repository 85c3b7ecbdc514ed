import { describe, expect, test } from "bun:test";
import { bucketDelta, bucketTotal, quantile } from "../../plugins/metrics/quantile.ts";
import { ratePerSecond, SampleRing } from "../../plugins/metrics/sample_ring.ts";

describe("quantile from cumulative buckets", () => {
  const b = { bounds: [1, 2, 5, 10], counts: [10, 30, 90, 100, 100], sum: 400 };

  test("interpolates inside the bucket holding the rank", () => {
    expect(quantile(b, 0.1)).toBe(1); // rank 10: top of the first bucket
    expect(quantile(b, 0.2)).toBe(1.5); // rank 20: halfway through (1, 2]
    expect(quantile(b, 0.6)).toBe(3.5); // rank 60: halfway through (2, 5]
    expect(quantile(b, 0.95)).toBe(7.5);
    expect(quantile(b, 0)).toBe(0);
  });

  test("no observations gives null; ranks in +Inf give the highest bound", () => {
    expect(quantile({ bounds: [1, 2], counts: [0, 0, 0], sum: 0 }, 0.5)).toBeNull();
    expect(quantile({ bounds: [1, 2], counts: [0, 1, 10], sum: 99 }, 0.99)).toBe(2);
  });

  test("deltas between snapshots keep only the newer observations", () => {
    const before = { bounds: b.bounds, counts: [10, 30, 30, 30, 30], sum: 40 };
    const d = bucketDelta(b, before);
    expect(d.counts).toEqual([0, 0, 60, 70, 70]);
    expect(bucketTotal(d)).toBe(70);
    expect(d.sum).toBe(360);
    expect(quantile(d, 0.5)).toBeCloseTo(2 + 3 * (35 / 60), 12);
    expect(bucketDelta(b, undefined)).toBe(b);
  });
});

describe("sample ring", () => {
  test("keeps the newest samples up to its capacity", () => {
    const r = new SampleRing<{ t: number }>(3);
    expect(r.oldest()).toBeUndefined();
    for (let t = 1; t <= 5; t++) r.push({ t });
    expect(r.size).toBe(3);
    expect(r.toArray().map((s) => s.t)).toEqual([3, 4, 5]);
    expect(r.back(0)!.t).toBe(5);
    expect(r.back(3)).toBeUndefined();
  });

  test("atOrBefore finds the newest sample not after t, else the oldest", () => {
    const r = new SampleRing<{ t: number }>(10);
    for (const t of [100, 200, 300]) r.push({ t });
    expect(r.atOrBefore(250)!.t).toBe(200);
    expect(r.atOrBefore(300)!.t).toBe(300);
    expect(r.atOrBefore(50)!.t).toBe(100);
  });

  test("rates", () => {
    expect(ratePerSecond(1500, 500, 2000)).toBe(500);
    expect(ratePerSecond(10, 0, 0)).toBe(0);
    expect(ratePerSecond(5, 10, 1000)).toBe(0);
  });
});
