/**
 * The node's public face ({@link TinyKVNode}, {@link StartOptions}, {@link MemberAddress}) and the
 * small mutable state its parts share ({@link NodeState}).
 * @module
 */
import type { Config } from "../config/config.ts";
import type { Logger } from "../config/logger.ts";
import type { NodeStats, Plugin } from "../plugin/plugin.ts";
import type { NodeId, RaftStatus } from "../raft/types.ts";
import type { Storage } from "../storage/storage.ts";
import type { Transport } from "../../transports/types.ts";
import type { FileSystem } from "../env/fs.ts";
import type { Clock, Random, Scheduler } from "../env/time.ts";
import type { ThreadTimes } from "../env/thread_times.ts";

/** Addresses of one member. */
export interface MemberAddress {
  /** Raft (peer) address, `host:port`. */
  raft: string;
  /** Client address, `host:port`. */
  client: string;
}

/** Options for `startNode` beyond the config. */
export interface StartOptions {
  /** Plugins to load (already imported). */
  plugins?: Plugin[];
  /** Logger to use. Default: a stderr logger at `config.log_level`. */
  logger?: Logger;
  /** Clocks. Default: the runtime's (`Date.now`, `performance.now`). */
  clock?: Clock;
  /** Timers. Default: the runtime's (`setInterval`, `setTimeout`, `setImmediate`). */
  scheduler?: Scheduler;
  /** Random source for Raft's election timeouts. Default: `Math.random`. */
  random?: Random;
  /**
   * The JS thread's run and wait times, for the event-loop block detector (`loop_monitor.ts`).
   * Default: Linux's schedstat where readable (`jsThreadTimes`), none when `clock` is given (a
   * simulated clock's blocks are not the machine's).
   */
  threadTimes?: ThreadTimes | null;
  /**
   * Files (the identity files, and storage plugins through `ctx.fs`). Default: the runtime's
   * (`nodeFileSystem`); the simulation passes a simulated disk.
   */
  fs?: FileSystem;
  /**
   * Transport for clients and peers (`transports/types.ts`). Default:
   * `createTransport(config.transport)`.
   * @ignore
   */
  transport?: Transport;
  /**
   * Storage to use instead of a storage plugin's or the in-memory default. It must already hold
   * the initial membership for a brand-new node (see `StorageOptions.initialConf`).
   */
  storage?: Storage;
}

/** A running node. */
export interface TinyKVNode {
  /** This node's id (`node_id`). */
  readonly id: NodeId;
  /** The node's resolved configuration. */
  readonly config: Readonly<Config>;
  /** Bound client port (useful with port 0). */
  readonly clientPort: number;
  /** Bound raft port. */
  readonly raftPort: number;
  /** The RESP (Redis protocol) port, or -1 when `redis_port` is off. */
  readonly redisPort: number;
  /** Raft status (term, role, leader, commit, applied, ...). */
  status(): RaftStatus;
  /** Counters (bytes, batches, ...). */
  stats(): Readonly<NodeStats>;
  /** Client address of the leader, if known. */
  leaderAddress(): string | undefined;
  /** Test hook: drop all traffic to and from these peers (simulated partition). */
  partition(peers: NodeId[]): void;
  /** Graceful stop: refuse new work, answer in-flight batches, close everything. */
  stop(): Promise<void>;
}

/** State every part of the node reads; written only by the parts named in each field. */
export class NodeState {
  /** Raft role, from the Ready driver's soft state. */
  role: RaftStatus["role"] = "follower";
  /** Current leader (0 = none), from the soft state. */
  leader: NodeId = 0;
  /** Highest applied index (apply and snapshot restore). */
  applied = 0;
  /** `stop()` began: refuse new work. */
  stopping = false;
  /** `stop()` ended the Raft loop: ignore ticks and messages. */
  stopped = false;
  /** A storage failure: refuse writes. */
  fatal: Error | null = null;
}
