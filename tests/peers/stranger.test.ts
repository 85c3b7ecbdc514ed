/**
 * A stranger on the raft port of a real 3-node cluster (bun processes, loopback): forged vote and
 * pre-vote requests with a high term, forged heartbeats and appends, and a forged InstallSnapshot
 * built with the project's own encoders (core/peers/codec.ts, core/node/snapshot_envelope.ts) — from a
 * non-member id and from the members' own ids. Nothing is applied, no member's term moves, the
 * cluster keeps serving and the data is intact; the members log the refusals. Then a node with a
 * wrong secret, and one with the right secret but another cluster id, talk to the members
 * through a real PeerNetwork: refused and logged, nothing changes.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import net from "node:net";
import { createLogger } from "../../core/config/logger.ts";
import { encodePeerMessage } from "../../core/peers/codec.ts";
import { PeerNetwork } from "../../core/peers/network.ts";
import type { NodeStats } from "../../core/plugin/plugin.ts";
import type { Entry, Message } from "../../core/raft/types.ts";
import { encodeNodeSnapshotInSteps } from "../../core/node/snapshot_envelope.ts";
import { createStateMachine } from "../../core/state/state_machine.ts";
import { createTransport } from "../../transports/mod.ts";
import { directClient, ProcessCluster } from "../cluster/harness.ts";
import { fakeContext } from "../helpers/fake_context.ts";
import { raftMessage } from "./peer_helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
let cluster: ProcessCluster;

beforeAll(async () => {
  cluster = await ProcessCluster.start({ runtimes: ["bun", "bun", "bun"], name: "tkv-stranger" });
  const c = await directClient(cluster.node(await cluster.waitLeader()).port);
  expect(await c.command("SET", "secret", "s3cr3t")).toBe("OK");
  await c.close();
}, 60_000);

afterAll(async () => {
  await cluster?.close();
});

/** A TCP frame: 4-byte big-endian length, then the message. */
function frame(m: Uint8Array): Uint8Array {
  const f = new Uint8Array(4 + m.length);
  new DataView(f.buffer).setUint32(0, m.length);
  f.set(m, 4);
  return f;
}

/** The forged messages for member `to` claiming to be `from`, with terms far above `term`. */
async function forgeries(from: number, to: number, term: number): Promise<Message[]> {
  const sm = createStateMachine();
  sm.apply([enc.encode("SET"), enc.encode("stranger"), enc.encode("was here")], {
    nowMs: 1,
    index: 1,
  }, { codes: [], data: [], errors: [] });
  const data = await encodeNodeSnapshotInSteps(sm, { plugins: {}, members: {} }, 0, 100);
  const big = term + 1000;
  const entry: Entry = {
    term: big,
    index: 1_000_000_000,
    type: 0,
    data: new Uint8Array(8),
  } as Entry;
  return [
    raftMessage({ type: "preVote", from, to, term: big, logTerm: big, index: 1_000_000_000 }),
    raftMessage({ type: "vote", from, to, term: big, logTerm: big, index: 1_000_000_000 }),
    raftMessage({ type: "heartbeat", from, to, term: big, commit: 1_000_000_000 }),
    raftMessage({
      type: "app",
      from,
      to,
      term: big,
      logTerm: 0,
      index: 0,
      entries: [entry],
      commit: 0,
    }),
    raftMessage({
      type: "snap",
      from,
      to,
      term: big,
      snapshot: {
        meta: { index: 1_000_000_001, term: big, conf: { voters: [from], learners: [] } },
        data,
      },
    }),
  ];
}

/** Opens a raw TCP connection to a raft port, writes `bytes`, keeps it open `ms`, closes. */
async function blast(port: number, bytes: Uint8Array, ms: number): Promise<void> {
  const s = net.connect(port, "127.0.0.1");
  s.on("error", () => {});
  await new Promise<void>((r) => {
    s.once("connect", () => r());
    s.once("error", () => r());
  });
  s.write(bytes);
  await new Promise((r) => setTimeout(r, ms));
  s.destroy();
}

async function terms(): Promise<number[]> {
  const infos = await cluster.infos();
  return [1, 2, 3].map((id) => Number(infos.get(id)?.term ?? -1));
}

/** The members' terms once they have not moved for a second (start-up elections are over). */
async function stableTerms(): Promise<number[]> {
  const deadline = Date.now() + 15_000;
  let last = await terms();
  let since = Date.now();
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    const t = await terms();
    if (t.join() !== last.join() || t.includes(-1)) {
      last = t;
      since = Date.now();
    } else if (Date.now() - since >= 1000) return t;
  }
  throw new Error(`terms never settled: ${last}\n${cluster.logTails()}`);
}

