/** Client behaviour against a scripted fake server: matching, timeouts, redirects, retries. */
import { afterEach, describe, expect, test } from "bun:test";
import { Code, TinyKVError } from "../../protocol/codes.ts";
import { MsgType } from "../../protocol/messages.ts";
import { type Client, connect } from "../../client/client.ts";
import { batchAll, batchOk, FakeServer } from "./fake_server.ts";

const servers: FakeServer[] = [];
const clients: Client[] = [];

async function server(script?: ConstructorParameters<typeof FakeServer>[0]): Promise<FakeServer> {
  const s = await new FakeServer(script).start();
  servers.push(s);
  return s;
}

async function client(opts: Parameters<typeof connect>[0]): Promise<Client> {
  const c = await connect(opts);
  clients.push(c);
  return c;
}

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const s of servers.splice(0)) await s.stop();
});

async function rejection(p: Promise<unknown>): Promise<TinyKVError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(TinyKVError);
    return err as TinyKVError;
  }
  throw new Error("expected a rejection");
}

describe("single commands", () => {
  test("COMMAND carries args unsplit; values, NOT_FOUND and errors map to results", async () => {
    const s = await server((req, reply) => {
      const cmd = req.msg.command as string[];
      const base = { type: MsgType.COMMAND_RESPONSE, request_id: req.msg.request_id };
      if (cmd[0] === "GET" && cmd[1] === "missing") {
        reply({ ...base, code: Code.NOT_FOUND, data: null });
      } else if (cmd[0] === "INCR") {
        reply({ ...base, code: Code.WRONG_TYPE, data: null, error: "WRONGTYPE x" });
      } else reply({ ...base, code: Code.OK, data: new TextEncoder().encode(cmd.join("|")) });
    });
    const c = await client({ port: s.port });
    const v = await c.command("SET", "a b", new Uint8Array([0, 255]));
    expect(new TextDecoder().decode(v as Uint8Array)).toBe("SET|a b|\u0000\ufffd");
    expect(await c.command("GET", "missing")).toBeNull();
    const err = await rejection(c.command("INCR", "k"));
    expect(err.codeName).toBe("WRONG_TYPE");
    expect(err.message).toBe("WRONGTYPE x");
    const cmd = s.requests[0].msg.command as unknown[];
    expect(cmd.length).toBe(3);
    expect(cmd[1]).toBe("a b");
    expect(cmd[2]).toBeInstanceOf(Uint8Array);
    expect(await rejection(c.command())).toHaveProperty("codeName", "SYNTAX");
  });

  test("AUTH sends the client id; a wrong password fails connect with AUTH_FAILED", async () => {
    const s = await server();
    s.authCode = (m) => m.password === "secret" ? Code.OK : Code.AUTH_FAILED;
    const c = await client({ port: s.port, password: "secret", clientId: "me-1" });
    expect(c.clientId).toBe("me-1");
    const auth = s.received.find((r) => r.msg.type === MsgType.AUTH)!;
    expect(auth.msg.client_id).toBe("me-1");
    const err = await rejection(connect({ port: s.port, password: "wrong" }));
    expect(err.codeName).toBe("AUTH_FAILED");
  });

  test("connect to a closed port rejects with UNAVAILABLE", async () => {
    const s = await server();
    const port = s.port;
    await s.stop();
    servers.length = 0;
    const err = await rejection(connect({ port, connectTimeoutMs: 1000 }));
    expect(err.codeName).toBe("UNAVAILABLE");
  });
});

