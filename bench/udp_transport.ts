/**
 * UDP transport throughput on loopback: an echo server and one client exchanging 10 KB messages
 * with a bounded number in flight. Prints messages/s and MB/s (each direction).
 *
 *   bun bench/udp_transport.ts [seconds] [inflight] [size]
 *   deno run -A bench/udp_transport.ts [seconds] [inflight] [size]
 * @module
 */
import { createUdpTransport } from "../transports/udp/mod.ts";
import { RUNTIME } from "../transports/runtime.ts";

const args = (globalThis as unknown as { Deno?: { args: string[] } }).Deno?.args ??
  (globalThis as unknown as { process: { argv: string[] } }).process.argv.slice(2);
const seconds = Number(args[0] ?? 5);
const inflight = Number(args[1] ?? 64);
const size = Number(args[2] ?? 10_240);

const t = createUdpTransport();
const listener = await t.listen(
  { host: "127.0.0.1", port: 0, maxMessageBytes: 1 << 20 },
  () => ({ onMessage: (c, m) => void c.send(m) }),
);

const payload = new Uint8Array(size).fill(0x61);
let received = 0;
let sent = 0;
let measuring = false;
let measuredStart = 0;
let measuredCount = 0;
const conn = await t.connect({ host: "127.0.0.1", port: listener.port, maxMessageBytes: 1 << 20 }, {
  onMessage(c, m) {
    if (m.length !== size) throw new Error(`bad echo length ${m.length}`);
    received++;
    if (measuring) measuredCount++;
    while (sent - received < inflight) {
      c.send(payload);
      sent++;
    }
  },
});
while (sent < inflight) {
  conn.send(payload);
  sent++;
}
// Warm up for 1 s, then measure.
await new Promise((r) => setTimeout(r, 1000));
measuring = true;
measuredStart = performance.now();
const progress = setInterval(() => {
  const el = (performance.now() - measuredStart) / 1000;
  const line = `  ${el.toFixed(1)} s: ${Math.round(measuredCount / el)} msg/s`;
  (globalThis as unknown as { process?: { stderr: { write(s: string): void } } }).process?.stderr
    .write(line + "\r");
}, 500);
await new Promise((r) => setTimeout(r, seconds * 1000));
clearInterval(progress);
const elapsed = (performance.now() - measuredStart) / 1000;
measuring = false;
const msgs = measuredCount / elapsed;
const mb = (msgs * size) / 1e6;
console.log(
  JSON.stringify({
    runtime: RUNTIME,
    messageBytes: size,
    inflight,
    seconds: Number(elapsed.toFixed(2)),
    echoedMessagesPerSec: Math.round(msgs),
    mbPerSecEachWay: Number(mb.toFixed(1)),
    mbPerSecTotal: Number((2 * mb).toFixed(1)),
  }),
);
conn.close();
await listener.close();
setTimeout(
  () => (globalThis as unknown as { process?: { exit(c: number): void } }).process?.exit(0),
  100,
);
