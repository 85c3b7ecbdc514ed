/**
 * Cluster administration sent on its own: ADD_NODE, REMOVE_NODE (a conf change, answered when its
 * entry applies) and TRANSFER_LEADER (answered once asked). A conf change's client waits in a
 * table keyed by its entry index; applying that index answers it (OK when the entry applied is the
 * conf change proposed, in the same term), and leadership loss, stop or the deadline answer it
 * with "outcome unknown". No polling.
 * @module
 */
import { encodeCborCopy } from "../../protocol/cbor.ts";
import type { Config } from "../config/config.ts";
import { Code } from "../../protocol/codes.ts";
import type { CommandResult } from "../../protocol/messages.ts";
import { type ConfChange, type Entry, EntryType, type RawNode } from "../raft/types.ts";
import type { Cancel, Scheduler } from "../env/time.ts";
import { defaultClientAddr, isHostPort, type Membership } from "./membership.ts";
import type { NodeState } from "./types.ts";

/** Names of the admin commands. */
export const ADMIN_COMMANDS: ReadonlySet<string> = new Set([
  "ADD_NODE",
  "REMOVE_NODE",
  "TRANSFER_LEADER",
]);

/** The shortest time a conf change is waited for. */
const MIN_CONF_CHANGE_WAIT_MS = 5000;

interface Waiter {
  term: number;
  done: (a: CommandResult) => void;
  cancel: Cancel;
}

/** What admin commands need from the rest of the node. */
export interface AdminDeps {
  config: Readonly<Config>;
  state: NodeState;
  membership: Membership;
  scheduler: Scheduler;
  raft(): RawNode;
  /** Asks for a Ready turn. */
  schedule(): void;
}

const OK: CommandResult = { code: Code.OK, value: "OK", error: null };

/** ADD_NODE / REMOVE_NODE / TRANSFER_LEADER and the conf-change waiters. */
export class AdminCommands {
  readonly #d: AdminDeps;
  readonly #waiters = new Map<number, Waiter>();

  constructor(deps: AdminDeps) {
    this.#d = deps;
  }

  /** Conf changes waiting for their entry. */
  get waiting(): number {
    return this.#waiters.size;
  }

  /** Runs an admin command (`name` upper-case, `args` after the name). */
  run(name: string, args: string[]): Promise<CommandResult> {
    const { state, membership } = this.#d;
    const syntax = (msg: string): Promise<CommandResult> =>
      Promise.resolve({ code: Code.SYNTAX, value: null, error: msg });
    if (state.role !== "leader") {
      const leader = state.leader ? membership.clientAddress(state.leader) : undefined;
      const r: CommandResult = {
        code: leader ? Code.NOT_LEADER : Code.UNAVAILABLE,
        value: leader ?? null,
        error: leader ? `not leader; leader is at ${leader}` : "no leader",
      };
      if (leader) r.leader = leader;
      return Promise.resolve(r);
    }
    const id = Number(args[0]);
    if (!Number.isInteger(id) || id < 1 || id > 65535) {
      return syntax(`${name} needs a node id (1..65535)`);
    }
    const raft = this.#d.raft();
    if (name === "TRANSFER_LEADER") {
      if (!raft.status().conf.voters.includes(id)) return syntax(`node ${id} is not a voter`);
      raft.transferLeader(id);
      this.#d.schedule();
      return Promise.resolve(OK);
    }
    let cc: ConfChange;
    if (name === "ADD_NODE") {
      const raftAddr = args[1];
      if (!raftAddr || !isHostPort(raftAddr)) {
        return syntax("ADD_NODE id raft_host:port [client_host:port] [LEARNER]");
      }
      const client = args[2] && isHostPort(args[2]) ? args[2] : defaultClientAddr(raftAddr);
      const learner = args.some((a) => a.toUpperCase() === "LEARNER");
      cc = {
        type: learner ? "addLearner" : "addVoter",
        nodeId: id,
        context: encodeCborCopy({ raft: raftAddr, client }),
      };
      membership.expect(id, { raft: raftAddr, client });
    } else {
      cc = { type: "removeNode", nodeId: id };
    }
    const term = raft.status().term;
    const r = raft.proposeConfChange(cc);
    if (typeof r === "string") {
      return Promise.resolve({
        code: r === "conf_change_pending" ? Code.BUSY : Code.NOT_LEADER,
        value: null,
        error: `membership change refused: ${r}`,
      });
    }
    this.#d.schedule();
    return this.#wait(r, term);
  }

  #wait(index: number, term: number): Promise<CommandResult> {
    const ms = Math.max(this.#d.config.raft_submit_timeout_ms, MIN_CONF_CHANGE_WAIT_MS);
    return new Promise<CommandResult>((done) => {
      const cancel = this.#d.scheduler.timeout(ms, () => {
        if (this.#waiters.get(index)?.done !== done) return;
        this.#waiters.delete(index);
        done({
          code: Code.TIMEOUT,
          value: null,
          error: "membership change not applied in time (outcome unknown)",
        });
      });
      // A stale waiter at the same index (an older term's entry was replaced) learns nothing more.
      this.#answer(index, unknown("superseded by a newer proposal at the same index"));
      this.#waiters.set(index, { term, done, cancel });
    });
  }

  #answer(index: number, a: CommandResult): void {
    const w = this.#waiters.get(index);
    if (!w) return;
    this.#waiters.delete(index);
    w.cancel();
    w.done(a);
  }

  /** An entry was applied: answers the conf change waiting for its index. */
  onApplied(e: Entry): void {
    if (this.#waiters.size === 0) return;
    const w = this.#waiters.get(e.index);
    if (!w) return;
    const ours = e.type === EntryType.ConfChange && e.term === w.term;
    this.#answer(e.index, ours ? OK : unknown("its entry was replaced by another leader's"));
  }

  /** Applied moved to `index` without the entries (snapshot restore): outcome unknown below it. */
  onRestored(index: number): void {
    for (const i of [...this.#waiters.keys()]) {
      if (i <= index) this.#answer(i, unknown("a snapshot was installed over it"));
    }
  }

  /** Answers every waiter (leadership lost, stop). */
  failAll(why: string): void {
    for (const i of [...this.#waiters.keys()]) this.#answer(i, unknown(why));
  }
}

function unknown(why: string): CommandResult {
  return {
    code: Code.TIMEOUT,
    value: null,
    error: `membership change outcome unknown: ${why}`,
  };
}
