/**
 * Leader lease reads in the pure core, on a simulated monotonic clock: the lease runs from the send
 * time of the newest heartbeat round a quorum acknowledged, lapses before any other node can win
 * an election, is renewed only by a fresh quorum ack, and ends with a leader transfer. Followers
 * that heard from the leader within the election timeout (or just started) refuse to vote.
 *
 * Timing here: tickMs 10, electionTick 10, leaseDriftMs 5 → lease 9 * 10 - 5 = 85 ms. Node 1 has
 * the shortest election timeout (10 ticks), node 2 11 ticks, node 3 15 ticks.
 */
import { describe, expect, test } from "bun:test";
import type { NodeId, RaftConfig } from "../../core/raft/types.ts";
import { dec, enc, msg, Net } from "./harness.ts";

const TICK = 10;
const LEASE = 85;

const LEASE_CFG: Partial<RaftConfig> = {
  leaseRead: true,
  checkQuorum: true,
  preVote: true,
  tickMs: TICK,
  leaseDriftMs: 5,
};

/** A 3-node net with a clock; every node ticks every 10 ms of simulated time. */
class Clocked {
  readonly net = new Net([]);
  now = 0;
  #seq = 0;

  constructor(over: Partial<RaftConfig> = LEASE_CFG) {
    const voters = [1, 2, 3];
    const random: Record<number, number> = { 1: 0, 2: 0.1, 3: 0.5 };
    for (const id of voters) {
      this.net.add(id, { voters, learners: [] }, { ...over, random: () => random[id] });
    }
  }

  /** Advances the clock to `t`, ticking the nodes in `ids` at every 10 ms boundary passed. */
  advanceTo(t: number, ids: NodeId[] = [1, 2, 3]): void {
    while (this.now < t) {
      const next = (Math.floor(this.now / TICK) + 1) * TICK;
      if (next > t) {
        this.now = t;
        break;
      }
      this.now = next;
      for (const id of ids) this.net.node(id).raft.tick(this.now);
      this.net.deliver();
    }
  }

  /** Asks `id` for a read at the current time; true if answered at once (under the lease). */
  leaseRead(id: NodeId): boolean {
    const n = this.net.node(id);
    const ctx = `r${++this.#seq}`;
    n.raft.readIndex(enc(ctx), this.now);
    this.net.process(n);
    return n.readStates.some((r) => dec(r.context) === ctx);
  }

  /** Starts the cluster: node 1 wins the first election at t = 100 (its 10th tick). */
  start(): void {
    this.advanceTo(100);
    expect(this.net.leader()).toBe(1);
  }

  leaderOf(ids: NodeId[]): NodeId {
    for (const id of ids) if (this.net.node(id).raft.status().role === "leader") return id;
    return 0;
  }
}

