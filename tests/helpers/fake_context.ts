/** A PluginContext for unit-testing plugins without a node. */
import { Registry } from "prom-client";
import { makeConfig } from "../../core/config/config.ts";
import type { Config } from "../../core/config/config.ts";
import { createLogger } from "../../core/config/logger.ts";
import type {
  BatchResult,
  ClientBatch,
  NodeStats,
  PluginContext,
} from "../../core/plugin/plugin.ts";
import type { CodeNumber } from "../../protocol/codes.ts";
import type { RaftStatus } from "../../core/raft/types.ts";

export interface FakeContext extends PluginContext {
  proposed: ClientBatch[][];
  answered: { batch: ClientBatch; result: BatchResult | { code: CodeNumber; message: string } }[];
  logs: string[];
  role: RaftStatus["role"];
}

export function fakeContext(overrides: Partial<Config> = {}): FakeContext {
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
  const ctx: FakeContext = {
    config: makeConfig(overrides),
    logger: createLogger("debug", "", (l) => logs.push(l)),
    metrics: new Registry(),
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