async function get(key: string): Promise<string | null> {
  const c = await directClient(cluster.node(await cluster.waitLeader()).port);
  try {
    const v = await c.command("GET", key);
    return v === null ? null : dec.decode(v as Uint8Array);
  } finally {
    await c.close();
  }
}

test("forged votes, appends and snapshots from a stranger change nothing", async () => {
  const before = await cluster.waitConverged();
  const termBefore = await stableTerms();
  const commitBefore = Number(before.get(1)!.commit_index);

  for (let round = 0; round < 3; round++) {
    await Promise.all(cluster.nodes.map(async (n) => {
      // From a non-member id, and from each member's own id (the stranger pretends to be one).
      const all: Uint8Array[] = [];
      for (const from of [99, ...[1, 2, 3].filter((x) => x !== n.id)]) {
        for (const m of await forgeries(from, n.id, termBefore[n.id - 1])) {
          all.push(frame(encodePeerMessage(m)));
        }
      }
      // One connection with everything, and one per message (each its own first frame).
      const joined = new Uint8Array(all.reduce((s, f) => s + f.length, 0));
      let p = 0;
      for (const f of all) {
        joined.set(f, p);
        p += f.length;
      }
      await Promise.all([
        blast(n.raftPort, joined, 300),
        ...all.map((f) => blast(n.raftPort, f, 300)),
      ]);
    }));
  }
  await new Promise((r) => setTimeout(r, 500));

  expect(await terms()).toEqual(termBefore);
  expect(await get("secret")).toBe("s3cr3t");
  expect(await get("stranger")).toBeNull();
  // Still serving writes; the commit index moved by our write, not to a forged billion.
  const c2 = await directClient(cluster.node(await cluster.waitLeader()).port);
  expect(await c2.command("SET", "after", "1")).toBe("OK");
  await c2.close();
  const after = await cluster.waitConverged();
  for (const inf of after.values()) {
    expect(Number(inf.commit_index)).toBeGreaterThan(commitBefore);
    expect(Number(inf.commit_index)).toBeLessThan(commitBefore + 100);
  }
  expect(await terms()).toEqual(termBefore);
  for (const n of cluster.nodes) {
    expect(cluster.log(n.id)).toMatch(
      /refused peer connection from 127\.0\.0\.1(:\d+)?: not a peer handshake/,
    );
  }
  expect(cluster.errorLines()).toEqual([]);
}, 60_000);

/** A PeerNetwork in this process claiming to be member 2, with `auth`, sending to member 1. */
async function impostor(auth: { secret: string; clusterId: string }) {
  const logs: string[] = [];
  const pn = new PeerNetwork(
    await createTransport("tcp"),
    {
      selfId: 2,
      host: "127.0.0.1",
      port: 0,
      maxMessageBytes: 1 << 20,
      peers: { 1: `127.0.0.1:${cluster.node(1).raftPort}` },
      ...auth,
    },
    () => {},
    () => {},
    () => {},
    createLogger("debug", "", (l) => logs.push(l)),
    fakeContext().node.stats() as NodeStats,
  );
  return { pn, logs };
}

for (
  const [what, auth, refusal] of [
    [
      "a wrong secret",
      { secret: "not-the-cluster-secret", clusterId: "tinykv" },
      /refused peer connection from 127\.0\.0\.1(:\d+)?: claims to be node 2 but could not prove the cluster secret/,
    ],
    [
      "the right secret but another cluster id",
      null,
      /refused peer connection from 127\.0\.0\.1(:\d+)?: member of another cluster \(cluster id "elsewhere"/,
    ],
  ] as const
) {
  test(`a node with ${what} is refused and logged; nothing changes`, async () => {
    await cluster.waitConverged();
    const termBefore = await stableTerms();
    const { pn, logs } = await impostor(auth ?? { secret: cluster.secret, clusterId: "elsewhere" });
    try {
      const until = Date.now() + 1500;
      while (Date.now() < until) {
        pn.send(await forgeries(2, 1, termBefore[0]));
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await pn.close();
    }
    expect(await terms()).toEqual(termBefore);
    expect(await get("secret")).toBe("s3cr3t");
    expect(await get("stranger")).toBeNull();
    if (!refusal.test(cluster.log(1))) {
      throw new Error(`no refusal logged; impostor: ${logs.join("\n")}\n${cluster.log(1)}`);
    }
    expect(logs.some((l) => /peer 1 at .* failed authentication/.test(l))).toBe(true);
  }, 30_000);
}
