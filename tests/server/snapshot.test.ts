// Periodic snapshots with log compaction under concurrent load keep the node serving
// (regression: compacting before the Raft core had advanced its applied index stopped the node).
import { expect, test } from "bun:test";
import { Code } from "../../protocol/codes.ts";
import { startTestNode } from "../helpers/in_process.ts";
import { RawClient } from "../helpers/raw_client.ts";

test("snapshots every 100 entries under 4 concurrent clients: every write acknowledged and readable", async () => {
  const n = await startTestNode({ snapshot_entries: 100, snapshot_keep_entries: 10 });
  try {
    const cs = await Promise.all([1, 2, 3, 4].map(() => RawClient.connect(n.clientPort)));
    for (let i = 0; i < 150; i++) {
      const rs = await Promise.all(
        cs.map((c, k) => c.batch([["SET", `k${i}-${k}`, String(i)]], `b${i}-${k}`)),
      );
      for (const r of rs) expect(r.codes).toEqual([Code.OK]);
    }
    expect(n.status().applied).toBeGreaterThan(600);
    const r = await cs[0].batch([["GET", "k0-0"], ["GET", "k149-3"]]);
    expect(r.codes).toEqual([Code.OK, Code.OK]);
    for (const c of cs) c.close();
  } finally {
    await n.stop();
  }
});
