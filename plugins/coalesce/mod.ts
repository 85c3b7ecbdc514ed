/**
 * The `coalesce` plugin: server-side coalescing of client batches into one proposal.
 *
 * Batches queue on the leader and are proposed together when the queue holds `batch_size`
 * commands, when `batch_timeout_ms` passed, or — so a lightly loaded node adds no latency — as soon
 * as the Raft pipeline is idle (no proposal of ours in flight) or an in-flight proposal was applied
 * (group commit: the next proposal gathers everything that arrived meanwhile). A proposal never
 * exceeds `batch_max_bytes` (a single larger batch cannot arrive: the transport refuses frames over
 * it with TOO_LARGE). The queue is bounded by its option `coalesce_max_queue_bytes` and by
 * `max_pending_batches`;
 * when full, new batches get BUSY ("server busy") instead of growing memory.
 * @module
 */
import type { Cancel } from "../../core/env/time.ts";
import { Counter, Gauge } from "prom-client";
import { Code } from "../../protocol/codes.ts";
import { type ClientBatch, definePlugin, type PluginContext } from "../../core/plugin/plugin.ts";

/** Why a flush happened (metrics label). */
type FlushReason = "size" | "timeout" | "idle" | "applied" | "stop";

const MiB = 1024 * 1024;

/** Creates a coalescing plugin instance. */
export function createCoalescePlugin() {
  let queue: ClientBatch[] = [];
  let queueCommands = 0;
  let queueBytes = 0;
  let inFlight = 0;
  let timer: Cancel | null = null;
  let immediate = false;
  let ctx: PluginContext | null = null;
  let flushCounter: Counter<"reason"> | null = null;
  const flushes: Record<FlushReason, number> = {
    size: 0,
    timeout: 0,
    idle: 0,
    applied: 0,
    stop: 0,
  };

  const flush = (reason: FlushReason) => {
    if (timer) {
      timer();
      timer = null;
    }
    if (queue.length === 0 || !ctx) return;
    const c = ctx.config;
    const q = queue;
    queue = [];
    queueCommands = 0;
    queueBytes = 0;
    let i = 0;
    while (i < q.length) {
      const take: ClientBatch[] = [];
      let cmds = 0, bytes = 0;
      while (
        i < q.length &&
        (take.length === 0 ||
          (cmds + q[i].count <= c.batch_size && bytes + q[i].commands.length <= c.batch_max_bytes))
      ) {
        cmds += q[i].count;
        bytes += q[i].commands.length;
        take.push(q[i++]);
      }
      inFlight++;
      flushes[reason]++;
      flushCounter?.inc({ reason });
      ctx.propose(take);
    }
  };

  return definePlugin({
    name: "coalesce",
    enforce: "post",
    options: {
      max_queue_bytes: {
        type: "int",
        default: 16 * MiB,
        min: 64 * 1024,
        max: 4096 * MiB,
        help: "coalesce plugin: most bytes of client batches queued for proposal; more get BUSY",
      },
    },
    stats: (): { flushes: Record<FlushReason, number>; queued: number } => ({
      flushes: { ...flushes },
      queued: queue.length,
    }),
    setup(c) {
      ctx = c;
      flushCounter = new Counter({
        name: "tinykv_coalesce_flushes_total",
        help: "Proposals made by the coalesce plugin, by what triggered them",
        labelNames: ["reason"],
        registers: [c.metrics],
      });
      new Gauge({
        name: "tinykv_coalesce_queue_bytes",
        help: "Bytes of client batches waiting in the coalescing queue",
        registers: [c.metrics],
        collect() {
          this.set(queueBytes);
        },
      });
    },
    onBatch(batch, c) {
      // Reads are served by ReadIndex without entering the log: nothing to coalesce.
      if (batch.readOnly) return;
      const cfg = c.config;
      if (
        queueBytes + batch.commands.length > c.options.max_queue_bytes ||
        queue.length >= cfg.max_pending_batches
      ) {
        return {
          reject: { code: Code.BUSY, message: "server busy: coalescing queue full; retry later" },
        };
      }
      queue.push(batch);
      queueCommands += batch.count;
      queueBytes += batch.commands.length;
      if (queueCommands >= cfg.batch_size || queueBytes >= cfg.batch_max_bytes) flush("size");
      else if (inFlight === 0) {
        if (!immediate) {
          immediate = true;
          c.scheduler.immediate(() => {
            immediate = false;
            flush("idle");
          });
        }
      } else if (!timer) {
        timer = c.scheduler.timeout(cfg.batch_timeout_ms, () => flush("timeout"));
      }
      return { defer: true };
    },
    onApply(entry) {
      if (entry.batches.length === 0) return;
      if (inFlight > 0) inFlight--;
      if (queue.length > 0 && ctx?.node.raftStatus().role === "leader") flush("applied");
    },
    stop(c) {
      timer?.();
      timer = null;
      for (const b of queue) {
        c.answer(b, { code: Code.SHUTTING_DOWN, message: "server shutting down" });
      }
      queue = [];
      queueBytes = 0;
      queueCommands = 0;
    },
  });
}

export default createCoalescePlugin;
