/**
 * TCP transport checks shared by the bun:test suite and the Deno run (the same code exercises each
 * runtime's native adapter). Exits non-zero on failure when run as a script.
 */
import { createTcpTransport } from "../../transports/tcp/mod.ts";
import type { Connection } from "../../transports/types.ts";

function frame(len: number, fill: number): Uint8Array {
  return new Uint8Array(len).fill(fill);
}

/** Runs every check; throws with a description on the first failure. */
export async function runTcpChecks(): Promise<string[]> {
  const done: string[] = [];
  const t = await createTcpTransport();
  const max = 64 * 1024;
  const errors: string[] = [];
  const listener = await t.listen({ host: "127.0.0.1", port: 0, maxMessageBytes: max }, () => ({
    onMessage(c, m) {
      c.send(m); // echo
    },
    onError(c, kind, detail) {
      errors.push(`${kind}: ${detail}`);
      c.send(new TextEncoder().encode("refused"));
      c.close();
    },
  }));
  try {
    // 1. many frames of many sizes round-trip in order
    const got: Uint8Array[] = [];
    let closed = false;
    const client = await t.connect(
      { host: "127.0.0.1", port: listener.port, maxMessageBytes: max },
      {
        onMessage(_c, m) {
          got.push(m);
        },
        onClose() {
          closed = true;
        },
      },
    );
    const sizes: number[] = [];
    for (let i = 0; i < 500; i++) sizes.push(1 + ((i * 7919) % (max - 1)));
    for (let i = 0; i < sizes.length; i++) client.send(frame(sizes[i], i & 0xff));
    await waitFor(() => got.length === sizes.length, 10_000, "echo of 500 frames");
    for (let i = 0; i < sizes.length; i++) {
      if (
        got[i].length !== sizes[i] || got[i][0] !== (i & 0xff) ||
        got[i][sizes[i] - 1] !== (i & 0xff)
      ) {
        throw new Error(`frame ${i} corrupted or out of order`);
      }
    }
    done.push("500 frames echoed in order");
    // 2. oversized length prefix is refused without buffering, connection closed
    const raw = rawSender(client);
    raw(new Uint8Array([0x06, 0x40, 0x00, 0x00])); // 100 MiB length prefix
    await waitFor(() => errors.length === 1 && closed, 5000, "oversized frame refused");
    if (!errors[0].startsWith("too_large")) throw new Error(`expected too_large, got ${errors[0]}`);
    done.push("100 MiB length prefix refused and closed");
    // 3. the server still serves other clients
    let ok = false;
    const c2 = await t.connect({ host: "127.0.0.1", port: listener.port, maxMessageBytes: max }, {
      onMessage() {
        ok = true;
      },
    });
    c2.send(frame(10, 1));
    await waitFor(() => ok, 5000, "second client served");
    c2.close();
    done.push("server keeps serving after a bad client");
  } finally {
    await listener.close();
  }
  return done;
}

/** Sends raw bytes bypassing framing (test-only: uses the frame encoder's inverse). */
function rawSender(conn: Connection): (bytes: Uint8Array) => void {
  const c = conn as unknown as { writeRaw(b: Uint8Array): void };
  return (b) => c.writeRaw(b);
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

if (import.meta.main) {
  try {
    const done = await runTcpChecks();
    console.log(JSON.stringify(done));
  } catch (err) {
    console.error(err);
    (globalThis as unknown as { process: { exit(n: number): void } }).process.exit(1);
  }
}
