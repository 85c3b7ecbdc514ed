// The third-party example plugin (examples/audit-log-plugin.ts) loaded by path into a real node
// process, exactly as its docs say: `--plugins ./examples/audit-log-plugin.ts`.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "../../mod.ts";
import { type RuntimeName, startNodeProcess } from "../helpers/node_process.ts";

const dir = mkdtempSync(join(tmpdir(), "tinykv-audit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

for (const runtime of ["deno", "bun"] as RuntimeName[]) {
  test(`audit-log example plugin by path on ${runtime}: one JSON line per applied batch`, async () => {
    const file = join(dir, `${runtime}.log`);
    const node = await startNodeProcess(runtime, [
      "--port",
      "0",
      "--raft-port",
      "0",
      "--log-level",
      "info",
      "--plugins",
      "./examples/audit-log-plugin.ts",
    ], { env: { TINYKV_AUDIT_LOG: file } });
    try {
      expect(node.log()).toContain(`writing audit lines to ${file}`);
      const c = await connect({ host: "127.0.0.1", port: node.clientPort });
      await c.batch([["SET", "a", "1"], ["INCR", "a"], ["LPUSH", "a", "x"]]);
      await c.batch([["SET", "b", "2"]]);
      await c.close();
    } finally {
      expect(await node.stop()).toBe(0); // stop() flushes the buffered lines
    }
    const lines = readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    const batches = lines.filter((l) => l.commands === 3 || l.commands === 1);
    expect(batches.map((l) => [l.commands, l.failed])).toEqual([[3, 1], [1, 0]]);
    expect(batches[0].index).toBeLessThan(batches[1].index);
    expect(typeof batches[0].client).toBe("string");
  });
}
