import { describe, expect, test } from "bun:test";
import { RaftLog } from "../../core/raft/log.ts";
import { MemoryLog } from "../../core/raft/memory_log.ts";
import { RaftNode } from "../../core/raft/raw_node.ts";
import { type Entry, EntryType, type Message } from "../../core/raft/types.ts";
import { config, enc, msg, Net } from "./harness.ts";

const ent = (index: number, term: number, data = ""): Entry => ({
  index,
  term,
  type: EntryType.Normal,
  data: enc(data),
});

/**
 * Delivers `msgs` (a leader's appends) to the followers, lets them handle their Readys, and steps
 * their replies into leader 1, which is itself still inside a Ready (its fsync in flight).
 */
function replicateDuringFsync(net: Net, msgs: Message[]): void {
  for (const m of msgs) net.node(m.to).raft.step(m);
  for (const id of [2, 3]) net.process(net.node(id));
  for (const m of net.queue.splice(0)) if (m.to === 1) net.node(1).raft.step(m);
}

describe("log replication", () => {
  test("proposals replicate, commit by quorum and apply everywhere in order", () => {
    const net = new Net([1, 2, 3]);
    net.elect(1);
    const r1 = net.node(1).raft;
    for (let i = 0; i < 10; i++) expect(typeof r1.propose(enc(`x${i}`))).toBe("number");
    net.deliver();
    // The followers learn the commit index with the leader's next tick (no entry carried it).
    net.tick(1, [1]);
    const want = Array.from({ length: 10 }, (_, i) => `x${i}`);
    for (const id of [1, 2, 3]) expect(net.appliedData(id)).toEqual(want);
  });

  test("followers refuse proposals; not_leader", () => {
    const net = new Net([1, 2, 3]);
    net.elect(1);
    expect(net.node(2).raft.propose(enc("x"))).toBe("not_leader");
  });

  test("a burst of proposals goes out as one append per follower (batched)", () => {
    const net = new Net([1, 2, 3]);
    net.elect(1);
    const r1 = net.node(1).raft;
    for (let i = 0; i < 50; i++) r1.propose(enc(`b${i}`));
    const rd = r1.ready();
    const apps = rd.earlyMessages.filter((m) => m.type === "app");
    expect(apps.length).toBe(2);
    expect(apps.every((m) => m.entries.length === 50)).toBe(true);
    net.node(1).log.append(rd.entries);
    r1.advance(rd);
  });

  test("while a Ready is handled, takeEarlyMessages hands out heartbeats, appends and heartbeat replies; nothing else", () => {
    const net = new Net([1, 2, 3]);
    net.elect(1);
    const r1 = net.node(1).raft;
    const r2 = net.node(2).raft;
    // The leader took a Ready and awaits its fsync: a tick and a proposal still go out at once.
    r1.propose(enc("a"));
    const rd = r1.ready();
    r1.tick();
    r1.propose(enc("b"));
    const early = r1.takeEarlyMessages();
    expect(early.filter((m) => m.type === "heartbeat").map((m) => m.to).sort()).toEqual([2, 3]);
    const apps = early.filter((m) => m.type === "app");
    expect(apps.map((m) => [m.to, m.entries.map((e) => e.index)])).toEqual([
      [2, [rd.entries[0].index + 1]],
      [3, [rd.entries[0].index + 1]],
    ]);
    expect(r1.takeEarlyMessages()).toEqual([]);
    net.node(1).log.append(rd.entries);
    r1.advance(rd);
    // A follower in the middle of its own Ready answers a heartbeat early, an append only after.
    const rd2 = r2.ready();
    r2.step(early.find((m) => m.type === "heartbeat" && m.to === 2)!);
    r2.step(apps[0]);
    expect(r2.takeEarlyMessages().map((m) => m.type)).toEqual(["heartbeatResp"]);
    r2.advance(rd2);
    const later = r2.ready();
    expect(later.messages.map((m) => m.type)).toEqual(["appResp"]);
    expect(later.earlyMessages).toEqual([]);
    r2.advance(later);
  });

  test("a heartbeat reply while appends are in flight sends no empty append; a second one without progress does", () => {
    const net = new Net([1, 2, 3]);
    net.elect(1);
    const r1 = net.node(1).raft;
    const hbResp = () => msg({ type: "heartbeatResp", from: 2, to: 1, term: r1.status().term });
    const empties = () => {
      const rd = r1.ready();
      net.node(1).log.append(rd.entries);
      r1.advance(rd);
      return rd.earlyMessages.filter((m) => m.type === "app" && m.to === 2 && !m.entries.length);
    };
    r1.propose(enc("x"));
    expect(empties()).toEqual([]); // the append of x is in flight to 2
    expect(r1.status().progress![2].state).toBe("replicate");
    r1.step(hbResp()); // answered before 2's fsync: 2 may well be busy with x
    expect(empties()).toEqual([]);
    r1.step(hbResp()); // still no progress a heartbeat later: perhaps x was lost, so probe
    expect(empties().map((m) => m.index)).toEqual([r1.status().progress![2].next - 1]);
  });

  test("pipelining: several appends in flight, bounded by maxInflight entries", () => {
    const net = new Net([1, 2, 3], { maxInflight: 4 });
    net.elect(1);
    const r1 = net.node(1).raft;
    const sent: number[] = [];
    for (let i = 0; i < 10; i++) {
      r1.propose(enc(`p${i}`));
      const rd = r1.ready();
      for (const m of rd.earlyMessages) {
        if (m.to === 2 && m.type === "app") sent.push(m.entries.length);
      }
      net.node(1).log.append(rd.entries);
      r1.advance(rd);
    }
    // Without any acks, at most 4 entries go out to follower 2 (optimistically, one per message).
    expect(sent.reduce((a, b) => a + b, 0)).toBe(4);
    expect(sent.length).toBe(4);
    expect(r1.status().progress![2].state).toBe("replicate");
  });

  test("the leader counts its own log only after persisting it", () => {
    const net = new Net([1]);
    net.elect(1);
    const r1 = net.node(1).raft;
    const idx = r1.propose(enc("solo")) as number;
    const rd = r1.ready();
    expect(rd.committedEntries.some((e) => e.index === idx)).toBe(false);
    expect(r1.status().commit).toBeLessThan(idx);
    net.node(1).log.append(rd.entries);
    r1.advance(rd);
    expect(r1.status().commit).toBe(idx);
  });

  test("a follower with a divergent log is repaired (conflicting suffix replaced)", () => {
    // Leader log terms: [1,1,1,4,4,5,5,6,6,6]; follower: [1,1,1,2,2,2,3,3,3,3,3]
    const leaderLog = new MemoryLog({ voters: [1, 2], learners: [] });
    leaderLog.append([1, 1, 1, 4, 4, 5, 5, 6, 6, 6].map((t, i) => ent(i + 1, t, `L${i + 1}`)));
    leaderLog.setHardState({ term: 6, vote: 0, commit: 3 });
    const followerLog = new MemoryLog({ voters: [1, 2], learners: [] });
    followerLog.append([1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3].map((t, i) => ent(i + 1, t, `F${i + 1}`)));
    followerLog.setHardState({ term: 3, vote: 0, commit: 3 });
    const net = new Net([]);
    net.nodes.set(1, {
      id: 1,
      log: leaderLog,
      raft: new RaftNode(config(1, leaderLog)),
      applied: [],
      readStates: [],
    });
    net.nodes.set(2, {
      id: 2,
      log: followerLog,
      raft: new RaftNode(config(2, followerLog)),
      applied: [],
      readStates: [],
    });
    // Node 2's last term (3) is older than node 1's (6): 1 wins.
    expect(net.elect(1)).toBe(1);
    const last = net.node(1).raft.status().lastIndex;
    expect(followerLog.lastIndex()).toBe(last);
    for (let i = 1; i <= last; i++) expect(followerLog.term(i)).toBe(leaderLog.term(i));
    // Fast backtracking: only a few rejections, not one per conflicting entry.
    const rejects = net.trace.filter((m) => m.type === "appResp" && m.reject).length;
    expect(rejects).toBeLessThanOrEqual(2);
  });

  test("log matching: an append whose previous entry does not match is rejected with a hint", () => {
    const log = new MemoryLog({ voters: [1, 2], learners: [] });
    log.append([ent(1, 1), ent(2, 1), ent(3, 2)]);
    log.setHardState({ term: 2, vote: 0, commit: 1 });
    const raft = new RaftNode(config(2, log));
    raft.step(
      msg({ type: "app", from: 1, to: 2, term: 3, index: 3, logTerm: 3, entries: [ent(4, 3)] }),
    );
    const rd = raft.ready();
    const r = rd.messages[0];
    expect(r).toMatchObject({
      type: "appResp",
      reject: true,
      index: 3,
      rejectHint: 3,
      logTermHint: 2,
    });
  });

  test("commit rule: entries of a previous term are not committed by counting replicas", () => {
    // Node 1 has an uncommitted entry from term 2 at index 2; it becomes leader in term 3.
    const mk = (id: number) => {
      const log = new MemoryLog({ voters: [1, 2, 3], learners: [] });
      log.append(id === 1 ? [ent(1, 1), ent(2, 2)] : [ent(1, 1)]);
      log.setHardState({ term: 2, vote: 0, commit: 1 });
      return log;
    };
    const log1 = mk(1);
    const r1 = new RaftNode(config(1, log1));
    r1.campaign();
    let rd = r1.ready();
    log1.setHardState(rd.hardState!);
    r1.advance(rd);
    r1.step(msg({ type: "voteResp", from: 2, to: 1, term: 3 }));
    expect(r1.status().role).toBe("leader");
    rd = r1.ready();
    log1.append(rd.entries); // the no-op at index 3
    r1.advance(rd);
    // Follower 2 acknowledges index 2 (the term-2 entry): a majority has it, but no commit.
    r1.step(msg({ type: "appResp", from: 2, to: 1, term: 3, index: 2 }));
    expect(r1.status().commit).toBe(1);
    // Once the term-3 no-op is on a majority, everything up to it commits.
    r1.step(msg({ type: "appResp", from: 2, to: 1, term: 3, index: 3 }));
    expect(r1.status().commit).toBe(3);
  });

  test("restart from storage: term, vote, log and commit survive; applied resumes", () => {
    const net = new Net([1, 2, 3]);
    net.elect(1);
    for (let i = 0; i < 5; i++) net.node(1).raft.propose(enc(`r${i}`));
    net.deliver();
    net.tick(1, [1]);
    const before = net.node(2).raft.status();
    const n2 = net.restart(2);
    const after = n2.raft.status();
    expect(after).toMatchObject({ term: before.term, vote: before.vote, commit: before.commit });
    expect(after.lastIndex).toBe(before.lastIndex);
    net.processAll();
    // Everything committed is re-applied from the log.
    expect(net.appliedData(2)).toEqual(["r0", "r1", "r2", "r3", "r4"]);
    // And the cluster keeps working.
    net.node(1).raft.propose(enc("r5"));
    net.deliver();
    net.tick(1, [1]);
    expect(net.appliedData(2).at(-1)).toBe("r5");
  });

  test("a crashed follower loses only what it had not persisted", () => {
    const net = new Net([1, 2, 3]);
    net.elect(1);
    net.isolate(3);
    net.node(1).raft.propose(enc("a"));
    net.deliver();
    // Node 3 gets the append but "crashes" before persisting its Ready.
    net.heal();
    net.cut.add("3>1");
    net.node(1).raft.tick();
    net.deliver();
    net.queue = [];
    const n3 = net.node(3);
    n3.raft = new RaftNode(config(3, n3.log)); // restart without processing the Ready
    net.heal();
    net.tick(3);
    expect(net.appliedData(3)).toEqual(["a"]);
  });

  test("malformed messages are dropped without effect", () => {
    const net = new Net([1, 2, 3]);
    net.elect(1);
    const r2 = net.node(2).raft;
    const before = r2.status();
    const bad = msg({ type: "app", from: 1, to: 2, term: before.term, index: 1, logTerm: 1 });
    bad.entries = [ent(7, before.term)]; // not contiguous with index 1
    r2.step(bad);
    r2.step(msg({ type: "app", from: 1, to: 99, term: 100 }));
    r2.step(msg({ type: "heartbeat", from: 1, to: 2, term: -1 }));
    r2.step(msg({ type: "snap", from: 1, to: 2, term: before.term + 1 })); // no snapshot
    expect(r2.status()).toEqual(before);
  });

  test("a commit index with no entry to carry it reaches followers on the leader's next tick, not in messages of its own", () => {
    // No heartbeat in these ticks: only the commit index itself can tell the followers.
    const net = new Net([1, 2, 3], { heartbeatTick: 100, electionTick: 200 });
    net.elect(1);
    net.tick(1, [1]);
    const r1 = net.node(1).raft;
    const idx = r1.propose(enc("w")) as number;
    const from = net.trace.length;
    net.deliver();
    expect(r1.status().commit).toBe(idx);
    // One append per follower, carrying the entry, and one reply each: no empty appends (and
    // replies to them) just to announce the new commit index.
    const sent = net.trace.slice(from);
    expect(sent.filter((m) => m.type === "app").map((m) => m.entries.length)).toEqual([1, 1]);
    expect(sent.filter((m) => m.type === "appResp").length).toBe(2);
    expect(net.node(2).raft.status().commit).toBeLessThan(idx);
    net.tick(1, [1]);
    for (const id of [2, 3]) {
      expect(net.node(id).raft.status().commit).toBe(idx);
      expect(net.appliedData(id)).toEqual(["w"]);
    }
    // Told once: later ticks send no more appends for it.
    const t = net.trace.length;
    net.tick(2, [1]);
    expect(net.trace.slice(t).filter((m) => m.type === "app")).toEqual([]);
  });

  test("a follower's read right after a write is served without waiting for a tick: the read round's heartbeat carries the commit index", () => {
    const net = new Net([1, 2, 3]);
    net.elect(1);
    net.tick(1, [1]);
    const idx = net.node(1).raft.propose(enc("w")) as number;
    net.deliver();
    const n2 = net.node(2);
    expect(n2.raft.status().commit).toBeLessThan(idx);
    n2.raft.readIndex(enc("r"));
    net.deliver();
    expect(n2.readStates.map((r) => r.index)).toEqual([idx]);
    expect(n2.raft.status().commit).toBe(idx);
    expect(net.appliedData(2)).toEqual(["w"]);
  });

  test("a follower serving a read is told the commit index as soon as it acknowledges the entries", () => {
    // No heartbeat in these ticks: only the commit index itself can tell the followers.
    const net = new Net([1, 2, 3], { heartbeatTick: 100, electionTick: 200 });
    net.elect(1);
    net.tick(1, [1]);
    const idx = net.node(1).raft.propose(enc("w")) as number;
    net.process(net.node(1));
    // 2 receives the append, but its acknowledgement is held back: 1 and 3 commit without it.
    for (const m of net.queue.splice(0)) net.node(m.to).raft.step(m);
    net.processAll();
    const held = net.queue.filter((m) => m.from === 2 && m.type === "appResp");
    expect(held.length).toBe(1);
    net.queue = net.queue.filter((m) => !held.includes(m));
    net.deliver();
    expect(net.node(1).raft.status().commit).toBe(idx);
    const n2 = net.node(2);
    n2.raft.readIndex(enc("r"));
    net.deliver();
    expect(n2.readStates.map((r) => r.index)).toEqual([idx]);
    // The reply could only carry the commit index up to what the leader knew 2 holds.
    expect(n2.raft.status().commit).toBeLessThan(idx);
    // The acknowledgement arrives: the commit index goes back at once (no tick needed).
    net.queue.push(...held);
    net.deliver();
    expect(n2.raft.status().commit).toBe(idx);
    expect(net.appliedData(2)).toEqual(["w"]);
  });
});

