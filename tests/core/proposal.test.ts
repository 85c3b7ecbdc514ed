import { expect, test } from "bun:test";
import { decodeProposal, encodeProposal, ProposalFormatError } from "../../core/proposal.ts";
import { cborArrayLength } from "../../core/cbor_peek.ts";
import { encodeCbor } from "../../core/cbor.ts";
import { splitCommandString, toArgv } from "../../core/commands.ts";

test("proposal envelope round-trips batches without copying commands", () => {
  const cmds = [
    encodeCbor([["SET", "a", "1"]]).slice(),
    encodeCbor([["GET", "a"], ["DEL", "a"]]).slice(),
  ];
  const batches = [
    { clientId: "c1", batchId: "b1", commands: cmds[0], count: 1 },
    { clientId: "ç2", batchId: "b2".repeat(100), commands: cmds[1], count: 2 },
  ];
  const data = encodeProposal(batches, 1_700_000_000_123.5);
  const p = decodeProposal(data);
  expect(p.nowMs).toBe(1_700_000_000_123.5);
  expect(p.batches.map((b) => [b.clientId, b.batchId, b.count])).toEqual(
    batches.map((b) => [b.clientId, b.batchId, b.count]),
  );
  expect([...p.batches[1].commands]).toEqual([...cmds[1]]);
  expect(p.batches[1].commands.buffer).toBe(data.buffer);
  expect(decodeProposal(new Uint8Array()).batches).toEqual([]);
});

test("a truncated or foreign envelope is refused", () => {
  const data = encodeProposal([{
    clientId: "c",
    batchId: "b",
    commands: new Uint8Array([0x80]),
    count: 0,
  }], 1);
  for (let cut = 1; cut < data.length; cut++) {
    expect(() => decodeProposal(data.subarray(0, cut))).toThrow(ProposalFormatError);
  }
  expect(() => decodeProposal(new Uint8Array([9, 0, 0]))).toThrow(ProposalFormatError);
});

test("CBOR array length is read from the header", () => {
  for (const n of [0, 1, 23, 24, 255, 256, 1000, 70000]) {
    expect(cborArrayLength(encodeCbor(new Array(n).fill(1)))).toBe(n);
  }
  expect(cborArrayLength(encodeCbor({ a: 1 }))).toBe(-1);
  expect(cborArrayLength(new Uint8Array())).toBe(-1);
});

test("command strings split like the plan's form, with quotes", () => {
  expect(splitCommandString("set k v")).toEqual(["set", "k", "v"]);
  expect(splitCommandString('  set  "a b"  "c\\"d" ')).toEqual(["set", "a b", 'c"d']);
  expect(splitCommandString('set "a')).toBeNull();
  expect(toArgv("")).toBe("empty command");
  expect(toArgv([])).toBe("empty command");
  expect(toArgv(42)).toMatch(/must be an array/);
  expect(toArgv(["SET", { x: 1 }])).toMatch(/argument 1/);
  const argv = toArgv(["SET", new Uint8Array([0, 255]), 7]) as Uint8Array[];
  expect([...argv[1]]).toEqual([0, 255]);
  expect(new TextDecoder().decode(argv[2])).toBe("7");
});
