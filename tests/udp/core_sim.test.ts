import { describe, expect, test } from "bun:test";
import { UdpEndpoint } from "../../transports/udp/endpoint.ts";
import type { UdpConnectionCore } from "../../transports/udp/connection_core.ts";
import {
  type LinkOptions,
  makeMessage,
  messageSizes,
  prng,
  Recorder,
  sameBytes,
  SimNetwork,
} from "./sim_network.ts";

const MAX = 1024 * 1024;

interface Pair {
  net: SimNetwork;
  client: UdpConnectionCore;
  server: () => UdpConnectionCore | null;
  clientRec: Recorder;
  serverRec: Recorder;
}

function setup(seed: number, link: LinkOptions, idleTimeoutMs = 10_000): Pair {
  const net = new SimNetwork(seed, link);
  const serverRec = new Recorder();
  const clientRec = new Recorder();
  let serverConn: UdpConnectionCore | null = null;
  const server = new UdpEndpoint(net.config({ maxMessageBytes: MAX, idleTimeoutMs }), (c) => {
    serverConn = c;
    serverRec.attach(c);
  });
  const clientEp = new UdpEndpoint(net.config({ maxMessageBytes: MAX, idleTimeoutMs }));
  const sAddr = net.add(server, "10.0.0.1", 4000);
  net.add(clientEp, "10.0.0.2", 5000);
  const client = clientEp.connect(sAddr, net.now);
  clientRec.attach(client);
  return { net, client, server: () => serverConn, clientRec, serverRec };
}

function exchange(seed: number, link: LinkOptions, count: number, maxTime: number): Pair {
  const p = setup(seed, link);
  const rand = prng(seed ^ 0x5eed);
  const up = messageSizes(count, rand).map((s, i) => makeMessage(i, s, 1));
  const down = messageSizes(count, rand).map((s, i) => makeMessage(i, s, 2));
  expect(p.net.run(() => p.clientRec.established, 20_000)).toBe(true);
  for (const m of up) expect(p.client.send(m)).toBe(true);
  const s = p.server()!;
  for (const m of down) expect(s.send(m)).toBe(true);
  const ok = p.net.run(
    () => p.serverRec.messages.length >= up.length && p.clientRec.messages.length >= down.length,
    maxTime,
  );
  expect(ok).toBe(true);
  // Exactly once, in order, intact.
  expect(p.serverRec.messages.length).toBe(up.length);
  expect(p.clientRec.messages.length).toBe(down.length);
  for (let i = 0; i < up.length; i++) expect(sameBytes(p.serverRec.messages[i], up[i])).toBe(true);
  for (let i = 0; i < down.length; i++) {
    expect(sameBytes(p.clientRec.messages[i], down[i])).toBe(true);
  }
  // Nothing extra arrives afterwards (no late duplicates), and both sides drain their buffers.
  p.net.run(() => p.client.bufferedBytes() === 0 && s.bufferedBytes() === 0, p.net.now + 60_000);
  expect(p.client.bufferedBytes()).toBe(0);
  expect(s.bufferedBytes()).toBe(0);
  expect(p.serverRec.messages.length).toBe(up.length);
  expect(p.clientRec.messages.length).toBe(down.length);
  expect(p.clientRec.errors).toEqual([]);
  expect(p.serverRec.errors).toEqual([]);
  return p;
}

