/**
 * Helpers for the RESP tests: in-process nodes with a RESP listener on an ephemeral port (one, or
 * a 3-node cluster), a raw socket that sends bytes and collects what comes back, and redis-cli.
 */
import { spawn } from "node:child_process";
import net from "node:net";
import { type Config, makeConfig } from "../../core/config/config.ts";
import { createLogger } from "../../core/config/logger.ts";
import { startNode } from "../../core/node/node.ts";
import type { TinyKVNode } from "../../core/node/types.ts";
import { startTestNode, TEST_CLUSTER_SECRET } from "../helpers/in_process.ts";
import { memberPorts, waitFor } from "../helpers/net.ts";

export const HOST = "127.0.0.1";

/** One node with a RESP listener (ephemeral port). */
export function startRespNode(extra: Record<string, unknown> = {}): Promise<TinyKVNode> {
  return startTestNode({ redis_port: 0, ...extra });
}

/** The leader among `nodes`, if one is known. */
export function leaderOf(nodes: TinyKVNode[]): TinyKVNode | undefined {
  return nodes.find((n) => n.status().role === "leader");
}

/** Configs of `n` in-process members on ephemeral loopback ports, each with a RESP listener. */
export async function respMemberConfigs(
  n: number,
  extra: Record<string, unknown> = {},
): Promise<Config[]> {
  const { ports, peers, peerClients } = await memberPorts(n, HOST);
  return ports.map((p, i) =>
    makeConfig({
      node_id: i + 1,
      port: p.client,
      raft_port: p.raft,
      redis_port: 0,
      peers,
      peer_clients: peerClients,
      cluster_secret: TEST_CLUSTER_SECRET,
      log_level: "error",
      raft_submit_timeout_ms: 3000,
      ...extra,
    })
  );
}

/** Three in-process nodes on ephemeral loopback ports, each with a RESP listener. */
export async function startRespCluster(extra: Record<string, unknown> = {}): Promise<TinyKVNode[]> {
  for (let attempt = 1;; attempt++) {
    const configs = await respMemberConfigs(3, extra);
    const rs = await Promise.allSettled(
      configs.map((c) => startNode(c, { logger: createLogger("error") })),
    );
    const started = rs.flatMap((r) => r.status === "fulfilled" ? [r.value] : []);
    const failed = rs.find((r) => r.status === "rejected") as PromiseRejectedResult | undefined;
    if (!failed) {
      await waitFor("a leader", () => leaderOf(started));
      return started;
    }
    await Promise.all(started.map((n) => n.stop()));
    if (attempt >= 3 || !/already in use/.test(String(failed.reason))) throw failed.reason;
  }
}

/** A raw TCP connection: send bytes, read what arrives, see when it closes. */
export class RawResp {
  readonly socket: net.Socket;
  #chunks: Buffer[] = [];
  #bytes = 0;
  closed = false;
  readonly ended: Promise<void>;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (d: Buffer) => {
      this.#chunks.push(d);
      this.#bytes += d.length;
    });
    this.ended = new Promise((r) => {
      socket.on("close", () => {
        this.closed = true;
        r();
      });
      socket.on("error", () => {});
    });
  }

  static connect(port: number): Promise<RawResp> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: HOST, port });
      s.once("error", reject);
      s.once("connect", () => {
        s.off("error", reject);
        resolve(new RawResp(s));
      });
    });
  }

  /** Sends bytes or text; resolves once the socket took them (false if it is gone). */
  write(data: string | Uint8Array): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    return new Promise((r) => this.socket.write(data, (err) => r(!err)));
  }

  /** Everything received so far, as latin1 text. */
  text(): string {
    return Buffer.concat(this.#chunks).toString("latin1");
  }

  get received(): number {
    return this.#bytes;
  }

  /** Forgets what was received so far (the next `until` sees only what comes after). */
  clear(): void {
    this.#chunks = [];
  }

  /** Waits until the text received satisfies `pred` (bounded). */
  async until(pred: (t: string) => boolean, ms = 5000): Promise<string> {
    await waitFor("reply", () => pred(this.text()) ? true : undefined, ms);
    return this.text();
  }

  /** Waits (bounded) for the server to close the connection. */
  async closedWithin(ms = 5000): Promise<boolean> {
    await Promise.race([this.ended, new Promise((r) => setTimeout(r, ms))]);
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** RESP encoding of a command (array of bulk strings). */
export function resp(...args: (string | Uint8Array)[]): Uint8Array {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === "string" ? Buffer.from(a) : Buffer.from(a);
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from("\r\n"));
  }
  return new Uint8Array(Buffer.concat(parts));
}

/** Runs redis-cli with `args` (bounded); stdout, stderr and the exit code. */
export function redisCli(
  args: string[],
  input?: string,
  ms = 10_000,
): Promise<{ out: string; err: string; code: number | null }> {
  return new Promise((resolve) => {
    const p = spawn("redis-cli", args, { stdio: ["pipe", "pipe", "pipe"] });
    let out = "", err = "";
    p.stdout.on("data", (d) => out += d);
    p.stderr.on("data", (d) => err += d);
    const t = setTimeout(() => p.kill("SIGKILL"), ms);
    p.on("close", (code) => {
      clearTimeout(t);
      resolve({ out, err, code });
    });
    if (input !== undefined) p.stdin.end(input);
    else p.stdin.end();
  });
}
