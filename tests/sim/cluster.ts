/**
 * A whole TinyKV Raft cluster in one process under a seeded scheduler (after TigerBeetle's VOPR and
 * FoundationDB's simulation): virtual ticks, a lossy/reordering/duplicating network, partitions
 * (symmetric and one-way), crashes with restart from exactly what was persisted per the Ready
 * contract, membership changes, leader transfers, snapshots — plus a tiny KV state machine,
 * simulated clients with recorded histories, and Raft safety invariants checked as it runs.
 *
 * Any failure is reproducible from the seed alone.
 * @module
 */
import { decodeConfChange } from "../../core/raft/conf_change.ts";
import { MemoryLog } from "../../core/raft/memory_log.ts";
import { RaftNode } from "../../core/raft/raw_node.ts";
import {
  type ConfChange,
  type Entry,
  EntryType,
  type Message,
  type NodeId,
  type Ready,
  type Snapshot,
} from "../../core/raft/types.ts";
import type { Operation, RegisterInput } from "./linearizability.ts";
import { Prng } from "./prng.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Knobs of one simulated run, all derived from the seed unless given. */
export interface SimOptions {
  seed: number;
  /** Initial voters (3 or 5). */
  voters: number;
  /** Extra nodes that start outside the cluster (targets of membership changes). */
  spares: number;
  /** Ticks of chaos before the healing phase. */
  ticks: number;
  clients: number;
  keys: number;
}

/** A simulated client write (the entry payload). */
interface WriteOp {
  c: number; // client
  s: number; // sequence
  k: string;
  v: string;
}

interface SimNode {
  id: NodeId;
  /** The "disk": survives crashes. Written only while handling a Ready. */
  disk: MemoryLog;
  raft: RaftNode | null;
  kv: Map<string, string>;
  applied: number;
  lastSnap: number;
  downUntil: number;
}

interface PendingWrite {
  op: Operation<RegisterInput, string | null>;
  w: WriteOp;
  node: NodeId;
  index: number;
  deadline: number;
}

interface PendingRead {
  op: Operation<RegisterInput, string | null>;
  node: NodeId;
  ctx: string;
  readIndex: number; // -1 until the ReadState arrives
  deadline: number;
}

interface InFlight {
  at: number;
  msg: Message;
}

/** Thrown when a safety invariant breaks. */
export class InvariantError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvariantError";
  }
}

/** The simulated cluster. */
export class SimCluster {
  readonly opts: SimOptions;
  readonly rng: Prng;
  readonly nodes = new Map<NodeId, SimNode>();
  readonly history: Operation<RegisterInput, string | null>[] = [];
  /** Acknowledged writes: index -> op. */
  readonly acked = new Map<number, WriteOp>();
  /** Everything applied anywhere: index -> (term, payload key). State-machine safety. */
  readonly appliedLog = new Map<number, { term: number; key: string }>();
  /** term -> leader. Election safety. */
  readonly leaders = new Map<number, NodeId>();
  readonly stats = {
    delivered: 0,
    dropped: 0,
    crashes: 0,
    snapshots: 0,
    confChanges: 0,
    transfers: 0,
    elections: 0,
  };
  now = 0;
  #clock = 0;
  #net: InFlight[] = [];
  #blocked = new Set<string>();
  #writes: PendingWrite[] = [];
  /** Set by {@link settle}: clients start no new operations. */
  #settling = false;
  #reads: PendingRead[] = [];
  #clientBusy: number[] = [];
  #seq = 0;
  #dropRate: number;
  #dupRate: number;
  #maxDelay: number;
  #crashRate: number;
  #partitionRate: number;
  #confRate: number;
  #snapEvery: number;
  #chaos = true;

