/**
 * The real node (startNode) on the fake environment of `fake_env.ts`: a fake scheduler and clock,
 * an in-memory network, a random source seeded by the node id (the simulation's `Prng`), and a
 * native-protocol client on that network.
 */
import { decodeCbor, encodeCbor } from "../../protocol/cbor.ts";
import { type Config, makeConfig } from "../../core/config/config.ts";
import { createLogger } from "../../core/config/logger.ts";
import { startNode } from "../../core/node/node.ts";
import type { StartOptions, TinyKVNode } from "../../core/node/types.ts";
import type { Plugin } from "../../core/plugin/plugin.ts";
import { fakeClock, FakeScheduler, MemoryNetwork } from "./fake_env.ts";
import { TEST_CLUSTER_SECRET } from "./in_process.ts";
import { Prng } from "../sim/prng.ts";

/** A fake scheduler and the memory network on it. */
export interface FakeEnv {
  s: FakeScheduler;
  net: MemoryNetwork;
}

export function fakeEnv(): FakeEnv {
  const s = new FakeScheduler();
  return { s, net: new MemoryNetwork(s) };
}

/** Starts node `id` of `peers` ({} for a single node) on `e`. */
export function startFakeNode(
  e: FakeEnv,
  id: number,
  peers: Record<number, string>,
  opts: { plugins?: Plugin[]; config?: Partial<Config>; storage?: StartOptions["storage"] } = {},
): Promise<TinyKVNode> {
  const rng = new Prng(id);
  return startNode(
    makeConfig({
      node_id: id,
      port: peers[id] ? 30_000 + id : 0,
      raft_port: peers[id] ? Number(peers[id].split(":")[1]) : 0,
      peers,
      cluster_secret: TEST_CLUSTER_SECRET,
      log_level: "error",
      ...opts.config,
    }),
    {
      logger: createLogger("error"),
      plugins: opts.plugins ?? [],
      clock: fakeClock(e.s),
      scheduler: e.s,
      random: () => rng.next(),
      transport: e.net.transport(),
      ...(opts.storage ? { storage: opts.storage } : {}),
    },
  );
}

/** A native-protocol client of `node` on the memory network. */
export function fakeClient(e: FakeEnv, node: TinyKVNode) {
  const { conn, received } = e.net.connect(`127.0.0.1:${node.clientPort}`);
  let n = 0;
  return {
    send(commands: unknown[], batchId = `b${++n}`, extra: Record<string, unknown> = {}): string {
      conn.send(
        encodeCbor({
          type: 3,
          batch_id: batchId,
          commands_cbor: encodeCbor(commands).slice(),
          ...extra,
        }),
      );
      return batchId;
    },
    reply(batchId: string): Record<string, unknown> | undefined {
      for (const m of received) {
        const r = decodeCbor(m) as Record<string, unknown>;
        if (r.batch_id === batchId) return r;
      }
      return undefined;
    },
  };
}
