// Regression: ICMP "port unreachable" from a dead peer must not break the sender.
// On loopback Linux answers a datagram to a closed port with ICMP at once, and Bun reports it on
// the socket's NEXT send: `sendMany` threw ECONNREFUSED on every second call (measured: 10 of 20
// back-to-back sends to a closed port threw), or stopped a batch short at the datagram after the
// dead peer's. The endpoint driver called `sendBatch` from a setImmediate callback without a
// guard, so one dead client or peer (a kill -9'd process) behind a listener's shared socket could
// throw an uncaught exception in the node — and in tools/lossy_proxy.ts, which is how the
// cluster test found it. Now the Bun adapter retries/drops per datagram and the driver treats a
// throwing socket as lost datagrams.
import { afterEach, expect, test } from "bun:test";
import { bindBunSocket } from "../../transports/udp/bun_socket.ts";
import type { PeerAddress } from "../../transports/udp/connection_core.ts";
import type {
  DatagramSocket,
  DatagramSocketFactory,
} from "../../transports/udp/datagram_socket.ts";
import { runtimeSocketFactory } from "../../transports/udp/mod.ts";
import { createUdpTransportWith } from "../../transports/udp/udp_transport.ts";

const HOST = "127.0.0.1";
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const noop = () => {};
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
});

/** A loopback port nobody listens on (bound, then closed). */
async function deadPort(): Promise<PeerAddress> {
  const s = await bindBunSocket(HOST, 0, { datagram: noop, drain: noop, error: noop });
  const port = s.port;
  s.close();
  return { host: HOST, port };
}

test("Bun adapter: back-to-back sends to a closed port never throw", async () => {
  const dead = await deadPort();
  let errors = 0;
  const s = await bindBunSocket(HOST, 0, { datagram: noop, drain: noop, error: () => errors++ });
  cleanup.push(() => s.close());
  const pkt = new Uint8Array(20);
  const accepted: number[] = [];
  for (let i = 0; i < 20; i++) accepted.push(s.sendBatch([pkt], [dead], 1));
  // Each datagram is accepted (sent, or dropped as a lost packet): none is left for a drain
  // that would not come.
  expect(accepted).toEqual(new Array(20).fill(1));
  await sleep(20);
  expect(errors).toBeGreaterThanOrEqual(0); // error reports are informational
});

test("Bun adapter: a dead destination in a batch costs no datagram to live ones", async () => {
  const dead = await deadPort();
  let got = 0;
  const live = await bindBunSocket(HOST, 0, {
    datagram: () => void got++,
    drain: noop,
    error: noop,
  });
  cleanup.push(() => live.close());
  const s = await bindBunSocket(HOST, 0, { datagram: noop, drain: noop, error: noop });
  cleanup.push(() => s.close());
  const to = { host: HOST, port: live.port };
  const pkt = new Uint8Array(20);
  let accepted = 0;
  for (let i = 0; i < 10; i++) {
    accepted += s.sendBatch([pkt, pkt, pkt, pkt], [to, dead, to, dead], 4);
    await sleep(1);
  }
  expect(accepted).toBe(40);
  for (let i = 0; i < 100 && got < 20; i++) await sleep(10);
  expect(got).toBe(20);
});

test("driver: a socket whose sendBatch throws loses datagrams, not the process", async () => {
  // Every fifth sendBatch call throws (as Bun's did); the protocol must recover by retransmission.
  let calls = 0, thrown = 0;
  const flaky: DatagramSocketFactory = async (host, port, events, bufferBytes) => {
    const real: DatagramSocket = await runtimeSocketFactory(host, port, events, bufferBytes);
    return {
      port: real.port,
      sendBatch(bufs, to, count) {
        if (++calls % 5 === 0) {
          thrown++;
          throw new Error("ECONNREFUSED: connection refused, send");
        }
        return real.sendBatch(bufs, to, count);
      },
      close: () => real.close(),
    };
  };
  const t = createUdpTransportWith(flaky, { initialRttMs: 20 });
  const listener = await t.listen({ host: HOST, port: 0, maxMessageBytes: 1 << 20 }, () => ({
    onMessage: (c, m) => void c.send(m),
  }));
  cleanup.push(() => listener.close());
  const got: number[] = [];
  const conn = await t.connect({ host: HOST, port: listener.port, maxMessageBytes: 1 << 20 }, {
    onMessage: (_c, m) => void got.push(m.length),
  });
  cleanup.push(() => conn.close());
  const sizes = [10, 5000, 40_000, 1, 3000];
  for (const n of sizes) expect(conn.send(new Uint8Array(n))).toBe(true);
  for (let i = 0; i < 1000 && got.length < sizes.length; i++) await sleep(10);
  expect(got).toEqual(sizes);
  expect(thrown).toBeGreaterThan(0);
}, 20_000);

test(
  "driver: a socket that stops short and never signals drain does not stall the endpoint",
  async () => {
    // Every fourth sendBatch call accepts nothing and no `drain` follows; the driver used to wait
    // for that drain forever, stalling every connection on the socket.
    let calls = 0, refused = 0;
    const stingy: DatagramSocketFactory = async (host, port, events, bufferBytes) => {
      const real: DatagramSocket = await runtimeSocketFactory(host, port, events, bufferBytes);
      return {
        port: real.port,
        sendBatch(bufs, to, count) {
          if (++calls % 4 === 0) {
            refused++;
            return 0;
          }
          return real.sendBatch(bufs, to, count);
        },
        close: () => real.close(),
      };
    };
    const t = createUdpTransportWith(stingy, { initialRttMs: 20 });
    const listener = await t.listen({ host: HOST, port: 0, maxMessageBytes: 1 << 20 }, () => ({
      onMessage: (c, m) => void c.send(m),
    }));
    cleanup.push(() => listener.close());
    const got: number[] = [];
    const conn = await t.connect({ host: HOST, port: listener.port, maxMessageBytes: 1 << 20 }, {
      onMessage: (_c, m) => void got.push(m.length),
    });
    cleanup.push(() => conn.close());
    const sizes = [10, 5000, 40_000, 1, 3000];
    for (const n of sizes) expect(conn.send(new Uint8Array(n))).toBe(true);
    for (let i = 0; i < 1000 && got.length < sizes.length; i++) await sleep(10);
    expect(got).toEqual(sizes);
    expect(refused).toBeGreaterThan(0);
  },
  20_000,
);