  constructor(opts: SimOptions) {
    this.opts = opts;
    this.rng = new Prng(opts.seed);
    const r = this.rng;
    this.#dropRate = r.pick([0, 0.01, 0.05, 0.1]);
    this.#dupRate = r.pick([0, 0.02, 0.05]);
    this.#maxDelay = r.pick([0, 1, 3, 6]);
    this.#crashRate = r.pick([0, 0.002, 0.006]);
    this.#partitionRate = r.pick([0, 0.004, 0.01]);
    this.#confRate = r.pick([0, 0.003, 0.01]);
    this.#snapEvery = r.pick([8, 25, 1000]);
    const voters = Array.from({ length: opts.voters }, (_, i) => i + 1);
    for (let id = 1; id <= opts.voters + opts.spares; id++) {
      const conf = id <= opts.voters ? { voters, learners: [] } : { voters: [], learners: [] };
      const node: SimNode = {
        id,
        disk: new MemoryLog(conf),
        raft: null,
        kv: new Map(),
        applied: 0,
        lastSnap: 0,
        downUntil: 0,
      };
      this.nodes.set(id, node);
      this.#start(node);
    }
    this.#clientBusy = new Array(opts.clients).fill(0);
  }

  /** A one-line description of the fault mix for failure messages. */
  describe(): string {
    return `drop=${this.#dropRate} dup=${this.#dupRate} delay<=${this.#maxDelay} crash=${this.#crashRate} ` +
      `partition=${this.#partitionRate} conf=${this.#confRate} snapEvery=${this.#snapEvery}`;
  }

  // ---------------------------------------------------------------- node lifecycle

