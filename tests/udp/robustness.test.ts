import { describe, expect, test } from "bun:test";
import { UdpEndpoint } from "../../transports/udp/endpoint.ts";
import type { PeerAddress, UdpConnectionCore } from "../../transports/udp/connection_core.ts";
import type { UdpConfigInput } from "../../transports/udp/config.ts";
import { PacketType } from "../../transports/udp/wire.ts";
import { makeMessage, prng, Recorder, sameBytes, SimNetwork } from "./sim_network.ts";

const S: PeerAddress = { host: "10.0.0.1", port: 4000 };
const C: PeerAddress = { host: "10.0.0.2", port: 5000 };

function world(
  seed: number,
  server: Partial<UdpConfigInput> = {},
  client: Partial<UdpConfigInput> = {},
) {
  const net = new SimNetwork(seed, { delayMs: 2 });
  const srec: Recorder[] = [];
  const sconns: UdpConnectionCore[] = [];
  const sEp = new UdpEndpoint(net.config({ maxMessageBytes: 1 << 20, ...server }), (c) => {
    const r = new Recorder();
    r.attach(c, (m) => c.send(m)); // echo
    srec.push(r);
    sconns.push(c);
  });
  const cEp = new UdpEndpoint(net.config({ maxMessageBytes: 1 << 20, ...client }));
  net.add(sEp, S.host, S.port);
  net.add(cEp, C.host, C.port);
  const c = cEp.connect(S, 0);
  const crec = new Recorder();
  crec.attach(c);
  return { net, sEp, cEp, c, crec, srec, sconns };
}

function roundTrip(w: ReturnType<typeof world>, n: number, seed: number): void {
  const before = w.crec.messages.length;
  const msgs = Array.from({ length: n }, (_, i) => makeMessage(i, 10 + i * 997, seed));
  for (const m of msgs) expect(w.c.send(m)).toBe(true);
  expect(w.net.run(() => w.crec.messages.length === before + n, w.net.now + 30_000)).toBe(true);
  for (let i = 0; i < n; i++) expect(sameBytes(w.crec.messages[before + i], msgs[i])).toBe(true);
}

describe("handshake", () => {
  test("version mismatch is rejected with a clear reason", () => {
    const w = world(1, {}, { protocolVersion: 7 });
    w.net.run(() => w.crec.closeReason !== null, 10_000);
    expect(w.crec.closeReason).toBe(
      "rejected by server: version mismatch: server speaks 1, client offered 7",
    );
    expect(w.sEp.connectionCount).toBe(0);
    expect(w.cEp.connectionCount).toBe(0);
  });

  test("bad auth is rejected; the right token is accepted", () => {
    const secret = new TextEncoder().encode("s3cret");
    const verifyAuth = (t: Uint8Array) => sameBytes(t, secret);
    const bad = world(2, { verifyAuth }, { authToken: new TextEncoder().encode("guess") });
    bad.net.run(() => bad.crec.closeReason !== null, 10_000);
    expect(bad.crec.closeReason).toBe("rejected by server: authentication failed");
    expect(bad.srec.length).toBe(0);
    const none = world(3, { verifyAuth });
    none.net.run(() => none.crec.closeReason !== null, 10_000);
    expect(none.crec.closeReason).toBe("rejected by server: authentication failed");
    const good = world(4, { verifyAuth }, { authToken: secret });
    expect(good.net.run(() => good.crec.established, 10_000)).toBe(true);
    roundTrip(good, 3, 4);
  });

  test("the connection limit rejects further clients with 'server busy'", () => {
    const w = world(5, { maxConnections: 1 });
    expect(w.net.run(() => w.crec.established, 1_000)).toBe(true);
    const other = new UdpEndpoint(w.net.config({ maxMessageBytes: 1000 }));
    w.net.add(other, "10.0.0.3", 6000);
    const c2 = other.connect(S, w.net.now);
    const r2 = new Recorder();
    r2.attach(c2);
    w.net.run(() => r2.closeReason !== null, 10_000);
    expect(r2.closeReason).toBe("rejected by server: server busy: 1 connections");
  });

  test("no server: the handshake times out (HELLO retried with backoff)", () => {
    const net = new SimNetwork(6, { delayMs: 2 });
    const cEp = new UdpEndpoint(net.config({ maxMessageBytes: 1000, handshakeTimeoutMs: 3_000 }));
    net.add(cEp, C.host, C.port);
    const c = cEp.connect(S, 0);
    const r = new Recorder();
    r.attach(c);
    expect(net.run(() => r.closeReason !== null, 10_000)).toBe(true);
    expect(r.closeReason).toBe("handshake timeout after 3000 ms");
    expect(c.stats.packetsSent).toBeGreaterThan(2);
    expect(c.stats.packetsSent).toBeLessThan(10);
  });

  test("a lost WELCOME is recovered by the repeated HELLO without a second connection", () => {
    const w = world(7);
    w.net.link = { delayMs: 2, blackouts: [[0, 150]] };
    expect(w.net.run(() => w.crec.established, 5_000)).toBe(true);
    expect(w.sEp.connectionCount).toBe(1);
    roundTrip(w, 5, 7);
  });
});

