/** The node snapshot envelope: round trip, the state written in place after the envelope, errors. */
import { expect, test } from "bun:test";
import {
  decodeNodeSnapshot,
  encodeNodeSnapshotInSteps,
} from "../../core/node/snapshot_envelope.ts";
import { createStateMachine } from "../../core/state/state_machine.ts";

const enc = new TextEncoder();

function filled() {
  const sm = createStateMachine();
  const out = { codes: [], data: [], errors: [] };
  for (let i = 0; i < 500; i++) {
    sm.apply([enc.encode("SET"), enc.encode(`k${i}`), enc.encode("v".repeat(i % 90))], {
      nowMs: 1,
      index: i + 1,
    }, out);
  }
  return sm;
}

test("round trip: state, plugins and members come back; the state part equals sm.snapshot()", async () => {
  const sm = filled();
  for (const hint of [0, 100, 1 << 20]) {
    const data = await encodeNodeSnapshotInSteps(
      sm,
      {
        plugins: { idempotency: new Uint8Array([1, 2, 3]) },
        members: { 1: { raft: "127.0.0.1:5211", client: "127.0.0.1:5210" } },
      },
      hint,
      37,
    );
    const s = decodeNodeSnapshot(data);
    expect([...s.state]).toEqual([...sm.snapshot()]);
    expect([...s.plugins.idempotency]).toEqual([1, 2, 3]);
    expect(s.members[1].client).toBe("127.0.0.1:5210");
    const copy = createStateMachine();
    copy.restore(s.state);
    expect([...copy.snapshot()]).toEqual([...sm.snapshot()]);
  }
});

test("a payload that is not a node snapshot fails with a clear message", async () => {
  const data = await encodeNodeSnapshotInSteps(filled(), { plugins: {}, members: {} }, 0, 37);
  expect(() => decodeNodeSnapshot(data.subarray(0, 5))).toThrow(/bad magic/);
  expect(() => decodeNodeSnapshot(new Uint8Array(20))).toThrow(/bad magic/);
  const badVersion = data.slice();
  badVersion[4] = 9;
  expect(() => decodeNodeSnapshot(badVersion)).toThrow(/unknown version 9/);
  const badLen = data.slice();
  new DataView(badLen.buffer).setUint32(5, data.length);
  expect(() => decodeNodeSnapshot(badLen)).toThrow(/truncated/);
  // A flipped byte in the state part is caught by the state snapshot's own checksum.
  const flipped = data.slice();
  flipped[flipped.length - 10] ^= 0xff;
  expect(() => createStateMachine().restore(decodeNodeSnapshot(flipped).state)).toThrow(/corrupt/);
});
