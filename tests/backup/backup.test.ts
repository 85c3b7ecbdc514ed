/**
 * Backup and restore: `snapshot save` from a running 3-node wal cluster while a client writes,
 * `snapshot restore` into the data dirs of a new 3-node cluster, and every key compared. Also:
 * damaged and truncated backups are refused, restore refuses a data dir that holds a log.
 * In-process nodes on loopback, ephemeral ports, temp dirs.
 */
import { afterAll, expect, test } from "bun:test";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "../../client/client.ts";
import { runSnapshotCli } from "../../cli/snapshot.ts";
import { makeConfig } from "../../core/config/config.ts";
import { createLogger } from "../../core/config/logger.ts";
import { startNode } from "../../core/node/node.ts";
import type { TinyKVNode } from "../../core/node/types.ts";
import { createIdempotencyPlugin } from "../../plugins/idempotency/mod.ts";
import walPlugin from "../../plugins/wal/mod.ts";
import { TEST_CLUSTER_SECRET } from "../helpers/in_process.ts";
import { freePort, waitFor } from "../helpers/net.ts";

const root = fs.mkdtempSync(join(tmpdir(), "tkv-backup-"));
const nodes: TinyKVNode[] = [];
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop().catch(() => {})));
  fs.rmSync(root, { recursive: true, force: true });
});

async function cluster(
  dirs: string[],
  clusterId: string,
): Promise<{ peers: string; all: TinyKVNode[] }> {
  const ports: number[] = [];
  for (let i = 0; i < dirs.length; i++) ports.push(await freePort());
  const peers: Record<number, string> = {};
  ports.forEach((p, i) => peers[i + 1] = `127.0.0.1:${p}`);
  const all: TinyKVNode[] = [];
  for (let i = 0; i < dirs.length; i++) {
    const n = await startNode(
      makeConfig({
        node_id: i + 1,
        port: 0,
        raft_port: ports[i],
        peers,
        data_dir: dirs[i],
        cluster_secret: TEST_CLUSTER_SECRET,
        cluster_id: clusterId,
        log_level: "error",
        snapshot_entries: 200,
      }),
      { logger: createLogger("error"), plugins: [walPlugin, createIdempotencyPlugin()] },
    );
    all.push(n);
    nodes.push(n);
  }
  await waitFor("a leader", () => all.find((n) => n.status().role === "leader"), 10_000);
  return { peers: Object.entries(peers).map(([id, a]) => `${id}=${a}`).join(","), all };
}

const text = (v: unknown) => v instanceof Uint8Array ? new TextDecoder().decode(v) : v;

