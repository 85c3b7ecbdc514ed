/**
 * Example third-party plugin: an audit log. Every applied client batch becomes one JSON line
 * (log index, leader time, client id, batch id, command count, how many commands failed) in a file.
 *
 * Load it by path: `deno run -A mod.ts --plugins ./examples/audit-log-plugin.ts`. Its options are
 * declared below, so they work like every other option (and `--help --plugins
 * ./examples/audit-log-plugin.ts` lists them):
 * - `--audit-path FILE` (`TINYKV_AUDIT_PATH`, `"audit_path"` in a config file): where the lines go,
 *   relative to `data_dir`; default `audit.log`;
 * - `--audit-flush-ms N` (`TINYKV_AUDIT_FLUSH_MS`, `"audit_flush_ms"`): how often buffered lines
 *   are appended, 10..60000 ms; default 100.
 *
 * It runs on every replica (onApply is replicated), so each node writes the same lines in the same
 * order. Lines are buffered and appended every `flush_ms` and on stop: the hot path only pushes a
 * string.
 * @module
 */
import { appendFileSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { definePlugin } from "../mod.ts";

/** The default export is a factory: each node that loads the plugin gets its own buffer and file. */
export default function auditLogPlugin() {
  let path = "";
  let lines: string[] = [];
  let timer: ReturnType<typeof setInterval> | undefined;

  const flush = () => {
    if (lines.length === 0) return;
    const text = lines.join("");
    lines = [];
    appendFileSync(path, text);
  };

  return definePlugin({
    name: "audit",
    options: {
      path: {
        type: "string",
        default: "audit.log",
        help: "file the audit lines are appended to (relative to data_dir)",
      },
      flush_ms: {
        type: "int",
        default: 100,
        min: 10,
        max: 60_000,
        help: "how often buffered audit lines are appended, in ms",
      },
    },
    setup(ctx) {
      // ctx.options is typed from the declaration above: path is a string, flush_ms a number
      // already checked to lie within 10..60000.
      path = resolve(ctx.config.data_dir, ctx.options.path);
      mkdirSync(dirname(path), { recursive: true });
      ctx.logger.info(`writing audit lines to ${path} every ${ctx.options.flush_ms} ms`);
    },
    start(ctx) {
      timer = setInterval(flush, ctx.options.flush_ms);
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
}
