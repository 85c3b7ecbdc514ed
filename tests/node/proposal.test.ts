import { expect, test } from "bun:test";
import { decodeProposal, encodeProposal, ProposalFormatError } from "../../core/node/proposal.ts";
import {
  BATCH_MALFORMED,
  BATCH_TOO_MANY,
  batchProblem,
  checkBatch,
  MAX_BATCH_NESTING,
} from "../../protocol/cbor_peek.ts";
import { Applier } from "../../core/node/applier.ts";
import { encodeCbor } from "../../protocol/cbor.ts";
import { splitCommandString, toArgv } from "../../core/server/argv.ts";
import { Code } from "../../protocol/codes.ts";
import { HookBus } from "../../core/plugin/hooks.ts";
import { createLogger } from "../../core/config/logger.ts";
import { MAX_BATCH_COMMANDS } from "../../protocol/messages.ts";
import { createStateMachine } from "../../core/state/state_machine.ts";
import { fakeContext } from "../helpers/fake_context.ts";

const bytes = (xs: number[]) => new Uint8Array(xs);
/** A copy (encodeCbor may return a Buffer view of a pooled buffer, whose .slice() is no copy). */
const cbor = (x: unknown) => new Uint8Array(encodeCbor(x));

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

test("checkBatch counts the commands actually present", () => {
  for (const n of [0, 1, 23, 24, 255, 256, 1000, 70000]) {
    expect(checkBatch(cbor(new Array(n).fill(["SET", "k", "v"])), MAX_BATCH_COMMANDS)).toBe(n);
  }
  const mixed = [["SET", new Uint8Array([0, 255]), 7, -3, 1.5, 2 ** 40], "get k", [[1]], [true]];
  expect(checkBatch(cbor(mixed), MAX_BATCH_COMMANDS)).toBe(4); // shape per command is apply's job
  expect(checkBatch(cbor({ a: 1 }), MAX_BATCH_COMMANDS)).toBe(BATCH_MALFORMED);
  expect(checkBatch(new Uint8Array(), MAX_BATCH_COMMANDS)).toBe(BATCH_MALFORMED);
});

test("checkBatch refuses lying counts, trailing bytes, deep nesting, huge lengths, at once", () => {
  const poison = bytes([0x9a, 0xff, 0xff, 0xff, 0xff]); // claims 2^32-1 commands, holds none
  const t = performance.now();
  expect(checkBatch(poison, MAX_BATCH_COMMANDS)).toBe(BATCH_TOO_MANY);
  expect(checkBatch(poison, 2 ** 32)).toBe(BATCH_MALFORMED);
  expect(batchProblem()).toMatch(/claims 4294967295 commands but only 0 bytes/);
  const ok = cbor([["SET", "a", "1"], ["GET", "a"]]);
  const claimsMore = ok.slice();
  claimsMore[0] = 0x83; // header says 3, holds 2
  expect(checkBatch(claimsMore, MAX_BATCH_COMMANDS)).toBe(BATCH_MALFORMED);
  const claimsFewer = ok.slice();
  claimsFewer[0] = 0x81; // header says 1, holds 2
  expect(checkBatch(claimsFewer, MAX_BATCH_COMMANDS)).toBe(BATCH_MALFORMED);
  expect(batchProblem()).toMatch(/trailing bytes/);
  expect(checkBatch(bytes([...ok, 0x00]), MAX_BATCH_COMMANDS)).toBe(BATCH_MALFORMED);
  for (let cut = 1; cut < ok.length; cut++) {
    expect(checkBatch(ok.subarray(0, cut), MAX_BATCH_COMMANDS)).toBe(BATCH_MALFORMED);
  }
  // A command claiming 2^32-1 arguments, an argument claiming a 4 GiB string, a map claiming 2^32-1 pairs.
  expect(checkBatch(bytes([0x81, 0x9a, 0xff, 0xff, 0xff, 0xff]), 10)).toBe(BATCH_MALFORMED);
  expect(checkBatch(bytes([0x81, 0x81, 0x5a, 0xff, 0xff, 0xff, 0xff, 1]), 10)).toBe(
    BATCH_MALFORMED,
  );
  expect(batchProblem()).toMatch(/string claims 4294967295 bytes/);
  expect(checkBatch(bytes([0x81, 0xba, 0xff, 0xff, 0xff, 0xff]), 10)).toBe(BATCH_MALFORMED);
  // Nesting: MAX_BATCH_NESTING levels pass, one more does not; 100,000 levels fail fast.
  const nest = (d: number) => bytes([...new Array(d).fill(0x81), 0x01]);
  expect(checkBatch(nest(MAX_BATCH_NESTING), 10)).toBe(1);
  expect(checkBatch(nest(MAX_BATCH_NESTING + 1), 10)).toBe(BATCH_MALFORMED);
  expect(batchProblem()).toMatch(/nested too deep/);
  expect(checkBatch(nest(100_000), 10)).toBe(BATCH_MALFORMED);
  // Indefinite lengths, tags, 64-bit lengths, odd simple values.
  expect(checkBatch(bytes([0x9f, 0xff]), 10)).toBe(BATCH_MALFORMED);
  expect(checkBatch(bytes([0x81, 0x9f, 0x61, 0x61, 0xff]), 10)).toBe(BATCH_MALFORMED);
  expect(checkBatch(bytes([0x81, 0x81, 0xc1, 0x01]), 10)).toBe(BATCH_MALFORMED);
  expect(checkBatch(bytes([0x81, 0x81, 0x5b, 0, 0, 0, 0, 0, 0, 0, 1, 0]), 10)).toBe(
    BATCH_MALFORMED,
  );
  expect(checkBatch(bytes([0x81, 0x81, 0xf8, 0x20]), 10)).toBe(BATCH_MALFORMED);
  expect(checkBatch(cbor(new Array(11).fill(["PING"])), 10)).toBe(BATCH_TOO_MANY);
  expect(performance.now() - t).toBeLessThan(1000);
});

