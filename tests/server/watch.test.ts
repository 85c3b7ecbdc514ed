/**
 * WATCH on one in-process node (#13 item 4): the client's `watch()` iterator (key, prefix, range;
 * catch-up from a revision then live), the compaction error naming the oldest revision, FLUSHALL,
 * the protocol's validation and limits (raw client), and a deliberately slow watcher under
 * thousands of events per second: cancelled with reason SLOW while the server's buffer for it
 * stays bounded.
 */
import { afterAll, expect, test } from "bun:test";
import { connect, WatchError } from "../../client/client.ts";
import { type ClientWatcher, WATCH_QUEUE_HIGH_BYTES, type WatchEvent } from "../../client/watch.ts";
import type { TinyKVNode } from "../../core/node/types.ts";
import { MsgType, WatchReason } from "../../protocol/messages.ts";
import { startTestNode } from "../helpers/in_process.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { take } from "../helpers/watch.ts";

const nodes: TinyKVNode[] = [];
const raws: RawClient[] = [];
afterAll(async () => {
  for (const r of raws) r.close();
  await Promise.all(nodes.map((n) => n.stop().catch(() => {})));
});

async function node(o: Parameters<typeof startTestNode>[0] = {}): Promise<TinyKVNode> {
  const n = await startTestNode(o);
  nodes.push(n);
  return n;
}

async function raw(n: TinyKVNode): Promise<RawClient> {
  const r = await RawClient.connect(n.clientPort);
  raws.push(r);
  return r;
}

const dec = new TextDecoder();
const brief = (e: WatchEvent) => [e.type, dec.decode(e.key), e.value && dec.decode(e.value), e.rev];

test("key, prefix and range watches: live events, then catch-up from a revision", async () => {
  const n = await node();
  const c = await connect({ port: n.clientPort });
  const key = c.watch({ key: "user:1" });
  const prefix = c.watch({ prefix: "user:" });
  const range = c.watch({ start: "b", end: "d" });
  const now = await prefix.ready;
  await key.ready;
  await range.ready;
  await c.command("SET", "user:1", "ann");
  await c.command("SET", "user:2", "bob");
  await c.batch([["SET", "c", "in-range"], ["SET", "d", "out"], ["DEL", "user:1"]]);
  await c.command("HSET", "user:3", "f", "v");
  const p = await take(prefix, 4);
  expect(p.map(brief)).toEqual([
    ["put", "user:1", "ann", now + 1],
    ["put", "user:2", "bob", now + 2],
    ["delete", "user:1", null, now + 3],
    ["put", "user:3", null, now + 4],
  ]);
  expect(p[0].createRev).toBe(now + 1);
  expect(p[0].version).toBe(1);
  expect(p[2].modRev).toBe(now + 3);
  expect((await take(key, 2)).map(brief)).toEqual([
    ["put", "user:1", "ann", now + 1],
    ["delete", "user:1", null, now + 3],
  ]);
  expect((await take(range, 1)).map(brief)).toEqual([["put", "c", "in-range", now + 3]]);
  // From a past revision: the same events again, then live ones.
  const again = c.watch({ prefix: "user:", fromRev: now + 2 });
  await c.command("SET", "user:9", "zed");
  expect((await take(again, 4)).map(brief)).toEqual([
    ["put", "user:2", "bob", now + 2],
    ["delete", "user:1", null, now + 3],
    ["put", "user:3", null, now + 4],
    ["put", "user:9", "zed", now + 5],
  ]);
  expect(again.rev).toBeGreaterThanOrEqual(now + 5);
  // Binary keys and prefixes.
  const bin = c.watch({ prefix: new Uint8Array([0xff, 0x00]) });
  await bin.ready;
  await c.command("SET", new Uint8Array([0xff, 0x00, 0x80]), new Uint8Array([1, 2]));
  await c.command("SET", new Uint8Array([0xff, 0x01]), "no");
  const [b] = await take(bin, 1);
  expect([...b.key]).toEqual([0xff, 0x00, 0x80]);
  expect([...b.value!]).toEqual([1, 2]);
  for (const w of [key, prefix, range, again, bin]) w.cancel();
  await c.close();
});

