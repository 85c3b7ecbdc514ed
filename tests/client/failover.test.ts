/**
 * Client failover without a dropped connection (issue 9 item 5) and staying with an endpoint that
 * answered (issue 14), against scripted fake servers.
 */
import { afterEach, expect, test } from "bun:test";
import { Code } from "../../protocol/codes.ts";
import { type Client, connect } from "../../client/client.ts";
import { freePort } from "../helpers/net.ts";
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

test("a node that stops answering: after attemptTimeoutMs the same bytes go to another node", async () => {
  const good = await server();
  const silent = await server(() => {}); // a frozen node: the connection stays open, no answer
  const c = await client({
    endpoints: [silent.address, good.address],
    attemptTimeoutMs: 150,
    timeoutMs: 5000,
  });
  const t0 = performance.now();
  const res = await c.batch([["INCR", "a"]], { batchId: "frozen-1" });
  const took = performance.now() - t0;
  expect(res[0].ok).toBe(true);
  expect(took).toBeLessThan(1000);
  expect(silent.requests[0].msg.batch_id).toBe("frozen-1");
  expect(good.requests[0].msg.batch_id).toBe("frozen-1");
  expect(good.requests[0].msg.client_id).toBe(silent.requests[0].msg.client_id);
  expect(c.endpoint).toBe(good.address);
  // The next request goes straight to the node that answered.
  await c.command("INCR", "a");
  expect(silent.requests.length).toBe(1);
});

test("a node named as leader after it timed out is given the whole timeout (a slow write)", async () => {
  let slowAnswers = 0;
  const slowLeader = await server((req, reply) => {
    // Answers after 400 ms, once per batch id (the resend joins the first, as the server does).
    setTimeout(() => {
      slowAnswers++;
      reply(batchOk(req.msg.batch_id as string, req.commands.length));
    }, 400);
  });
  const follower = await server((req, reply) => {
    reply(
      batchAll(
        req.msg.batch_id as string,
        req.commands.length,
        Code.NOT_LEADER,
        "not leader",
        slowLeader.address,
      ),
    );
  });
  const c = await client({
    endpoints: [slowLeader.address, follower.address],
    attemptTimeoutMs: 150,
  });
  const res = await c.batch([["SET", "big", "v"]], { batchId: "slow-1" });
  expect(res[0].ok).toBe(true);
  // Sent to the leader, after 150 ms to the follower (which names the leader), then to the
  // leader once more — and not again every 150 ms.
  expect(slowLeader.requests.map((r) => r.msg.batch_id)).toEqual(["slow-1", "slow-1"]);
  expect(follower.requests.length).toBe(1);
  expect(slowAnswers).toBeGreaterThanOrEqual(1);
});

test("a redirect to an unreachable address does not make the client bounce", async () => {
  const leader = await server();
  const wrong = `127.0.0.1:${await freePort()}`; // nothing listens there
  const follower = await server((req, reply) => {
    reply(
      batchAll(req.msg.batch_id as string, req.commands.length, Code.NOT_LEADER, "no", wrong),
    );
  });
  const c = await client({ endpoints: [follower.address, leader.address], maxRedirects: 6 });
  const res = await c.batch([["SET", "a", "1"]], { batchId: "w1" });
  expect(res[0].ok).toBe(true);
  expect(c.endpoint).toBe(leader.address);
  const before = follower.requests.length;
  for (let i = 0; i < 5; i++) expect((await c.batch([["SET", "a", String(i)]]))[0].ok).toBe(true);
  expect(follower.requests.length).toBe(before); // stays with the endpoint that answered
});

test("with one endpoint a slow answer is simply awaited (no attempt timeout)", async () => {
  const slow = await server((req, reply) => {
    setTimeout(() => reply(batchOk(req.msg.batch_id as string, req.commands.length)), 300);
  });
  const c = await client({ port: slow.port, attemptTimeoutMs: 50 });
  expect((await c.batch([["SET", "a", "1"]], { batchId: "one" }))[0].ok).toBe(true);
  expect(slow.requests.length).toBe(1);
});

test("a request whose outcome is open is not resent after resendWindowMs (outcome unknown)", async () => {
  const dropper = await server((req) => req.conn.close()); // receives the batch, then drops
  const c = await client({
    port: dropper.port,
    resendWindowMs: 300,
    timeoutMs: 5000,
    maxRedirects: 1000,
  });
  const t0 = performance.now();
  const err = await c.batch([["INCR", "a"]], { batchId: "win-1" }).then(
    () => null,
    (e) => e as Error,
  );
  const took = performance.now() - t0;
  expect(err?.message).toMatch(/outcome unknown.*300 ms resend window/);
  expect(took).toBeLessThan(1500);
  const sends = dropper.requests.length;
  expect(sends).toBeGreaterThan(1); // it did resend inside the window
  await new Promise((r) => setTimeout(r, 300));
  expect(dropper.requests.length).toBe(sends); // and nothing afterwards
  await expect(connect({ port: dropper.port, resendWindowMs: 9000 })).rejects.toThrow(
    /at most 8000/,
  );
});

test("a whole-request TIMEOUT from the server is resent with the same batch id", async () => {
  let n = 0;
  const s = await server((req, reply) => {
    const id = req.msg.batch_id as string;
    if (n++ === 0) {
      reply(batchAll(id, req.commands.length, Code.TIMEOUT, "leadership lost (outcome unknown)"));
    } else reply(batchOk(id, req.commands.length));
  });
  const c = await client({ port: s.port });
  const res = await c.batch([["INCR", "a"], ["INCR", "b"]], { batchId: "to-1" });
  expect(res.map((r) => r.ok)).toEqual([true, true]);
  expect(s.requests.map((r) => r.msg.batch_id)).toEqual(["to-1", "to-1"]);
});
