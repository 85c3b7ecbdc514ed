import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { runTcpChecks } from "./tcp_checks.ts";
import { FIRST_BODY_BYTES, FrameBudget, FrameDecoder } from "../../transports/tcp/frame_decoder.ts";

test("tcp transport on Bun: ordered echo, oversized prefix refused, server survives", async () => {
  const done = await runTcpChecks();
  expect(done.length).toBe(3);
});

test("tcp transport on Deno: the same checks pass with the Deno adapter", () => {
  const r = spawnSync("node_modules/.bin/deno", ["run", "-A", "tests/transport/tcp_checks.ts"], {
    encoding: "utf8",
    timeout: 60_000,
  });
  expect(r.stderr.includes("Error") ? r.stderr : "").toBe("");
  expect(r.status).toBe(0);
  expect(JSON.parse(r.stdout.trim().split("\n").pop()!).length).toBe(3);
});

test("frame decoder: frames split at every byte boundary reassemble", () => {
  const frames = [new Uint8Array([1]), new Uint8Array(300).fill(7), new Uint8Array([9, 9, 9])];
  const wire: number[] = [];
  for (const f of frames) wire.push(0, 0, f.length >> 8, f.length & 0xff, ...f);
  const bytes = new Uint8Array(wire);
  for (let split = 1; split < bytes.length; split++) {
    const d = new FrameDecoder(1000);
    const out: Uint8Array[] = [];
    expect(d.push(bytes.subarray(0, split), (f) => out.push(f))).toBeNull();
    expect(d.push(bytes.subarray(split), (f) => out.push(f))).toBeNull();
    expect(out.map((f) => f.length)).toEqual([1, 300, 3]);
    expect(out[1][299]).toBe(7);
  }
});

test("frame decoder: zero length is malformed, over-limit is too_large", () => {
  expect(new FrameDecoder(10).push(new Uint8Array([0, 0, 0, 0]), () => {})?.kind).toBe("malformed");
  expect(new FrameDecoder(10).push(new Uint8Array([0, 0, 0, 11]), () => {})?.kind).toBe(
    "too_large",
  );
});

test("frame decoder: a split frame's buffer grows with the bytes that arrive, not the claimed length", () => {
  const budget = new FrameBudget(1 << 30);
  const d = new FrameDecoder(64 * 1024 * 1024, budget);
  // A 60 MiB length prefix and 10 bytes: the decoder holds FIRST_BODY_BYTES, not 60 MiB.
  expect(d.push(new Uint8Array([0x03, 0xc0, 0, 0, ...new Array(10).fill(1)]), () => {})).toBeNull();
  expect(budget.held).toBe(FIRST_BODY_BYTES);
  d.push(new Uint8Array(100_000), () => {});
  expect(budget.held).toBeLessThanOrEqual(2 * 100_010);
  d.release();
  expect(budget.held).toBe(0);
});

test("frame decoder: decoders sharing a budget cannot hold more than it in partial frames", () => {
  const budget = new FrameBudget(4 * FIRST_BODY_BYTES);
  const head = new Uint8Array([0, 0x07, 0xa1, 0x20, 1]); // a 500,000-byte frame, 1 byte sent
  const ds = Array.from({ length: 6 }, () => new FrameDecoder(1 << 20, budget));
  const errs = ds.map((d) => d.push(head, () => {}));
  expect(errs.filter((e) => e === null).length).toBe(4);
  // A full budget is a busy server (BUSY: retry), not a request too large (TOO_LARGE: do not).
  expect(errs[4]).toMatchObject({ kind: "busy" });
  expect(errs[4]!.detail).toMatch(/partial frames already hold/);
  // Growing past the budget is refused too, and gives back what the frame held.
  expect(ds[0].push(new Uint8Array(FIRST_BODY_BYTES), () => {})).toMatchObject({
    kind: "busy",
  });
  expect(budget.held).toBe(3 * FIRST_BODY_BYTES);
  // A frame that completes returns its bytes: the budget only bounds frames still arriving.
  const roomy = new FrameBudget(1 << 20);
  const whole = new FrameDecoder(1 << 20, roomy);
  const out: Uint8Array[] = [];
  expect(whole.push(head, () => {})).toBeNull();
  expect(whole.push(new Uint8Array(499_999), (f) => out.push(f))).toBeNull();
  expect(out[0].length).toBe(500_000);
  expect(roomy.held).toBe(0);
  for (const d of ds) d.release();
  expect(budget.held).toBe(0);
});
