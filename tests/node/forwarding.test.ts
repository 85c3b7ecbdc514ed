/**
 * Any node serves any client that asks (`forward: true`): a follower forwards write batches to the
 * leader over the peer connection and relays the answer, and serves reads itself by a follower
 * ReadIndex. In-process 3-node cluster on loopback, ephemeral ports.
 */
import { afterAll, expect, test } from "bun:test";
import { makeConfig } from "../../core/config/config.ts";
import { createLogger } from "../../core/config/logger.ts";
import { startNode } from "../../core/node/node.ts";
import type { TinyKVNode } from "../../core/node/types.ts";
import { Code } from "../../protocol/codes.ts";
import { createIdempotencyPlugin } from "../../plugins/idempotency/mod.ts";
import { TEST_CLUSTER_SECRET } from "../helpers/in_process.ts";
import { freePort, waitFor } from "../helpers/net.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { connect } from "../../client/client.ts";

const nodes: TinyKVNode[] = [];
/** Nodes a test stopped (the later tests use the others). */
const stopped = new Set<TinyKVNode>();
const live = () => nodes.filter((n) => !stopped.has(n));
const clients: RawClient[] = [];

afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all(nodes.map((n) => n.stop().catch(() => {})));
});

async function cluster(): Promise<TinyKVNode[]> {
  const ports: number[] = [];
  for (let i = 0; i < 3; i++) ports.push(await freePort());
  const peers: Record<number, string> = {};
  ports.forEach((p, i) => peers[i + 1] = `127.0.0.1:${p}`);
  const out: TinyKVNode[] = [];
  for (let i = 0; i < 3; i++) {
    const n = await startNode(
      makeConfig({
        node_id: i + 1,
        port: 0,
        raft_port: ports[i],
        peers,
        cluster_secret: TEST_CLUSTER_SECRET,
        log_level: "error",
      }),
      { logger: createLogger("error"), plugins: [createIdempotencyPlugin()] },
    );
    out.push(n);
    nodes.push(n);
  }
  await waitFor("a leader", () => out.find((n) => n.status().role === "leader"));
  return out;
}

async function client(n: TinyKVNode): Promise<RawClient> {
  const c = await RawClient.connect(n.clientPort);
  clients.push(c);
  return c;
}

const text = (v: unknown) => v instanceof Uint8Array ? new TextDecoder().decode(v) : v;

test(
  "a follower forwards writes to the leader and serves reads itself, when asked to",
  async () => {
    const all = await cluster();
    const leader = all.find((n) => n.status().role === "leader")!;
    const [f1, f2] = all.filter((n) => n !== leader);
    const c1 = await client(f1);
    const c2 = await client(f2);

    // Without `forward`: the redirect, as before.
    const r0 = await c1.batch([["SET", "k", "v0"]], "no-fwd", { client_id: "t1" });
    expect(r0.codes).toEqual([Code.NOT_LEADER]);

    // With it: the write is applied through the follower.
    const w = await c1.batch([["SET", "k", "v1"], ["INCR", "n"]], "w1", {
      client_id: "t1",
      forward: true,
    });
    expect(w.codes).toEqual([Code.OK, Code.OK]);
    expect(w.data).toEqual(["OK", 1]);

    // A read through the other follower sees it (linearizable: follower ReadIndex).
    const r = await c2.batch([["GET", "k"], ["GET", "n"]], "r1", {
      client_id: "t2",
      forward: true,
    });
    expect(r.codes).toEqual([Code.OK, Code.OK]);
    expect(text((r.data as unknown[])[0])).toBe("v1");
    expect(text((r.data as unknown[])[1])).toBe("1");

    // A resend of the same batch id through the other follower is answered from the cache.
    const again = await c2.batch([["SET", "k", "v1"], ["INCR", "n"]], "w1", {
      client_id: "t1",
      forward: true,
    });
    expect(again.data).toEqual(["OK", 1]);

    // Pipelined forwarded batches from two followers: every increment applied exactly once, in
    // order per connection.
    const sends: Promise<Record<string, unknown>>[] = [];
    for (let i = 0; i < 100; i++) {
      sends.push(c1.batch([["INCR", "p"]], `p1-${i}`, { client_id: "t1", forward: true }));
      sends.push(c2.batch([["INCR", "p"]], `p2-${i}`, { client_id: "t2", forward: true }));
    }
    const got = await Promise.all(sends);
    expect(got.every((x) => (x.codes as number[])[0] === Code.OK)).toBe(true);
    const seen = got.map((x) => (x.data as number[])[0]).sort((a, b) => a - b);
    expect(seen).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    const first = got.filter((_, i) => i % 2 === 0).map((x) => (x.data as number[])[0]);
    expect(first).toEqual([...first].sort((a, b) => a - b)); // one connection's order is kept
    const final = await c1.batch([["GET", "p"]], "rp", { client_id: "t1", forward: true });
    expect(text((final.data as unknown[])[0])).toBe("200");
  },
  30_000,
);

