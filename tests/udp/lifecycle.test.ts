// Process lifecycle regressions (a node is a process that stops, crashes and restarts):
// - A listener restarted on the same address (a node process after kill -9) must reset its
//   predecessor's connections at once. With a random reset key per listener the new process's
//   RESETs carried tokens the peers rejected, so clients and Raft peers talked into a dead
//   connection until the 30 s idle timeout (measured: a client's SET after a node restart
//   succeeded only after ~30 s). The default key is now derived from the bound address.
// - `close()` must put the CLOSE frame on the wire before the process can exit. It used to be
//   written on the next setImmediate turn, and a node's graceful stop is followed by
//   `process.exit` within the same turn, so clients of a stopped node never learned it: their next
//   request waited its whole timeout and failed with TIMEOUT (outcome unknown) where TCP says
//   UNAVAILABLE at once.
import { afterEach, expect, test } from "bun:test";
import type { Connection, Listener } from "../../transports/types.ts";
import type {
  DatagramSocket,
  DatagramSocketFactory,
} from "../../transports/udp/datagram_socket.ts";
import { createUdpTransport, runtimeSocketFactory } from "../../transports/udp/mod.ts";
import { createUdpTransportWith, listenerResetKey } from "../../transports/udp/udp_transport.ts";

const HOST = "127.0.0.1";
const MAX = 1 << 20;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A socket factory whose sockets can "crash": closed at once, later sends and receives vanish. */
function crashableFactory(): { bind: DatagramSocketFactory; crash(): void } {
  const sockets: { real: DatagramSocket; dead: boolean }[] = [];
  return {
    bind: async (host, port, events, bufferBytes) => {
      const s = { real: null as unknown as DatagramSocket, dead: false };
      s.real = await runtimeSocketFactory(host, port, {
        datagram: (b, h, p) => s.dead || events.datagram(b, h, p),
        drain: () => s.dead || events.drain(),
        error: (e) => s.dead || events.error(e),
      }, bufferBytes);
      sockets.push(s);
      return {
        port: s.real.port,
        sendBatch: (bufs, to, count) => (s.dead ? count : s.real.sendBatch(bufs, to, count)),
        close: () => {
          if (!s.dead) s.real.close();
          s.dead = true;
        },
      };
    },
    crash() {
      for (const s of sockets) {
        if (!s.dead) s.real.close();
        s.dead = true;
      }
    },
  };
}

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
});

/** Listens with an echo handler. */
function echo(t: ReturnType<typeof createUdpTransport>, port: number): Promise<Listener> {
  return t.listen({ host: HOST, port, maxMessageBytes: MAX }, () => ({
    onMessage: (c, m) => void c.send(m),
  }));
}

async function restartScenario(
  second: ReturnType<typeof createUdpTransport>,
): Promise<{ reason: string; afterMs: number }> {
  // The first "process": idle timeout short enough that its orphaned endpoint goes away soon.
  const f = crashableFactory();
  const first = await echo(createUdpTransportWith(f.bind, { idleTimeoutMs: 3000 }), 0);
  cleanup.push(() => first.close(), () => f.crash());
  let closedAt = 0;
  let got = 0;
  const client = createUdpTransport(); // default 30 s idle timeout
  const conn: Connection = await client.connect({
    host: HOST,
    port: first.port,
    maxMessageBytes: MAX,
  }, {
    onMessage: () => void got++,
    onClose: () => void (closedAt = performance.now()),
  });
  cleanup.push(() => conn.close());
  conn.send(new Uint8Array([1, 2, 3]));
  for (let i = 0; i < 200 && got === 0; i++) await sleep(10);
  expect(got).toBe(1);

  // kill -9 of the first process, a new one binds the same port.
  f.crash();
  const restarted = await echo(second, first.port);
  cleanup.push(() => restarted.close());
  const t0 = performance.now();
  conn.send(new Uint8Array([4, 5, 6])); // reaches the new listener, which knows no such connection
  for (let i = 0; i < 300 && closedAt === 0; i++) await sleep(10);
  return {
    reason: (conn as unknown as { closeReason: string }).closeReason,
    afterMs: closedAt === 0 ? Infinity : closedAt - t0,
  };
}