describe("leader lease", () => {
  test("serves at once within the lease after a quorum ack", () => {
    const c = new Clocked();
    c.start();
    c.advanceTo(120);
    expect(c.leaseRead(1)).toBe(true);
    // The same read without a time (or forwarded by a follower) takes a ReadIndex round.
    const n1 = c.net.node(1);
    n1.raft.readIndex(enc("untimed"));
    c.net.process(n1);
    expect(n1.readStates.some((r) => dec(r.context) === "untimed")).toBe(false);
    c.net.deliver();
    expect(n1.readStates.some((r) => dec(r.context) === "untimed")).toBe(true);
  });

  test("a partitioned leader stops serving before any other node can win an election", () => {
    const c = new Clocked();
    c.start();
    // t = 200 is a check-quorum boundary of node 1 (leader since t = 100): cut it off right after
    // its heartbeat of t = 200 was acknowledged. It will step down only at t = 400 (check-quorum),
    // while node 2 wins at t = 310: between the two, only the lease can keep reads fresh.
    c.advanceTo(200);
    expect(c.leaseRead(1)).toBe(true);
    c.net.isolate(1);
    const served: number[] = [];
    let newLeaderAt = 0;
    for (let t = 201; t <= 450; t++) {
      c.advanceTo(t);
      if (newLeaderAt === 0 && c.leaderOf([2, 3]) !== 0) newLeaderAt = t;
      if (c.net.node(1).raft.status().role === "leader" && c.leaseRead(1)) served.push(t);
    }
    expect(newLeaderAt).toBeGreaterThan(0);
    expect(served.length).toBeGreaterThan(0);
    const lastServed = Math.max(...served);
    // The lease lapses on time: 200 + 85 (and not a tick later).
    expect(lastServed).toBe(200 + LEASE - 1);
    expect(lastServed).toBeLessThan(newLeaderAt);
  });

  test("a stalled leader (no ticks, real time goes on) does not serve once its lease lapsed", () => {
    const c = new Clocked();
    c.start();
    c.advanceTo(200);
    expect(c.leaseRead(1)).toBe(true);
    // Node 1's event loop stalls from t = 200 to 400: it neither ticks nor handles messages.
    c.net.isolate(1);
    let newLeaderAt = 0;
    for (let t = 201; t <= 400; t++) {
      c.advanceTo(t, [2, 3]);
      if (newLeaderAt === 0 && c.leaderOf([2, 3]) !== 0) newLeaderAt = t;
    }
    expect(newLeaderAt).toBeGreaterThan(0);
    const fresh = c.net.node(c.leaderOf([2, 3])).raft;
    expect(typeof fresh.propose(enc("after"))).toBe("number");
    c.net.deliver();
    // It resumes: the first thing it handles is a read, stamped with the real time, before any
    // tick. Its tick count says "10 ms since the last ack"; the clock says 200 ms: no lease.
    expect(c.net.node(1).raft.status().role).toBe("leader");
    expect(c.leaseRead(1)).toBe(false);
  });

  test("lapses without acks, falls back to ReadIndex, and returns only after a fresh quorum ack", () => {
    const c = new Clocked();
    c.start();
    c.advanceTo(200);
    c.net.cut.add("2>1");
    c.net.cut.add("3>1");
    c.advanceTo(280);
    expect(c.leaseRead(1)).toBe(true); // 80 ms after the last acked round
    c.advanceTo(285);
    const n1 = c.net.node(1);
    n1.raft.readIndex(enc("lapsed"), c.now);
    c.net.process(n1);
    expect(n1.readStates.some((r) => dec(r.context) === "lapsed")).toBe(false);
    c.net.deliver(); // the ReadIndex round is sent; its acks are cut
    expect(n1.readStates.some((r) => dec(r.context) === "lapsed")).toBe(false);
    expect(c.leaseRead(1)).toBe(false);
    c.net.heal();
    c.advanceTo(290); // heartbeat round sent at 290, acknowledged
    expect(n1.readStates.some((r) => dec(r.context) === "lapsed")).toBe(true);
    c.advanceTo(295);
    expect(c.leaseRead(1)).toBe(true);
    c.advanceTo(374);
    expect(c.leaseRead(1)).toBe(true);
  });

  test("a leader transfer ends the lease", () => {
    const c = new Clocked();
    c.start();
    c.advanceTo(200);
    expect(c.leaseRead(1)).toBe(true);
    c.net.node(1).raft.transferLeader(2);
    c.now = 201;
    expect(c.leaseRead(1)).toBe(false);
    c.net.deliver();
    expect(c.net.leader()).toBe(2);
    expect(c.net.node(1).raft.status().role).toBe("follower");
  });

  test("a transfer to a lagging target ends the lease; acks during it do not renew it", () => {
    const c = new Clocked();
    c.start();
    c.advanceTo(200);
    c.net.isolate(3);
    for (let i = 0; i < 3; i++) c.net.node(1).raft.propose(enc(`x${i}`));
    c.net.deliver();
    c.net.node(1).raft.transferLeader(3);
    c.now = 201;
    expect(c.leaseRead(1)).toBe(false);
    c.advanceTo(250); // node 2 keeps acking heartbeats
    expect(c.net.node(1).raft.status().role).toBe("leader");
    expect(c.leaseRead(1)).toBe(false);
  });
});

describe("votes while a leader may hold a lease", () => {
  test("followers that heard from the leader refuse votes and pre-votes of a higher term", () => {
    const c = new Clocked();
    c.start();
    c.advanceTo(150);
    const n2 = c.net.node(2).raft;
    const term = n2.status().term;
    for (const type of ["preVote", "vote"] as const) {
      n2.step(msg({ type, from: 3, to: 2, term: term + 1, index: 100, logTerm: 99 }));
      const rd = n2.ready();
      expect(rd.messages.filter((m) => m.type === "voteResp" || m.type === "preVoteResp"))
        .toEqual([]);
      n2.advance(rd);
      expect(n2.status().term).toBe(term);
      expect(n2.status().leader).toBe(1);
    }
  });

  test("with lease reads, a follower that restarts waits one election timeout before voting", () => {
    const c = new Clocked();
    c.start();
    c.advanceTo(200);
    expect(c.leaseRead(1)).toBe(true);
    // Node 2 restarts at once (it forgets it heard from node 1); node 3 is cut off from node 1
    // and campaigns as soon as it may. Node 2's vote must not make node 3 leader within the lease.
    const n2 = c.net.restart(2, { ...LEASE_CFG, random: () => 0.1 });
    expect(n2.raft.status().leader).toBe(0);
    const term = n2.raft.status().term;
    n2.raft.step(
      msg({ type: "preVote", from: 3, to: 2, term: term + 1, index: 999, logTerm: 999 }),
    );
    const rd = n2.raft.ready();
    expect(rd.messages.filter((m) => m.type === "preVoteResp")).toEqual([]);
    n2.raft.advance(rd);
  });
});
