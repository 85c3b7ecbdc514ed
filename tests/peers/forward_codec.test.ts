/** The forward messages' codec: round trips, and every malformed field refused. */
import { expect, test } from "bun:test";
import { encodeCbor } from "../../protocol/cbor.ts";
import {
  decodeForward,
  encodeForward,
  type ForwardMessage,
  isForward,
} from "../../core/peers/forward_codec.ts";
import { encodePeerMessage } from "../../core/peers/codec.ts";
import { raftMessage } from "./peer_helpers.ts";

test("batch and reply round trip; Raft messages are not taken for forwards", () => {
  const cmds = encodeCbor([["SET", "k", "v"]]).slice();
  const b = {
    kind: "batch",
    from: 2,
    to: 1,
    id: 7,
    clientId: "c",
    batchId: "b",
    commands: cmds,
  } as const;
  const eb = encodeForward(b);
  expect(isForward(eb)).toBe(true);
  expect(decodeForward(eb)).toEqual(b);
  const r: ForwardMessage = {
    kind: "reply",
    from: 1,
    to: 2,
    id: 7,
    result: { codes: [0], data: ["OK"], errors: [null] },
  };
  expect(decodeForward(encodeForward(r))).toEqual(r);
  const f = {
    kind: "reply",
    from: 1,
    to: 2,
    id: 8,
    refusal: { code: 8, message: "no", leader: "h:1" },
  } as const;
  expect(decodeForward(encodeForward(f))).toEqual(f);
  const raft = encodePeerMessage(raftMessage({ from: 1, to: 2 }));
  expect(isForward(raft)).toBe(false);
});

test("malformed forward messages are refused", () => {
  const bad: unknown[][] = [
    [2, 0, 2, 1, 7, "", "b", new Uint8Array(1)], // empty client id
    [2, 0, 2, 1, 7, "c", "b", "not bytes"],
    [2, 0, -1, 1, 7, "c", "b", new Uint8Array(1)],
    [2, 0, 2, 1, 7, "c".repeat(300), "b", new Uint8Array(1)],
    [2, 1, 1, 2, 7, [0, 0], ["OK"], [null, null], 0, "", null], // lengths differ
    [2, 1, 1, 2, 7, null, null, null, "x", "", null], // refusal code not a number
    [2, 9, 1, 2, 7, null, null, null, 0, "", null], // unknown kind
  ];
  for (const a of bad) expect(() => decodeForward(encodeCbor(a))).toThrow(/malformed forward/);
});
