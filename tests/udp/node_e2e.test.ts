// End to end over UDP: a real node process (`bun mod.ts` / `deno run -A mod.ts`) started with
// `--transport udp`, the client library (`connect({ transport: "udp" })`) talking to it through
// `startLossyProxy` (5% loss each way, 10% of datagrams held back 3 ms so later ones overtake
// them). The plan's functional cases: 100 SETs → 100 OKs, one bad command fails alone, a
// 1000-command batch, and a stream of acknowledged writes that are all readable afterwards.
import { afterAll, describe, expect, test } from "bun:test";
import { type Client, connect, type Value } from "../../mod.ts";
import { type NodeProcess, type RuntimeName, startNodeProcess } from "../helpers/node_process.ts";
import { type LossyProxy, startLossyProxy } from "../../tools/lossy_proxy.ts";

const HOST = "127.0.0.1";
const text = (v: Value): string | null =>
  v === null ? null : v instanceof Uint8Array ? new TextDecoder().decode(v) : String(v);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const started = new Set<NodeProcess>();
afterAll(async () => {
  // Only the processes this file started, by their own handles.
  await Promise.all([...started].map((p) => p.kill9()));
});

/** Starts a single node with `--transport udp` (on ephemeral ports unless given). */
async function startUdpNode(
  runtime: RuntimeName,
  more: string[] = [],
): Promise<NodeProcess> {
  const p = await startNodeProcess(runtime, [
    "--transport",
    "udp",
    "--host",
    HOST,
    "--port",
    "0",
    "--raft-port",
    "0",
    "--log-level",
    "info",
    ...more,
  ], { timeoutMs: 20_000 });
  started.add(p);
  p.exited.then(() => started.delete(p));
  return p;
}