test("decodeProposal never trusts a count: batch count and each batch's count are checked", () => {
  const good = cbor([["SET", "a", "1"]]);
  const data = encodeProposal([{ clientId: "c", batchId: "b", commands: good, count: 1 }], 5);
  const lyingBatches = data.slice();
  new DataView(lyingBatches.buffer).setUint32(9, 0xffffffff);
  expect(() => decodeProposal(lyingBatches)).toThrow(/claims 4294967295 batches/);
  // Commands recorded with a count of 2^32-1: the batch comes back flagged, count 1.
  const lying = encodeProposal(
    [{ clientId: "c", batchId: "b", commands: good, count: 0xffffffff }],
    5,
  );
  const [b] = decodeProposal(lying).batches;
  expect(b.count).toBe(1);
  expect(b.problem).toMatch(/recorded count 4294967295 but 1 commands present/);
  const poison = encodeProposal([{
    clientId: "c",
    batchId: "p",
    commands: bytes([0x9a, 0xff, 0xff, 0xff, 0xff]),
    count: 0xffffffff,
  }], 5);
  expect(decodeProposal(poison).batches[0]).toMatchObject({ count: 1 });
  expect(decodeProposal(poison).batches[0].problem).toMatch(/exceed the limit/);
});

test("the applier stays bounded on committed entries with lying counts and never throws", () => {
  const logs: string[] = [];
  const log = createLogger("error", "", () => {});
  const sm = createStateMachine();
  const applier = new Applier(
    sm,
    new HookBus([], () => fakeContext(), log),
    () => null,
    (m) => logs.push(m),
  );
  const entry = (data: Uint8Array, index: number) => ({ term: 1, index, type: 0 as const, data });
  const crafted = [
    bytes([0x9a, 0xff, 0xff, 0xff, 0xff]), // the poison pill
    bytes([0x83, 0x81, 0x64, 0x50, 0x49, 0x4e, 0x47]), // claims 3, holds 1
    bytes([0x81, 0x9a, 0xff, 0xff, 0xff, 0xff]), // a command claiming 2^32-1 arguments
    bytes([...new Array(50_000).fill(0x81), 0x01]), // 50,000 levels deep
  ];
  const rss0 = process.memoryUsage().rss;
  const t = performance.now();
  let index = 1;
  for (const commands of crafted) {
    for (const count of [0, 1, 3, 0xffffffff]) {
      const data = encodeProposal([{ clientId: "c", batchId: `b${index}`, commands, count }], 1);
      const { batches, results } = applier.apply(entry(data, index++));
      expect(batches.length).toBe(1);
      expect(results[0].codes).toEqual([Code.MALFORMED]);
      expect(results[0].data.length).toBe(1);
    }
  }
  // Corrupt envelopes: skipped (reported), never thrown.
  expect(applier.apply(entry(bytes([1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]), 99)))
    .toEqual({ batches: [], results: [] });
  expect(applier.apply(entry(bytes([7, 1, 2]), 100))).toEqual({ batches: [], results: [] });
  expect(performance.now() - t).toBeLessThan(2000);
  expect(process.memoryUsage().rss - rss0).toBeLessThan(100 * 1024 * 1024);
  expect(logs.length).toBeGreaterThanOrEqual(16);
  // A valid entry after all that applies normally.
  const data = encodeProposal([{
    clientId: "c",
    batchId: "ok",
    commands: cbor([["SET", "k", "v"], ["GET", "k"]]),
    count: 2,
  }], 1);
  const r = applier.apply(entry(data, 101)).results[0];
  expect(r.codes).toEqual([Code.OK, Code.OK]);
  expect(new TextDecoder().decode(r.data[1] as Uint8Array)).toBe("v");
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
