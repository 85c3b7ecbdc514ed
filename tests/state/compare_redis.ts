/**
 * Test-only tool (not part of the suite): runs command scripts through TinyKV's state machine and
 * a real `redis-server` (started here on a free loopback port, killed at the end) and prints every
 * reply that differs. Replies are normalised to text (integers and scores alike), so only
 * semantics are compared; commands marked `~` are random and only run (not compared), `@` ones
 * reply an unordered array (compared sorted).
 *
 *   bun tests/state/compare_redis.ts            # every script
 *   bun tests/state/compare_redis.ts --record   # also rewrite redis_golden.json (Redis's replies)
 *
 * The suite's `redis_compat.test.ts` checks the state machine against the recorded replies, so
 * it needs no redis-server.
 */
import { connect, type Socket } from "node:net";
import { spawn } from "node:child_process";
import { freePort } from "../helpers/net.ts";
import { Harness } from "./harness.ts";
import { Code } from "../../protocol/codes.ts";
import { normalise, parseLine, type R, SCRIPTS } from "./compare_scripts.ts";
import { writeFileSync } from "node:fs";

const record = process.argv.includes("--record");
const golden: Record<string, R[]> = {};

class Resp {
  #buf = Buffer.alloc(0);
  #waiters: ((r: R) => void)[] = [];
  constructor(readonly sock: Socket) {
    sock.on("data", (d: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, d]);
      for (;;) {
        const r = parse(this.#buf, 0);
        if (r === undefined) break;
        this.#buf = this.#buf.subarray(r[1]);
        this.#waiters.shift()!(r[0]);
      }
    });
  }
  send(args: string[]): Promise<R> {
    let s = `*${args.length}\r\n`;
    for (const a of args) s += `$${Buffer.byteLength(a, "latin1")}\r\n${a}\r\n`;
    this.sock.write(Buffer.from(s, "latin1"));
    return new Promise((res) => this.#waiters.push(res));
  }
}

function parse(b: Buffer, i: number): [R, number] | undefined {
  const nl = b.indexOf("\r\n", i);
  if (nl < 0) return undefined;
  const t = String.fromCharCode(b[i]);
  const line = b.toString("latin1", i + 1, nl);
  const next = nl + 2;
  if (t === "+" || t === ":") return [line, next];
  if (t === "-") return [{ err: line }, next];
  if (t === "$") {
    const n = Number(line);
    if (n < 0) return [null, next];
    if (b.length < next + n + 2) return undefined;
    return [b.toString("latin1", next, next + n), next + n + 2];
  }
  if (t === "*") {
    const n = Number(line);
    if (n < 0) return [null, next];
    const arr: R[] = [];
    let j = next;
    for (let k = 0; k < n; k++) {
      const r = parse(b, j);
      if (r === undefined) return undefined;
      arr.push(r[0]);
      j = r[1];
    }
    return [arr, j];
  }
  throw new Error(`bad reply type ${t}`);
}

const port = await freePort();
const srv = spawn("redis-server", [
  "--port",
  String(port),
  "--bind",
  "127.0.0.1",
  "--save",
  "",
  "--appendonly",
  "no",
], { stdio: "ignore" });
let sock: Socket | null = null;
for (let i = 0; i < 100 && sock === null; i++) {
  await new Promise((r) => setTimeout(r, 50));
  sock = await new Promise<Socket | null>((res) => {
    const s = connect(port, "127.0.0.1", () => res(s));
    s.on("error", () => res(null));
  });
}
if (sock === null) throw new Error("redis-server did not start");
const redis = new Resp(sock);
let diffs = 0;
let total = 0;
try {
  for (const [name, script] of Object.entries(SCRIPTS)) {
    await redis.send(["FLUSHALL"]);
    const h = new Harness(undefined, Date.now());
    const rec: R[] = golden[name] = [];
    for (const line of script) {
      const { random, sorted, args } = parseLine(line);
      h.ctx.nowMs = Date.now();
      const r = h.run(...args);
      const mine = normalise(r.code, r.value, r.error, sorted);
      const theirs = await redis.send(args);
      total++;
      const b = JSON.stringify(normalise(Code.OK, theirs, null, sorted));
      rec.push(random ? null : JSON.parse(b));
      if (random) continue;
      const a = JSON.stringify(mine);
      if (a !== b) {
        diffs++;
        console.log(`[${name}] ${args.join(" ")}\n  tinykv: ${a}\n  redis:  ${b}`);
      }
    }
  }
} finally {
  sock.destroy();
  srv.kill("SIGKILL");
}
console.log(`${total} commands, ${diffs} differences`);
if (record) {
  writeFileSync(
    new URL("./redis_golden.json", import.meta.url),
    JSON.stringify(golden, null, 0).replace(/\],"/g, '],\n"') + "\n",
  );
}
process.exit(diffs === 0 ? 0 : 1);
