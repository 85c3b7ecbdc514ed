import { describe, expect, test } from "bun:test";
import { MemoryStorage } from "../../core/storage/memory.ts";
import { CompactedError, MemoryLog } from "../../core/raft/memory_log.ts";
import { Inflights, Progress } from "../../core/raft/progress.ts";
import { committedIndex, quorumSize, voteResult } from "../../core/raft/quorum.ts";
import { decodeRound, encodeRound } from "../../core/raft/read_only.ts";
import { type Entry, EntryType } from "../../core/raft/types.ts";

const ent = (index: number, term: number): Entry => ({
  index,
  term,
  type: EntryType.Normal,
  data: new Uint8Array([index]),
});
const conf = { voters: [1, 2, 3], learners: [] };

describe("MemoryLog", () => {
  test("append truncates a conflicting suffix", () => {
    const log = new MemoryLog(conf);
    log.append([ent(1, 1), ent(2, 1), ent(3, 1)]);
    log.append([ent(2, 2)]);
    expect(log.lastIndex()).toBe(2);
    expect(log.term(2)).toBe(2);
    expect(() => log.append([ent(5, 2)])).toThrow(RangeError);
  });

  test("entries respects the byte limit but returns at least one", () => {
    const log = new MemoryLog(conf);
    log.append([ent(1, 1), ent(2, 1), ent(3, 1)]);
    expect(log.entries(1, 4).length).toBe(3);
    expect(log.entries(1, 4, 0).length).toBe(1);
    expect(log.entries(1, 4, 2).length).toBe(2);
  });

  test("compact keeps the term of the compacted index and refuses reads below it", () => {
    const log = new MemoryLog(conf);
    log.append([ent(1, 1), ent(2, 2), ent(3, 3)]);
    log.compact(2);
    expect(log.firstIndex()).toBe(3);
    expect(log.term(2)).toBe(2);
    expect(() => log.term(1)).toThrow(CompactedError);
    expect(() => log.entries(2, 3)).toThrow(CompactedError);
    expect(log.entries(3, 4)[0].term).toBe(3);
  });

  test("installSnapshot keeps a matching suffix, replaces a conflicting log", () => {
    const a = new MemoryLog(conf);
    a.append([ent(1, 1), ent(2, 1), ent(3, 1)]);
    a.installSnapshot({ meta: { index: 2, term: 1, conf }, data: new Uint8Array() });
    expect([a.firstIndex(), a.lastIndex()]).toEqual([3, 3]);
    const b = new MemoryLog(conf);
    b.append([ent(1, 1), ent(2, 1), ent(3, 1)]);
    b.installSnapshot({ meta: { index: 2, term: 5, conf }, data: new Uint8Array() });
    expect([b.firstIndex(), b.lastIndex(), b.term(2)]).toEqual([3, 2, 5]);
    expect(b.initialState().hardState.commit).toBe(2);
  });

  test("saveLocalSnapshot compacts up to index - keepEntries", () => {
    const log = new MemoryLog(conf);
    log.append([1, 2, 3, 4, 5, 6].map((i) => ent(i, 1)));
    log.saveLocalSnapshot({ meta: { index: 5, term: 1, conf }, data: new Uint8Array() }, 2);
    expect(log.snapshot().meta.index).toBe(5);
    expect(log.firstIndex()).toBe(4);
    expect(() =>
      log.saveLocalSnapshot({ meta: { index: 6, term: 9, conf }, data: new Uint8Array() }, 0)
    ).toThrow();
  });
});

describe("MemoryStorage", () => {
  test("implements Storage in memory: not durable, sync resolves, closed storage refuses writes", async () => {
    const st = new MemoryStorage(conf);
    expect(st.durable).toBe(false);
    st.append([ent(1, 1)]);
    st.setHardState({ term: 1, vote: 2, commit: 1 });
    st.setConfState({ voters: [1, 2], learners: [3] });
    await st.sync();
    expect(st.initialState()).toEqual({
      hardState: { term: 1, vote: 2, commit: 1 },
      conf: { voters: [1, 2], learners: [3] },
    });
    await st.saveSnapshot({ meta: { index: 1, term: 1, conf }, data: new Uint8Array([9]) }, 0);
    expect(st.snapshot().data).toEqual(new Uint8Array([9]));
    expect(st.firstIndex()).toBe(2);
    await st.close();
    expect(() => st.append([ent(2, 1)])).toThrow(/closed/);
  });
});

describe("quorum and progress", () => {
  test("committed index is the majority's match", () => {
    expect(committedIndex([5, 3, 9])).toBe(5);
    expect(committedIndex([5, 3, 9, 1])).toBe(3);
    expect(committedIndex([7])).toBe(7);
    expect(committedIndex([])).toBe(0);
    expect(quorumSize(4)).toBe(3);
  });

  test("vote results", () => {
    expect(voteResult(3, 2, 0)).toBe("won");
    expect(voteResult(3, 1, 1)).toBe("pending");
    expect(voteResult(3, 1, 2)).toBe("lost");
    expect(voteResult(4, 2, 2)).toBe("lost");
  });

  test("inflights fill by entries and free by acknowledged index", () => {
    const f = new Inflights(5);
    f.add(3, 3);
    expect(f.full()).toBe(false);
    f.add(5, 2);
    expect(f.full()).toBe(true);
    f.freeLE(3);
    expect(f.entries).toBe(2);
    f.freeFirst();
    expect(f.count).toBe(0);
  });

  test("probe backs off using the hint; stale rejections are ignored", () => {
    const p = new Progress(11, 10, false);
    expect(p.maybeDecrTo(5, 2)).toBe(false); // not the probe we sent (next-1 = 10)
    expect(p.maybeDecrTo(10, 4)).toBe(true);
    expect(p.next).toBe(5);
    p.maybeUpdate(4);
    p.becomeReplicate();
    expect(p.next).toBe(5);
    p.sentEntries(3, 7);
    expect(p.next).toBe(8);
    expect(p.maybeDecrTo(3, 0)).toBe(false); // below match: stale
  });

  test("read round contexts round-trip and reject junk", () => {
    expect(decodeRound(encodeRound(42))).toBe(42);
    expect(decodeRound(new Uint8Array([1, 2, 3]))).toBe(0);
    expect(decodeRound(undefined)).toBe(0);
  });
});