describe("applying while a Ready is persisted", () => {
  test("entries acknowledged during the leader's fsync are handed out by takeCommittedEntries once, never one not yet handed out for persisting", () => {
    // The state machine must not get ahead of this node's storage: a snapshot taken at the
    // applied index needs its entries there (a kill -9 test once found a wal node refusing writes:
    // "term(116) beyond last index 114").
    const net = new Net([1, 2, 3]);
    net.elect(1);
    net.tick(1, [1]);
    const n1 = net.node(1);
    const r1 = n1.raft;
    const a = r1.propose(enc("a")) as number;
    const rd = r1.ready(); // "a" handed out for persisting; its fsync in flight
    n1.log.append(rd.entries);
    const b = r1.propose(enc("b")) as number; // proposed meanwhile: not handed out yet
    replicateDuringFsync(net, [...rd.earlyMessages, ...r1.takeEarlyMessages()]);
    // The followers alone are a quorum: both committed while the leader's copies are not durable.
    expect(r1.status().commit).toBe(b);
    expect(r1.takeCommittedEntries().map((e) => e.index)).toEqual([a]);
    expect(r1.status().applied).toBe(a);
    expect(r1.takeCommittedEntries()).toEqual([]);
    r1.advance(rd);
    const next = r1.ready();
    expect(next.entries.map((e) => e.index)).toEqual([b]);
    expect(next.committedEntries.map((e) => e.index)).toEqual([b]);
  });

  test("an entry handed out for persisting and then replaced (a new leader's log) is no longer counted as handed out", () => {
    const log = new RaftLog(new MemoryLog({ voters: [1, 2, 3], learners: [] }), 0, 0);
    log.append([ent(1, 1, "a"), ent(2, 1, "b"), ent(3, 1, "c")]);
    log.inProgress = 3; // a Ready handed out 1..3; its fsync in flight
    log.append([ent(2, 2, "B")]); // a new leader's entry replaces 2..3
    expect(log.inProgress).toBe(1);
    log.commitTo(2);
    expect(log.nextCommitted(1 << 20, Math.max(log.persisted, log.inProgress)).map((e) => e.index))
      .toEqual([1]);
  });
});