describe("batches", () => {
  test("one COMMAND_BATCH with commands_cbor, client_id and the given batch id", async () => {
    const s = await server((req, reply) => {
      const n = req.commands.length;
      const r = batchOk(req.msg.batch_id as string, n);
      (r.codes as number[])[1] = Code.SYNTAX;
      (r.errors as (string | null)[])[1] = "bad";
      reply(r);
    });
    const c = await client({ port: s.port, clientId: "cid" });
    const res = await c.batch([["SET", "a", "1"], ["BOGUS"], ["GET", "a"]], { batchId: "b-1" });
    expect(res).toEqual([
      { ok: true, code: "OK", value: 0, error: null },
      { ok: false, code: "SYNTAX", value: 1, error: "bad" },
      { ok: true, code: "OK", value: 2, error: null },
    ]);
    const m = s.requests[0].msg;
    expect(m.type).toBe(MsgType.COMMAND_BATCH);
    expect(m.batch_id).toBe("b-1");
    expect(m.client_id).toBe("cid");
    expect(m.commands_cbor).toBeInstanceOf(Uint8Array);
    expect(m.request_ids).toBeUndefined();
    expect(s.requests[0].commands).toEqual([["SET", "a", "1"], ["BOGUS"], ["GET", "a"]]);
    expect(await c.batch([])).toEqual([]);
  });

  test("responses arriving out of order are matched by batch id", async () => {
    const held: (() => void)[] = [];
    const s = await server((req, reply) => {
      held.push(() => reply(batchOk(req.msg.batch_id as string, req.commands.length)));
      if (held.length === 3) { for (const f of held.reverse()) f(); }
    });
    const c = await client({ port: s.port });
    const [a, b, d] = await Promise.all([
      c.batch([["A"]]),
      c.batch([["B"], ["B"]]),
      c.batch([["C"], ["C"], ["C"]]),
    ]);
    expect([a.length, b.length, d.length]).toEqual([1, 2, 3]);
    expect(s.requests.length).toBe(3);
  });

  test("a batch above maxBatchBytes is split in order; an oversized command fails alone", async () => {
    const s = await server();
    const c = await client({ port: s.port, maxBatchBytes: 4096 });
    const value = "v".repeat(64);
    const cmds: string[][] = [];
    for (let i = 0; i < 200; i++) cmds.push(["SET", `key:${i}`, value]);
    cmds.splice(50, 0, ["SET", "huge", "x".repeat(5000)]);
    const res = await c.batch(cmds, { batchId: "big" });
    expect(res.length).toBe(201);
    expect(res[50]).toMatchObject({ ok: false, code: "TOO_LARGE" });
    expect(res.filter((r) => r.ok).length).toBe(200);
    const frames = s.requests;
    expect(frames.length).toBeGreaterThan(3);
    expect(frames.map((f) => f.msg.batch_id)).toEqual(frames.map((_, i) => `big/${i}`));
    const sent = frames.flatMap((f) => f.commands as string[][]);
    expect(sent.map((x) => x[1])).toEqual(cmds.filter((_, i) => i !== 50).map((x) => x[1]));
    for (const f of frames) expect((f.msg.commands_cbor as Uint8Array).length).toBeLessThan(4096);
  });

  test("pipeline() queues commands and exec() sends them as one batch", async () => {
    const s = await server();
    const c = await client({ port: s.port });
    const p = c.pipeline().command("SET", "a", "1").command("GET", "a");
    expect(p.length).toBe(2);
    const res = await p.exec({ batchId: "p1" });
    expect(res.map((r) => r.ok)).toEqual([true, true]);
    expect(p.length).toBe(0);
    expect(s.requests.map((r) => r.msg.batch_id)).toEqual(["p1"]);
  });
});

