/**
 * The client against the real protocol front end (`core/server/client_server.ts`, the one every node runs) with a
 * small in-memory backend: auth, COMMAND, COMMAND_BATCH via commands_cbor, whole-batch refusals
 * with a leader address, and client-id based deduplication of resends.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { decodeCbor } from "../../protocol/cbor.ts";
import { Code, type CodeNumber } from "../../protocol/codes.ts";
import { createLogger } from "../../core/config/logger.ts";
import type { ClientBatch, NodeStats } from "../../core/plugin/plugin.ts";
import { ClientServer, type Outcome, type ServerBackend } from "../../core/server/client_server.ts";
import type { Value } from "../../core/state/types.ts";
import { type Client, connect } from "../../client/client.ts";
import { createTransport } from "../../transports/mod.ts";

const dec = new TextDecoder();
const enc = new TextEncoder();

/** A backend that applies SET/GET/INCR at once, or refuses everything with `refuse`. */
class MiniBackend implements ServerBackend {
  readonly counters: NodeStats = {
    bytesIn: 0,
    bytesOut: 0,
    connections: 0,
    batchesReceived: 0,
    commandsReceived: 0,
    proposals: 0,
    pendingBatches: 0,
    busyRejections: 0,
    proposalTimeouts: 0,
  };
  readonly store = new Map<string, Uint8Array>();
  readonly seen: { clientId: string; batchId: string }[] = [];
  refuse: { code: CodeNumber; message: string; leader?: string } | null = null;

  submit(batch: ClientBatch, done: (o: Outcome) => void): void {
    this.seen.push({ clientId: batch.clientId, batchId: batch.batchId });
    if (this.refuse) {
      done(this.refuse);
      return;
    }
    const cmds = decodeCbor(batch.commands) as (string | Uint8Array)[][];
    const codes: number[] = [];
    const data: Value[] = [];
    const errors: (string | null)[] = [];
    for (const raw of cmds) {
      const argv = raw.map((a) => typeof a === "string" ? a : dec.decode(a));
      const name = argv[0].toUpperCase();
      if (name === "SET") {
        this.store.set(argv[1], enc.encode(argv[2]));
        codes.push(Code.OK), data.push("OK"), errors.push(null);
      } else if (name === "GET") {
        const v = this.store.get(argv[1]) ?? null;
        codes.push(v ? Code.OK : Code.NOT_FOUND), data.push(v), errors.push(null);
      } else if (name === "INCR") {
        const n = Number(dec.decode(this.store.get(argv[1]) ?? enc.encode("0"))) + 1;
        this.store.set(argv[1], enc.encode(String(n)));
        codes.push(Code.OK), data.push(n), errors.push(null);
      } else {
        codes.push(Code.UNKNOWN_COMMAND), data.push(null), errors.push(`unknown '${argv[0]}'`);
      }
    }
    queueMicrotask(() => done({ result: { codes, data, errors } }));
  }

  serverCommand(): null {
    return null;
  }
}

const started: { server: ClientServer; client?: Client }[] = [];

async function start(password = ""): Promise<{ backend: MiniBackend; port: number }> {
  const backend = new MiniBackend();
  const server = new ClientServer(backend, {
    host: "127.0.0.1",
    port: 0,
    password,
    maxMessageBytes: 1024 * 1024,
    maxConnections: 100,
    noDelay: true,
    socketBufferBytes: 65536,
  }, createLogger("silent"));
  await server.listen(await createTransport("tcp"));
  started.push({ server });
  return { backend, port: server.port };
}

const clients: Client[] = [];
async function client(opts: Parameters<typeof connect>[0]): Promise<Client> {
  const c = await connect(opts);
  clients.push(c);
  return c;
}

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const s of started.splice(0)) {
    await s.server.stopAccepting();
    s.server.closeAll();
  }
});

describe("client ↔ core/server/client_server.ts", () => {
  test("COMMAND and COMMAND_BATCH round trips; batches carry the client id", async () => {
    const { backend, port } = await start();
    const c = await client({ port, clientId: "client-A" });
    expect(await c.command("SET", "k", "v v")).toBe("OK");
    expect(dec.decode(await c.command("GET", "k") as Uint8Array)).toBe("v v");
    expect(await c.command("GET", "none")).toBeNull();
    const res = await c.batch([["INCR", "n"], ["BOGUS"], ["INCR", "n"]], { batchId: "B1" });
    expect(res.map((r) => [r.code, r.value])).toEqual([["OK", 1], ["UNKNOWN_COMMAND", null], [
      "OK",
      2,
    ]]);
    expect(backend.seen.at(-1)).toEqual({ clientId: "client-A", batchId: "B1" });
    // COMMANDs are keyed by the client id registered with AUTH
    expect(backend.seen[0].clientId).toBe("client-A");
    expect(backend.seen[0].batchId.startsWith("c:")).toBe(true);
  });

  test("password: AUTH on connect; wrong password rejected", async () => {
    const { port } = await start("pw");
    const c = await client({ port, password: "pw" });
    expect(await c.command("SET", "a", "1")).toBe("OK");
    await expect(connect({ port, password: "bad" })).rejects.toMatchObject({
      codeName: "AUTH_FAILED",
    });
    const anon = await client({ port });
    const r = await anon.batch([["GET", "a"]]);
    expect(r[0].code).toBe("AUTH_REQUIRED");
  });

  test("whole-batch NOT_LEADER from the server is followed to the leader", async () => {
    const leader = await start();
    const follower = await start();
    follower.backend.refuse = {
      code: Code.NOT_LEADER,
      message: "not the leader",
      leader: `127.0.0.1:${leader.port}`,
    };
    const c = await client({ port: follower.port, clientId: "cid" });
    const res = await c.batch([["SET", "x", "1"], ["GET", "x"]], { batchId: "R" });
    expect(res.map((r) => r.code)).toEqual(["OK", "OK"]);
    expect(follower.backend.seen).toEqual([{ clientId: "cid", batchId: "R" }]);
    expect(leader.backend.seen).toEqual([{ clientId: "cid", batchId: "R" }]);
    const err = await c.command("SET", "y", "2").then(() => null, (e) => e);
    expect(err).toBeNull();
  });

  test("a split batch goes through the server frame limit in several frames", async () => {
    const { backend, port } = await start();
    const c = await client({ port, maxBatchBytes: 16 * 1024 });
    const value = "x".repeat(200);
    const cmds = Array.from({ length: 500 }, (_, i) => ["SET", `k${i}`, value]);
    const res = await c.batch(cmds, { batchId: "big" });
    expect(res.every((r) => r.ok)).toBe(true);
    expect(backend.store.size).toBe(500);
    expect(backend.seen.length).toBeGreaterThan(5);
    expect(backend.seen[0].batchId).toBe("big/0");
  });
});