describe("hostile datagrams", () => {
  test("random bytes, truncations and bit flips are dropped; the connection keeps working", () => {
    const w = world(10);
    expect(w.net.run(() => w.crec.established, 1_000)).toBe(true);
    roundTrip(w, 5, 1);
    // Capture genuine datagrams to mutate.
    const genuine: Uint8Array[] = [];
    const buf = new Uint8Array(1500);
    w.c.send(makeMessage(99, 3000, 1));
    for (;;) {
      const n = w.cEp.poll(w.net.now, buf);
      if (n === 0) break;
      genuine.push(buf.slice(0, n));
      w.net.inject(buf.slice(0, n), C, S);
    }
    const r = prng(1234);
    const types = Object.values(PacketType);
    for (let i = 0; i < 20_000; i++) {
      let d: Uint8Array;
      const k = r();
      if (k < 0.3) {
        d = new Uint8Array(Math.floor(r() * 1300));
        for (let j = 0; j < d.length; j++) d[j] = Math.floor(r() * 256);
      } else if (k < 0.5) {
        d = new Uint8Array(Math.floor(r() * 80));
        for (let j = 0; j < d.length; j++) d[j] = Math.floor(r() * 256);
        if (d.length > 0) d[0] = types[Math.floor(r() * types.length)];
      } else {
        const g = genuine[Math.floor(r() * genuine.length)];
        d = g.slice(0, Math.floor(r() * (g.length + 1)));
        const flips = 1 + Math.floor(r() * 4);
        // Keep the header (so the packet reaches the connection) and corrupt the frames.
        for (let f = 0; f < flips && d.length > 17; f++) {
          d[17 + Math.floor(r() * (d.length - 17))] ^= 1 << Math.floor(r() * 8);
        }
      }
      const from = r() < 0.5 ? C : { host: "10.9.9.9", port: 1 + Math.floor(r() * 60000) };
      w.sEp.handleDatagram(d, from, w.net.now);
      w.cEp.handleDatagram(d, S, w.net.now);
    }
    const st = w.sEp.stats;
    expect(st.malformed + st.unknownConnection + st.duplicates + st.wrongAddress).toBeGreaterThan(
      10_000,
    );
    // Stateless resets are rate limited.
    expect(st.resetsSent).toBeLessThanOrEqual(64);
    w.net.run(() => w.crec.messages.length === 6, w.net.now + 10_000);
    expect(w.crec.messages.length).toBe(6);
    expect(w.c.state).toBe("established");
    expect(w.srec.length).toBe(1);
    roundTrip(w, 10, 2);
  });

  test("replayed datagrams are dropped: no message is delivered twice", () => {
    const w = world(11);
    expect(w.net.run(() => w.crec.established, 1_000)).toBe(true);
    const captured: Uint8Array[] = [];
    const buf = new Uint8Array(1500);
    for (let i = 0; i < 20; i++) w.c.send(makeMessage(i, 700, 3));
    for (;;) {
      const n = w.cEp.poll(w.net.now, buf);
      if (n === 0) break;
      captured.push(buf.slice(0, n));
      w.net.inject(buf.slice(0, n), C, S);
    }
    expect(w.net.run(() => w.srec[0].messages.length === 20, 5_000)).toBe(true);
    for (let round = 0; round < 3; round++) {
      for (const d of captured) w.net.inject(d, C, S);
    }
    w.net.run(() => false, w.net.now + 1_000);
    expect(w.srec[0].messages.length).toBe(20);
    expect(w.sEp.stats.duplicates).toBeGreaterThanOrEqual(captured.length * 3);
  });

  test("stateless reset: a restarted server with the same key resets the client at once", () => {
    const w = world(12);
    expect(w.net.run(() => w.crec.established, 1_000)).toBe(true);
    roundTrip(w, 2, 3);
    // The server restarts: new endpoint, same reset key, no connection state.
    const fresh = new UdpEndpoint(w.net.config({ maxMessageBytes: 1000 }), () => {});
    w.net.replace(fresh, S);
    w.c.send(new Uint8Array([1, 2, 3]));
    expect(w.net.run(() => w.crec.closeReason !== null, w.net.now + 1_000)).toBe(true);
    expect(w.crec.closeReason).toBe("stateless reset by peer");
    expect(fresh.stats.resetsSent).toBeGreaterThan(0);
    expect(w.cEp.stats.resetsAccepted).toBe(1);
  });

  test("stateless reset with a wrong token is ignored", () => {
    const w = world(13);
    expect(w.net.run(() => w.crec.established, 1_000)).toBe(true);
    const other = new UdpEndpoint(
      w.net.config({ maxMessageBytes: 1000, resetKey: new Uint8Array(32).fill(9) }),
      () => {},
    );
    w.net.replace(other, S);
    w.c.send(new Uint8Array([1]));
    w.net.run(() => false, w.net.now + 500);
    expect(other.stats.resetsSent).toBeGreaterThan(0);
    expect(w.c.state).toBe("established");
    expect(w.cEp.stats.resetsAccepted).toBe(0);
  });

  test("a DATA packet for an unknown connection id gets a RESET naming that id", () => {
    const net = new SimNetwork(14, { delayMs: 1 });
    const ep = new UdpEndpoint(net.config({ maxMessageBytes: 1000 }), () => {});
    const d = new Uint8Array(30);
    d[0] = PacketType.DATA;
    d.set([1, 2, 3, 4, 5, 6, 7, 8], 1);
    ep.handleDatagram(d, C, 0);
    const out = ep.drainDatagrams(0);
    expect(out.length).toBe(1);
    expect(out[0].bytes[0]).toBe(PacketType.RESET);
    expect([...out[0].bytes.subarray(1, 9)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(out[0].to).toEqual(C);
    // A RESET never answers a RESET (no loops).
    ep.handleDatagram(out[0].bytes, C, 0);
    expect(ep.drainDatagrams(0).length).toBe(0);
  });
});

describe("multiplexing", () => {
  test("one server endpoint serves 50 clients by connection id, each echo stays separate", () => {
    const net = new SimNetwork(30, { delayMs: 2, jitterMs: 2, loss: 0.02 });
    const sEp = new UdpEndpoint(net.config({ maxMessageBytes: 1 << 20 }), (c) => {
      new Recorder().attach(c, (m) => c.send(m));
    });
    net.add(sEp, S.host, S.port);
    const clients: { c: UdpConnectionCore; r: Recorder; msgs: Uint8Array[] }[] = [];
    for (let i = 0; i < 50; i++) {
      const ep = new UdpEndpoint(net.config({ maxMessageBytes: 1 << 20 }));
      net.add(ep, "10.0.1.1", 7000 + i);
      const c = ep.connect(S, 0);
      const r = new Recorder();
      r.attach(c);
      const msgs = Array.from({ length: 5 }, (_, k) => makeMessage(i * 10 + k, 50 + k * 3000, i));
      for (const m of msgs) c.send(m);
      clients.push({ c, r, msgs });
    }
    const ok = net.run(() => clients.every((x) => x.r.messages.length === 5), 60_000);
    expect(ok).toBe(true);
    expect(sEp.connectionCount).toBe(50);
    for (const x of clients) {
      for (let k = 0; k < 5; k++) expect(sameBytes(x.r.messages[k], x.msgs[k])).toBe(true);
    }
  });
});