describe("timeouts, redirects and reconnects", () => {
  test("no answer: TIMEOUT (outcome unknown) after timeoutMs; a late answer is ignored", async () => {
    let late: (() => void) | null = null;
    const s = await server((req, reply) => {
      late = () => reply(batchOk(req.msg.batch_id as string, 1));
    });
    const c = await client({ port: s.port, timeoutMs: 150 });
    const t0 = Date.now();
    const err = await rejection(c.batch([["SET", "k", "v"]]));
    expect(err.codeName).toBe("TIMEOUT");
    expect(err.message).toContain("outcome unknown");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    late!();
    await new Promise((r) => setTimeout(r, 30));
    expect(c.stats().framesReceived).toBeGreaterThanOrEqual(2);
  });

  test("NOT_LEADER: follows the leader address and resends the same batch id", async () => {
    const leader = await server();
    const follower = await server((req, reply) => {
      reply(
        batchAll(
          req.msg.batch_id as string,
          req.commands.length,
          Code.NOT_LEADER,
          "not leader",
          leader.address,
        ),
      );
    });
    const c = await client({ port: follower.port });
    const res = await c.batch([["SET", "a", "1"]], { batchId: "r1" });
    expect(res[0].ok).toBe(true);
    expect(follower.requests[0].msg.batch_id).toBe("r1");
    expect(leader.requests[0].msg.batch_id).toBe("r1");
    expect(c.endpoint).toBe(leader.address);
    expect(c.stats().retries).toBe(1);
  });

  test("redirects are bounded by maxRedirects; command() then throws NOT_LEADER with leader", async () => {
    const s = await server((req, reply) => {
      if (req.msg.type === MsgType.COMMAND) {
        reply({
          type: MsgType.COMMAND_RESPONSE,
          request_id: req.msg.request_id,
          code: Code.NOT_LEADER,
          data: null,
          error: "not leader",
          leader: s.address,
        });
      } else {
        reply(batchAll(req.msg.batch_id as string, req.commands.length, Code.NOT_LEADER, "nl"));
      }
    });
    const c = await client({ port: s.port, maxRedirects: 2 });
    const err = await rejection(c.command("SET", "a", "1"));
    expect(err.codeName).toBe("NOT_LEADER");
    expect(err.leader).toBe(s.address);
    expect(s.requests.length).toBe(3);
    const res = await c.batch([["SET", "a", "1"], ["SET", "b", "2"]]);
    expect(res.map((r) => r.code)).toEqual(["NOT_LEADER", "NOT_LEADER"]);
    expect(s.requests.length).toBe(6);
  });

  test("sent, connection lost, then only refusals: TIMEOUT (outcome unknown), not NOT_LEADER", async () => {
    // Node A takes the batch (it may have applied it) and dies before answering; node B refuses.
    let aGot = 0;
    const a = await server((req) => {
      aGot++;
      req.conn.close();
    });
    const b = await server((req, reply) => {
      reply(
        batchAll(req.msg.batch_id as string, req.commands.length, Code.NOT_LEADER, "no leader"),
      );
    });
    const c = await client({ endpoints: [a.address, b.address], maxRedirects: 3 });
    const res = await c.batch([["INCR", "x"], ["INCR", "y"]]);
    expect(aGot).toBeGreaterThanOrEqual(1);
    expect(res.map((r) => r.code)).toEqual(["TIMEOUT", "TIMEOUT"]);
    expect(res[0].error).toContain("outcome unknown");
    // Refused everywhere without ever being sent to a node that died: a plain refusal.
    const d = await client({ endpoints: [b.address], maxRedirects: 2 });
    expect((await d.batch([["INCR", "x"]]))[0].code).toBe("NOT_LEADER");
  });

  test("by default the client rides out a leaderless gap of a few hundred ms (an election)", async () => {
    const t0 = Date.now();
    const s = await server((req, reply) => {
      const id = req.msg.batch_id as string;
      if (Date.now() - t0 < 400) reply(batchAll(id, 1, Code.UNAVAILABLE, "no leader elected yet"));
      else reply(batchOk(id, 1));
    });
    const c = await client({ port: s.port });
    const res = await c.batch([["SET", "a", "1"]]);
    expect(res[0].ok).toBe(true);
    expect(s.requests.length).toBeGreaterThan(3);
  });

  test("after a redirect the old connection drains: requests sent there are still answered", async () => {
    const leader = await server();
    let release: (() => void) | null = null;
    const old = await server((req, reply) => {
      const id = req.msg.batch_id as string;
      if (id === "slow") release = () => reply(batchOk(id, 1));
      else reply(batchAll(id, 1, Code.NOT_LEADER, "not leader", leader.address));
    });
    const c = await client({ port: old.port });
    const slow = c.batch([["SET", "a", "1"]], { batchId: "slow" });
    await new Promise((r) => setTimeout(r, 20));
    const moved = await c.batch([["SET", "b", "1"]], { batchId: "moved" });
    expect(moved[0].ok).toBe(true);
    expect(c.endpoint).toBe(leader.address);
    release!();
    expect((await slow)[0].ok).toBe(true);
    expect(old.requests.map((r) => r.msg.batch_id)).toEqual(["slow", "moved"]);
    expect(leader.requests.map((r) => r.msg.batch_id)).toEqual(["moved"]);
  });

  test("COMMAND is resent with the same request id after a lost connection", async () => {
    let drops = 1;
    const s = await server((req, reply) => {
      if (drops-- > 0) {
        req.conn.close();
        return;
      }
      reply({
        type: MsgType.COMMAND_RESPONSE,
        request_id: req.msg.request_id,
        code: Code.OK,
        data: "OK",
      });
    });
    const c = await client({ port: s.port });
    expect(await c.command("SET", "a", "1")).toBe("OK");
    expect(s.requests.length).toBe(2);
    expect(s.requests[0].msg.request_id).toBe(s.requests[1].msg.request_id);
    expect(s.connections).toBe(2);
    expect(c.stats().reconnects).toBe(1);
  });

  test("connection lost: the batch is resent to the next endpoint with the same batch id", async () => {
    const good = await server();
    const bad = await server((req) => req.conn.close());
    const c = await client({ endpoints: [bad.address, good.address] });
    const res = await c.batch([["SET", "a", "1"]], { batchId: "lost-1" });
    expect(res[0].ok).toBe(true);
    expect(bad.requests[0].msg.batch_id).toBe("lost-1");
    expect(good.requests[0].msg.batch_id).toBe("lost-1");
    expect(c.endpoint).toBe(good.address);
  });

  test("an unattributed connection ERROR (TOO_LARGE) fails waiting requests without retry", async () => {
    const s = await server((req, reply) => {
      reply({ type: MsgType.ERROR, code: Code.TOO_LARGE, error: "request too large" });
      req.conn.close();
    });
    const c = await client({ port: s.port });
    const err = await rejection(c.batch([["SET", "a", "1"]]));
    expect(err.codeName).toBe("TOO_LARGE");
    expect(s.requests.length).toBe(1);
  });

  test("an ERROR naming the batch answers that batch only", async () => {
    const s = await server((req, reply) => {
      if (req.msg.batch_id === "bad") {
        reply({ type: MsgType.ERROR, code: Code.MALFORMED, error: "nope", batch_id: "bad" });
      } else reply(batchOk(req.msg.batch_id as string, req.commands.length));
    });
    const c = await client({ port: s.port });
    const [bad, good] = await Promise.all([
      c.batch([["X"], ["Y"]], { batchId: "bad" }),
      c.batch([["Z"]], { batchId: "good" }),
    ]);
    expect(bad.map((r) => r.code)).toEqual(["MALFORMED", "MALFORMED"]);
    expect(good[0].ok).toBe(true);
  });

  test("close() rejects pending requests", async () => {
    const s = await server(() => {});
    const c = await connect({ port: s.port });
    const caught = rejection(c.batch([["SET", "a", "1"]]));
    await new Promise((r) => setTimeout(r, 20));
    await c.close();
    const err = await caught;
    expect(err.codeName).toBe("UNAVAILABLE");
  });
});

