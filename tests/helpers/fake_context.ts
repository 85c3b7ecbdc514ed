/** A PluginContext for unit-testing plugins without a node. */
import { Registry } from "prom-client";
import { makeConfig } from "../../core/config/config.ts";
import type { Config } from "../../core/config/config.ts";
import { createLogger } from "../../core/config/logger.ts";
import {
  type BatchResult,
  type ClientBatch,
  type NodeStats,
  type Plugin,
  type PluginContext,
  type PluginOptions,
  pluginOptionValues,
} from "../../core/plugin/plugin.ts";
import type { CodeNumber } from "../../protocol/codes.ts";
import { nodeFileSystem } from "../../core/env/fs.ts";
import { realClock, realScheduler } from "../../core/env/time.ts";
import type { RaftStatus } from "../../core/raft/types.ts";

export interface FakeContext<O extends PluginOptions = PluginOptions> extends PluginContext<O> {
  proposed: ClientBatch[][];
  answered: { batch: ClientBatch; result: BatchResult | { code: CodeNumber; message: string } }[];
  logs: string[];
  role: RaftStatus["role"];
}

/**
 * `overrides` may set plugin options under their full names (`{ wal_fsync: "batch" }`); `plugin`
 * is the plugin under test, whose `ctx.options` they become (as the node does).
 */
export function fakeContext<O extends PluginOptions = PluginOptions>(
  overrides: Partial<Config> = {},
  plugin?: Plugin<O>,
): FakeContext<O> {
  const logs: string[] = [];
  const stats: NodeStats = {
    bytesIn: 0,
    bytesOut: 0,
    connections: 0,
    batchesReceived: 0,
    commandsReceived: 0,
    proposals: 0,
    pendingBatches: 0,
    busyRejections: 0,
    proposalTimeouts: 0,
  };
  const config = makeConfig(overrides);
  const ctx: FakeContext<O> = {
    options: plugin ? pluginOptionValues(plugin, config) : {} as FakeContext<O>["options"],
    config,
    logger: createLogger("debug", "", (l) => logs.push(l)),
    metrics: new Registry(),
    clock: realClock,
    scheduler: realScheduler,
    fs: nodeFileSystem,
    proposed: [],
    answered: [],
    logs,
    role: "leader",
    node: {
      id: 1,
      durable: false,
      raftStatus: () => ({
        id: 1,
        term: 1,
        vote: 1,
        commit: 0,
        applied: 0,
        lastIndex: 0,
        role: ctx.role,
        leader: 1,
        conf: { voters: [1], learners: [] },
      }),
      stats: () => stats,
      leaderAddress: () => "127.0.0.1:5210",
    },
    propose(batches) {
      ctx.proposed.push(batches);
    },
    answer(batch, result) {
      ctx.answered.push({ batch, result });
    },
  };
  return ctx;
}