test("a follower cut off from the leader never serves a stale read", async () => {
  const all = nodes.length === 3 ? nodes : await cluster();
  const leader = all.find((n) => n.status().role === "leader")!;
  const f = all.find((n) => n !== leader)!;
  const cl = await client(leader);
  const cf = await client(f);
  await cl.batch([["SET", "stale", "old"]], "s1", { client_id: "t4" });
  await waitFor(
    "the follower to apply",
    () => f.status().applied >= leader.status().applied ? true : undefined,
  );
  // Cut the follower off, write through the leader (the other follower makes the quorum).
  f.partition([leader.id]);
  const w = await cl.batch([["SET", "stale", "new"]], "s2", { client_id: "t4" });
  expect(w.codes).toEqual([Code.OK]);
  // The follower still holds "old"; its read must wait for a read index it cannot get.
  const r = await cf.batch([["GET", "stale"]], "s3", { client_id: "t5", forward: true });
  expect(r.codes).toEqual([Code.TIMEOUT]);
  f.partition([]);
  // Healed: once it knows the leader again (UNAVAILABLE until then), the read is served, fresh.
  let r2 = await cf.batch([["GET", "stale"]], "s4", { client_id: "t5", forward: true });
  for (let i = 0; (r2.codes as number[])[0] === Code.UNAVAILABLE && i < 50; i++) {
    await new Promise((res) => setTimeout(res, 50));
    r2 = await cf.batch([["GET", "stale"]], `s4-${i}`, { client_id: "t5", forward: true });
  }
  expect(r2.codes).toEqual([Code.OK]);
  expect(text((r2.data as unknown[])[0])).toBe("new");
}, 30_000);

test(
  "a leader change while forwarding: writes through a follower go on with the new leader, each applied once",
  async () => {
    const all = nodes.length === 3 ? nodes : await cluster();
    const leader = all.find((n) => n.status().role === "leader")!;
    const survivor = all.find((n) => n !== leader)!;
    const c = await client(survivor);
    // Start a stream of forwarded increments, stop the leader in the middle.
    const outcomes: Record<string, unknown>[] = [];
    const ids: string[] = [];
    const stream = (async () => {
      for (let i = 0; i < 60; i++) {
        ids.push(`lc-${i}`);
        outcomes.push(
          await c.batch([["INCR", "lc"]], `lc-${i}`, { client_id: "t3", forward: true }),
        );
      }
    })();
    await waitFor("some increments", () => outcomes.length >= 10 ? true : undefined);
    stopped.add(leader);
    await leader.stop();
    await stream;
    // Only OK, or an outcome-unknown TIMEOUT / a definite refusal while no leader was known.
    const allowed = [Code.OK, Code.TIMEOUT, Code.UNAVAILABLE];
    for (const o of outcomes) expect(allowed).toContain((o.codes as number[])[0]);
    // Resend everything not OK with the same ids: each increment is applied exactly once.
    for (let i = 0; i < outcomes.length; i++) {
      for (let k = 0; (outcomes[i].codes as number[])[0] !== Code.OK && k < 50; k++) {
        await new Promise((r) => setTimeout(r, 100));
        outcomes[i] = await c.batch([["INCR", "lc"]], ids[i], { client_id: "t3", forward: true });
      }
      expect((outcomes[i].codes as number[])[0]).toBe(Code.OK);
    }
    const values = outcomes.map((o) => (o.data as number[])[0]).sort((a, b) => a - b);
    expect(values).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
  },
  60_000,
);

test(
  "the client library with `forward: true` is served by a follower it alone can reach",
  async () => {
    const all = live();
    const leader = await waitFor("a leader", () => all.find((n) => n.status().role === "leader"));
    const f = all.find((n) => n !== leader)!;
    const c = await connect({
      port: f.clientPort,
      forward: true,
      endpoints: [`127.0.0.1:${f.clientPort}`],
    });
    try {
      await c.command("SET", "lib", "via-follower");
      expect(text(await c.command("GET", "lib"))).toBe("via-follower");
      const r = await c.batch([["INCR", "libn"], ["INCR", "libn"], ["GET", "lib"]]);
      expect(r.map((x) => x.code)).toEqual(["OK", "OK", "OK"]);
      expect(c.endpoint).toBe(`127.0.0.1:${f.clientPort}`); // never redirected
    } finally {
      await c.close();
    }
  },
  30_000,
);

test(
  "an admin command sent to a follower follows the leader (the refusal carries its address)",
  async () => {
    const all = live();
    const leader = await waitFor("a leader", () => all.find((n) => n.status().role === "leader"));
    const f = await waitFor(
      "a follower that knows the leader",
      () => all.find((n) => n !== leader && n.status().leader === leader.id),
    );
    // Only the follower's address: the client must learn the leader's from the refusal.
    const c = await connect({ port: f.clientPort, endpoints: [`127.0.0.1:${f.clientPort}`] });
    try {
      expect(await c.command("TRANSFER_LEADER", String(f.id))).toBe("OK");
      expect(c.endpoint).toBe(`127.0.0.1:${leader.clientPort}`);
    } finally {
      await c.close();
    }
    await waitFor("the transfer", () => f.status().role === "leader" ? true : undefined);
  },
  30_000,
);
