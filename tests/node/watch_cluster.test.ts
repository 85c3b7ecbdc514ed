/**
 * WATCH on an in-process 3-node cluster (#13 item 4): a follower serves a watch with the same
 * events as the leader; a watch resumes across a leader change (the node it was on stops) and
 * across a lost connection — including one lost in the middle of a revision split over several
 * messages — with its events equal to a fresh watch's, gap-free and without duplicates.
 */
import { afterAll, expect, test } from "bun:test";
import type { TinyKVNode } from "../../core/node/types.ts";
import { connect } from "../../client/client.ts";
import type { WatchEvent } from "../../client/watch.ts";
import { createIdempotencyPlugin } from "../../plugins/idempotency/mod.ts";
import { MsgType } from "../../protocol/messages.ts";
import { createTcpTransport } from "../../transports/tcp/mod.ts";
import type { Connection, Transport } from "../../transports/types.ts";
import { decodeCbor } from "../../protocol/cbor.ts";
import { startTestCluster } from "../helpers/in_process.ts";
import { waitFor } from "../helpers/net.ts";
import { take } from "../helpers/watch.ts";

const nodes: TinyKVNode[] = [];
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop().catch(() => {})));
});

async function cluster(): Promise<TinyKVNode[]> {
  const out = await startTestCluster(3, () => [createIdempotencyPlugin()]);
  nodes.push(...out);
  return out;
}

const addr = (n: TinyKVNode) => `127.0.0.1:${n.clientPort}`;
const dec = new TextDecoder();
const brief = (e: WatchEvent) =>
  `${e.type} ${dec.decode(e.key)}=${
    e.value && dec.decode(e.value)
  } @${e.rev} c${e.createRev} m${e.modRev} v${e.version}`;

/** Revision order, and no event twice. */
function checkStream(events: WatchEvent[]): void {
  const seen = new Set<string>();
  let last = 0;
  for (const e of events) {
    expect(e.rev).toBeGreaterThanOrEqual(last);
    last = e.rev;
    const id = `${e.rev}/${dec.decode(e.key)}`;
    expect(seen.has(id)).toBe(false);
    seen.add(id);
  }
}

let all: TinyKVNode[] = [];
const stopped = new Set<TinyKVNode>();

test("a follower serves a watch: the same events as on the leader", async () => {
  all = await cluster();
  const leader = all.find((n) => n.status().role === "leader")!;
  const follower = all.find((n) => n !== leader)!;
  const writer = await connect({ endpoints: all.map(addr) });
  const onFollower = await connect({ endpoints: [addr(follower)] });
  const onLeader = await connect({ endpoints: [addr(leader)] });
  const wf = onFollower.watch({ prefix: "f:" });
  const wl = onLeader.watch({ prefix: "f:" });
  await wf.ready;
  await wl.ready;
  for (let i = 0; i < 50; i++) {
    await writer.batch([["SET", `f:${i % 7}`, `${i}`], ["DEL", `f:${(i + 3) % 7}`]]);
  }
  const a = await take(wf, 50);
  const b = await take(wl, 50);
  expect(a.map(brief)).toEqual(b.map(brief));
  checkStream(a);
  for (const c of [writer, onFollower, onLeader]) await c.close();
});

test("a watch on a node cut off from the cluster moves to a node with a leader", async () => {
  const leader = all.find((n) => n.status().role === "leader")!;
  const [cut, other] = all.filter((n) => n !== leader);
  const watcher = await connect({ endpoints: [addr(cut), addr(other), addr(leader)] });
  const writer = await connect({ endpoints: [addr(leader)] });
  const w = watcher.watch({ prefix: "cut:" });
  const from = await w.ready;
  await writer.command("SET", "cut:before", "1");
  cut.partition([leader.id, other.id]); // its history stops: NO_LEADER after 2 election timeouts
  for (let i = 0; i < 20; i++) await writer.command("SET", `cut:${i}`, `${i}`);
  const got = await take(w, 21);
  checkStream(got);
  expect(got.map((e) => dec.decode(e.key))).toEqual([
    "cut:before",
    ...Array.from({ length: 20 }, (_, i) => `cut:${i}`),
  ]);
  cut.partition([]);
  const check = await connect({ endpoints: [addr(leader)] });
  const fresh = await take(check.watch({ prefix: "cut:", fromRev: from + 1 }), 21);
  expect(got.map(brief)).toEqual(fresh.map(brief));
  await waitFor(
    "the cut node to catch up",
    () => cut.status().applied >= leader.status().applied ? true : undefined,
  );
  for (const c of [watcher, writer, check]) await c.close();
}, 30_000);

