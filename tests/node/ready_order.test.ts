/**
 * The Ready driver's order (core/node/ready.ts): committed entries are applied and confirmed reads
 * served before the round's own fsync — an entry is committed only once a quorum holds it
 * durably, so its client need not wait for the fsync of the newer entries the round appends —
 * while the messages that promise durability (append and vote responses) wait for that fsync.
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
  let finishSync!: () => void;
  const storage = {
    append: () => events.push("append"),
    setHardState: () => events.push("hardState"),
    sync: () => {
      events.push("sync");
      return new Promise<void>((r) => finishSync = r);
    },
  } as unknown as Storage;
  const sched = new FakeScheduler();
  const driver = new ReadyDriver(raft, storage, sched, {
    beforeRound: () => {},
    onSoftState: () => {},
    send: () => events.push("send"),
    restoreSnapshot: () => {},
    applyEntries: (es) => events.push(`apply ${es.map((e) => e.index).join(",")}`),
    onReadStates: () => events.push("readStates"),
    serveReads: () => events.push("serveReads"),
    afterAdvance: () => events.push("afterAdvance"),
    fail: (err) => events.push(`fail ${err.message}`),
  });
  driver.schedule();
  await sched.run(0);
  // The fsync has not finished: the committed entries are applied, the reads served.
  expect(events).toEqual(["apply 9,10", "readStates", "serveReads", "append", "hardState", "sync"]);
  finishSync();
  await driver.stop();
  expect(events.slice(6)).toEqual(["send", "advance", "afterAdvance"]);
});
