import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { runTcpChecks } from "./tcp_checks.ts";
import { FrameDecoder } from "../../transports/tcp/frame_decoder.ts";

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
