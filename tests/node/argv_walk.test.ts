/** The applier's direct argv walk gives what the general decoder gives, and defers on other shapes. */
import { expect, test } from "bun:test";
import { encodeCbor } from "../../protocol/cbor.ts";
import { walkCommands } from "../../core/node/argv_walk.ts";
import { toArgv } from "../../core/server/argv.ts";
import { decodeCbor } from "../../protocol/cbor.ts";

const enc = new TextEncoder();
const general = (cmds: unknown[]) =>
  (decodeCbor(encodeCbor(cmds)) as unknown[]).map((c) => toArgv(c));

test("the usual shapes: the same argv as cbor-x + toArgv", () => {
  const cases: unknown[][] = [
    [["SET", "k", "v"], ["GET", "k"]],
    [["SET", enc.encode("bin\u0000\xff"), "ünïcödé"], ["INCRBY", "n", 5], ["INCRBY", "n", -7]],
    [["SET", "k", "x".repeat(300)], ["SET", "big", "y".repeat(70_000)]],
    [["INCRBY", "n", 2 ** 31], ["INCRBY", "n", -(2 ** 31)], ["EXPIRE", "k", 0]],
    Array.from({ length: 1000 }, (_, i) => ["SET", `k${i}`, i]),
  ];
  for (const c of cases) {
    const w = walkCommands(encodeCbor(c).slice());
    expect(w).not.toBeNull();
    expect(w!.map((argv) => argv.map((a) => [...a]))).toEqual(
      general(c).map((argv) => (argv as Uint8Array[]).map((a) => [...a])),
    );
  }
});

test("other shapes defer to the general decoder", () => {
  for (
    const c of [
      ["SET k v"], // the string form
      [["SET", "k", 1.5]], // a float
      [["INCRBY", "n", 2 ** 40]], // cbor-x writes integers past 2^32 as floats
      [[]], // an empty command
      [["SET", "k", null]],
      [["SET", ["nested"]]],
    ]
  ) {
    expect(walkCommands(encodeCbor(c).slice())).toBeNull();
  }
  // 8-byte integer heads (other encoders use them) are read exactly.
  const big = new Uint8Array([0x81, 0x82, 0x61, 0x58, 0x1b, 0, 0, 1, 0, 0, 0, 0, 0]);
  expect(new TextDecoder().decode(walkCommands(big)![0][1])).toBe(String(2 ** 40));
  expect(walkCommands(new Uint8Array([0x9f, 0xff]))).toBeNull(); // indefinite array
  expect(walkCommands(new Uint8Array([0x81, 0x82, 0x41]))).toBeNull(); // truncated
  expect(walkCommands(new Uint8Array([0x81, 0x81, 0x41, 0x61, 0x00]))).toBeNull(); // trailing byte
});