for (const runtime of ["bun", "deno"] as RuntimeName[]) {
  describe(`node on ${runtime} with --transport udp`, () => {
    test(
      "through a lossy proxy: batches, a failing command, 1000 commands, a write stream",
      async () => {
        const node = await startUdpNode(runtime);
        let proxy: LossyProxy | null = null;
        const clients: Client[] = [];
        try {
          // The start-up line names the transport, and node_process parsed the ports from it.
          expect(node.log()).toMatch(
            /listening: clients 127\.0\.0\.1:\d+, raft 127\.0\.0\.1:\d+ \(udp\)/,
          );
          expect(node.clientPort).toBeGreaterThan(0);
          expect(node.raftPort).toBeGreaterThan(0);
          // Nothing listens on TCP there: a TCP client cannot connect.
          await expect(
            connect({ host: HOST, port: node.clientPort, connectTimeoutMs: 500, maxRedirects: 0 }),
          ).rejects.toMatchObject({ codeName: "UNAVAILABLE" });

          proxy = await startLossyProxy({
            target: { host: HOST, port: node.clientPort },
            dropRate: 0.05,
            reorderRate: 0.1,
            reorderDelayMs: 3,
            seed: runtime === "bun" ? 11 : 12,
          });
          const c = await connect({ host: HOST, port: proxy.port, transport: "udp" });
          clients.push(c);
          const info = String(await c.command("INFO"));
          expect(info).toContain("transport:udp");

          // 1. A batch of 100 SETs → 100 OKs, readable back.
          const rs = await c.batch(
            Array.from({ length: 100 }, (_, i) => ["SET", `a${i}`, `v${i}`]),
          );
          expect(rs.length).toBe(100);
          expect(rs.filter((r) => r.ok && r.code === "OK" && r.value === "OK").length).toBe(100);
          const back = await c.batch(Array.from({ length: 100 }, (_, i) => ["GET", `a${i}`]));
          expect(back.map((r) => text(r.value))).toEqual(
            Array.from({ length: 100 }, (_, i) => `v${i}`),
          );

          // 2. One bad command fails alone with its own code; the rest is applied.
          const mixed = await c.batch([
            ["SET", "m1", "x"],
            ["INCR", "m2"],
            ["LPUSH", "m1", "y"], // m1 holds a string: WRONG_TYPE
            ["SET", "m3", "z"],
            ["INCR", "m2"],
          ]);
          expect(mixed.map((r) => r.code)).toEqual(["OK", "OK", "WRONG_TYPE", "OK", "OK"]);
          expect(mixed[2].ok).toBe(false);
          expect(mixed[2].error).toMatch(/WRONGTYPE/);
          expect(mixed[4].value).toBe(2);
          const after = await c.batch([["GET", "m1"], ["GET", "m2"], ["GET", "m3"]]);
          expect(after.map((r) => text(r.value))).toEqual(["x", "2", "z"]);

          // 3. A 1000-command batch (~130 KB: fragmented into ~100 datagrams, some of them lost).
          const big = Array.from(
            { length: 1000 },
            (_, i) => ["SET", `b${i}`, `${i}:`.padEnd(100, "x")],
          );
          const bigRs = await c.batch(big);
          expect(bigRs.length).toBe(1000);
          expect(bigRs.every((r) => r.ok && r.code === "OK")).toBe(true);
          const bigBack = await c.batch(big.map(([, k]) => ["GET", k]));
          expect(bigBack.every((r, i) => text(r.value) === big[i][2])).toBe(true);

          // 4. A stream of writes from three concurrent writers on two clients (one of them
          // auto-batching): every acknowledged write is readable afterwards, and INCRs were applied
          // exactly once per acknowledgement when no request was resent.
          const auto = await connect({
            host: HOST,
            port: proxy.port,
            transport: "udp",
            autoBatch: { maxBatch: 50, maxDelayMs: 0 },
          });
          clients.push(auto);
          const acked = new Map<string, string>();
          let incrAcked = 0;
          const failures: string[] = [];
          const writer = async (cl: Client, name: string, n: number) => {
            for (let i = 0; i < n; i++) {
              const k = `${name}:${i}`;
              try {
                if ((await cl.command("SET", k, `val-${k}`)) === "OK") acked.set(k, `val-${k}`);
                if (i % 10 === 0 && typeof (await cl.command("INCR", "counter")) === "number") {
                  incrAcked++;
                }
              } catch (err) {
                failures.push(`${k}: ${(err as Error).message}`);
              }
            }
          };
          const burst = async (n: number) => {
            // 50 concurrent command()s per round, gathered into COMMAND_BATCH frames.
            for (let r = 0; r < n; r++) {
              const keys = Array.from({ length: 50 }, (_, i) => `auto:${r}:${i}`);
              const out = await Promise.allSettled(keys.map((k) => auto.command("SET", k, k)));
              out.forEach((o, i) => {
                if (o.status === "fulfilled" && o.value === "OK") acked.set(keys[i], keys[i]);
                else failures.push(`${keys[i]}: ${o.status === "rejected" ? o.reason : o.value}`);
              });
            }
          };
          await Promise.all([writer(c, "w1", 150), writer(c, "w2", 150), burst(6)]);
          // Loss is absorbed by the transport: nothing should have failed.
          expect(failures).toEqual([]);
          expect(acked.size).toBe(600);
          const keys = [...acked.keys()];
          const reader = await connect({ host: HOST, port: proxy.port, transport: "udp" });
          clients.push(reader);
          const got = await reader.batch([...keys.map((k) => ["GET", k]), ["GET", "counter"]]);
          const missing = keys.filter((k, i) => text(got[i].value) !== acked.get(k));
          expect(missing).toEqual([]);
          const counter = Number(text(got[keys.length].value));
          const resent = c.stats().retries + c.stats().reconnects;
          if (resent === 0) expect(counter).toBe(incrAcked);
          else expect(counter).toBeGreaterThanOrEqual(incrAcked);

          // The proxy really dropped and reordered datagrams on the way.
          expect(proxy.stats.dropped).toBeGreaterThan(0);
          expect(proxy.stats.reordered).toBeGreaterThan(0);
        } finally {
          await Promise.all(clients.map((x) => x.close()));
          proxy?.close();
          const code = await node.stop();
          if (code !== 0) console.error(node.log());
          expect(code).toBe(0);
        }
      },
      45_000,
    );

    test("a client survives kill -9 and restart of its node on the same port", async () => {
      // The restarted listener resets the client's old connection (stateless reset: its default
      // key is derived from the address), so the client reconnects at once instead of talking
      // into the dead connection until the 30 s idle timeout.
      const first = await startUdpNode(runtime);
      const c = await connect({
        host: HOST,
        port: first.clientPort,
        transport: "udp",
        timeoutMs: 3000,
      });
      let second: NodeProcess | null = null;
      try {
        expect(await c.command("SET", "before", "1")).toBe("OK");
        await first.kill9();
        second = await startUdpNode(runtime, [
          "--port",
          String(first.clientPort),
          "--raft-port",
          String(first.raftPort),
        ]);
        const t0 = performance.now();
        let result: unknown = null;
        const errors: string[] = [];
        for (let i = 0; i < 5 && result !== "OK"; i++) {
          try {
            result = await c.command("SET", "after", "2");
          } catch (err) {
            errors.push((err as Error).message);
          }
        }
        expect({ result, errors }).toEqual({ result: "OK", errors: [] });
        expect(performance.now() - t0).toBeLessThan(3000); // one request's timeout; idle is 30 s
        expect(c.stats().reconnects).toBeGreaterThanOrEqual(1);
        // In memory only: the restarted node starts empty.
        expect(await c.command("GET", "before")).toBeNull();
      } finally {
        await c.close();
        expect(await (second ?? first).stop()).toBe(0);
      }
    }, 30_000);

    test(
      "after its node stops (SIGTERM), a client's next request fails at once: UNAVAILABLE",
      async () => {
        // The stopping node's CLOSE reaches the client before the process exits, and the
        // reconnect's HELLO draws ICMP port unreachable, which fails the handshake at once, as a
        // refused TCP connect does (before: TIMEOUT after the client's whole timeout).
        const node = await startUdpNode(runtime);
        const c = await connect({
          host: HOST,
          port: node.clientPort,
          transport: "udp",
          timeoutMs: 4000,
          maxRedirects: 1,
        });
        try {
          expect(await c.command("SET", "k", "v")).toBe("OK");
          expect(await node.stop()).toBe(0);
          await sleep(100);
          const t0 = performance.now();
          const err = await c.command("GET", "k").then(() => null, (e) => e);
          expect(err?.codeName).toBe("UNAVAILABLE");
          expect(performance.now() - t0).toBeLessThan(2000); // the request timeout is 4 s
        } finally {
          await c.close();
        }
      },
      30_000,
    );
  });
}
