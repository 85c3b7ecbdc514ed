/**
 * Back-pressure end to end: clients that flood a real node process (with the coalesce plugin) with
 * far more batches than it may queue get "server busy" answers for the excess, every batch gets an
 * answer, and the process's memory does not grow from one flood to the next.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { Code } from "../../protocol/codes.ts";
import { type NodeProcess, startNodeProcess } from "../helpers/node_process.ts";
import { RawClient } from "../helpers/raw_client.ts";

let node: NodeProcess;

beforeAll(async () => {
  node = await startNodeProcess("bun", [
    "--port",
    "0",
    "--raft-port",
    "0",
    "--plugins",
    "coalesce",
    "--max-pending-batches",
    "64",
    "--coalesce-max-queue-bytes",
    "65536",
  ]);
});
afterAll(async () => {
  await node?.stop();
});

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}

/** 8 connections each send `perConn` batches without waiting; resolves with the codes seen. */
async function flood(round: number, perConn: number) {
  const clients = await Promise.all(
    Array.from({ length: 8 }, () => RawClient.connect(node.clientPort)),
  );
  const commands = Array.from({ length: 50 }, (_, i) => ["SET", `flood:${i}`, "x".repeat(32)]);
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(node.proc.pid!))), 20);
  try {
    clients.forEach((c, ci) => {
      for (let i = 0; i < perConn; i++) {
        c.send({ type: 3, batch_id: `r${round}c${ci}b${i}`, commands });
      }
    });
    await Promise.all(clients.map((c) => c.until(() => c.messages.length >= perConn, 60_000)));
  } finally {
    clearInterval(sampler);
    for (const c of clients) c.close();
  }
  // Every batch is answered as a whole: applied (OK), refused (BUSY), or — under this overload a
  // batch can wait past raft_submit_timeout_ms — TIMEOUT (outcome unknown). Nothing else.
  let ok = 0, busy = 0, timeout = 0, other = 0;
  for (const c of clients) {
    for (const m of c.messages) {
      const codes = m.codes as number[];
      if (codes.every((x) => x === Code.OK)) ok++;
      else if (codes.every((x) => x === Code.BUSY)) {
        busy++;
        expect((m.errors as string[])[0]).toMatch(/server busy/);
      } else if (codes.every((x) => x === Code.TIMEOUT)) timeout++;
      else other++;
    }
  }
  return { ok, busy, timeout, other, peak };
}

test("a flood gets BUSY for the excess, an answer for every batch, and flat memory", async () => {
  const rounds = [];
  for (let r = 0; r < 3; r++) rounds.push(await flood(r, 1500));
  for (const r of rounds) {
    expect(r.ok + r.busy + r.timeout).toBe(8 * 1500);
    expect(r.other).toBe(0);
    expect(r.busy).toBeGreaterThan(0);
    expect(r.ok).toBeGreaterThan(0);
  }
  // Memory: bounded queues mean a later flood needs no more than the first (allow GC slack).
  const [first, , last] = rounds.map((r) => r.peak);
  expect(last).toBeLessThan(first * 1.5 + 64 * 1024 * 1024);
  expect(last).toBeLessThan(1024 * 1024 * 1024);
  // The node still serves normally afterwards.
  const c = await RawClient.connect(node.clientPort);
  const r = await c.batch([["GET", "flood:0"]]);
  expect(r.codes).toEqual([Code.OK]);
  c.close();
}, 120_000);
