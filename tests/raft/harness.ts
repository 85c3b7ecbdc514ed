/**
 * A tiny synchronous network of RaftNodes for unit tests: Readys are persisted to a MemoryLog,
 * messages are queued and delivered in order (optionally cut per direction), committed entries
 * are applied (ConfChanges through `applyConfChange`).
 * @module
 */
import { decodeConfChange } from "../../core/raft/conf_change.ts";
import { MemoryLog } from "../../core/raft/memory_log.ts";
import { RaftNode } from "../../core/raft/raw_node.ts";
import {
  type ConfState,
  type Entry,
  EntryType,
  type Message,
  type NodeId,
  type RaftConfig,
  type ReadState,
} from "../../core/raft/types.ts";

export interface TNode {
  id: NodeId;
  raft: RaftNode;
  log: MemoryLog;
  applied: Entry[];
  readStates: ReadState[];
}

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** A config with deterministic timeouts (random = 0 → election timeout = electionTick). */
export function config(id: NodeId, log: MemoryLog, over: Partial<RaftConfig> = {}): RaftConfig {
  return {
    id,
    electionTick: 10,
    heartbeatTick: 1,
    storage: log,
    applied: 0,
    maxInflight: 256,
    maxSizePerMsg: 1 << 20,
    preVote: false,
    checkQuorum: false,
    random: () => 0,
    ...over,
  };
}

/** A message with every field defaulted. */
export function msg(m: Partial<Message> & Pick<Message, "type" | "from" | "to">): Message {
  return {
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    ...m,
  };
}

/** A synchronous test network. */
export class Net {
  readonly nodes = new Map<NodeId, TNode>();
  /** Blocked directions, as "from>to". */
  readonly cut = new Set<string>();
  /** Every message delivered, for assertions. */
  readonly trace: Message[] = [];
  queue: Message[] = [];
  readonly over: Partial<RaftConfig>;

  constructor(ids: NodeId[], over: Partial<RaftConfig> = {}) {
    this.over = over;
    for (const id of ids) this.add(id, { voters: ids, learners: [] });
  }

  /** Adds a node with its own fresh storage and initial membership. */
  add(id: NodeId, conf: ConfState, over: Partial<RaftConfig> = {}): TNode {
    const log = new MemoryLog(conf);
    const n: TNode = {
      id,
      log,
      raft: new RaftNode(config(id, log, { ...this.over, ...over })),
      applied: [],
      readStates: [],
    };
    this.nodes.set(id, n);
    return n;
  }

  /** Restarts `id` from its storage (unpersisted state is lost). */
  restart(id: NodeId, over: Partial<RaftConfig> = {}): TNode {
    const n = this.nodes.get(id)!;
    n.raft = new RaftNode(config(id, n.log, { ...this.over, ...over }));
    n.applied = [];
    return n;
  }

  node(id: NodeId): TNode {
    return this.nodes.get(id)!;
  }

  /** Handles every pending Ready of every node. */
  processAll(): void {
    for (const n of this.nodes.values()) this.process(n);
  }

  process(n: TNode): void {
    for (let guard = 0; guard < 100 && n.raft.hasReady(); guard++) {
      const rd = n.raft.ready();
      this.queue.push(...rd.earlyMessages);
      if (rd.snapshot) n.log.installSnapshot(rd.snapshot);
      n.log.append(rd.entries);
      if (rd.hardState) n.log.setHardState(rd.hardState);
      this.queue.push(...rd.messages);
      for (const e of rd.committedEntries) {
        if (e.type === EntryType.ConfChange) {
          n.log.setConfState(n.raft.applyConfChange(decodeConfChange(e.data)));
        }
        n.applied.push(e);
      }
      n.readStates.push(...rd.readStates);
      n.raft.advance(rd);
    }
  }

  /** Delivers messages until the network is quiet (bounded). */
  deliver(maxRounds = 200): void {
    for (let r = 0; r < maxRounds; r++) {
      this.processAll();
      if (this.queue.length === 0) return;
      const q = this.queue;
      this.queue = [];
      for (const m of q) {
        if (this.cut.has(`${m.from}>${m.to}`)) continue;
        const n = this.nodes.get(m.to);
        if (!n) continue;
        this.trace.push(m);
        n.raft.step(m);
      }
    }
  }

  /** Ticks every node (or the given ones) `times` times, delivering after each tick. */
  tick(times = 1, ids?: NodeId[]): void {
    for (let i = 0; i < times; i++) {
      for (const n of this.nodes.values()) if (!ids || ids.includes(n.id)) n.raft.tick();
      this.deliver();
    }
  }

  /** Isolates `id` in both directions. */
  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}>${other}`);
      this.cut.add(`${other}>${id}`);
    }
  }

  heal(): void {
    this.cut.clear();
  }

  /** Makes `id` campaign and delivers; returns the leader id afterwards (0 if none). */
  elect(id: NodeId): NodeId {
    this.node(id).raft.campaign();
    this.deliver();
    return this.leader();
  }

  /** The node that is leader with the highest term, or 0. */
  leader(): NodeId {
    let best = 0;
    let term = -1;
    for (const n of this.nodes.values()) {
      const s = n.raft.status();
      if (s.role === "leader" && s.term > term) {
        best = n.id;
        term = s.term;
      }
    }
    return best;
  }

  /** Normal entries with data applied on `id`, decoded. */
  appliedData(id: NodeId): string[] {
    return this.node(id).applied.filter((e) => e.type === EntryType.Normal && e.data.length > 0)
      .map((e) => dec(e.data));
  }
}
