/**
 * Server commands: INFO, GET_LEADER, MEMBERS (about this node, answered from its own state) and
 * the admin commands (see `admin.ts`). They are answered before the log and never in replicated
 * apply:
 * - sent alone, or inside a read-only batch (served by ReadIndex, never in the log), INFO,
 *   GET_LEADER and MEMBERS are answered locally ({@link ServerCommands.local});
 * - inside a batch that goes through the log they get the same deterministic SYNTAX error on
 *   every replica ({@link inLogServerCommand}), so no replica's own text ever reaches replicated
 *   state (the idempotency cache, snapshots);
 * - admin commands must be sent on their own; in any batch they get a SYNTAX error.
 * @module
 */
import { commandName, toArgv } from "../server/argv.ts";
import { Code } from "../../protocol/codes.ts";
import type { CommandResult } from "../../protocol/messages.ts";
import type { HookBus } from "../plugin/hooks.ts";
import type { NodeStats } from "../plugin/plugin.ts";
import { LOOP_BLOCK_BUCKETS_MS } from "../env/loop_monitor.ts";
import type { RawNode } from "../raft/types.ts";
import { eqWord } from "../state/bytes.ts";
import type { Argv, StateMachine } from "../state/types.ts";
import type { Storage } from "../storage/storage.ts";
import { ADMIN_COMMANDS, type AdminCommands } from "./admin.ts";
import type { Backups } from "./backup.ts";
import type { Membership } from "./membership.ts";
import type { NodeState } from "./types.ts";

/** Backup commands (core/node/backup.ts): sent on their own only. */
export const BACKUP_COMMANDS: ReadonlySet<string> = new Set(["SNAPSHOT_SAVE", "SNAPSHOT_CHUNK"]);

/** Server commands answered from this node's own state. */
export const LOCAL_COMMANDS: ReadonlySet<string> = new Set(["INFO", "GET_LEADER", "MEMBERS"]);
const LOCAL_WORDS = [...LOCAL_COMMANDS].map((n) => n.toLowerCase());

/** True if `name` (any case) is INFO, GET_LEADER or MEMBERS. Allocation-free. */
export function isLocalCommand(name: Uint8Array): boolean {
  if (name.length < 4 || name.length > 10) return false;
  for (const w of LOCAL_WORDS) if (eqWord(name, w)) return true;
  return false;
}

/**
 * The Applier's server-command handler for entries (replicated apply): deterministic, the same
 * answer on every replica, whatever its role or state.
 */
export function inLogServerCommand(argv: Argv): CommandResult | null {
  const name = commandName(argv);
  if (LOCAL_COMMANDS.has(name)) {
    return {
      code: Code.SYNTAX,
      value: null,
      error: `${name} must be sent on its own or with reads only`,
    };
  }
  if (ADMIN_COMMANDS.has(name) || BACKUP_COMMANDS.has(name)) {
    return {
      code: Code.SYNTAX,
      value: null,
      error: `${name} must be sent on its own, not inside a batch with other commands`,
    };
  }
  return null;
}

/** What local answers read. */
export interface ServerCommandsDeps {
  id: number;
  config: { transport: string };
  state: NodeState;
  sm: StateMachine;
  hooks: HookBus;
  membership: Membership;
  admin: AdminCommands;
  raft(): RawNode;
  storage(): Storage;
  stats(): Readonly<NodeStats>;
  backups: Backups;
}

/** Samples of the event-loop block detector longer than `ms` (a bucket bound). */
function loopBlocksOver(st: Readonly<NodeStats>, ms: number): number {
  const lb = st.loopBlocks;
  if (lb === undefined) return 0;
  let n = 0;
  for (let b = LOOP_BLOCK_BUCKETS_MS.indexOf(ms) + 1; b < lb.counts.length; b++) n += lb.counts[b];
  return n;
}

/** INFO, GET_LEADER, MEMBERS and the dispatch of lone server commands. */
export class ServerCommands {
  readonly #d: ServerCommandsDeps;

  constructor(deps: ServerCommandsDeps) {
    this.#d = deps;
  }