describe("auto-batching", () => {
  test("250 concurrent command() calls leave as 3 COMMAND_BATCH frames", async () => {
    const s = await server();
    const c = await client({ port: s.port, autoBatch: true });
    const out = await Promise.all(
      Array.from({ length: 250 }, (_, i) => c.command("SET", `k${i}`, "v")),
    );
    expect(s.requests.length).toBe(3);
    expect(s.requests.map((r) => r.commands.length)).toEqual([100, 100, 50]);
    expect(s.requests.every((r) => r.msg.type === MsgType.COMMAND_BATCH)).toBe(true);
    expect(out[0]).toBe(0);
    expect(out[249]).toBe(49);
    expect((s.requests[2].commands[49] as string[])[1]).toBe("k249");
  });

  test("slot errors reject only their own command()", async () => {
    const s = await server((req, reply) => {
      const r = batchOk(req.msg.batch_id as string, req.commands.length);
      (r.codes as number[])[1] = Code.WRONG_TYPE;
      (r.errors as (string | null)[])[1] = "WRONGTYPE";
      reply(r);
    });
    const c = await client({ port: s.port, autoBatch: { maxBatch: 10 } });
    const settled = await Promise.allSettled([c.command("A"), c.command("B"), c.command("C")]);
    expect(settled.map((x) => x.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(((settled[1] as PromiseRejectedResult).reason as TinyKVError).codeName).toBe(
      "WRONG_TYPE",
    );
  });

  test("bounded: in-flight frames are capped and the queue rejects with BUSY beyond maxQueued", async () => {
    const held: (() => void)[] = [];
    const s = await server((req, reply) => {
      held.push(() => reply(batchOk(req.msg.batch_id as string, req.commands.length)));
    });
    const c = await client({
      port: s.port,
      autoBatch: { maxBatch: 10, maxInflightFrames: 1, maxQueued: 20 },
    });
    const calls = Array.from({ length: 40 }, (_, i) => c.command("SET", `k${i}`, "v"));
    const settled = Promise.allSettled(calls);
    await new Promise((r) => setTimeout(r, 50));
    expect(s.requests.length).toBe(1); // one frame in flight, the rest queued or refused
    for (let round = 0; round < 10 && held.length > 0; round++) {
      held.shift()!();
      await new Promise((r) => setTimeout(r, 30));
    }
    const res = await settled;
    const busy = res.filter((r) =>
      r.status === "rejected" && (r.reason as TinyKVError).codeName === "BUSY"
    );
    expect(busy.length).toBe(10);
    expect(res.filter((r) => r.status === "fulfilled").length).toBe(30);
    expect(s.requests.map((r) => r.commands.length)).toEqual([10, 10, 10]);
  });

  test("maxDelayMs waits for company before sending", async () => {
    const s = await server();
    const c = await client({ port: s.port, autoBatch: { maxDelayMs: 30 } });
    const first = c.command("A");
    await new Promise((r) => setTimeout(r, 5));
    const second = c.command("B");
    await Promise.all([first, second]);
    expect(s.requests.length).toBe(1);
    expect(s.requests[0].commands.length).toBe(2);
  });
});
