import { describe, expect, test } from "bun:test";
import { MemoryLog } from "../../core/raft/memory_log.ts";
import { RaftNode } from "../../core/raft/raw_node.ts";
import { type Entry, EntryType } from "../../core/raft/types.ts";
import { config, msg, Net } from "./harness.ts";

const ent = (index: number, term: number): Entry => ({
  index,
  term,
  type: EntryType.Normal,
  data: new Uint8Array(0),
});

/** A node whose durable log holds `terms` (entry i+1 has term terms[i]) at `term`. */
function nodeWithLog(id: number, terms: number[], term: number, over = {}) {
  const log = new MemoryLog({ voters: [1, 2, 3], learners: [] });
  log.append(terms.map((t, i) => ent(i + 1, t)));
  log.setHardState({ term, vote: 0, commit: 0 });
  const raft = new RaftNode(config(id, log, over));
  return { raft, log };
}

function drain(raft: RaftNode) {
  const rd = raft.ready();
  raft.advance(rd);
  return rd;
}

describe("vote rules", () => {
  test("grants a vote to an up-to-date candidate and persists it before replying", () => {
    const { raft } = nodeWithLog(1, [1, 1], 1);
    raft.step(msg({ type: "vote", from: 2, to: 1, term: 2, index: 2, logTerm: 1 }));
    const rd = drain(raft);
    expect(rd.hardState).toEqual({ term: 2, vote: 2, commit: 0 });
    expect(rd.mustSync).toBe(true);
    expect(rd.earlyMessages).toEqual([]);
    expect(rd.messages.map((m) => [m.type, m.to, m.term, m.reject])).toEqual([
      ["voteResp", 2, 2, false],
    ]);
  });

  test("rejects a candidate whose log is behind (lower last term, or same term but shorter)", () => {
    const a = nodeWithLog(1, [1, 2], 2);
    a.raft.step(msg({ type: "vote", from: 2, to: 1, term: 3, index: 5, logTerm: 1 }));
    let rd = drain(a.raft);
    expect(rd.messages[0].reject).toBe(true);
    expect(rd.hardState?.term).toBe(3); // the term still moves forward
    expect(rd.hardState?.vote).toBe(0);
    const b = nodeWithLog(1, [1, 2, 2], 2);
    b.raft.step(msg({ type: "vote", from: 2, to: 1, term: 3, index: 2, logTerm: 2 }));
    rd = drain(b.raft);
    expect(rd.messages[0].reject).toBe(true);
  });

  test("one vote per term; a repeated request from the same candidate is re-granted", () => {
    const { raft } = nodeWithLog(1, [1], 1);
    raft.step(msg({ type: "vote", from: 2, to: 1, term: 2, index: 1, logTerm: 1 }));
    raft.step(msg({ type: "vote", from: 3, to: 1, term: 2, index: 1, logTerm: 1 }));
    raft.step(msg({ type: "vote", from: 2, to: 1, term: 2, index: 1, logTerm: 1 }));
    const rd = drain(raft);
    expect(rd.messages.map((m) => [m.to, m.reject])).toEqual([[2, false], [3, true], [2, false]]);
    expect(raft.status().vote).toBe(2);
  });

  test("a vote survives restart: the restarted node does not vote twice", () => {
    const { raft, log } = nodeWithLog(1, [1], 1);
    raft.step(msg({ type: "vote", from: 2, to: 1, term: 2, index: 1, logTerm: 1 }));
    const rd = raft.ready();
    log.setHardState(rd.hardState!);
    const again = new RaftNode(config(1, log));
    again.step(msg({ type: "vote", from: 3, to: 1, term: 2, index: 1, logTerm: 1 }));
    expect(drain(again).messages[0].reject).toBe(true);
  });

  test("pre-vote does not change term or vote", () => {
    const { raft } = nodeWithLog(1, [1], 1, { preVote: true });
    raft.step(msg({ type: "preVote", from: 2, to: 1, term: 2, index: 1, logTerm: 1 }));
    const rd = drain(raft);
    expect(rd.hardState).toBeUndefined();
    expect(rd.messages.map((m) => [m.type, m.term, m.reject])).toEqual([["preVoteResp", 2, false]]);
    expect(raft.status().term).toBe(1);
    expect(raft.status().vote).toBe(0);
  });

  test("pre-vote with a stale log is rejected at our term", () => {
    const { raft } = nodeWithLog(1, [1, 1, 1], 1, { preVote: true });
    raft.step(msg({ type: "preVote", from: 2, to: 1, term: 2, index: 1, logTerm: 1 }));
    const rd = drain(raft);
    expect(rd.messages.map((m) => [m.type, m.term, m.reject])).toEqual([["preVoteResp", 1, true]]);
  });
});

