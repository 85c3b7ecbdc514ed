import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Code } from "../../protocol/codes.ts";
import walPlugin, { WalStorage } from "../../plugins/wal/mod.ts";
import { fakeContext } from "../helpers/fake_context.ts";
import { startTestNode } from "../helpers/in_process.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { makeEntries, rmTempDir, segmentFiles, tempDir } from "./wal_helpers.ts";

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) rmTempDir(dirs.pop()!);
});

describe("wal plugin", () => {
  test("storage() opens the WAL in data_dir (created) and logs where and how", async () => {
    const root = tempDir("plugin");
    dirs.push(root);
    const dataDir = join(root, "nested", "data");
    const ctx = fakeContext({ wal_fsync: "batch", wal_segment_bytes: 65536 }, walPlugin);
    expect(walPlugin.name).toBe("wal");
    const st = await walPlugin.storage!(
      { dataDir, nodeId: 1, initialConf: { voters: [1], learners: [] } },
      ctx,
    );
    expect(st).toBeInstanceOf(WalStorage);
    expect(st.durable).toBe(true);
    expect(st.description).toBe(`wal at ${dataDir} (fsync=batch)`);
    expect(st.initialState().conf).toEqual({ voters: [1], learners: [] });
    expect(ctx.logs.some((l) => l.includes(`data in ${dataDir}`) && l.includes("fsync=batch")))
      .toBe(true);
    expect(ctx.logs.some((l) => l.includes("WARN") && l.includes("~10 ms"))).toBe(true);
    st.append(makeEntries(1, 3, 1));
    await st.sync();
    await st.close();
    expect(segmentFiles(dataDir).length).toBe(1);
  });

  test("a node with the wal plugin keeps its data across a restart (with snapshots)", async () => {
    const dataDir = tempDir("node");
    dirs.push(dataDir);
    const cfg = { data_dir: dataDir, snapshot_entries: 50, snapshot_keep_entries: 5 };
    const n1 = await startTestNode(cfg, [walPlugin]);
    try {
      // 4 concurrent clients, so snapshots and compaction overlap appends and syncs.
      const cs = await Promise.all([0, 1, 2, 3].map(() => RawClient.connect(n1.clientPort)));
      for (let i = 0; i < 30; i++) {
        const rs = await Promise.all(
          cs.map((c, k) => c.batch([["SET", `k${i * 4 + k}`, `v${i * 4 + k}`]], `b${i}-${k}`)),
        );
        for (const r of rs) expect(r.codes).toEqual([Code.OK]);
      }
      for (const c of cs) c.close();
    } finally {
      await n1.stop();
    }
    const n2 = await startTestNode(cfg, [walPlugin]);
    try {
      // The restarted leader re-commits its log (bounded wait), starting from the snapshot.
      const end = Date.now() + 5000;
      while (n2.status().applied < 120 && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 5));
      }
      expect(n2.status().applied).toBeGreaterThanOrEqual(120);
      const c = await RawClient.connect(n2.clientPort);
      const r = await c.batch([["GET", "k0"], ["GET", "k119"], ["GET", "k60"]]);
      expect(r.codes).toEqual([Code.OK, Code.OK, Code.OK]);
      const data = (r.data as Uint8Array[]).map((d) => new TextDecoder().decode(d));
      expect(data).toEqual(["v0", "v119", "v60"]);
      c.close();
    } finally {
      await n2.stop();
    }
  });
});

describe("wal plugin: lost acknowledged entries", () => {
  test("a log that ends below the recorded commit index is reported as lost acknowledged entries", async () => {
    const dataDir = tempDir("lostcommit");
    dirs.push(dataDir);
    const opts = { dataDir, nodeId: 1, initialConf: { voters: [1], learners: [] } };
    const st = await walPlugin.storage!(opts, fakeContext({ wal_fsync: "batch" }, walPlugin));
    st.append(makeEntries(1, 10, 1));
    st.setHardState({ term: 1, vote: 1, commit: 10 });
    // Entries 4..10 vanish while the hard state (commit 10) stays, as a lying disk can leave it.
    st.append(makeEntries(4, 4, 2));
    await st.sync();
    await st.close();
    const ctx = fakeContext({ wal_fsync: "batch" }, walPlugin);
    const again = await walPlugin.storage!(opts, ctx);
    try {
      expect(again.lastIndex()).toBe(4);
      expect(again.initialState().hardState.commit).toBe(10);
      expect(ctx.logs.filter((l) => l.includes("WARN") && l.includes("lost"))).toEqual([
        expect.stringContaining("log ends at 4 but entries up to 10 were committed"),
      ]);
    } finally {
      await again.close();
    }
  });
});
