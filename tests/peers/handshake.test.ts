/**
 * Peer authentication (core/peers/auth.ts) and its use by PeerNetwork, in process on loopback:
 * the handshake is mutual, a wrong secret or another cluster id is refused on both sides, a
 * recorded handshake replayed to a node fails (fresh nonces), a connection authenticated as one
 * node cannot send messages claiming another id, and handshake frames are size-checked.
 */
import { afterAll, describe, expect, test } from "bun:test";
import net from "node:net";
import { createLogger } from "../../core/config/logger.ts";
import {
  ClientHandshake,
  HandshakeError,
  MAX_HANDSHAKE_FRAME,
  RateLimitedLog,
  ServerHandshake,
} from "../../core/peers/auth.ts";
import { encodePeerMessage } from "../../core/peers/codec.ts";
import {
  HANDSHAKE_TIMEOUT_MS,
  MAX_PREAUTH_CONNECTIONS,
  PeerNetwork,
} from "../../core/peers/network.ts";
import type { NodeStats } from "../../core/plugin/plugin.ts";
import type { Message } from "../../core/raft/types.ts";
import { createTransport } from "../../transports/mod.ts";
import { fakeContext } from "../helpers/fake_context.ts";
import { waitFor } from "../helpers/net.ts";
import { raftMessage } from "./peer_helpers.ts";

const AUTH = { secret: "a-secret-of-sixteen+", clusterId: "tinykv" };
const known = () => true;

const vote = (from: number, to: number, term = 5): Message =>
  raftMessage({ type: "vote", from, to, term });

function run(client: ClientHandshake, server: ServerHandshake): void {
  const challenge = server.receive(client.hello());
  const proof = client.receive(challenge)!;
  const accept = server.receive(proof);
  expect(client.receive(accept)).toBeNull();
}

