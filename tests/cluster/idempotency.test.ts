// Idempotency across failover, with real processes: 3 nodes with `--plugins wal,idempotency`. A
// client sends one COMMAND_BATCH of INCRs with a fixed (client_id, batch_id) to the leader, the
// leader is killed with SIGKILL while the batch is in flight, and the client resends the same batch
// to whichever node leads next until it succeeds. Every counter must end up incremented exactly
// once, on every node. Four ways of being "in flight" at the kill:
//   - proposed, not committed: both followers are frozen (SIGSTOP) while the leader receives the
//     batch and sends its AppendEntries, then the leader is killed and the followers resumed. The
//     new leader commits the original entry from its log, and the resend either finds it in the
//     cache (onBatch) or is proposed again and skipped when applied (beforeApply);
//   - applied everywhere, answer lost: the leader answered (the answer is ignored) and both
//     followers applied it before the kill; the resend must be answered from the replicated cache
//     with exactly the first answer;
//   - unknown: the kill comes 0–4 ms after the frame was sent;
//   - the same with the client library (fixed `clientId`, `batch(..., { batchId })`), which
//     resends by itself after the lost connection; the test repeats the call until all slots are OK.
// (The wal plugin makes restarting the killed node safe; an in-memory node that restarts empty
// could vote against an entry it had acknowledged.)
import { afterAll, expect, test } from "bun:test";
import { encodeCbor } from "../../protocol/cbor.ts";
import { Code, codeName } from "../../mod.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { HOST, ProcessCluster, sleep, text } from "./harness.ts";
import { connectAll } from "./workload.ts";

const clusters: ProcessCluster[] = [];
afterAll(async () => {
  await Promise.all(clusters.map((c) => c.close()));
});

const CLIENT_ID = "idem-test-client";
const LIB_CLIENT_ID = "idem-test-library-client";
const COUNTERS = 40;
const BASE = 100;

type Response = { codes: number[]; data: unknown[]; errors: unknown[] };

/** Sends one COMMAND_BATCH; resolves to its response, or null if the connection closed first. */
async function sendBatch(
  rc: RawClient,
  clientId: string,
  batchId: string,
  commands: string[][],
  timeoutMs: number,
): Promise<Response | null> {
  rc.send({
    type: 3,
    batch_id: batchId,
    client_id: clientId,
    commands_cbor: encodeCbor(commands).slice(),
  });
  const find = () => rc.messages.find((m) => m.batch_id === batchId);
  try {
    await rc.until(() => find() !== undefined || rc.closed, timeoutMs);
  } catch {
    return null; // no answer in time: outcome unknown
  }
  const m = find();
  return m ? (m as unknown as Response) : null;
}

/**
 * Resends the batch to the current leader until it is answered with anything but a "try again"
 * code (NOT_LEADER, UNAVAILABLE, TIMEOUT, SHUTTING_DOWN, BUSY) or a lost connection; bounded.
 */
async function resendUntilAnswered(
  cluster: ProcessCluster,
  clientId: string,
  batchId: string,
  commands: string[][],
): Promise<{ response: Response; attempts: number }> {
  const retry = new Set<number>([
    Code.NOT_LEADER,
    Code.UNAVAILABLE,
    Code.TIMEOUT,
    Code.SHUTTING_DOWN,
    Code.BUSY,
  ]);
  const deadline = Date.now() + 20_000;
  for (let attempts = 1; Date.now() < deadline; attempts++) {
    const leader = await cluster.waitLeader(Math.max(1, deadline - Date.now()));
    let rc: RawClient | null = null;
    try {
      rc = await RawClient.connect(cluster.node(leader).port, HOST);
      const r = await sendBatch(rc, clientId, batchId, commands, 3000);
      if (r && !(r.codes.length > 0 && r.codes.every((c) => retry.has(c)))) {
        return { response: r, attempts };
      }
    } catch { /* connection refused: the node just died; look again */ }
    rc?.close();
    await sleep(50);
  }
  throw new Error(`batch ${batchId} was not answered within 20 s\n${cluster.logTails()}`);
}

