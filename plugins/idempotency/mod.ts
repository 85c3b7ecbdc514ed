/**
 * The `idempotency` plugin: a retried batch (same client id and batch id) is answered with the
 * results of its first application and never applied twice — across reconnects and leader
 * failover, because the cache is replicated state:
 * - `onApply` (every replica, log order) records each batch's results;
 * - `beforeApply` (every replica) skips a batch already in the cache — this catches a retry that
 *   was proposed before the original was applied (e.g. on a new leader);
 * - `onBatch` (leader) answers a retry straight from the cache, without proposing it.
 * The same id with different content is rejected with BATCH_CONFLICT.
 *
 * The core plugin loader always loads it (`--plugins` lists only optional plugins), so every node
 * started from the command line deduplicates. Its options (declared below) set the window and the
 * bounds. A result is kept for `idempotency_max_age_ms` of
 * leader time (the deduplication window, at least 10 s; the client library never resends later
 * than 8 s after its first send) and is never evicted earlier: when `idempotency_max_entries` or
 * `idempotency_max_bytes` is reached with every result still inside the window, the leader refuses
 * new write batches with BUSY until the oldest result ages out (bounded memory, clear error,
 * nothing applied twice).
 * @module
 */
import { crc32c } from "@node-rs/crc32";
import { Code } from "../../protocol/codes.ts";
import { batchKey } from "../../core/node/pending.ts";
import { type BatchResult, type ClientBatch, definePlugin } from "../../core/plugin/plugin.ts";
import { keptForRetries, ResultCache, resultOf } from "./cache.ts";

const MiB = 1024 * 1024;

function conflict(count: number, batchId: string): BatchResult {
  const msg = `batch id ${batchId} was already used for a different batch`;
  return {
    codes: new Array(count).fill(Code.BATCH_CONFLICT),
    data: new Array(count).fill(null),
    errors: new Array(count).fill(msg),
  };
}

/** Creates an idempotency plugin instance (the default export is one with config limits). */
export function createIdempotencyPlugin() {
  let cache: ResultCache | null = null;
  const same = (b: ClientBatch, digest: number, length: number) =>
    length === b.commands.length && digest === crc32c(b.commands);
  return definePlugin({
    name: "idempotency",
    options: {
      max_entries: {
        type: "int",
        default: 1_000_000,
        min: 1,
        max: 100_000_000,
        help:
          "idempotency cache: most batch results kept (then new writes get BUSY until results age out)",
      },
      max_bytes: {
        type: "int",
        default: 256 * MiB,
        min: MiB,
        max: 64 * 1024 * MiB,
        help: "idempotency cache: most estimated bytes of results kept (then BUSY, as above)",
      },
      max_age_ms: {
        type: "int",
        default: 30_000,
        min: 10_000,
        max: 604_800_000,
        help:
          "idempotency window: a batch result is kept (and a retry deduplicated) this long, in ms of leader time",
      },
    },
    cache: () => cache,
    setup(ctx) {
      const o = ctx.options;
      cache = new ResultCache(o.max_entries, o.max_age_ms, o.max_bytes);
    },
    onBatch(batch, ctx) {
      const c = cache!;
      const hit = c.get(batchKey(batch.clientId, batch.batchId));
      if (!hit) {
        // Reads are not cached; a write is refused while the cache is full of results a client
        // may still retry (evicting one of them could apply a retry twice).
        if (batch.readOnly || !c.full(ctx.clock.wallMs())) return undefined;
        return {
          reject: {
            code: Code.BUSY,
            message: `server busy: idempotency cache full (${c.size} batches, ~${
              Math.round(c.bytes / 1048576)
            } MiB within the last ${c.windowMs} ms; idempotency_max_entries / idempotency_max_bytes); retry shortly`,
          },
        };
      }
      if (same(batch, hit.digest, hit.length)) return { respond: resultOf(hit) };
      return {
        reject: {
          code: Code.BATCH_CONFLICT,
          message: `batch id ${batch.batchId} was already used for a different batch`,
        },
      };
    },
    beforeApply(batch) {
      const hit = cache!.get(batchKey(batch.clientId, batch.batchId));
      if (!hit) return undefined;
      return same(batch, hit.digest, hit.length)
        ? resultOf(hit)
        : conflict(batch.count, batch.batchId);
    },
    onApply(entry, results) {
      const c = cache!;
      for (let i = 0; i < entry.batches.length; i++) {
        const b = entry.batches[i];
        c.add(batchKey(b.clientId, b.batchId), {
          digest: crc32c(b.commands),
          length: b.commands.length,
          time: entry.nowMs,
          result: keptForRetries(results[i]),
        });
      }
    },
    snapshot() {
      return cache!.snapshot();
    },
    // 600k rows under redis-benchmark -P 1: encoded a slice per turn, not in one piece.
    snapshotInSteps() {
      return cache!.snapshotInSteps();
    },
    restore(data) {
      cache!.restore(data);
    },
  });
}

export default createIdempotencyPlugin;
