/**
 * Example third-party plugin: an audit log. Every applied client batch becomes one JSON line
 * (log index, leader time, client id, batch id, command count, how many commands failed) in the file
 * named by `TINYKV_AUDIT_LOG` (default `<data_dir>/audit.log`).
 *
 * Load it by path: `deno run -A mod.ts --plugins ./examples/audit-log-plugin.ts`.
 *
 * It runs on every replica (onApply is replicated), so each node writes the same lines in the same
 * order. Lines are buffered and appended at most every 100 ms and on stop: the hot path only pushes a
 * string.
 * @module
 */
import { appendFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { definePlugin } from "../mod.ts";

let path = "";
let lines: string[] = [];
let timer: ReturnType<typeof setInterval> | undefined;

function flush(): void {
  if (lines.length === 0) return;
  const text = lines.join("");
  lines = [];
  appendFileSync(path, text);
}

export default definePlugin({
  name: "audit-log",
  setup(ctx) {
    path = process.env.TINYKV_AUDIT_LOG ?? join(ctx.config.data_dir, "audit.log");
    mkdirSync(dirname(path), { recursive: true });
    ctx.logger.info(`writing audit lines to ${path}`);
  },
  start() {
    timer = setInterval(flush, 100);
  },
  onApply(entry, results) {
    for (let i = 0; i < entry.batches.length; i++) {
      const b = entry.batches[i];
      let failed = 0;
      for (const code of results[i].codes) if (code > 1) failed++;
      lines.push(
        JSON.stringify({
          index: entry.index,
          time: entry.nowMs,
          client: b.clientId,
          batch: b.batchId,
          commands: b.count,
          failed,
        }) +
          "\n",
      );
    }
  },
  stop() {
    clearInterval(timer);
    flush();
  },
});
