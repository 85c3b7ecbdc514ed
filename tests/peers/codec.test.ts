// encodePeerFrames writes messages (and large AppendEntries straight into chunk frames) without
// cbor-x; what it writes must decode to the same message, for every number shape and size.
import { expect, test } from "bun:test";
import { decodeCbor } from "../../protocol/cbor.ts";
import { CHUNK_TAG, decodePeerMessage, encodePeerFrames } from "../../core/peers/codec.ts";
import type { EntryType, Message } from "../../core/raft/types.ts";

function msg(entries: number[], extra: Partial<Message> = {}): Message {
  return {
    type: "app",
    from: 2,
    to: 3,
    term: 70_000,
    logTerm: 0x1_0000_0005, // above 2^32: written as float64
    index: 255,
    commit: 23,
    reject: false,
    rejectHint: 0,
    entries: entries.map((n, i) => ({
      term: 70_000,
      index: 256 + i,
      type: (i % 2) as EntryType,
      data: new Uint8Array(n).map((_, k) => (k * 7 + i) & 0xff),
    })),
    ...extra,
  };
}

/** Reassembles chunk frames the way the receiver does. */
function reassemble(frames: Uint8Array[]): Uint8Array {
  if (frames.length === 1 && !(frames[0][0] === 0x85 && frames[0][1] === CHUNK_TAG)) {
    return frames[0];
  }
  const parts: Uint8Array[] = [];
  let total = 0;
  frames.forEach((f, seq) => {
    const [tag, , s, t, part] = decodeCbor(f) as [number, number, number, number, Uint8Array];
    expect([tag, s]).toEqual([CHUNK_TAG, seq]);
    expect(f.length).toBeLessThanOrEqual(1024 + 4096);
    total = t;
    parts.push(part);
  });
  const out = new Uint8Array(total);
  let p = 0;
  for (const x of parts) (out.set(x, p), p += x.length);
  expect(p).toBe(total);
  return out;
}

test("messages round-trip: heartbeats, rejects with hints, contexts, float64 numbers", () => {
  const cases: Message[] = [
    msg([]),
    msg([], { type: "heartbeat", context: new Uint8Array([1, 2, 3]) }),
    msg([], { type: "appResp", reject: true, rejectHint: 17, logTermHint: 4 }),
    msg([0, 1, 23, 24, 255, 256, 65_535, 65_536]),
    msg([], { commit: 0xffff_ffff, index: 2 ** 40, term: 1.5 }),
  ];
  for (const m of cases) {
    const frames = encodePeerFrames(m, 1 << 20, () => 9);
    expect(frames.length).toBe(1);
    const d = decodePeerMessage(frames[0]);
    expect(d).toMatchObject({ ...m, entries: m.entries });
  }
});

test("a large AppendEntries is split into chunk frames that reassemble to the same message", () => {
  for (const sizes of [[5000], [4000, 100, 9000], [4096 * 3 - 40], new Array(50).fill(300)]) {
    const m = msg(sizes);
    const frames = encodePeerFrames(m, 1024, () => 70_000);
    expect(frames.length).toBeGreaterThan(1);
    const back = decodePeerMessage(reassemble(frames));
    expect(back.entries.map((e) => [...e.data])).toEqual(m.entries.map((e) => [...e.data]));
    expect({ ...back, entries: [] }).toMatchObject({ ...m, entries: [] });
  }
});

test("a snapshot message (encoded by cbor-x) is chunked and reassembles to the same snapshot", () => {
  const data = new Uint8Array(10_000).map((_, k) => (k * 13) & 0xff);
  const m = msg([], {
    type: "snap",
    snapshot: { meta: { index: 9, term: 2, conf: { voters: [1, 2], learners: [] } }, data },
  });
  for (const chunkBytes of [1 << 20, 1024]) {
    const frames = encodePeerFrames(m, chunkBytes, () => 5);
    if (chunkBytes === 1024) expect(frames.length).toBeGreaterThan(9);
    else expect(frames.length).toBe(1);
    const back = decodePeerMessage(reassemble(frames));
    expect(back.snapshot!.meta).toEqual(m.snapshot!.meta);
    expect([...back.snapshot!.data]).toEqual([...data]);
  }
});