test("listener restarted on the same port (default key): the old connection is reset at once", async () => {
  const r = await restartScenario(createUdpTransport());
  expect(r.reason).toBe("stateless reset by peer");
  expect(r.afterMs).toBeLessThan(3000); // bounded wait above; the idle timeout would be 30 s
});

test("a listener with another explicit reset key is not trusted: no reset (control)", async () => {
  const r = await restartScenario(createUdpTransport({ resetKey: new Uint8Array(32).fill(3) }));
  // The untrusted reset is ignored: the connection stays open until, at the earliest, the client's
  // response timeout (3 s of unanswered packets) ends it — never at once by the reset.
  expect(r.reason).not.toBe("stateless reset by peer");
  if (r.afterMs !== Infinity) {
    expect(r.reason).toMatch(/peer not responding/);
    expect(r.afterMs).toBeGreaterThan(2500);
  } else expect(r.reason).toBe("");
});

test("listenerResetKey: stable per address, different per port and host", () => {
  const a = listenerResetKey("127.0.0.1", 5211);
  expect(a.length).toBe(32);
  expect(listenerResetKey("127.0.0.1", 5211)).toEqual(a);
  expect(listenerResetKey("127.0.0.1", 5212)).not.toEqual(a);
  expect(listenerResetKey("0.0.0.0", 5211)).not.toEqual(a);
});

test("close() sends CLOSE before the process could exit (no event-loop turn needed)", async () => {
  const f = crashableFactory();
  let serverConn: Connection | null = null;
  const listener = await createUdpTransportWith(f.bind, { idleTimeoutMs: 3000 }).listen(
    { host: HOST, port: 0, maxMessageBytes: MAX },
    (c) => {
      serverConn = c;
      return { onMessage: (cc, m) => void cc.send(m) };
    },
  );
  cleanup.push(() => listener.close(), () => f.crash());
  let got = 0;
  let closedAt = 0;
  const conn = await createUdpTransport().connect(
    { host: HOST, port: listener.port, maxMessageBytes: MAX },
    { onMessage: () => void got++, onClose: () => void (closedAt = performance.now()) },
  );
  cleanup.push(() => conn.close());
  conn.send(new Uint8Array([1]));
  for (let i = 0; i < 200 && got === 0; i++) await sleep(10);
  expect(got).toBe(1);
  await sleep(50); // the echo is acknowledged: nothing is left to flush but the CLOSE itself
  // The server closes and "exits" in the same turn: its socket is gone before any setImmediate.
  const t0 = performance.now();
  serverConn!.close();
  f.crash();
  for (let i = 0; i < 100 && closedAt === 0; i++) await sleep(10);
  expect((conn as unknown as { closeReason: string }).closeReason).toBe("closed by peer: closed");
  expect(closedAt - t0).toBeLessThan(1000);
});

test("Bun: a connection whose server process died (port closed, no CLOSE) ends on ICMP errors", async () => {
  // kill -9 of a node: nothing says goodbye, but the kernel answers our datagrams to its closed
  // port with ICMP port unreachable. A few of those in a row, with nothing received in between,
  // close the connection, so the client fails over now instead of after the 30 s idle timeout.
  const f = crashableFactory();
  const first = await echo(createUdpTransportWith(f.bind, { idleTimeoutMs: 3000 }), 0);
  cleanup.push(() => first.close(), () => f.crash());
  let got = 0;
  let closedAt = 0;
  const conn = await createUdpTransport().connect(
    { host: HOST, port: first.port, maxMessageBytes: MAX },
    { onMessage: () => void got++, onClose: () => void (closedAt = performance.now()) },
  );
  cleanup.push(() => conn.close());
  conn.send(new Uint8Array([1]));
  for (let i = 0; i < 200 && got === 0; i++) await sleep(10);
  expect(got).toBe(1);
  f.crash();
  const t0 = performance.now();
  conn.send(new Uint8Array([2])); // draws ICMP; its retransmissions (PTO) draw more
  for (let i = 0; i < 300 && closedAt === 0; i++) await sleep(10);
  const reason = (conn as unknown as { closeReason: string }).closeReason;
  expect(reason).toMatch(/^peer unreachable \(\d+ ICMP port unreachable, nothing received\)$/);
  expect(closedAt - t0).toBeLessThan(3000);
});