describe("terms", () => {
  test("a higher-term append makes a candidate follow the sender", () => {
    const { raft } = nodeWithLog(1, [1], 1);
    raft.campaign();
    expect(raft.status().role).toBe("candidate");
    raft.step(msg({ type: "app", from: 3, to: 1, term: 5, index: 1, logTerm: 1 }));
    expect(raft.status()).toMatchObject({ role: "follower", term: 5, leader: 3, vote: 0 });
  });

  test("an append from an old term is answered with our term (stale leader steps down)", () => {
    const net = new Net([1, 2, 3], { preVote: true });
    expect(net.elect(1)).toBe(1);
    net.isolate(1);
    expect(net.elect(2)).toBe(2);
    expect(net.node(2).raft.status().term).toBe(3);
    // Old leader 1 still thinks it leads term 2; its heartbeat reaches 3 once healed.
    net.heal();
    net.node(1).raft.tick();
    net.deliver();
    expect(net.node(1).raft.status()).toMatchObject({ role: "follower", term: 3 });
  });

  test("election: the winner appends a no-op and commits it", () => {
    const net = new Net([1, 2, 3]);
    expect(net.elect(1)).toBe(1);
    const s = net.node(1).raft.status();
    expect(s.term).toBe(2); // term 1 is the bootstrap
    expect(s.commit).toBe(4); // 3 bootstrap conf entries + the no-op
    for (const id of [2, 3]) expect(net.node(id).raft.status().leader).toBe(1);
  });

  test("randomised election timeouts elect exactly one leader by ticking", () => {
    let seed = 7;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const net = new Net([1, 2, 3, 4, 5], { random, preVote: true, checkQuorum: true });
    net.tick(40);
    const leaders = [...net.nodes.values()].filter((n) => n.raft.status().role === "leader");
    expect(leaders.length).toBe(1);
  });
});

describe("check-quorum and pre-vote", () => {
  test("a leader that cannot hear a quorum for an election timeout steps down", () => {
    const net = new Net([1, 2, 3], { checkQuorum: true, preVote: true });
    expect(net.elect(1)).toBe(1);
    net.isolate(1);
    net.tick(9, [1]);
    expect(net.node(1).raft.status().role).toBe("leader");
    net.tick(12, [1]);
    expect(net.node(1).raft.status().role).toBe("follower");
  });

  test("a partitioned node rejoining does not depose a healthy leader", () => {
    const net = new Net([1, 2, 3], { checkQuorum: true, preVote: true });
    expect(net.elect(1)).toBe(1);
    const term = net.node(1).raft.status().term;
    net.isolate(3);
    net.tick(50);
    // Node 3 kept pre-campaigning without bumping its term.
    expect(net.node(3).raft.status().term).toBe(term);
    net.heal();
    net.tick(30);
    expect(net.leader()).toBe(1);
    expect(net.node(1).raft.status().term).toBe(term);
    expect(net.node(3).raft.status()).toMatchObject({ role: "follower", leader: 1, term });
  });

  test("without pre-vote the rejoining node does disrupt (the test can tell)", () => {
    const net = new Net([1, 2, 3], { checkQuorum: false, preVote: false });
    expect(net.elect(1)).toBe(1);
    const term = net.node(1).raft.status().term;
    net.isolate(3);
    net.tick(50, [3]);
    expect(net.node(3).raft.status().term).toBeGreaterThan(term + 1);
    net.heal();
    net.tick(1, [3]);
    net.tick(30);
    expect(net.node(1).raft.status().term).toBeGreaterThan(term);
  });

  test("in-lease followers ignore a vote request from a higher term", () => {
    const net = new Net([1, 2, 3], { checkQuorum: true });
    expect(net.elect(1)).toBe(1);
    const n2 = net.node(2).raft;
    const term = n2.status().term;
    n2.step(msg({ type: "vote", from: 3, to: 2, term: term + 5, index: 100, logTerm: 99 }));
    expect(n2.status().term).toBe(term);
    expect(n2.status().leader).toBe(1);
  });
});
