import { describe, expect, test } from "bun:test";
import { decodeConfChange, encodeConfChange } from "../../core/raft/conf_change.ts";
import type { Snapshot } from "../../core/raft/types.ts";
import { dec, enc, Net } from "./harness.ts";

describe("ReadIndex", () => {
  test("leader read completes after one heartbeat round; many reads share the round", () => {
    const net = new Net([1, 2, 3]);
    net.elect(1);
    const r1 = net.node(1).raft;
    for (let i = 0; i < 5; i++) r1.readIndex(enc(`q${i}`));
    const rd = r1.ready();
    const hbs = rd.earlyMessages.filter((m) => m.type === "heartbeat");
    expect(hbs.length).toBe(2); // one round: one heartbeat per follower for all 5 reads
    expect(rd.readStates).toEqual([]);
    net.node(1).raft.advance(rd);
    net.queue.push(...rd.earlyMessages);
    net.deliver();
    const n1 = net.node(1);
    expect(n1.readStates.map((r) => dec(r.context))).toEqual(["q0", "q1", "q2", "q3", "q4"]);
    expect(n1.readStates.every((r) => r.index === r1.status().commit)).toBe(true);
  });

  test("an isolated leader cannot serve a read", () => {
    const net = new Net([1, 2, 3]);
    net.elect(1);
    net.isolate(1);
    net.node(1).raft.readIndex(enc("r"));
    net.tick(5, [1]);
    expect(net.node(1).readStates).toEqual([]);
  });

  test("follower reads are forwarded to the leader and answered with its commit index", () => {
    const net = new Net([1, 2, 3]);
    net.elect(1);
    net.node(1).raft.propose(enc("w"));
    net.deliver();
    net.node(3).raft.readIndex(enc("f"));
    net.deliver();
    const rs = net.node(3).readStates;
    expect(rs.length).toBe(1);
    expect(rs[0].index).toBe(net.node(1).raft.status().commit);
  });

  test("a new leader answers reads only after committing an entry in its term", () => {
    const net = new Net([1, 2, 3]);
    net.elect(1);
    // Node 2 wins term 3 but cannot replicate its no-op yet.
    net.node(2).raft.campaign();
    net.processAll();
    const votes = net.queue;
    net.queue = [];
    net.cut.add("2>1").add("2>3");
    for (const m of votes) net.nodes.get(m.to)!.raft.step(m);
    net.processAll();
    for (const m of net.queue) if (m.to === 2) net.node(2).raft.step(m);
    net.queue = [];
    const r2 = net.node(2).raft;
    expect(r2.status().role).toBe("leader");
    r2.readIndex(enc("early"));
    net.deliver();
    expect(net.node(2).readStates).toEqual([]);
    net.heal();
    net.tick(2, [2]);
    expect(net.node(2).readStates.map((r) => dec(r.context))).toEqual(["early"]);
    expect(net.node(2).readStates[0].index).toBe(r2.status().commit);
  });

  test("lease reads without a clock (no tickMs or no time passed) fall back to ReadIndex", () => {
    // Timed lease reads: tests/raft/lease.test.ts.
    const net = new Net([]);
    for (const id of [1, 2, 3]) {
      // Node 1 times out first (10 ticks; the others 15), after the start-up vote guard.
      const random = () => (id === 1 ? 0 : 0.5);
      net.add(id, { voters: [1, 2, 3], learners: [] }, {
        leaseRead: true,
        checkQuorum: true,
        random,
      });
    }
    net.tick(10);
    expect(net.leader()).toBe(1);
    const r1 = net.node(1).raft;
    r1.readIndex(enc("l"), 1000);
    const rd = r1.ready();
    expect(rd.readStates).toEqual([]);
    expect(rd.earlyMessages.filter((m) => m.type === "heartbeat").length).toBe(2);
    r1.advance(rd);
  });
});

describe("leader transfer", () => {
  test("transfers to an up-to-date voter", () => {
    const net = new Net([1, 2, 3], { checkQuorum: true, preVote: true });
    net.elect(1);
    net.node(1).raft.transferLeader(2);
    net.deliver();
    expect(net.leader()).toBe(2);
    expect(net.node(1).raft.status().role).toBe("follower");
  });

  test("catches a lagging target up first, refusing proposals meanwhile", () => {
    const net = new Net([1, 2, 3]);
    net.elect(1);
    net.isolate(3);
    for (let i = 0; i < 3; i++) net.node(1).raft.propose(enc(`t${i}`));
    net.deliver();
    net.node(1).raft.transferLeader(3);
    expect(net.node(1).raft.propose(enc("blocked"))).toBe("transfer_in_progress");
    net.heal();
    net.deliver();
    expect(net.leader()).toBe(3);
    expect(net.appliedData(3)).toEqual(["t0", "t1", "t2"]);
  });

  test("a transfer to an unreachable node is abandoned after an election timeout", () => {
    const net = new Net([1, 2, 3]);
    net.elect(1);
    net.isolate(3);
    const r1 = net.node(1).raft;
    r1.transferLeader(3);
    expect(r1.leadTransferee).toBe(3);
    net.tick(10, [1, 2]);
    expect(r1.leadTransferee).toBe(0);
    expect(typeof r1.propose(enc("again"))).toBe("number");
  });

  test("a follower forwards a transfer request to the leader", () => {
    const net = new Net([1, 2, 3]);
    net.elect(1);
    net.node(2).raft.transferLeader(3);
    net.deliver();
    expect(net.leader()).toBe(3);
  });
});