test("a watch resumes across a leader change (its node stops): equal, gap-free", async () => {
  const leader = all.find((n) => n.status().role === "leader")!;
  const others = all.filter((n) => n !== leader);
  const from = 1; // the whole history
  // The watcher starts on the leader (first endpoint); the writer uses every endpoint.
  const watcher = await connect({ endpoints: [addr(leader), ...others.map(addr)] });
  const writer = await connect({ endpoints: all.map(addr), attemptTimeoutMs: 300 });
  const w = watcher.watch({ prefix: "lc:", fromRev: from });
  await w.ready;
  const total = 60;
  const written: string[] = [];
  const collecting = take(w, total, 25_000);
  for (let i = 0; i < total; i++) {
    if (i === 25) {
      await leader.stop(); // the watch's node goes: SHUTDOWN, then resumed elsewhere
      stopped.add(leader);
    }
    for (;;) {
      try {
        await writer.command("SET", `lc:${i}`, `v${i}`);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    written.push(`lc:${i}`);
  }
  const got = await collecting;
  checkStream(got);
  // Every write seen (retries may write a key twice at two revisions: dedupe by key).
  expect(new Set(got.map((e) => dec.decode(e.key)))).toEqual(new Set(written));
  // Equal to a fresh watch from the same revision on a surviving node.
  const check = await connect({ endpoints: [addr(others[1])] });
  const fresh = await take(check.watch({ prefix: "lc:", fromRev: from }), got.length);
  expect(got.map(brief)).toEqual(fresh.map(brief));
  for (const c of [watcher, writer, check]) await c.close();
}, 40_000);

test("a watch resumes after its connection drops, even in the middle of a revision", async () => {
  const live = all.filter((n) => !stopped.has(n));
  const up = await waitFor("a leader", () => live.find((n) => n.status().role === "leader"));
  const tcp = await createTcpTransport();
  // Drops the watch connection right after its 2nd WATCH_EVENTS message (a revision of 2500
  // events comes in three messages of at most 1000), then again after a later one.
  const dropAfter = [2, 6];
  let watchMessages = 0;
  const opened: Connection[] = [];
  const flaky: Transport = {
    name: "tcp",
    listen: (o, a) => tcp.listen(o, a),
    connect: async (o, h) => {
      const c = await tcp.connect(o, {
        onMessage: (conn, m) => {
          h.onMessage(conn, m);
          const msg = decodeCbor(m) as Record<string, unknown>;
          if (msg.type === MsgType.WATCH_EVENTS && ++watchMessages === dropAfter[0]) {
            dropAfter.shift();
            conn.close();
          }
        },
        onError: h.onError,
        onClose: h.onClose,
      });
      opened.push(c);
      return c;
    },
  };
  const endpoints = [addr(up)];
  const writer = await connect({ endpoints });
  const watcher = await connect({ endpoints, transport: flaky });
  const w = watcher.watch({ prefix: "big:" });
  const start = await w.ready;
  await writer.batch(Array.from({ length: 2500 }, (_, i) => ["SET", `big:${i}`, `${i}`]));
  for (let i = 0; i < 20; i++) await writer.command("SET", `big:x${i}`, "y");
  const got = await take(w, 2520);
  expect(opened.length).toBeGreaterThanOrEqual(3); // it did reconnect (twice)
  checkStream(got);
  const check = await connect({ endpoints });
  const fresh = await take(check.watch({ prefix: "big:", fromRev: start + 1 }), 2520);
  expect(got.map(brief)).toEqual(fresh.map(brief));
  for (const c of [writer, watcher, check]) await c.close();
}, 30_000);