describe("udp core over a simulated link", () => {
  test("0% loss: both directions, sizes 1 B .. 300+ KB, exactly once and in order", () => {
    const p = exchange(1, { delayMs: 5 }, 60, 60_000);
    expect(p.client.stats.packetsLost).toBe(0);
  });

  test("5% loss with jitter", () => {
    const p = exchange(2, { delayMs: 5, jitterMs: 2, loss: 0.05 }, 60, 300_000);
    expect(p.client.stats.packetsLost + p.server()!.stats.packetsLost).toBeGreaterThan(0);
  });

  test("20% loss", () => {
    exchange(3, { delayMs: 5, jitterMs: 1, loss: 0.2 }, 40, 900_000);
  });

  test("more seeds: 5% and 20% loss with reordering and duplication", () => {
    for (let seed = 100; seed < 106; seed++) {
      exchange(
        seed,
        {
          delayMs: 3,
          jitterMs: 3,
          loss: seed % 2 === 0 ? 0.05 : 0.2,
          reorder: 0.05,
          duplicate: 0.05,
        },
        30,
        900_000,
      );
    }
  });

  test("reordering, duplication and jitter", () => {
    const p = exchange(
      4,
      {
        delayMs: 5,
        jitterMs: 4,
        reorder: 0.1,
        reorderDelayMs: 12,
        duplicate: 0.1,
      },
      60,
      300_000,
    );
    expect(p.client.stats.duplicatesDropped + p.server()!.stats.duplicatesDropped)
      .toBeGreaterThan(0);
  });

  test("bottleneck with a small queue (congestion losses)", () => {
    exchange(5, { delayMs: 10, bytesPerMs: 2000, queueBytes: 30_000 }, 40, 300_000);
  });

  test("blackout shorter than the idle timeout: the connection recovers", () => {
    const p = setup(6, { delayMs: 5, blackouts: [[1_000, 6_000]] }, 10_000);
    expect(p.net.run(() => p.clientRec.established, 500)).toBe(true);
    const msgs = Array.from({ length: 200 }, (_, i) => makeMessage(i, 500 + i * 50, 3));
    let sent = 0;
    // Keep sending through the blackout.
    const ok = p.net.run(() => {
      while (sent < msgs.length && p.net.now >= sent * 30) p.client.send(msgs[sent++]);
      return p.serverRec.messages.length === msgs.length;
    }, 60_000);
    expect(ok).toBe(true);
    for (let i = 0; i < msgs.length; i++) {
      expect(sameBytes(p.serverRec.messages[i], msgs[i])).toBe(true);
    }
    expect(p.client.state).toBe("established");
    expect(p.client.stats.ptoCount).toBeGreaterThan(0);
  });

  test("blackout longer than the idle timeout: both sides time out with a clear reason", () => {
    const p = setup(7, { delayMs: 5, blackouts: [[1_000, 100_000]] }, 4_000);
    expect(p.net.run(() => p.clientRec.established, 500)).toBe(true);
    p.net.run(() => p.net.now >= 1_100, 2_000);
    p.client.send(makeMessage(0, 5000, 1));
    const ok = p.net.run(
      () => p.clientRec.closeReason !== null && p.serverRec.closeReason !== null,
      20_000,
    );
    expect(ok).toBe(true);
    expect(p.clientRec.closeReason).toBe("idle timeout after 4000 ms");
    expect(p.serverRec.closeReason).toBe("idle timeout after 4000 ms");
    // Timed out close to the deadline (last packet received before the blackout + 4 s).
    expect(p.net.now).toBeLessThan(1_000 + 4_000 + 100);
    expect(p.client.send(new Uint8Array(1))).toBe(false);
  });

  test("keep-alive holds an idle connection open past the idle timeout", () => {
    const p = setup(8, { delayMs: 5 }, 3_000);
    expect(p.net.run(() => p.clientRec.established, 500)).toBe(true);
    p.net.run(() => false, 20_000);
    expect(p.client.state).toBe("established");
    expect(p.server()!.state).toBe("established");
    p.client.send(new Uint8Array([42]));
    expect(p.net.run(() => p.serverRec.messages.length === 1, 21_000)).toBe(true);
  });

  test("graceful close flushes queued messages, then the peer sees the reason", () => {
    const p = setup(9, { delayMs: 5, loss: 0.1 });
    expect(p.net.run(() => p.clientRec.established, 5_000)).toBe(true);
    const big = makeMessage(1, 200_000, 9);
    p.client.send(big);
    p.client.close("bye");
    expect(p.client.send(new Uint8Array(1))).toBe(false);
    const ok = p.net.run(() => p.serverRec.closeReason !== null, 120_000);
    expect(ok).toBe(true);
    expect(p.serverRec.messages.length).toBe(1);
    expect(sameBytes(p.serverRec.messages[0], big)).toBe(true);
    expect(p.serverRec.closeReason).toBe("closed by peer: bye");
    expect(p.clientRec.closeReason).toBe("closed locally");
    p.net.run(() => false, p.net.now + 5_000);
    expect(p.client.state).toBe("closed");
  });

  test("a message over maxMessageBytes is refused with too_large and never buffered", () => {
    const net = new SimNetwork(10, { delayMs: 2 });
    const rec = new Recorder();
    const server = new UdpEndpoint(net.config({ maxMessageBytes: 1000 }), (c) => rec.attach(c));
    const cEp = new UdpEndpoint(net.config({ maxMessageBytes: 1000 }));
    const sAddr = net.add(server, "10.0.0.1", 1);
    net.add(cEp, "10.0.0.2", 2);
    const c = cEp.connect(sAddr, 0);
    const crec = new Recorder();
    crec.attach(c);
    expect(net.run(() => crec.established, 1_000)).toBe(true);
    c.send(makeMessage(0, 1000, 1));
    c.send(makeMessage(1, 50_000, 1));
    c.send(makeMessage(2, 10, 1));
    expect(net.run(() => rec.errors.length > 0, 10_000)).toBe(true);
    expect(rec.messages.length).toBe(1);
    expect(rec.errors[0]).toStartWith("too_large: message of 50000 bytes");
    net.run(() => false, net.now + 2_000);
    expect(rec.messages.length).toBe(1);
  });

  test("flow control: a slow link never lets the sender exceed the receiver's credit", () => {
    const net = new SimNetwork(11, { delayMs: 20, bytesPerMs: 500 });
    const rec = new Recorder();
    let sc: UdpConnectionCore | null = null;
    const server = new UdpEndpoint(
      net.config({ maxMessageBytes: MAX, receiveWindowBytes: 64 * 1024 }),
      (c) => {
        sc = c;
        rec.attach(c);
      },
    );
    const cEp = new UdpEndpoint(net.config({ maxMessageBytes: MAX }));
    const sAddr = net.add(server, "10.0.0.1", 1);
    net.add(cEp, "10.0.0.2", 2);
    const c = cEp.connect(sAddr, 0);
    new Recorder().attach(c);
    net.run(() => c.state === "established", 1_000);
    const msgs = Array.from({ length: 20 }, (_, i) => makeMessage(i, 30_000, 4));
    for (const m of msgs) c.send(m);
    let maxSeen = 0;
    const ok = net.run(() => {
      maxSeen = Math.max(maxSeen, c.peerMaxData);
      expect(c.peerMaxData).toBeLessThanOrEqual(sc!.localMaxData);
      return rec.messages.length === msgs.length;
    }, 120_000);
    expect(ok).toBe(true);
    expect(maxSeen).toBeGreaterThan(64 * 1024); // credit was extended as data was consumed
  });
});