test("many key watches: each gets its key's events only; quiet ones still advance", async () => {
  const n = await node();
  const c = await connect({ port: n.clientPort });
  const ws = Array.from({ length: 40 }, (_, i) => c.watch({ key: `k${i}` }));
  await Promise.all(ws.map((w) => w.ready));
  for (let r = 0; r < 3; r++) {
    await c.batch(Array.from({ length: 20 }, (_, i) => ["SET", `k${i}`, `${r}`]));
  }
  const last = (await c.command("GETREV", "k0") as unknown[])[2] as number;
  for (let i = 0; i < 20; i++) {
    expect((await take(ws[i], 3)).map((e) => dec.decode(e.value!))).toEqual(["0", "1", "2"]);
  }
  await c.command("SET", "k30", "late");
  const [late] = await take(ws[30], 1);
  expect(dec.decode(late.value!)).toBe("late");
  // A watch whose key stayed quiet is told how far it is complete (progress notice).
  const end = Date.now() + 5000;
  while (ws[25].rev < last && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  expect(ws[25].rev).toBeGreaterThanOrEqual(last);
  for (const w of ws) w.cancel();
  await c.close();
});

test("a watch from a compacted revision fails naming the oldest revision available", async () => {
  const n = await node({ watch_history_revisions: 20 });
  const c = await connect({ port: n.clientPort });
  for (let i = 0; i < 40; i++) await c.command("SET", `k${i}`, "v");
  const w = c.watch({ prefix: "k", fromRev: 1 });
  const err = await take(w, 1).catch((e) => e);
  expect(err).toBeInstanceOf(WatchError);
  expect(err.reason).toBe("compacted");
  expect(err.compactRev).toBeGreaterThan(20);
  expect(err.message).toContain(`oldest revision available on this node is ${err.compactRev}`);
  // From the oldest one it works.
  const ok = c.watch({ prefix: "k", fromRev: err.compactRev });
  const got = await take(ok, 1);
  expect(got[0].rev).toBeGreaterThanOrEqual(err.compactRev);
  ok.cancel();
  await c.close();
});

test("FLUSHALL ends a watch with reason flushed and the flush's revision", async () => {
  const n = await node();
  const c = await connect({ port: n.clientPort });
  const w = c.watch({ prefix: "" });
  await w.ready;
  await c.command("SET", "a", "1");
  await c.command("FLUSHALL");
  const it = w[Symbol.asyncIterator]();
  expect(brief((await it.next()).value)).toEqual(["put", "a", "1", expect.any(Number)]);
  const err = await it.next().catch((e) => e);
  expect(err).toBeInstanceOf(WatchError);
  expect(err.reason).toBe("flushed");
  expect(err.message).toContain(`flushed at revision ${err.rev}`);
  await c.close();
});

test("WATCH is validated: ids, selectors, from_rev, limits, auth", async () => {
  const n = await node({ watch_max_per_connection: 2, password: "pw" });
  const r = await raw(n);
  const canceled = (id: number) =>
    r.messages.find((m) => m.type === MsgType.WATCH_CANCELED && m.watch_id === id);
  r.send({ type: MsgType.WATCH, watch_id: 1, prefix: "a" });
  await r.until(() => canceled(1) !== undefined);
  expect(canceled(1)!.reason).toBe(WatchReason.DENIED);
  r.send({ type: MsgType.AUTH, password: "pw" });
  const bad: [number, Record<string, unknown>, string][] = [
    [2, { prefix: "a", key: "b" }, "exactly one of key, prefix or start"],
    [3, { end: "b" }, "exactly one"],
    [4, { key: "a", end: "b" }, "end goes with start"],
    [5, { start: "b", end: "a" }, "end must be after start"],
    [6, { key: 7 }, "string or byte string"],
    [7, { key: "a", from_rev: -1 }, "from_rev"],
    [8, { key: new Uint8Array(70_000) }, "at most"],
  ];
  for (const [id, m] of bad) r.send({ type: MsgType.WATCH, watch_id: id, ...m });
  r.send({ type: MsgType.WATCH, watch_id: 2 ** 40, key: "a" });
  await r.until(() => bad.every(([id]) => canceled(id) !== undefined) && canceled(0) !== undefined);
  for (const [id, , text] of bad) {
    expect(canceled(id)!.reason).toBe(WatchReason.INVALID);
    expect(canceled(id)!.error).toContain(text);
  }
  expect(canceled(0)!.error).toContain("watch_id");
  // Two allowed on this connection; the third is refused; a duplicate id is refused.
  r.send({ type: MsgType.WATCH, watch_id: 10, key: "a" });
  r.send({ type: MsgType.WATCH, watch_id: 10, key: "a" });
  r.send({ type: MsgType.WATCH, watch_id: 11, key: "a" });
  r.send({ type: MsgType.WATCH, watch_id: 12, key: "a" });
  await r.until(() => canceled(10) !== undefined && canceled(12) !== undefined);
  expect(canceled(10)!.error).toContain("already in use");
  expect(canceled(12)!.reason).toBe(WatchReason.TOO_MANY);
  expect(canceled(12)!.error).toContain("watch_max_per_connection = 2");
  // Cancel: answered with CANCELED; the slot is free again.
  r.send({ type: MsgType.WATCH_CANCEL, watch_id: 11 });
  await r.until(() => canceled(11) !== undefined);
  expect(canceled(11)!.reason).toBe(WatchReason.CANCELED);
  r.send({ type: MsgType.WATCH, watch_id: 13, key: "a" });
  await r.until(() =>
    r.messages.some((m) => m.type === MsgType.WATCH_EVENTS && m.watch_id === 13 && m.created)
  );
  expect(canceled(13)).toBeUndefined();
  expect(r.closed).toBe(false); // refusals never close the connection
});

test(
  "a slow watcher under thousands of events per second is cancelled (SLOW), memory bounded",
  async () => {
    const limit = 256 * 1024;
    const n = await node({ watch_max_pending_bytes: limit, socket_buffer_bytes: 64 * 1024 });
    const slow = await raw(n);
    let received = 0;
    slow.socket.on("data", (d: Buffer) => received += d.length);
    slow.send({ type: MsgType.WATCH, watch_id: 1, prefix: "k" });
    await slow.until(() => slow.messages.some((m) => m.created === true));
    slow.socket.pause(); // never reads again (until the end)
    const fast = await connect({ port: n.clientPort });
    const keeper = fast.watch({ prefix: "k" }); // a fast watcher on the same node keeps up
    await keeper.ready;
    const value = "v".repeat(4096);
    const batches = 150; // 15 000 events, ~60 MB of values
    const t0 = performance.now();
    let kept = 0;
    const reading = (async () => {
      for await (const _ of keeper) if (++kept === batches * 100) break;
    })();
    for (let b = 0; b < batches; b++) {
      await fast.batch(Array.from({ length: 100 }, (_, i) => ["SET", `k${i}`, value]));
    }
    await reading;
    const rate = (batches * 100) / ((performance.now() - t0) / 1000);
    expect(rate).toBeGreaterThan(1000);
    slow.socket.resume();
    await slow.until(() => slow.messages.some((m) => m.type === MsgType.WATCH_CANCELED));
    const c = slow.messages.find((m) => m.type === MsgType.WATCH_CANCELED)!;
    expect(c.reason).toBe(WatchReason.SLOW);
    expect(c.error).toContain("watcher too slow");
    expect(c.error).toContain(`watch_max_pending_bytes = ${limit}`);
    // What was queued for it is bounded: the limit, one turn of messages, and the OS buffers —
    // far less than the ~60 MB its prefix produced.
    await new Promise((r) => setTimeout(r, 200));
    expect(received).toBeLessThan(limit + 4 * 256 * 1024 + 16 * 1024 * 1024);
    expect(received).toBeLessThan(batches * 100 * 4096 / 2);
    // The connection stays usable.
    const r = await slow.batch([["GET", "k1"]]);
    expect(r.codes).toEqual([0]);
    await fast.close();
  },
  60_000,
);

test(
  "the client library: a slow consumer is stopped at a bounded queue, then cancelled SLOW",
  async () => {
    const n = await node({ watch_max_pending_bytes: 256 * 1024 });
    const c = await connect({ port: n.clientPort });
    const w = c.watch({ prefix: "k" }) as ClientWatcher;
    await w.ready;
    let writing = true;
    let maxQueued = 0;
    let got = 0;
    const consuming = (async () => {
      try {
        for await (const _ of w) {
          got++;
          maxQueued = Math.max(maxQueued, w.pendingBytes);
          if (writing) await new Promise((r) => setTimeout(r, 5)); // slow while the load runs
        }
        return null;
      } catch (err) {
        return err as WatchError;
      }
    })();
    const value = "v".repeat(4096);
    for (let b = 0; b < 150 && writing; b++) {
      await c.batch(Array.from({ length: 100 }, (_, i) => ["SET", `k${i}`, value]));
    }
    writing = false;
    const err = await consuming;
    expect(err).toBeInstanceOf(WatchError);
    expect(err!.reason).toBe("slow");
    expect(err!.message).toContain("watch_max_pending_bytes = 262144");
    expect(got).toBeLessThan(15_000);
    // The client's queue stayed bounded: its pause level plus one message.
    expect(maxQueued).toBeLessThan(WATCH_QUEUE_HIGH_BYTES + 1024 * 1024);
    await c.close();
  },
  60_000,
);
