/**
 * The Ready driver's order (core/node/ready.ts): committed entries are applied and confirmed reads
 * served before the round's own fsync — an entry is committed only once a quorum holds it
 * durably, so its client need not wait for the fsync of the newer entries the round appends —
 * while the messages that promise durability (append and vote responses) wait for that fsync.
 * What commits while that fsync is awaited is applied (and confirmed reads served) on the next turn.
 */
import { expect, test } from "bun:test";
import { ReadyDriver } from "../../core/node/ready.ts";
import type { Entry, Message, RawNode, Ready } from "../../core/raft/types.ts";
import type { Storage } from "../../core/storage/storage.ts";
import { EntryType } from "../../core/raft/types.ts";
import { FakeScheduler } from "../helpers/fake_env.ts";

function entry(index: number): Entry {
  return { index, term: 2, type: EntryType.Normal, data: new Uint8Array([index]) };
}

/** A driver over `raft` whose storage and handlers log what they are asked to do into `events`. */
function logged(raft: RawNode, events: string[]) {
  const io = { finishSync: () => {} };
  const storage = {
    append: () => events.push("append"),
    setHardState: () => events.push("hardState"),
    sync: () => {
      events.push("sync");
      return new Promise<void>((r) => io.finishSync = r);
    },
  } as unknown as Storage;
  const sched = new FakeScheduler();
  const driver = new ReadyDriver(raft, storage, sched, {
    beforeRound: () => {},
    onSoftState: () => {},
    send: () => events.push("send"),
    restoreSnapshot: () => {},
    applyEntries: (es) => events.push(`apply ${es.map((e) => e.index).join(",")}`),
    onReadStates: (rs) => events.push(`readStates ${rs.map((r) => r.index).join(",")}`),
    serveReads: () => events.push("serveReads"),
    afterAdvance: () => events.push("afterAdvance"),
    fail: (err) => events.push(`fail ${err.message}`),
  });
  return { driver, sched, finishSync: () => io.finishSync() };
}

test("committed entries apply and reads are served before the round's fsync; responses after it", async () => {
  const events: string[] = [];
  const rd: Ready = {
    entries: [entry(11)],
    committedEntries: [entry(9), entry(10)],
    messages: [{ to: 1 } as unknown as Message],
    earlyMessages: [],
    readStates: [{ index: 10, context: new Uint8Array([1]) }],
    mustSync: true,
    hardState: { term: 2, vote: 1, commit: 10 },
  };
  let pending = true;
  const raft = {
    hasReady: () => pending,
    ready: () => {
      pending = false;
      return rd;
    },
    advance: () => events.push("advance"),
  } as unknown as RawNode;
  const { driver, sched, finishSync } = logged(raft, events);
  driver.schedule();
  await sched.run(0);
  // The fsync has not finished: the committed entries are applied, the reads served.
  expect(events).toEqual([
    "apply 9,10",
    "readStates 10",
    "serveReads",
    "append",
    "hardState",
    "sync",
  ]);
  finishSync();
  await driver.stop();
  expect(events.slice(6)).toEqual(["send", "advance", "afterAdvance"]);
});

test("what commits while the round awaits its fsync is applied, and confirmed reads served, at once", async () => {
  const events: string[] = [];
  const rd: Ready = {
    entries: [entry(12)],
    committedEntries: [entry(10)],
    messages: [{ to: 1 } as unknown as Message],
    earlyMessages: [],
    readStates: [],
    mustSync: true,
  };
  let pending = true;
  // What the core holds back until a turn asks for it (acks that arrived during the fsync).
  let committedLater: Entry[] = [];
  let readsLater: { index: number; context: Uint8Array }[] = [];
  const raft = {
    hasReady: () => pending,
    ready: () => {
      pending = false;
      return rd;
    },
    takeEarlyMessages: () => [],
    takeCommittedEntries: () => committedLater.splice(0),
    takeReadStates: () => readsLater.splice(0),
    advance: () => events.push("advance"),
  } as unknown as RawNode;
  const { driver, sched, finishSync } = logged(raft, events);
  driver.schedule();
  await sched.run(0);
  expect(events).toEqual(["apply 10", "serveReads", "append", "sync"]);
  // Acknowledgements arrive during the fsync: entry 11 commits, a read index is confirmed.
  committedLater = [entry(11)];
  readsLater = [{ index: 11, context: new Uint8Array([7]) }];
  driver.schedule();
  await sched.run(0);
  expect(events.slice(4)).toEqual(["apply 11", "readStates 11", "serveReads"]);
  // A turn with nothing new does nothing.
  driver.schedule();
  await sched.run(0);
  expect(events.length).toBe(7);
  finishSync();
  await driver.stop();
  expect(events.slice(7)).toEqual(["send", "advance", "afterAdvance"]);
});