describe("membership changes", () => {
  test("conf change entries round-trip through CBOR", () => {
    const cc = { type: "addVoter" as const, nodeId: 4, context: enc("addr") };
    expect(decodeConfChange(encodeConfChange(cc))).toEqual(cc);
    expect(() => decodeConfChange(enc("garbage"))).toThrow();
  });

  test("add a learner (replicated, not counted), promote it, then remove a voter", () => {
    const net = new Net([1, 2, 3]);
    net.elect(1);
    const r1 = net.node(1).raft;
    net.node(1).raft.propose(enc("before"));
    net.deliver();
    net.add(4, { voters: [], learners: [] });
    expect(typeof r1.proposeConfChange({ type: "addLearner", nodeId: 4 })).toBe("number");
    net.deliver();
    expect(r1.status().conf).toEqual({ voters: [1, 2, 3], learners: [4] });
    net.tick(2);
    expect(net.appliedData(4)).toEqual(["before"]);
    // The learner does not count: with 2 and 3 down, nothing commits.
    net.isolate(2);
    net.isolate(3);
    const commit = r1.status().commit;
    r1.propose(enc("needs-quorum"));
    net.deliver();
    expect(r1.status().commit).toBe(commit);
    net.heal();
    net.deliver();
    expect(r1.proposeConfChange({ type: "addVoter", nodeId: 4 })).toBeGreaterThan(0);
    net.deliver();
    net.tick(1, [1]);
    expect(r1.status().conf.voters).toEqual([1, 2, 3, 4]);
    expect(net.node(4).raft.status().conf.voters).toEqual([1, 2, 3, 4]);
    expect(r1.proposeConfChange({ type: "removeNode", nodeId: 3 })).toBeGreaterThan(0);
    net.deliver();
    expect(r1.status().conf.voters).toEqual([1, 2, 4]);
  });

  test("only one conf change may be pending", () => {
    const net = new Net([1, 2, 3]);
    net.elect(1);
    const r1 = net.node(1).raft;
    net.isolate(2);
    net.isolate(3);
    expect(typeof r1.proposeConfChange({ type: "addLearner", nodeId: 4 })).toBe("number");
    expect(r1.proposeConfChange({ type: "addLearner", nodeId: 5 })).toBe("conf_change_pending");
  });

  test("a removed leader steps down and the rest elect a new one", () => {
    let seed = 3;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const net = new Net([1, 2, 3], { preVote: true, checkQuorum: true, random });
    net.elect(1);
    const r1 = net.node(1).raft;
    r1.proposeConfChange({ type: "removeNode", nodeId: 1 });
    net.deliver();
    expect(r1.status().role).toBe("follower");
    // The followers learned that the removal committed and applied it too.
    expect(net.node(2).raft.status().conf.voters).toEqual([2, 3]);
    net.tick(25, [2, 3]);
    const l = net.leader();
    expect([2, 3]).toContain(l);
    expect(net.node(l).raft.status().conf.voters).toEqual([2, 3]);
  });
});

describe("snapshots", () => {
  test("a follower that needs compacted entries is sent the snapshot and catches up", () => {
    const net = new Net([1, 2, 3]);
    net.elect(1);
    net.isolate(3);
    const n1 = net.node(1);
    for (let i = 0; i < 20; i++) n1.raft.propose(enc(`s${i}`));
    net.deliver();
    // The leader snapshots at its applied index and compacts its log.
    const applied = n1.raft.status().applied;
    const snap: Snapshot = {
      meta: { index: applied, term: n1.log.term(applied), conf: n1.raft.status().conf },
      data: enc(JSON.stringify(net.appliedData(1))),
    };
    n1.log.saveLocalSnapshot(snap, 0);
    n1.raft.compact(applied);
    expect(n1.log.firstIndex()).toBe(applied + 1);
    net.heal();
    net.tick(3);
    const n3 = net.node(3);
    expect(n3.log.snapshot().meta.index).toBe(applied);
    expect(dec(n3.log.snapshot().data)).toBe(dec(snap.data));
    expect(n3.raft.status().commit).toBe(applied);
    expect(n3.raft.status().applied).toBe(applied);
    // And later entries flow normally.
    n1.raft.propose(enc("after"));
    net.deliver();
    net.tick(1, [1]);
    expect(net.appliedData(3)).toEqual(["after"]);
    expect(n1.raft.status().progress![3].state).toBe("replicate");
  });

  test("compact beyond the applied index is refused", () => {
    const net = new Net([1]);
    net.elect(1);
    expect(() => net.node(1).raft.compact(1000)).toThrow(RangeError);
  });

  test("a follower restarts from its snapshot plus log", () => {
    const net = new Net([1, 2, 3]);
    net.elect(1);
    for (let i = 0; i < 5; i++) net.node(1).raft.propose(enc(`a${i}`));
    net.deliver();
    net.tick(1, [1]);
    const n2 = net.node(2);
    const idx = n2.raft.status().applied;
    n2.log.saveLocalSnapshot({
      meta: { index: idx, term: n2.log.term(idx), conf: n2.raft.status().conf },
      data: enc("state"),
    }, 0);
    n2.raft.compact(idx);
    net.node(1).raft.propose(enc("b"));
    net.deliver();
    net.tick(1, [1]);
    const restarted = net.restart(2, { applied: idx });
    expect(restarted.raft.status()).toMatchObject({ applied: idx, commit: idx + 1 });
    net.processAll();
    expect(net.appliedData(2)).toEqual(["b"]);
  });
});
