/**
 * Test-only helper for the Redis comparison tools (`compare_redis.ts`, `compare_fuzz.ts`): starts
 * a real `redis-server` on a free loopback port and talks RESP2 to it. Not used by the suite.
 */
import { connect, type Socket } from "node:net";
import { spawn } from "node:child_process";
import { freePort } from "../helpers/net.ts";
import type { R } from "./compare_scripts.ts";

/** A minimal RESP2 client: one command at a time, replies parsed to {@link R}. */
export class Resp {
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

/**
 * Starts `redis-server` on a free loopback port (no persistence) and connects to it; `stop()`
 * closes the connection and kills that process.
 */
export async function startRedis(): Promise<{ redis: Resp; stop: () => void }> {
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
  // Never leave the server behind (a timeout or ^C of this tool).
  const kill = () => srv.kill("SIGKILL");
  process.once("exit", kill);
  process.once("SIGINT", () => process.exit(130));
  process.once("SIGTERM", () => process.exit(143));
  return {
    redis,
    stop: () => {
      sock!.destroy();
      srv.kill("SIGKILL");
    },
  };
}