  #start(n: SimNode): void {
    // Restart from the disk: the snapshot restores the state machine, the log replays the rest.
    const snap = n.disk.snapshot();
    n.kv = snap.meta.index > 0 ? decodeKv(snap.data) : new Map();
    n.applied = snap.meta.index;
    n.lastSnap = snap.meta.index;
    n.raft = new RaftNode({
      id: n.id,
      electionTick: 10,
      heartbeatTick: 2,
      storage: n.disk,
      applied: n.applied,
      maxInflight: 8,
      maxSizePerMsg: 512,
      preVote: true,
      checkQuorum: true,
      random: () => this.rng.next(),
    });
  }

  #crash(n: SimNode): void {
    if (!n.raft) return;
    n.raft = null;
    n.downUntil = this.now + this.rng.int(5, 60);
    this.stats.crashes++;
    for (const w of this.#writes) if (w.node === n.id) w.deadline = -1; // outcome unknown
    for (const r of this.#reads) if (r.node === n.id) r.deadline = -1;
  }

  // ---------------------------------------------------------------- network

  #send(msgs: Message[]): void {
    for (const m of msgs) {
      if (this.#blocked.has(`${m.from}>${m.to}`)) {
        this.stats.dropped++;
        continue;
      }
      if (this.#chaos && this.rng.chance(this.#dropRate)) {
        this.stats.dropped++;
        // Like a transport that notices the failure (half the time; else the core's timeout).
        if (m.type === "snap" && this.rng.chance(0.5)) {
          this.nodes.get(m.from)?.raft?.reportSnapshot(m.to, false);
        }
        continue;
      }
      const copies = this.#chaos && this.rng.chance(this.#dupRate) ? 2 : 1;
      for (let i = 0; i < copies; i++) {
        const delay = this.#maxDelay > 0 ? this.rng.int(0, this.#maxDelay + 1) : 0;
        this.#net.push({ at: this.now + delay, msg: cloneMessage(m) });
      }
    }
  }

  #deliverDue(): boolean {
    const due: InFlight[] = [];
    const rest: InFlight[] = [];
    for (const f of this.#net) (f.at <= this.now ? due : rest).push(f);
    this.#net = rest;
    if (due.length === 0) return false;
    this.rng.shuffle(due);
    for (const f of due) {
      const n = this.nodes.get(f.msg.to);
      if (!n || !n.raft) {
        this.stats.dropped++;
        continue;
      }
      this.stats.delivered++;
      n.raft.step(f.msg);
      if (f.msg.type === "snap" && this.rng.chance(0.5)) {
        this.nodes.get(f.msg.from)?.raft?.reportSnapshot(f.msg.to, true);
      }
    }
    return true;
  }

  // ---------------------------------------------------------------- ready handling

  #handleReadies(): void {
    for (const n of this.nodes.values()) {
      let guard = 0;
      while (n.raft && n.raft.hasReady() && guard++ < 8) this.#handleReady(n, n.raft.ready());
    }
  }

  #handleReady(n: SimNode, rd: Ready): void {
    const raft = n.raft!;
    // Pipelined leader appends leave before the leader's own disk write...
    this.#send(rd.earlyMessages);
    // ...and a crash right here loses everything in this Ready that was not yet persisted.
    if (this.#chaos && this.rng.chance(this.#crashRate * 3)) {
      this.#crash(n);
      return;
    }
    if (rd.snapshot) {
      n.disk.installSnapshot(rd.snapshot);
      n.kv = decodeKv(rd.snapshot.data);
      n.applied = rd.snapshot.meta.index;
      n.lastSnap = rd.snapshot.meta.index;
    }
    n.disk.append(rd.entries);
    if (rd.hardState) n.disk.setHardState(rd.hardState);
    this.#send(rd.messages);
    if (rd.softState) this.#onSoftState(n, raft, rd.softState.role);
    this.#apply(n, raft, rd.committedEntries);
    for (const rs of rd.readStates) {
      const ctx = dec.decode(rs.context);
      const r = this.#reads.find((x) => x.ctx === ctx && x.node === n.id);
      if (r && r.readIndex < 0) r.readIndex = rs.index;
    }
    raft.advance(rd);
    this.#completeReads(n);
    this.#maybeSnapshot(n, raft);
  }

  #onSoftState(n: SimNode, raft: RaftNode, role: string): void {
    if (role !== "leader") return;
    const term = raft.status().term;
    const prev = this.leaders.get(term);
    if (prev !== undefined && prev !== n.id) {
      throw new InvariantError(`election safety: nodes ${prev} and ${n.id} both lead term ${term}`);
    }
    this.leaders.set(term, n.id);
    this.stats.elections++;
    // Leader completeness: everything applied anywhere from an earlier term is in our log.
    const first = raft.logFirstIndex();
    for (const [index, e] of this.appliedLog) {
      if (e.term >= term || index < first) continue;
      const t = raft.logTerm(index);
      if (t !== e.term) {
        throw new InvariantError(
          `leader completeness: leader ${n.id} of term ${term} has term ${t} at committed index ${index} (term ${e.term})`,
        );
      }
    }
  }

  #apply(n: SimNode, raft: RaftNode, ents: Entry[]): void {
    for (const e of ents) {
      if (e.index !== n.applied + 1) {
        throw new InvariantError(`node ${n.id} applies index ${e.index} after ${n.applied}`);
      }
      const key = `${e.type}:${dec.decode(e.data)}`;
      const seen = this.appliedLog.get(e.index);
      if (seen === undefined) this.appliedLog.set(e.index, { term: e.term, key });
      else if (seen.term !== e.term || seen.key !== key) {
        throw new InvariantError(
          `state machine safety: node ${n.id} applies ${key}@t${e.term} at ${e.index}, another node applied ${seen.key}@t${seen.term}`,
        );
      }
      if (e.type === EntryType.ConfChange) {
        const cs = raft.applyConfChange(decodeConfChange(e.data));
        n.disk.setConfState(cs);
      } else if (e.data.length > 0) {
        const w = JSON.parse(dec.decode(e.data)) as WriteOp;
        n.kv.set(w.k, w.v);
        const i = this.#writes.findIndex((p) => p.w.c === w.c && p.w.s === w.s);
        if (i >= 0 && this.#writes[i].node === n.id) {
          const p = this.#writes[i];
          if (p.index !== e.index) {
            throw new InvariantError(
              `write ${w.c}/${w.s} applied at ${e.index}, proposed at ${p.index}`,
            );
          }
          p.op.ret = ++this.#clock;
          p.op.output = null;
          this.acked.set(e.index, w);
          this.#writes.splice(i, 1);
          this.#clientBusy[w.c] = 0;
        }
      }
      // A write proposed at this index by this node that lost its slot can never commit.
      for (let i = this.#writes.length - 1; i >= 0; i--) {
        const p = this.#writes[i];
        if (p.node === n.id && p.index === e.index) {
          this.history.splice(this.history.indexOf(p.op), 1); // definitely not applied
          this.#writes.splice(i, 1);
          this.#clientBusy[p.w.c] = 0;
        }
      }
      n.applied = e.index;
    }
  }

  #completeReads(n: SimNode): void {
    for (let i = this.#reads.length - 1; i >= 0; i--) {
      const r = this.#reads[i];
      if (r.node !== n.id || r.readIndex < 0 || n.applied < r.readIndex) continue;
      r.op.output = n.kv.get(r.op.key) ?? null;
      r.op.ret = ++this.#clock;
      this.#reads.splice(i, 1);
      this.#clientBusy[Number(r.ctx.split("/")[0])] = 0;
    }
  }

  #maybeSnapshot(n: SimNode, raft: RaftNode): void {
    if (n.applied - n.lastSnap < this.#snapEvery) return;
    const snap: Snapshot = {
      meta: { index: n.applied, term: n.disk.term(n.applied), conf: raft.status().conf },
      data: encodeKv(n.kv),
    };
    n.disk.saveLocalSnapshot(snap, this.rng.int(0, 6));
    raft.compact(n.applied);
    n.lastSnap = n.applied;
    this.stats.snapshots++;
  }

  // ---------------------------------------------------------------- clients

  #leaderGuess(): SimNode | undefined {
    let best: SimNode | undefined;
    let bestTerm = -1;
    for (const n of this.nodes.values()) {
      if (!n.raft) continue;
      const s = n.raft.status();
      if (s.role === "leader" && s.term > bestTerm) {
        best = n;
        bestTerm = s.term;
      }
    }
    return best;
  }

  #clients(): void {
    // Settling: no new operations, so the ones in flight finish and the cluster can go quiet.
    if (this.#settling) return;
    for (let c = 0; c < this.opts.clients; c++) {
      if (this.#clientBusy[c] !== 0 || !this.rng.chance(0.3)) continue;
      const key = `k${this.rng.int(0, this.opts.keys)}`;
      const alive = [...this.nodes.values()].filter((n) => n.raft);
      if (alive.length === 0) return;
      // Mostly talk to the leader; sometimes to a random node (follower reads, not-leader errors).
      const leader = this.#leaderGuess();
      const target = leader && this.rng.chance(0.8) ? leader : this.rng.pick(alive);
      const raft = target.raft!;
      if (this.rng.chance(0.5)) {
        const w: WriteOp = { c, s: ++this.#seq, k: key, v: `v${c}.${this.#seq}` };
        const res = raft.propose(enc.encode(JSON.stringify(w)));
        if (typeof res !== "number") continue; // rejected up front: never happened
        const op: Operation<RegisterInput, string | null> = {
          key,
          input: { kind: "put", value: w.v },
          output: undefined,
          call: ++this.#clock,
          ret: Infinity,
        };
        this.history.push(op);
        this.#writes.push({ op, w, node: target.id, index: res, deadline: this.now + 80 });
        this.#clientBusy[c] = 1;
      } else {
        const ctx = `${c}/${++this.#seq}`;
        const op: Operation<RegisterInput, string | null> = {
          key,
          input: { kind: "get" },
          output: undefined,
          call: ++this.#clock,
          ret: Infinity,
        };
        this.history.push(op);
        this.#reads.push({ op, node: target.id, ctx, readIndex: -1, deadline: this.now + 60 });
        this.#clientBusy[c] = 1;
        raft.readIndex(enc.encode(ctx));
      }
    }
  }

  #expireClientOps(): void {
    for (let i = this.#writes.length - 1; i >= 0; i--) {
      const p = this.#writes[i];
      if (p.deadline >= 0 && this.now < p.deadline) continue;
      // Timed out or the node crashed: the outcome is unknown (ret stays Infinity).
      this.#writes.splice(i, 1);
      this.#clientBusy[p.w.c] = 0;
    }
    for (let i = this.#reads.length - 1; i >= 0; i--) {
      const r = this.#reads[i];
      if (r.deadline >= 0 && this.now < r.deadline) continue;
      // A read that never returned has no effect: drop it from the history.
      this.history.splice(this.history.indexOf(r.op), 1);
      this.#reads.splice(i, 1);
      this.#clientBusy[Number(r.ctx.split("/")[0])] = 0;
    }
  }

  // ---------------------------------------------------------------- faults

  #faults(): void {
    const r = this.rng;
    const ids = [...this.nodes.keys()];
    for (const n of this.nodes.values()) {
      if (!n.raft && this.now >= n.downUntil) this.#start(n);
    }
    if (r.chance(this.#crashRate)) {
      const alive = [...this.nodes.values()].filter((n) => n.raft);
      if (alive.length > 0) this.#crash(r.pick(alive));
    }
    if (r.chance(this.#partitionRate)) {
      this.#blocked.clear();
      const kind = r.int(0, 3);
      if (kind === 0) {
        // Split in two.
        const side = new Set(ids.filter(() => r.chance(0.5)));
        for (const a of ids) {
          for (const b of ids) if (side.has(a) !== side.has(b)) this.#blocked.add(`${a}>${b}`);
        }
      } else if (kind === 1) {
        // Isolate the leader.
        const l = this.#leaderGuess()?.id ?? r.pick(ids);
        for (const b of ids) if (b !== l) this.#blocked.add(`${l}>${b}`).add(`${b}>${l}`);
      } else {
        // One-way links.
        for (let i = 0; i < 3; i++) this.#blocked.add(`${r.pick(ids)}>${r.pick(ids)}`);
      }
    } else if (this.#blocked.size > 0 && r.chance(0.02)) {
      this.#blocked.clear();
    }
    if (r.chance(this.#confRate)) this.#confChange();
    if (r.chance(this.#confRate)) {
      const l = this.#leaderGuess();
      if (l) {
        const voters = l.raft!.status().conf.voters.filter((v) => v !== l.id);
        if (voters.length > 0) {
          l.raft!.transferLeader(r.pick(voters));
          this.stats.transfers++;
        }
      }
    }
  }

  #confChange(): void {
    const l = this.#leaderGuess();
    if (!l) return;
    const { voters, learners } = l.raft!.status().conf;
    const ids = [...this.nodes.keys()];
    const outside = ids.filter((id) => !voters.includes(id) && !learners.includes(id));
    const r = this.rng;
    let cc: ConfChange;
    const choice = r.int(0, 3);
    if (choice === 0 && outside.length > 0) cc = { type: "addLearner", nodeId: r.pick(outside) };
    else if (choice === 1 && (learners.length > 0 || outside.length > 0) && voters.length < 5) {
      cc = { type: "addVoter", nodeId: r.pick(learners.length > 0 ? learners : outside) };
    } else if (voters.length > 3 || learners.length > 0) {
      const pool = voters.length > 3 ? [...voters, ...learners] : learners;
      cc = { type: "removeNode", nodeId: r.pick(pool) };
    } else return;
    if (typeof l.raft!.proposeConfChange(cc) === "number") this.stats.confChanges++;
  }

  // ---------------------------------------------------------------- the loop

  /** One virtual tick: faults, clients, ticks, message delivery and Readys until quiet. */
  step(): void {
    this.now++;
    if (this.#chaos) this.#faults();
    else for (const n of this.nodes.values()) if (!n.raft) this.#start(n);
    this.#clients();
    for (const n of this.nodes.values()) n.raft?.tick();
    this.#handleReadies();
    for (let round = 0; round < 6; round++) {
      if (!this.#deliverDue()) break;
      this.#handleReadies();
    }
    this.#expireClientOps();
  }

  /** Runs the chaos phase, then heals everything and lets the cluster settle. */
  run(): void {
    for (let t = 0; t < this.opts.ticks; t++) this.step();
    this.heal();
    this.settle();
  }

  /** Stops all faults: heal partitions, restart crashed nodes, no more drops/duplicates. */
  heal(): void {
    this.#chaos = false;
    this.#blocked.clear();
  }

  /**
   * Lets the healed cluster converge; then every member has applied the same prefix, and a final
   * read of every key goes through ReadIndex. Throws if the cluster does not recover (liveness).
   */
  settle(): void {
    // Clients kept starting operations while settling, and the final write waits for a moment
    // with none in flight: seed 20581 (5 voters, delays up to 6 ticks) committed ~0.2 entries per
    // tick throughout and never had one in 3,000 ticks, so settle reported a liveness failure of
    // a cluster that was making progress.
    this.#settling = true;
    const deadline = this.now + 3000;
    let finalWrite: PendingWrite | undefined;
    while (this.now < deadline) {
      this.step();
      const l = this.#leaderGuess();
      if (!l || this.#writes.length > 0 || this.#reads.length > 0) continue;
      if (!finalWrite) {
        // One more write so everything before it is committed in the latest term.
        const w: WriteOp = { c: 0, s: ++this.#seq, k: "final", v: "done" };
        const res = l.raft!.propose(enc.encode(JSON.stringify(w)));
        if (typeof res !== "number") continue;
        const op: Operation<RegisterInput, string | null> = {
          key: "final",
          input: { kind: "put", value: "done" },
          output: undefined,
          call: ++this.#clock,
          ret: Infinity,
        };
        this.history.push(op);
        finalWrite = { op, w, node: l.id, index: res, deadline: this.now + 1000 };
        this.#writes.push(finalWrite);
        continue;
      }
      if (finalWrite.op.ret === Infinity) {
        // Timed out (its leader lost leadership before committing it): its outcome is unknown, as
        // for any client write; propose another on the current leader.
        if (!this.#writes.includes(finalWrite)) finalWrite = undefined;
        continue;
      }
      const commit = l.raft!.status().commit;
      const members = l.raft!.status().conf;
      const caughtUp = [...members.voters, ...members.learners].every((id) => {
        const n = this.nodes.get(id)!;
        return n.raft !== null && n.applied >= commit;
      });
      if (caughtUp) {
        this.#finalReads(l);
        this.#checkConverged(l);
        return;
      }
    }
    throw new InvariantError(`liveness: the healed cluster did not converge by tick ${this.now}`);
  }

  #finalReads(l: SimNode): void {
    for (let k = 0; k < this.opts.keys; k++) {
      const key = `k${k}`;
      const ctx = `0/${++this.#seq}`;
      const op: Operation<RegisterInput, string | null> = {
        key,
        input: { kind: "get" },
        output: undefined,
        call: ++this.#clock,
        ret: Infinity,
      };
      this.history.push(op);
      this.#reads.push({ op, node: l.id, ctx, readIndex: -1, deadline: this.now + 500 });
      l.raft!.readIndex(enc.encode(ctx));
      for (let t = 0; t < 500 && op.ret === Infinity; t++) this.step();
      if (op.ret === Infinity) {
        throw new InvariantError(`liveness: final read of ${key} never completed`);
      }
    }
  }

  #checkConverged(l: SimNode): void {
    // No acknowledged write lost: each is in the applied log at its index.
    for (const [index, w] of this.acked) {
      const e = this.appliedLog.get(index);
      if (!e || e.key !== `${EntryType.Normal}:${JSON.stringify(w)}`) {
        throw new InvariantError(`acknowledged write ${w.c}/${w.s} at index ${index} was lost`);
      }
    }
    // Every caught-up member holds the same state.
    const conf = l.raft!.status().conf;
    const ref = JSON.stringify([...l.kv].sort());
    for (const id of [...conf.voters, ...conf.learners]) {
      const n = this.nodes.get(id)!;
      if (n.applied !== l.applied) continue;
      const s = JSON.stringify([...n.kv].sort());
      if (s !== ref) {
        throw new InvariantError(
          `node ${id} state differs from leader ${l.id} at index ${n.applied}`,
        );
      }
    }
  }

  /** Log matching across all live nodes' disks: same (index, term) implies same prefix. */
  checkLogMatching(): void {
    const live = [...this.nodes.values()].filter((n) => n.raft);
    for (let i = 0; i < live.length; i++) {
      for (let j = i + 1; j < live.length; j++) {
        const a = live[i].disk;
        const b = live[j].disk;
        const lo = Math.max(a.firstIndex(), b.firstIndex());
        const hi = Math.min(a.lastIndex(), b.lastIndex());
        let matched = false;
        for (let k = hi; k >= lo; k--) {
          const ta = a.term(k);
          const tb = b.term(k);
          if (!matched) {
            matched = ta === tb;
            if (!matched) continue;
          }
          const ea = a.entries(k, k + 1)[0];
          const eb = b.entries(k, k + 1)[0];
          if (ta !== tb || ea.type !== eb.type || !sameBytes(ea.data, eb.data)) {
            throw new InvariantError(
              `log matching: nodes ${live[i].id} and ${
                live[j].id
              } agree at a later index but differ at ${k}`,
            );
          }
        }
      }
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function cloneMessage(m: Message): Message {
  const c: Message = { ...m, entries: m.entries.map((e) => ({ ...e })) };
  return c;
}

function encodeKv(kv: Map<string, string>): Uint8Array {
  return enc.encode(JSON.stringify([...kv]));
}

function decodeKv(data: Uint8Array): Map<string, string> {
  return new Map(JSON.parse(dec.decode(data)) as [string, string][]);
}
