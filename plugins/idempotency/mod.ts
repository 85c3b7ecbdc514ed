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
 * started from the command line deduplicates. A result is kept for `idempotency_max_age_ms` of
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
import {
  type BatchResult,
  type ClientBatch,
  definePlugin,
  type Plugin,
} from "../../core/plugin/plugin.ts";
import { ResultCache } from "./cache.ts";

function conflict(count: number, batchId: string): BatchResult {
  const msg = `batch id ${batchId} was already used for a different batch`;
  return {
    codes: new Array(count).fill(Code.BATCH_CONFLICT),
    data: new Array(count).fill(null),
    errors: new Array(count).fill(msg),
  };
}

/** Creates an idempotency plugin instance (the default export is one with config limits). */
export function createIdempotencyPlugin(): Plugin & { readonly cache: () => ResultCache | null } {
  let cache: ResultCache | null = null;
  const same = (b: ClientBatch, digest: number, length: number) =>
    length === b.commands.length && digest === crc32c(b.commands);
  return definePlugin({
    name: "idempotency",
    cache: () => cache,
    setup(ctx) {
      cache = new ResultCache(
        ctx.config.idempotency_max_entries,
        ctx.config.idempotency_max_age_ms,
        ctx.config.idempotency_max_bytes,
      );
    },
    onBatch(batch) {
      const c = cache!;
      const hit = c.get(batchKey(batch.clientId, batch.batchId));
      if (!hit) {
        // Reads are not cached; a write is refused while the cache is full of results a client
        // may still retry (evicting one of them could apply a retry twice).
        if (batch.readOnly || !c.full(Date.now())) return undefined;
        return {
          reject: {
            code: Code.BUSY,
            message: `server busy: idempotency cache full (${c.size} batches, ~${
              Math.round(c.bytes / 1048576)
            } MiB within the last ${c.windowMs} ms; idempotency_max_entries / idempotency_max_bytes); retry shortly`,
          },
        };
      }
      if (same(batch, hit.digest, hit.length)) return { respond: hit.result };
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
        ? hit.result
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
          result: results[i],
        });
      }
    },
    snapshot() {
      return cache!.snapshot();
    },
    restore(data) {
      cache!.restore(data);
    },
  });
}

export default createIdempotencyPlugin;
