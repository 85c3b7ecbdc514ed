/**
 * A follower that lost the tail of its log (its disk lied about fsync, or `wal_fsync` batch/off and
 * a power loss) restarts with fewer entries than it acknowledged. The leader must notice from the
 * follower's rejection (rejected index at or above match, hint below match), reset that progress
 * and catch the follower up within a few heartbeats, while stale rejections of old messages
 * (rejected index below match) are still ignored.
 */
import { describe, expect, test } from "bun:test";
import { MemoryLog } from "../../core/raft/memory_log.ts";
import { RaftNode } from "../../core/raft/raw_node.ts";
import { config, enc, msg, Net } from "./harness.ts";

/** Replaces `id`'s storage with a copy that keeps only entries up to `keep`, then restarts it. */
function loseTail(net: Net, id: number, keep: number): void {
  const n = net.node(id);
  const old = n.log;
  const { hardState, conf } = old.initialState();
  const log = new MemoryLog(conf);
  log.append(old.entries(1, keep + 1));
  // The hard state survived (it was written earlier); its commit may now exceed the log.
  log.setHardState(hardState);
  n.log = log;
  n.raft = new RaftNode(config(id, log, { ...net.over }));
  n.applied = [];
}

describe("follower that lost its log tail", () => {
  for (const opts of [{}, { checkQuorum: true, preVote: true }]) {
    test(`is reset and caught up within a few heartbeats ${JSON.stringify(opts)}`, () => {
      const net = new Net([1, 2, 3], opts);
      expect(net.elect(1)).toBe(1);
      for (let i = 0; i < 30; i++) net.node(1).raft.propose(enc(`a${i}`));
      net.deliver();
      const last = net.node(1).raft.status().lastIndex;
      expect(net.node(3).raft.status().lastIndex).toBe(last);
      expect(net.node(1).raft.status().progress![3].match).toBe(last);

      loseTail(net, 3, last - 20);
      expect(net.node(3).raft.status().lastIndex).toBe(last - 20);
      // New writes keep flowing to the leader; the follower must rejoin at once.
      net.trace.length = 0;
      for (let i = 0; i < 5; i++) net.node(1).raft.propose(enc(`b${i}`));
      net.deliver();
      net.tick(3);
      const l = net.node(1).raft.status();
      const f = net.node(3).raft.status();
      expect(f.lastIndex).toBe(l.lastIndex);
      expect(f.commit).toBe(l.commit);
      expect(l.progress![3].match).toBe(l.lastIndex);
      expect(l.progress![3].state).toBe("replicate");
      // Bounded: a handful of rejections, not a ping-pong of probes.
      const rejects = net.trace.filter((m) => m.type === "appResp" && m.reject && m.from === 3);
      expect(rejects.length).toBeLessThanOrEqual(3);
      expect(net.node(3).applied.length).toBeGreaterThan(0);
    });
  }

  /** Leader 1 with node 2 replicating, one entry not yet sent; node 2 then "rejects" each. */
  function reject(rejections: ((match: number) => [index: number, hint: number])[]) {
    const net = new Net([1, 2, 3]);
    expect(net.elect(1)).toBe(1);
    for (let i = 0; i < 10; i++) net.node(1).raft.propose(enc(`a${i}`));
    net.deliver();
    const r1 = net.node(1).raft;
    r1.propose(enc("unsent"));
    const before = r1.status().progress![2];
    expect(before.state).toBe("replicate");
    const term = r1.status().term;
    for (const f of rejections) {
      const [index, hint] = f(before.match);
      r1.step(msg({
        type: "appResp",
        from: 2,
        to: 1,
        term,
        index,
        reject: true,
        rejectHint: hint,
        logTermHint: term, // the follower's term at the hint: the leader's entries are all this term
      }));
    }
    return { before, after: r1.status().progress![2] };
  }

  test("a rejection of an old message (index below match) is still ignored", () => {
    // A late rejection of a probe at index 3 (sent before node 2 caught up), hint 1.
    const { before, after } = reject([() => [3, 1]]);
    expect(after).toEqual(before);
  });

  test("in replicate state a rejection at match is stale (reordered), whatever its hint", () => {
    const { before, after } = reject([(m) => [m, m], (m) => [m, 2]]);
    expect(after).toEqual(before);
  });

  test("a probe at match rejected with a hint below it resets the progress to the hint", () => {
    const { before, after } = reject([(m) => [m + 1, 2]]);
    expect(after).toEqual({ match: before.match, next: before.match + 1, state: "probe" });
    const { after: reset } = reject([(m) => [m + 1, 2], (m) => [m, 2]]);
    expect(reset).toEqual({ match: 0, next: 3, state: "probe" });
  });
});
