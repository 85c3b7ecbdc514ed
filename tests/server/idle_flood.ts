/**
 * Child process for tests/server/connection_bounds.test.ts: opens `count` idle TCP connections to
 * 127.0.0.1:`port` (never sends a byte), prints one JSON line when every connect has been
 * attempted, and keeps what stays open until its stdin closes. Run it under a raised
 * `ulimit -n`. Usage: bun tests/server/idle_flood.ts <port> <count>
 */
import net from "node:net";
import process from "node:process";

const port = Number(process.argv[2]);
const count = Number(process.argv[3]);
const sockets: net.Socket[] = [];
let connected = 0, failed = 0, closedByServer = 0;

function open(): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: "127.0.0.1" });
    s.on("connect", () => {
      connected++;
      resolve();
    });
    s.on("error", () => {
      failed++;
      resolve();
    });
    s.on("close", () => closedByServer++);
    s.on("data", () => {});
    sockets.push(s);
  });
}

for (let i = 0; i < count; i += 250) {
  const wave: Promise<void>[] = [];
  for (let k = i; k < Math.min(count, i + 250); k++) wave.push(open());
  await Promise.all(wave);
}
console.log(JSON.stringify({ connected, failed, closedByServer }));
process.stdin.on("data", () => {});
process.stdin.on("end", () => {
  for (const s of sockets) s.destroy();
  process.exit(0);
});