test(
  "save under load, restore into a fresh 3-node cluster: every key acknowledged before the save is there",
  async () => {
    const src = await cluster([1, 2, 3].map((i) => join(root, `src${i}`)), "old-cluster");
    const endpoints = src.all.map((n) => `127.0.0.1:${n.clientPort}`);
    const c = await connect({ endpoints });
    // Load: 2,000 keys first, then a writer that keeps going during the save.
    for (let b = 0; b < 20; b++) {
      await c.batch(
        Array.from({ length: 100 }, (_, i) => ["SET", `k${b * 100 + i}`, `v${b * 100 + i}`]),
      );
    }
    await c.command("RPUSH", "list", "a", "b", "c");
    await c.command("HSET", "h", "f", "1");
    await c.command("ZADD", "z", "1.5", "m");
    let writing = true;
    let n = 0;
    const writer = (async () => {
      while (writing && n < 5000) {
        await c.command("SET", `late${n}`, `x${n}`);
        n++;
      }
    })();
    await waitFor("some writes under load", () => n > 20 ? true : undefined);
    const file = join(root, "backup.tkv");
    const lines: string[] = [];
    const ackedBeforeSave = n; // acknowledged before the save was asked for: must be in it
    const code = await runSnapshotCli(
      ["save", file, "--endpoints", endpoints.join(",")],
      (s) => lines.push(s),
    );
    writing = false;
    await writer;
    expect(code).toBe(0);
    expect(lines.join("\n")).toMatch(/saved .* snapshot at index \d+/);
    expect(await runSnapshotCli(["inspect", file], () => {})).toBe(0);

    // Restore into three new data dirs; start a new cluster (new ports, new cluster id).
    const dirs = [1, 2, 3].map((i) => join(root, `dst${i}`));
    const ports: number[] = [];
    for (let i = 0; i < 3; i++) ports.push(await freePort());
    const peers = ports.map((p, i) => `${i + 1}=127.0.0.1:${p}`).join(",");
    for (let i = 0; i < 3; i++) {
      const rc = await runSnapshotCli(
        ["restore", file, "--data-dir", dirs[i], "--node-id", String(i + 1), "--peers", peers],
        () => {},
      );
      expect(rc).toBe(0);
    }
    // Restoring again into a dir that holds a log is refused.
    expect(
      await runSnapshotCli([
        "restore",
        file,
        "--data-dir",
        dirs[0],
        "--node-id",
        "1",
        "--peers",
        peers,
      ], () => {}),
    ).toBe(2);

    const all: TinyKVNode[] = [];
    const peerMap: Record<number, string> = {};
    ports.forEach((p, i) => peerMap[i + 1] = `127.0.0.1:${p}`);
    for (let i = 0; i < 3; i++) {
      const node = await startNode(
        makeConfig({
          node_id: i + 1,
          port: 0,
          raft_port: ports[i],
          peers: peerMap,
          data_dir: dirs[i],
          cluster_secret: TEST_CLUSTER_SECRET,
          cluster_id: "new-cluster",
          log_level: "error",
        }),
        { logger: createLogger("error"), plugins: [walPlugin, createIdempotencyPlugin()] },
      );
      all.push(node);
      nodes.push(node);
    }
    await waitFor(
      "a leader in the restored cluster",
      () => all.find((x) => x.status().role === "leader"),
      10_000,
    );
    const r = await connect({ endpoints: all.map((x) => `127.0.0.1:${x.clientPort}`) });
    try {
      const got = await r.batch(Array.from({ length: 2000 }, (_, i) => ["GET", `k${i}`]));
      expect(got.every((x, i) => x.code === "OK" && text(x.value) === `v${i}`)).toBe(true);
      const late = await r.batch(
        Array.from({ length: ackedBeforeSave }, (_, i) => ["GET", `late${i}`]),
      );
      expect(late.every((x, i) => x.code === "OK" && text(x.value) === `x${i}`)).toBe(true);
      expect((await r.command("LRANGE", "list", "0", "-1") as unknown[]).map(text)).toEqual([
        "a",
        "b",
        "c",
      ]);
      expect(text(await r.command("HGET", "h", "f"))).toBe("1");
      // Nothing beyond what was written; and the new cluster takes writes.
      const size = Number(await r.command("DBSIZE"));
      expect(size).toBeGreaterThanOrEqual(2003 + ackedBeforeSave);
      expect(size).toBeLessThanOrEqual(2003 + n);
      await r.command("SET", "after-restore", "yes");
      expect(text(await r.command("GET", "after-restore"))).toBe("yes");
    } finally {
      await r.close();
      await c.close();
    }
  },
  90_000,
);

test("a damaged or truncated backup is refused with a clear error", async () => {
  const file = join(root, "backup.tkv");
  const buf = fs.readFileSync(file);
  const damaged = join(root, "damaged.tkv");
  const flipped = Buffer.from(buf);
  flipped[flipped.length - 10] ^= 0xff;
  fs.writeFileSync(damaged, flipped);
  const errs: string[] = [];
  const orig = console.error;
  console.error = (s: string) => errs.push(s);
  try {
    expect(await runSnapshotCli(["inspect", damaged], () => {})).toBe(1);
    fs.writeFileSync(damaged, buf.subarray(0, buf.length - 100));
    expect(await runSnapshotCli(["inspect", damaged], () => {})).toBe(1);
    fs.writeFileSync(damaged, "hello");
    expect(
      await runSnapshotCli(
        ["restore", damaged, "--data-dir", join(root, "x"), "--node-id", "1"],
        () => {},
      ),
    ).toBe(1);
  } finally {
    console.error = orig;
  }
  expect(errs[0]).toMatch(/checksum mismatch/);
  expect(errs[1]).toMatch(/truncated/);
  expect(errs[2]).toMatch(/not a valid TinyKV backup/);
});