  #leaderAddress(): string | undefined {
    const l = this.#d.state.leader;
    return l ? this.#d.membership.clientAddress(l) : undefined;
  }

  /** INFO text. */
  info(): string {
    const d = this.#d;
    const s = d.raft().status();
    const st = d.stats();
    const storage = d.storage();
    return [
      "# Server",
      `node_id:${d.id}`,
      `transport:${d.config.transport}`,
      `storage:${storage.description}`,
      `durable:${storage.durable}`,
      "# Raft",
      `role:${s.role}`,
      `term:${s.term}`,
      `leader:${s.leader}`,
      `leader_address:${this.#leaderAddress() ?? ""}`,
      `commit_index:${s.commit}`,
      `applied_index:${s.applied}`,
      `last_index:${s.lastIndex}`,
      `voters:${s.conf.voters.join(",")}`,
      `learners:${s.conf.learners.join(",")}`,
      "# Stats",
      `connections:${st.connections}`,
      `batches_received:${st.batchesReceived}`,
      `commands_received:${st.commandsReceived}`,
      `proposals:${st.proposals}`,
      `pending_batches:${st.pendingBatches}`,
      `bytes_in:${st.bytesIn}`,
      `bytes_out:${st.bytesOut}`,
      `keys:${d.sm.size()}`,
      `keys_with_expiry:${d.sm.expiresCount?.() ?? 0}`,
      `leader_changes:${st.leaderChanges ?? 0}`,
      `loop_block_max_ms:${Math.round(st.loopBlocks?.maxMs ?? 0)}`,
      `loop_blocks_over_50ms:${loopBlocksOver(st, 50)}`,
      `loop_block_max_cpu_wait_ms:${Math.round(st.loopBlocks?.maxWaitMs ?? 0)}`,
      `loop_cpu_wait_ms:${Math.round(st.loopBlocks?.waitMs ?? 0)}`,
      "# Plugins",
      `plugins:${d.hooks.plugins.map((p) => p.name).join(",")}`,
    ].join("\n");
  }

  /**
   * The Applier's server-command handler for read-only batches (ReadIndex, never in the log):
   * INFO, GET_LEADER and MEMBERS answered from this node; admin commands refused.
   */
  readonly local = (argv: Argv): CommandResult | null => {
    const name = commandName(argv);
    switch (name) {
      case "INFO":
        return { code: Code.OK, value: this.info(), error: null };
      case "GET_LEADER": {
        const l = this.#d.state.leader;
        return l
          ? { code: Code.OK, value: [l, this.#leaderAddress() ?? ""], error: null }
          : { code: Code.UNAVAILABLE, value: null, error: "no leader elected yet" };
      }
      case "MEMBERS":
        return {
          code: Code.OK,
          value: this.#d.membership.rows(this.#d.raft().status().conf, this.#d.state.leader),
          error: null,
        };
      default:
        return inLogServerCommand(argv);
    }
  };

  /** ServerBackend.serverCommand: a lone server command, or null when `cmd` is not one. */
  dispatch(cmd: unknown): Promise<CommandResult> | null {
    if (cmd === undefined) return null;
    const argv = toArgv(cmd);
    if (typeof argv === "string" || argv[0].length < 4 || argv[0].length > 15) return null;
    const name = commandName(argv);
    if (LOCAL_COMMANDS.has(name)) {
      try {
        return Promise.resolve(this.local(argv)!);
      } catch (err) {
        return Promise.resolve({ code: Code.INTERNAL, value: null, error: (err as Error).message });
      }
    }
    const dec = new TextDecoder();
    const args = argv.slice(1).map((a) => dec.decode(a));
    if (name === "SNAPSHOT_SAVE") return this.#d.backups.save();
    if (name === "SNAPSHOT_CHUNK") return Promise.resolve(this.#d.backups.chunk(args));
    if (!ADMIN_COMMANDS.has(name)) return null;
    return this.#d.admin.run(name, args).then(
      (r) => r,
      (err) => ({ code: Code.INTERNAL, value: null, error: (err as Error).message }),
    );
  }
}
