/**
 * Real-socket checks of the UDP transport, shared by the Bun test and a Deno child process:
 * an echo server on 127.0.0.1:0, a client, small and fragmented messages round-tripping in order,
 * the same through a lossy proxy, and an oversized message refused.
 * @module
 */
import type { Connection, Transport } from "../../transports/types.ts";
import { createUdpTransport } from "../../transports/udp/mod.ts";
import { startLossyProxy } from "../../tools/lossy_proxy.ts";

const MAX = 1024 * 1024;

function message(i: number, size: number): Uint8Array {
  const m = new Uint8Array(size);
  for (let j = 0; j < size; j++) m[j] = (i * 31 + j * 7) & 0xff;
  return m;
}

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`check failed: ${what}`);
}

async function echoRound(
  t: Transport,
  port: number,
  sizes: number[],
  timeoutMs: number,
): Promise<void> {
  const got: Uint8Array[] = [];
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => (done = r));
  const conn: Connection = await t.connect({ host: "127.0.0.1", port, maxMessageBytes: MAX }, {
    onMessage(_c, m) {
      got.push(m);
      if (got.length === sizes.length) done();
    },
  });
  sizes.forEach((s, i) => check(conn.send(message(i, s)), `send ${i}`));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((_, rej) => {
    timer = setTimeout(
      () => rej(new Error(`echo timed out: ${got.length}/${sizes.length}`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([finished, timeout]);
  } finally {
    clearTimeout(timer);
  }
  for (let i = 0; i < sizes.length; i++) {
    const want = message(i, sizes[i]);
    check(got[i].length === want.length, `length of ${i}`);
    for (let j = 0; j < want.length; j += 997) check(got[i][j] === want[j], `byte ${j} of ${i}`);
  }
  conn.close();
}

/** Runs the checks; returns the names of those that passed (throws on the first failure). */
export async function runUdpChecks(t: Transport = createUdpTransport()): Promise<string[]> {
  const passed: string[] = [];
  let tooLarge = "";
  const closes: string[] = [];
  const listener = await t.listen({ host: "127.0.0.1", port: 0, maxMessageBytes: MAX }, () => ({
    onMessage(conn, m) {
      conn.send(m);
    },
    onError(conn, kind) {
      tooLarge = kind;
      conn.close();
    },
    onClose(conn) {
      closes.push(conn.remoteAddress);
    },
  }));
  check(listener.port > 0, "ephemeral port");
  try {
    const sizes = [1, 10, 100, 1000, 1199, 1200, 1201, 5000, 64_000, 500_000];
    for (let i = 0; i < 200; i++) sizes.push(1 + ((i * 37) % 3000));
    await echoRound(t, listener.port, sizes, 15_000);
    passed.push("echo");

    const proxy = await startLossyProxy({
      target: { host: "127.0.0.1", port: listener.port },
      dropRate: 0.05,
      reorderRate: 0.05,
      reorderDelayMs: 3,
      seed: 42,
    });
    try {
      const lossySizes = [1, 300, 2_000, 150_000, 10];
      for (let i = 0; i < 100; i++) lossySizes.push(1 + ((i * 53) % 4000));
      await echoRound(t, proxy.port, lossySizes, 30_000);
      check(proxy.stats.dropped > 0, "proxy dropped something");
    } finally {
      proxy.close();
    }
    passed.push("echo through 5% loss proxy");

    // Oversized message: the server refuses it with too_large.
    const small = await t.connect(
      { host: "127.0.0.1", port: listener.port, maxMessageBytes: MAX },
      {
        onMessage() {},
      },
    );
    small.send(message(0, MAX + 1));
    const deadline = Date.now() + 10_000;
    while (tooLarge === "" && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    check(tooLarge === "too_large", `too_large reported (got '${tooLarge}')`);
    small.close();
    passed.push("too_large");

    // Connecting to a closed port fails (handshake timeout) instead of hanging.
    const quick = await import("../../transports/udp/mod.ts");
    const t2 = quick.createUdpTransport({ handshakeTimeoutMs: 300 });
    let failed = "";
    try {
      await t2.connect({ host: "127.0.0.1", port: 9, maxMessageBytes: MAX }, { onMessage() {} });
    } catch (err) {
      failed = (err as Error).message;
    }
    check(failed.includes("failed"), `connect to a dead port rejects (got '${failed}')`);
    passed.push("connect failure");
  } finally {
    await listener.close();
  }
  return passed;
}

if (import.meta.main) {
  const passed = await runUdpChecks();
  console.log(JSON.stringify(passed));
  // Let the listener socket close once its connections drain.
  setTimeout(
    () => (globalThis as unknown as { process?: { exit(c: number): void } }).process?.exit(0),
    50,
  );
}
