/** toArgv: every wire form of a command becomes the same binary-safe argv. */
import { expect, test } from "bun:test";
import { toArgv } from "../../core/server/argv.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const words = (argv: ReturnType<typeof toArgv>) =>
  typeof argv === "string" ? argv : argv.map((a) => dec.decode(a));

test("text arguments become their UTF-8 bytes: ASCII fast path, non-ASCII, long, many", () => {
  expect(words(toArgv(["SET", "k", "v"]))).toEqual(["SET", "k", "v"]);
  expect(words(toArgv(["SET", "clé", "värde ✓ 🎉"]))).toEqual(["SET", "clé", "värde ✓ 🎉"]);
  const argv = toArgv(["SET", "ä"]) as Uint8Array[];
  expect([...argv[1]]).toEqual([0xc3, 0xa4]);
  const long = "x".repeat(5000);
  expect(words(toArgv(["SET", "k", long]))).toEqual(["SET", "k", long]);
  // Far more than one slab of arguments: earlier views keep their bytes.
  const all = Array.from(
    { length: 5000 },
    (_, i) => toArgv(["SET", `key-${i}`, `v${i}`.repeat(9)]),
  );
  all.forEach((a, i) => expect(words(a)).toEqual(["SET", `key-${i}`, `v${i}`.repeat(9)]));
  expect(words(toArgv([enc.encode("GET"), "k", 12]))).toEqual(["GET", "k", "12"]);
  expect(words(toArgv('SET "a b" c'))).toEqual(["SET", "a b", "c"]);
});

test("malformed commands get a description, not an exception", () => {
  expect(toArgv([])).toBe("empty command");
  expect(toArgv(42)).toMatch(/must be an array/);
  expect(toArgv(["SET", { a: 1 }])).toMatch(/argument 1/);
  expect(toArgv('SET "unclosed')).toMatch(/unbalanced/);
});