test("Bun: connecting to a closed port fails at once (ICMP), not after the handshake timeout", async () => {
  const dead = await deadPort();
  const t = createUdpTransportWith(bindBunSocket, { handshakeTimeoutMs: 5000 });
  const t0 = performance.now();
  let error = "";
  try {
    await t.connect({ host: HOST, port: dead.port, maxMessageBytes: 1024 }, { onMessage: noop });
  } catch (err) {
    error = (err as Error).message;
  }
  expect(error).toMatch(/failed: connection refused/);
  expect(performance.now() - t0).toBeLessThan(2500); // the handshake timeout is 5 s
});

test("an ICMP report after the handshake does not close an established connection", async () => {
  // The server's reply path is fine; a stray unreachable report must not kill the connection.
  let report: (() => void) | undefined;
  const spy: DatagramSocketFactory = async (host, port, events, bufferBytes) => {
    report = () => events.unreachable?.();
    return await runtimeSocketFactory(host, port, events, bufferBytes);
  };
  const server = createUdpTransportWith(runtimeSocketFactory);
  const listener = await server.listen({ host: HOST, port: 0, maxMessageBytes: 1 << 16 }, () => ({
    onMessage: (c, m) => void c.send(m),
  }));
  cleanup.push(() => listener.close());
  const got: number[] = [];
  const conn = await createUdpTransportWith(spy).connect(
    { host: HOST, port: listener.port, maxMessageBytes: 1 << 16 },
    { onMessage: (_c, m) => void got.push(m.length) },
  );
  cleanup.push(() => conn.close());
  report!();
  expect(conn.send(new Uint8Array(100))).toBe(true);
  for (let i = 0; i < 200 && got.length === 0; i++) await sleep(10);
  expect(got).toEqual([100]);
  expect(conn.closed).toBe(false);
});

/**
 * A client (sockets from `factory`) sends one message to a server that never answers, through a
 * proxy; once the message is in and acknowledged, the proxy goes down like a killed process (its
 * port closes). Resolves when the client's connection closed or after `waitMs`.
 */
async function serverDiesAfterRequest(
  factory: DatagramSocketFactory,
  seed: number,
  waitMs: number,
) {
  const { startLossyProxy } = await import("../../tools/lossy_proxy.ts");
  let received = 0;
  const listener = await createUdpTransportWith(bindBunSocket).listen(
    { host: HOST, port: 0, maxMessageBytes: 1 << 16 },
    () => ({ onMessage: () => void received++ }), // never answers
  );
  cleanup.push(() => listener.close());
  const proxy = await startLossyProxy({
    target: { host: HOST, port: listener.port },
    dropRate: 0,
    seed,
  });
  cleanup.push(() => proxy.close());
  let closedAt = 0;
  const conn = await createUdpTransportWith(factory).connect(
    { host: HOST, port: proxy.port, maxMessageBytes: 1 << 16 },
    { onMessage: noop, onClose: () => void (closedAt = performance.now()) },
  );
  cleanup.push(() => conn.close());
  expect(conn.send(new Uint8Array(500))).toBe(true);
  for (let i = 0; i < 100 && received === 0; i++) await sleep(10);
  const receivedBeforeDeath = received;
  await sleep(100); // acknowledged by now
  const downAt = performance.now();
  await proxy.setDown(true); // "kill -9": the port closes
  for (let i = 0; i < waitMs / 10 && closedAt === 0; i++) await sleep(10);
  return {
    received: receivedBeforeDeath,
    closed: conn.closed,
    closeReason: (conn as unknown as { closeReason: string }).closeReason,
    closedAfterMs: closedAt === 0 ? Infinity : closedAt - downAt,
  };
}

test(
  "Bun: a server that dies after acknowledging a request (nothing left to resend) is noticed within ~1 s",
  async () => {
    // The request's packets were acknowledged, the answer never comes, and the process is gone:
    // no retransmission can draw an ICMP error. The client's short keep-alive PING does.
    const r = await serverDiesAfterRequest(bindBunSocket, 1, 5000);
    expect(r.received).toBe(1);
    expect(r.closed).toBe(true);
    expect(r.closedAfterMs).toBeLessThan(2000); // keep-alive 300 ms; before: ~10 s (PING) or 30 s
  },
  20_000,
);

test(
  "without ICMP reports (Deno, node:dgram), a dead server is noticed by the response timeout",
  async () => {
    // A socket factory that never reports `unreachable`, like Deno's: only unanswered packets tell.
    const deaf: DatagramSocketFactory = (host, port, events, bufferBytes) =>
      runtimeSocketFactory(host, port, { ...events, unreachable: undefined }, bufferBytes);
    const r = await serverDiesAfterRequest(deaf, 2, 8000);
    expect(r.closeReason).toMatch(/peer not responding/);
    expect(r.closedAfterMs).toBeLessThan(5000); // 3 s response timeout; the idle timeout is 30 s
  },
  20_000,
);