describe("handshake", () => {
  test("mutual: both sides finish, the server learns the client's id", () => {
    const c = new ClientHandshake(AUTH, 2, 1);
    const s = new ServerHandshake(AUTH, 1, known);
    run(c, s);
    expect(c.done && s.done).toBe(true);
    expect(s.peerId).toBe(2);
  });

  test("a wrong secret is refused by the server, and a server with a wrong secret by the client", () => {
    const c = new ClientHandshake({ ...AUTH, secret: "another-secret-16chars" }, 2, 1);
    const s = new ServerHandshake(AUTH, 1, known);
    const proof = c.receive(s.receive(c.hello()))!;
    expect(() => s.receive(proof)).toThrow(/could not prove the cluster secret/);
    expect(s.done).toBe(false);

    // An impostor server (wrong secret) that answers the client's proof: the client refuses it.
    const c2 = new ClientHandshake(AUTH, 2, 1);
    const fake = new ServerHandshake({ ...AUTH, secret: "impostor-secret-16ch" }, 1, known);
    const challenge = fake.receive(c2.hello());
    const p2 = c2.receive(challenge)!;
    // The impostor cannot verify p2 (and cannot make the ACCEPT MAC without the secret).
    expect(() => fake.receive(p2)).toThrow(HandshakeError);
    const forgedAccept = new Uint8Array(p2);
    forgedAccept[5] = 4; // an ACCEPT frame carrying the client's own MAC (a reflection)
    expect(() => c2.receive(forgedAccept)).toThrow(/could not prove the cluster secret/);
    expect(c2.done).toBe(false);
  });

  test("another cluster id is refused even with the same secret, and says so", () => {
    const c = new ClientHandshake({ ...AUTH, clusterId: "other" }, 2, 1);
    const s = new ServerHandshake(AUTH, 1, known);
    expect(() => s.receive(c.hello())).toThrow(/member of another cluster \(cluster id "other"/);
  });

  test("unknown ids and misaddressed hellos are refused before any challenge", () => {
    const s = new ServerHandshake(AUTH, 1, (id) => id === 2 || id === 3);
    expect(() => s.receive(new ClientHandshake(AUTH, 9, 1).hello())).toThrow(
      /claims to be node 9, not a member/,
    );
    const s2 = new ServerHandshake(AUTH, 1, known);
    expect(() => s2.receive(new ClientHandshake(AUTH, 2, 3).hello())).toThrow(
      /addressed to node 3/,
    );
    const s3 = new ServerHandshake(AUTH, 1, known);
    expect(() => s3.receive(new ClientHandshake(AUTH, 1, 1).hello())).toThrow(
      /claims to be node 1/,
    );
  });

  test("a recorded handshake replayed fails: the server's nonce is new", () => {
    const c = new ClientHandshake(AUTH, 2, 1);
    const s = new ServerHandshake(AUTH, 1, known);
    const hello = c.hello();
    const proof = c.receive(s.receive(hello))!;
    s.receive(proof);
    // Replayed to a new server side (fresh nonce), the recorded proof does not verify.
    const s2 = new ServerHandshake(AUTH, 1, known);
    s2.receive(hello);
    expect(() => s2.receive(proof)).toThrow(/could not prove/);
    // And a server's recorded answers fail against a client with a fresh nonce.
    const nonceS = new Uint8Array(32).fill(7);
    const sA = new ServerHandshake(AUTH, 1, known, nonceS);
    const cA = new ClientHandshake(AUTH, 2, 1);
    const challenge = sA.receive(cA.hello());
    const accept = sA.receive(cA.receive(challenge)!);
    const cB = new ClientHandshake(AUTH, 2, 1);
    cB.receive(challenge);
    expect(() => cB.receive(accept)).toThrow(/could not prove/);
  });

  test("frames are size-checked first: oversized, short, garbage, wrong type", () => {
    const fresh = () => new ServerHandshake(AUTH, 1, known);
    expect(() => fresh().receive(new Uint8Array(MAX_HANDSHAKE_FRAME + 1))).toThrow(
      /not a peer handshake \(\d+-byte hello\)/,
    );
    expect(() => fresh().receive(new Uint8Array(3))).toThrow(/not a peer handshake/);
    const hello = new ClientHandshake(AUTH, 2, 1).hello();
    const bad = hello.slice();
    bad[0] ^= 1;
    expect(() => fresh().receive(bad)).toThrow(/bad hello/);
    const lying = hello.slice();
    lying[6 + 4 + 32] = 60; // a cluster-id length the frame does not have
    expect(() => fresh().receive(lying)).toThrow(/bad hello length/);
    // A Raft message where a hello is expected.
    expect(() => fresh().receive(encodePeerMessage(vote(2, 1, 1000)))).toThrow(
      /not a peer handshake/,
    );
    // The client refuses an oversized challenge too.
    expect(() => new ClientHandshake(AUTH, 2, 1).receive(new Uint8Array(1000))).toThrow(
      /not a peer handshake/,
    );
  });

  test("refusals are rate-limited: one line per address per interval", () => {
    const lines: string[] = [];
    let now = 0;
    const log = new RateLimitedLog((l) => lines.push(l), 1000, 2, () => now);
    for (let i = 0; i < 50; i++) log.log("10.0.0.1", "refused a");
    log.log("10.0.0.2", "refused b");
    log.log("10.0.0.3", "refused c"); // over maxKeys inside the interval: dropped
    expect(lines).toEqual(["refused a", "refused b"]);
    now = 1500;
    log.log("10.0.0.1", "refused a");
    expect(lines[2]).toBe("refused a (49 similar lines suppressed)");
  });
});

// ------------------------------------------------------------------ PeerNetwork over loopback

const stats = () => fakeContext().node.stats() as NodeStats;

const networks: PeerNetwork[] = [];
const sockets: net.Socket[] = [];
const servers: net.Server[] = [];
afterAll(async () => {
  for (const s of sockets) s.destroy();
  for (const s of servers) s.close();
  await Promise.all(networks.map((n) => n.close()));
});

interface Net {
  net: PeerNetwork;
  got: Message[];
  logs: string[];
}

async function peerNet(
  selfId: number,
  peers: Record<number, string>,
  auth = AUTH,
  transport: "tcp" | "udp" = "tcp",
): Promise<Net> {
  const got: Message[] = [];
  const logs: string[] = [];
  const n = new PeerNetwork(
    await createTransport(transport),
    {
      selfId,
      host: "127.0.0.1",
      port: 0,
      maxMessageBytes: 1 << 20,
      peers,
      ...auth,
    },
    (m) => got.push(m),
    () => {},
    () => {},
    createLogger("debug", "", (l) => logs.push(l)),
    stats(),
  );
  networks.push(n);
  await n.listen();
  return { net: n, got, logs };
}

/** Sends `m` from `a` until `b` got one (bounded): connects, authenticates, delivers. */
async function deliver(a: Net, b: Net, m: Message): Promise<void> {
  await waitFor("a message over an authenticated connection", () => {
    a.net.send([m]);
    return b.got.length > 0 || undefined;
  }, 5000);
}

for (const transport of ["tcp", "udp"] as const) {
  describe(`PeerNetwork over ${transport}`, () => {
    /** Node 1 (knows peers 2 and 3), and node 2 with the right secret: messages flow. */
    async function pair() {
      const a = await peerNet(1, {}, AUTH, transport);
      a.net.setPeer(2, "127.0.0.1:1");
      a.net.setPeer(3, "127.0.0.1:1");
      const good = await peerNet(2, { 1: `127.0.0.1:${a.net.port}` }, AUTH, transport);
      await deliver(good, a, vote(2, 1));
      expect(a.got[0]).toMatchObject({ type: "vote", from: 2, to: 1, term: 5 });
      return a;
    }

    /** Node 3 with `auth` sends forged high-term votes for 1.2 s: none arrives; refusals logged. */
    async function intruder(a: Net, auth: typeof AUTH, refusal: RegExp) {
      const bad = await peerNet(3, { 1: `127.0.0.1:${a.net.port}` }, auth, transport);
      const until = Date.now() + 1200;
      while (Date.now() < until) {
        bad.net.send([vote(3, 1, 1000)]);
        await new Promise((r) => setTimeout(r, 40));
      }
      expect(a.got.filter((m) => m.from === 3 || m.term === 1000)).toEqual([]);
      const refusals = a.logs.filter((l) => l.includes("refused peer connection"));
      expect(refusals.some((l) => refusal.test(l))).toBe(true);
      // Rate-limited: a dozen attempts from 127.0.0.1, one line.
      expect(refusals.length).toBe(1);
      expect(bad.logs.some((l) => /peer 1 at .* failed authentication/.test(l))).toBe(true);
    }

    test("a node with a wrong secret is refused and logged", async () => {
      await intruder(
        await pair(),
        { ...AUTH, secret: "wrong-secret-of-16+" },
        /claims to be node 3 but could not prove the cluster secret/,
      );
    });

    test("a node with the right secret but another cluster id is refused and logged", async () => {
      await intruder(
        await pair(),
        { ...AUTH, clusterId: "other" },
        /member of another cluster \(cluster id "other"/,
      );
    });
  });
}

test("a connection authenticated as node 2 cannot send messages claiming from=3", async () => {
  const a = await peerNet(1, { 2: "127.0.0.1:1", 3: "127.0.0.1:1" });
  const b = await peerNet(2, { 1: `127.0.0.1:${a.net.port}` });
  await deliver(b, a, vote(2, 1));
  a.got.length = 0;
  // Node 2's connection to node 1 is authenticated; it now carries a message claiming node 3.
  b.net.send([{ ...vote(2, 1), from: 3 }]);
  b.net.send([vote(2, 1, 6)]); // and a genuine one after it
  await waitFor("the genuine message", () => a.got.find((m) => m.term === 6), 5000);
  expect(a.got.filter((m) => m.from !== 2)).toEqual([]);
  expect(a.logs.some((l) => /claiming from=3 to=1: not the node it authenticated as/.test(l))).toBe(
    true,
  );
});

test("a recorded handshake and its messages, replayed to the node, are refused", async () => {
  const a = await peerNet(1, { 2: "127.0.0.1:1" });
  // A recording proxy between node 2 and node 1.
  const recorded: Buffer[] = [];
  const proxy = net.createServer((inbound) => {
    sockets.push(inbound);
    const out = net.connect(a.net.port, "127.0.0.1");
    sockets.push(out);
    inbound.on("data", (d) => {
      recorded.push(Buffer.from(d));
      out.write(d);
    });
    out.on("data", (d) => inbound.write(d));
    inbound.on("error", () => {});
    out.on("error", () => {});
  });
  servers.push(proxy);
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  const port = (proxy.address() as net.AddressInfo).port;
  const b = await peerNet(2, { 1: `127.0.0.1:${port}` });
  await deliver(b, a, vote(2, 1, 7));
  await new Promise((r) => setTimeout(r, 100));
  const got = a.got.length;
  // Replay everything node 2 sent (hello, proof, the vote) on a new connection.
  const replay = net.connect(a.net.port, "127.0.0.1");
  sockets.push(replay);
  replay.on("error", () => {});
  await new Promise<void>((r) => replay.once("connect", () => r()));
  replay.write(Buffer.concat(recorded));
  await waitFor(
    "the replay refused",
    () => a.logs.some((l) => /could not prove the cluster secret/.test(l)) || undefined,
    5000,
  );
  await new Promise((r) => setTimeout(r, 200));
  expect(a.got.length).toBe(got);
});

test("a node with no secret refuses every peer connection", async () => {
  const a = await peerNet(1, {}, { ...AUTH, secret: "" });
  const s = net.connect(a.net.port, "127.0.0.1");
  sockets.push(s);
  s.on("error", () => {});
  await waitFor(
    "the refusal",
    () => a.logs.some((l) => /this node has no cluster secret/.test(l)) || undefined,
    5000,
  );
});

test("unauthenticated connections are limited in number and closed after the handshake timeout", async () => {
  const a = await peerNet(1, { 2: "127.0.0.1:1" });
  const idle: net.Socket[] = [];
  const closed = new Set<net.Socket>();
  for (let i = 0; i < MAX_PREAUTH_CONNECTIONS + 1; i++) {
    // From distinct loopback addresses: one address may hold only MAX_PREAUTH_PER_ADDRESS.
    const s = net.connect({
      port: a.net.port,
      host: "127.0.0.1",
      localAddress: `127.0.1.${i + 1}`,
    });
    s.on("error", () => {});
    s.on("close", () => closed.add(s));
    sockets.push(s);
    idle.push(s);
    await new Promise<void>((r) => s.once("connect", () => r()));
  }
  await waitFor(
    "the oldest connection closed to make room",
    () => a.logs.some((l) => /too many unauthenticated connections \(16\)/.test(l)) || undefined,
    5000,
  );
  await waitFor("the oldest closed", () => closed.has(idle[0]) || undefined, 5000);
  expect(closed.has(idle[idle.length - 1])).toBe(false);
  // The silent ones are closed once the handshake time is up.
  const t0 = Date.now();
  await waitFor("idle handshakes closed", () => closed.size === idle.length || undefined, 6000);
  expect(Date.now() - t0).toBeLessThan(HANDSHAKE_TIMEOUT_MS + 1500);
  // A real peer still gets in afterwards.
  const b = await peerNet(2, { 1: `127.0.0.1:${a.net.port}` });
  await deliver(b, a, vote(2, 1));
});

test("strangers holding many handshakes open (re-opened as they close) do not keep a member out", async () => {
  const a = await peerNet(1, { 2: "127.0.0.1:1" });
  let stop = false;
  let k = 0;
  const hold = (): void => {
    if (stop) return;
    // Two stranger addresses; the member dials from 127.0.0.1.
    const s = net.connect({
      port: a.net.port,
      host: "127.0.0.1",
      localAddress: `127.0.2.${1 + (k++ % 2)}`,
    });
    s.on("error", () => {});
    s.on("close", () => hold());
    sockets.push(s);
  };
  for (let i = 0; i < 4 * MAX_PREAUTH_CONNECTIONS; i++) hold();
  try {
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    const b = await peerNet(2, { 1: `127.0.0.1:${a.net.port}` });
    await deliver(b, a, vote(2, 1));
    expect(Date.now() - t0).toBeLessThan(2500);
    expect(a.logs.some((l) => /from one address \(4\)/.test(l))).toBe(true);
  } finally {
    stop = true;
  }
});

test("any member that proves the secret is accepted, known or not (a new member may lead before ADD_NODE is applied here); its own id only", async () => {
  const joiner = await peerNet(4, {});
  const leader = await peerNet(1, { 4: `127.0.0.1:${joiner.net.port}` });
  await deliver(leader, joiner, vote(1, 4));
  // Node 1 knows only node 2; node 5 (added elsewhere, not yet applied here) still gets through.
  const one = await peerNet(1, { 2: "127.0.0.1:1" });
  const five = await peerNet(5, { 1: `127.0.0.1:${one.net.port}` });
  await deliver(five, one, vote(5, 1));
});