test(
  "a batch in flight when the leader is killed is applied exactly once after resends",
  async () => {
    const cluster = await ProcessCluster.start({
      runtimes: ["deno", "bun", "deno"],
      plugins: "wal,idempotency",
      name: "tkv-idem",
    });
    clusters.push(cluster);
    try {
      await cluster.waitLeader();
      const scenarios = [
        "followers frozen",
        "answer lost",
        "kill after 0-4 ms",
        "library client, kill after 0-4 ms",
      ] as const;
      const allCounters: string[] = [];
      const report: string[] = [];
      for (const scenario of scenarios) {
        const counters = Array.from({ length: COUNTERS }, (_, i) => `idem:${scenario}:${i}`);
        allCounters.push(...counters);
        // Known starting values, acknowledged before the round.
        const setup = await connectAll(cluster.endpoints());
        const rs = await setup.batch(counters.map((k) => ["SET", k, String(BASE)]));
        await setup.close();
        expect(rs.every((r) => r.ok)).toBe(true);

        const batchId = `idem-batch-${scenarios.indexOf(scenario)}`;
        const commands = counters.map((k) => ["INCR", k]);
        const leader = await cluster.waitLeader();
        const followers = cluster.liveIds().filter((id) => id !== leader);
        await cluster.waitConverged();
        const rc = await RawClient.connect(cluster.node(leader).port, HOST);
        const clientId = scenario.startsWith("library") ? LIB_CLIENT_ID : CLIENT_ID;
        let first: Response | null = null;
        let response: Response | null = null;
        let attempts = 0;
        if (scenario === "followers frozen") {
          const before = Number((await cluster.info(leader))!.last_index);
          for (const f of followers) cluster.freeze(f, true);
          try {
            // It cannot commit with both followers asleep. Once the leader's log holds the entry,
            // it has also written the AppendEntries to the followers' sockets (same Ready).
            void sendBatch(rc, clientId, batchId, commands, 5000);
            const deadline = Date.now() + 5000;
            while (Number((await cluster.info(leader))?.last_index ?? 0) <= before) {
              if (Date.now() > deadline) throw new Error("the leader never appended the batch");
              await sleep(5);
            }
          } finally {
            await cluster.kill9(leader);
            for (const f of followers) cluster.freeze(f, false);
          }
          // Precondition of the scenario: a follower received the uncommitted entry.
          const deadline = Date.now() + 5000;
          let got = 0;
          while (got <= before && Date.now() < deadline) {
            const infos = await Promise.all(followers.map((f) => cluster.info(f)));
            got = Math.max(...infos.map((i) => Number(i?.last_index ?? 0)));
            await sleep(10);
          }
          expect(got).toBeGreaterThan(before);
        } else if (scenario === "answer lost") {
          first = await sendBatch(rc, clientId, batchId, commands, 5000);
          expect(first?.codes.every((c) => c === Code.OK)).toBe(true);
          await cluster.waitConverged(10_000, cluster.liveIds());
          await cluster.kill9(leader);
        } else if (scenario === "kill after 0-4 ms") {
          const delay = Math.floor(Math.random() * 5);
          void sendBatch(rc, clientId, batchId, commands, 1000);
          if (delay > 0) await sleep(delay);
          await cluster.kill9(leader);
        } else {
          // The client library with a fixed client id and batch id, talking to the leader; it
          // resends by itself after the lost connection, and the test resends the same batch id
          // until every slot is OK.
          const others = cluster.endpoints().filter((_, i) => i + 1 !== leader);
          const lib = await connectAll([`${HOST}:${cluster.node(leader).port}`, ...others], {
            clientId,
          });
          try {
            const send = () => lib.batch(commands, { batchId }).catch((e: Error) => e);
            const inFlight = send();
            await sleep(Math.floor(Math.random() * 5));
            await cluster.kill9(leader);
            const deadline = Date.now() + 20_000;
            let r = await inFlight;
            for (attempts = 1; Date.now() < deadline; attempts++) {
              if (Array.isArray(r) && r.every((x) => x.ok)) {
                response = {
                  codes: r.map((x) => Code[x.code]),
                  data: r.map((x) => x.value),
                  errors: r.map((x) => x.error),
                };
                break;
              }
              await sleep(50);
              r = await send();
            }
          } finally {
            await lib.close();
          }
          expect(response).not.toBeNull();
        }
        rc.close();
        if (!response) {
          ({ response, attempts } = await resendUntilAnswered(
            cluster,
            clientId,
            batchId,
            commands,
          ));
        }
        report.push(`${scenario}: killed ${leader}, answered after ${attempts} attempt(s)`);
        // The answer is that of a single application: every INCR returned BASE + 1.
        expect(response.codes.map(codeName)).toEqual(commands.map(() => "OK"));
        expect(response.data).toEqual(commands.map(() => BASE + 1));
        if (first) expect(response).toMatchObject({ codes: first.codes, data: first.data });
        // Resending once more (now to a settled leader) is answered from the cache, applied nowhere.
        const again = await resendUntilAnswered(cluster, clientId, batchId, commands);
        expect(again.response.data).toEqual(response.data);
        await cluster.startNode(leader);
      }
      console.log(`idempotency: ${report.join("; ")}`);
      // Every node, through its own state machine: each counter incremented exactly once.
      await cluster.waitConverged();
      for (const n of cluster.nodes) {
        const got = await cluster.readFrom(n.id, allCounters);
        const wrong = allCounters.filter((k) => text(got.get(k) ?? null) !== String(BASE + 1))
          .map((k) => `${k}=${text(got.get(k) ?? null)}`);
        expect({ node: n.id, wrong }).toEqual({ node: n.id, wrong: [] });
      }
      expect(cluster.errorLines()).toEqual([]);
    } finally {
      await cluster.close();
    }
  },
  90_000,
);
