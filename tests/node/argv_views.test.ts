/**
 * Apply reads the usual batch straight from the entry's bytes (`argvViews`): for every batch it
 * accepts, the argv equal what decoding and `toArgv` give; it declines (null) anything else, so
 * those batches take the general path; and no bytes make it throw or read past the end.
 */
import { expect, test } from "bun:test";
import { argvViews } from "../../protocol/cbor_peek.ts";
import { decodeCbor, encodeCbor } from "../../protocol/cbor.ts";
import { toArgv } from "../../core/server/argv.ts";

const te = new TextEncoder();

function general(bytes: Uint8Array): Uint8Array[][] | null {
  let cmds: unknown;
  try {
    cmds = decodeCbor(bytes);
  } catch {
    return null;
  }
  if (!Array.isArray(cmds)) return null;
  const out: Uint8Array[][] = [];
  for (const c of cmds) {
    const a = toArgv(c);
    if (typeof a === "string") return null;
    out.push(a);
  }
  return out;
}

const plain = (xs: Uint8Array[][] | null) => xs && xs.map((a) => a.map((b) => [...b]));

test("accepted batches give the argv the general path gives, as views into the bytes", () => {
  const batches: unknown[] = [
    [["SET", "k", "v"]],
    [["SET", "key:1", te.encode("binary \u0000\xff value")], ["GET", "key:1"]],
    Array.from({ length: 300 }, (_, i) => ["SET", `k${i}`, "x".repeat(i)]),
    [["SET", "big", "y".repeat(70_000)]],
    [[te.encode("PING")]],
  ];
  for (const b of batches) {
    const bytes = new Uint8Array(encodeCbor(b));
    const got = argvViews(bytes);
    expect(got).not.toBeNull();
    expect(plain(got)).toEqual(plain(general(bytes)));
    for (const argv of got!) for (const a of argv) expect(a.buffer).toBe(bytes.buffer);
  }
});

test("unusual batches are declined (null), so the general path decides", () => {
  const declined: unknown[] = [
    ["SET k v"], // string form
    [["INCRBY", "n", 5]], // a number argument
    [["SET", "clé", "v"]], // non-ASCII text
    [[]], // empty command
    [{ a: 1 }],
    "not an array",
  ];
  for (const b of declined) expect(argvViews(new Uint8Array(encodeCbor(b)))).toBeNull();
  // Indefinite-length array, truncated heads, a count the bytes cannot back, trailing bytes.
  for (
    const raw of [
      [0x9f, 0x83, 0x43, 0x53, 0x45, 0x54, 0x41, 0x6b, 0x41, 0x76, 0xff],
      [0x81, 0x83, 0x43, 0x53, 0x45],
      [0x9a, 0xff, 0xff, 0xff, 0xff, 0x81, 0x41, 0x61],
      [0x81, 0x81, 0x41, 0x61, 0x00],
      [],
    ]
  ) expect(argvViews(new Uint8Array(raw))).toBeNull();
});

test("random bytes and mutated batches never throw, and an accepted one agrees with the general path", () => {
  let seed = 7;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
  const base = new Uint8Array(encodeCbor([["SET", "key", "value"], ["GET", "key"]]));
  let accepted = 0;
  for (let i = 0; i < 20_000; i++) {
    const b = base.slice(0, 1 + Math.floor(rnd() * base.length));
    for (let k = 0; k < 1 + Math.floor(rnd() * 3); k++) {
      b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
    }
    const got = argvViews(b);
    if (got !== null) {
      accepted++;
      expect(plain(got)).toEqual(plain(general(b)));
    }
  }
  expect(accepted).toBeGreaterThan(0);
});
