/**
 * A cluster of real TinyKV node processes on loopback for the tests in this folder: reserves
 * ephemeral ports, starts `bun mod.ts` / `deno run -A mod.ts` nodes with `--peers`, kill -9s and
 * restarts them on the same ports and data directories, and inspects each node through its own
 * client port (INFO is answered locally by every node; reads are served by the leader only, so
 * `readFrom` moves leadership to the node it reads from).
 *
 * Only processes started here are ever signalled, by their own ChildProcess handle; every test
 * calls `close()` (kill -9 of what is left, removal of the temp dir) in `finally`/`afterAll`, and a
 * process "exit" hook kills whatever is still running if the test runner itself goes away.
 */
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { type Client, connect, type Value } from "../../mod.ts";
import { generateSecret } from "../../core/peers/auth.ts";
import { type NodeProcess, type RuntimeName, startNodeProcess } from "../helpers/node_process.ts";

export const HOST = "127.0.0.1";

/** Every node process started by this module and not yet known to be dead. */
const live = new Set<NodeProcess>();
let exitHook = false;

function track(p: NodeProcess): void {
  live.add(p);
  p.exited.then(() => live.delete(p));
  if (!exitHook) {
    exitHook = true;
    process.on("exit", () => {
      for (const x of live) {
        try {
          x.proc.kill("SIGKILL");
        } catch { /* already gone */ }
      }
    });
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Reserves `n` distinct free loopback ports: binds them all on port 0 at once, reads the ports,
 * closes. (Another process could take one before the node binds it; a node that cannot bind fails
 * to start, and `ProcessCluster.start` retries the whole start with new ports.)
 */
export async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const s = net.createServer();
      servers.push(s);
      await new Promise<void>((res, rej) => {
        s.once("error", rej);
        s.listen(0, HOST, () => res());
      });
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

/** True if something accepts connections on `port` of loopback. */
export function portOpen(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: HOST, port });
    const t = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, timeoutMs);
    s.once("connect", () => {
      clearTimeout(t);
      s.destroy();
      resolve(true);
    });
    s.once("error", () => {
      clearTimeout(t);
      resolve(false);
    });
  });
}

/** Parses INFO's `key:value` lines. */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const i = line.indexOf(":");
    if (i > 0 && !line.startsWith("#")) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** A client bound to one node only: no redirects, no retries elsewhere. */
export function directClient(port: number, timeoutMs = 2000): Promise<Client> {
  return connect({ host: HOST, port, maxRedirects: 0, timeoutMs, connectTimeoutMs: 1000 });
}

export interface ClusterNode {
  id: number;
  runtime: RuntimeName;
  port: number;
  raftPort: number;
  /** RESP port (`--redis-port`), or -1 when the cluster was started without `redis`. */
  redisPort: number;
  dataDir: string;
  proc: NodeProcess | null;
  /** Logs of earlier incarnations of this node (for failure messages). */
  pastLogs: string[];
}

export interface ClusterOptions {
  /** Runtime of each node (its length is the cluster size). */
  runtimes: RuntimeName[];
  /** `--plugins` value ("" for none). */
  plugins?: string;
  /** More node flags. */
  args?: string[];
  /** Give every node a RESP listener (`--redis-port`) on a reserved port of its own. */
  redis?: boolean;
  /** Prefix of the temp dir name. */
  name?: string;
}

/** A cluster of node processes (ids 1..n) with peers on reserved loopback ports. */
export class ProcessCluster {
  readonly nodes: ClusterNode[];
  readonly root: string;
  /** The cluster secret every node gets (TINYKV_CLUSTER_SECRET; a flag in `args` overrides it). */
  readonly secret: string = generateSecret();
  readonly #opts: ClusterOptions;
  #closed = false;

  private constructor(nodes: ClusterNode[], root: string, opts: ClusterOptions) {
    this.nodes = nodes;
    this.root = root;
    this.#opts = opts;
  }

  /** Starts every node (retrying with fresh ports if a reserved port was taken meanwhile). */
  static async start(opts: ClusterOptions): Promise<ProcessCluster> {
    const root = mkdtempSync(join(tmpdir(), `${opts.name ?? "tkv-cluster"}-`));
    for (let attempt = 1;; attempt++) {
      const per = opts.redis ? 3 : 2;
      const ports = await freePorts(per * opts.runtimes.length);
      const nodes: ClusterNode[] = opts.runtimes.map((runtime, i) => ({
        id: i + 1,
        runtime,
        port: ports[per * i],
        raftPort: ports[per * i + 1],
        redisPort: opts.redis ? ports[per * i + 2] : -1,
        dataDir: join(root, `node${i + 1}`),
        proc: null,
        pastLogs: [],
      }));
      const c = new ProcessCluster(nodes, root, opts);
      // allSettled: when one node fails, the others have finished starting before they are killed.
      const rs = await Promise.allSettled(nodes.map((n) => c.startNode(n.id)));
      const failed = rs.find((r) => r.status === "rejected") as PromiseRejectedResult | undefined;
      if (!failed) return c;
      await c.killAll();
      const msg = String((failed.reason as Error).message);
      if (attempt < 3 && /EADDRINUSE|address.*in use|failed to listen/i.test(msg)) {
        for (const n of nodes) rmSync(n.dataDir, { recursive: true, force: true });
        continue;
      }
      c.#removeRoot();
      throw failed.reason;
    }
  }

  node(id: number): ClusterNode {
    const n = this.nodes[id - 1];
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  /** Client addresses of every node. */
  endpoints(): string[] {
    return this.nodes.map((n) => `${HOST}:${n.port}`);
  }

  /** Ids of nodes whose process runs. */
  liveIds(): number[] {
    return this.nodes.filter((n) => n.proc !== null).map((n) => n.id);
  }

  /** The flags node `id` is started with. */
  args(id: number): string[] {
    const n = this.node(id);
    const peers = this.nodes.map((x) => `${x.id}=${HOST}:${x.raftPort}`).join(",");
    const peerClients = this.nodes.map((x) => `${x.id}=${HOST}:${x.port}`).join(",");
    const a = [
      "--node-id",
      String(id),
      "--host",
      HOST,
      "--port",
      String(n.port),
      "--raft-port",
      String(n.raftPort),
      "--peers",
      peers,
      "--peer-clients",
      peerClients,
      "--data-dir",
      n.dataDir,
      "--log-level",
      "info",
    ];
    if (this.#opts.plugins) a.push("--plugins", this.#opts.plugins);
    if (n.redisPort >= 0) a.push("--redis-port", String(n.redisPort));
    return [...a, ...(this.#opts.args ?? [])];
  }

  /** Starts (or restarts, same ports and data dir) node `id`, optionally under another runtime. */
  async startNode(id: number, runtime?: RuntimeName): Promise<void> {
    if (this.#closed) throw new Error("cluster closed");
    const n = this.node(id);
    if (n.proc) throw new Error(`node ${id} is running`);
    if (runtime) n.runtime = runtime;
    const p = await startNodeProcess(n.runtime, this.args(id), {
      timeoutMs: 20_000,
      env: { TINYKV_METRICS_PORT: "0", TINYKV_CLUSTER_SECRET: this.secret },
    });
    track(p);
    if (p.clientPort !== n.port || p.raftPort !== n.raftPort) {
      await p.kill9();
      throw new Error(
        `node ${id} bound ${p.clientPort}/${p.raftPort}, not ${n.port}/${n.raftPort}`,
      );
    }
    n.proc = p;
    if (this.#closed) await this.kill9(id);
  }

  /** kill -9 node `id` and wait until it is gone. */
  async kill9(id: number): Promise<void> {
    const n = this.node(id);
    const p = n.proc;
    if (!p) return;
    n.proc = null;
    await p.kill9();
    n.pastLogs.push(p.log());
  }

  /** kill -9 every running node at the same moment. */
  async killAll(): Promise<void> {
    const procs = this.nodes.map((n) => n.proc).filter((p) => p !== null);
    for (const p of procs) p.proc.kill("SIGKILL");
    await Promise.all(this.nodes.map((n) => this.kill9(n.id)));
  }

  /** SIGTERM node `id`; resolves to its exit code (bounded: SIGKILL after 10 s). */
  async stopNode(id: number): Promise<number | null> {
    const n = this.node(id);
    const p = n.proc;
    if (!p) return null;
    const code = await p.stop();
    n.proc = null;
    n.pastLogs.push(p.log());
    return code;
  }

  /** SIGSTOP / SIGCONT node `id` (freeze it without closing its sockets). */
  freeze(id: number, frozen: boolean): void {
    const p = this.node(id).proc;
    if (p) p.proc.kill(frozen ? "SIGSTOP" : "SIGCONT");
  }

  /** Every log line of node `id` so far (all incarnations). */
  log(id: number): string {
    const n = this.node(id);
    return [...n.pastLogs, n.proc?.log() ?? ""].join("\n--- restart ---\n");
  }

  /**
   * ERROR lines logged by any node so far, all incarnations (a fatal storage error, a plugin hook
   * that threw, an undecodable entry, ...): a healthy run logs none.
   */
  errorLines(): string[] {
    return this.nodes.flatMap((n) =>
      this.log(n.id).split("\n").filter((l) => /^\S+ ERROR /.test(l)).map((l) =>
        `node ${n.id}: ${l}`
      )
    );
  }

  /** The last `lines` lines of every node's log, for failure messages. */
  logTails(lines = 15): string {
    return this.nodes.map((n) =>
      `== node ${n.id} (${n.runtime})\n` +
      this.log(n.id).trim().split("\n").slice(-lines).join("\n")
    ).join("\n");
  }

  /** INFO of node `id` (answered by that node itself), or null if it does not answer. */
  async info(id: number, timeoutMs = 1500): Promise<Record<string, string> | null> {
    const n = this.node(id);
    if (!n.proc) return null;
    let c: Client | null = null;
    try {
      c = await directClient(n.port, timeoutMs);
      return parseInfo(String(await c.command("INFO")));
    } catch {
      return null;
    } finally {
      await c?.close();
    }
  }

  /** INFO of every running node (null for those that do not answer). */
  async infos(): Promise<Map<number, Record<string, string> | null>> {
    const ids = this.liveIds();
    const rs = await Promise.all(ids.map((id) => this.info(id)));
    return new Map(ids.map((id, i) => [id, rs[i]]));
  }

  /**
   * Waits (bounded) for a leader among the running nodes that a majority of the running nodes
   * agree on (same term); returns its id.
   */
  async waitLeader(timeoutMs = 15_000, among?: number[]): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const infos = await this.infos();
      let best: { id: number; term: number } | null = null;
      for (const [id, inf] of infos) {
        if (inf?.role === "leader" && (!best || Number(inf.term) > best.term)) {
          best = { id, term: Number(inf.term) };
        }
      }
      if (best && (!among || among.includes(best.id))) {
        const agree = [...infos.values()].filter((inf) =>
          inf && Number(inf.leader) === best!.id && Number(inf.term) === best!.term
        ).length;
        if (2 * agree > this.nodes.length) {
          return best.id;
        }
      }
      await sleep(50);
    }
    throw new Error(`no leader within ${timeoutMs} ms\n${this.logTails()}`);
  }

  /**
   * Waits (bounded) until every node in `ids` (default: all) is running and reports the same
   * commit, applied and last index, with applied = commit, twice in a row 100 ms apart; returns
   * the INFO of each.
   */
  async waitConverged(
    timeoutMs = 20_000,
    ids = this.nodes.map((n) => n.id),
  ): Promise<Map<number, Record<string, string>>> {
    const deadline = Date.now() + timeoutMs;
    let prev = "";
    let last: (Record<string, string> | null)[] = [];
    while (Date.now() < deadline) {
      last = await Promise.all(ids.map((id) => this.info(id)));
      const sig = last.map((i) => i && `${i.commit_index}/${i.applied_index}/${i.last_index}`);
      const same = sig.every((s, _, a) => s !== null && s === a[0]) &&
        last.every((i) => i!.applied_index === i!.commit_index);
      if (same && sig[0] === prev) return new Map(ids.map((id, i) => [id, last[i]!]));
      prev = same ? sig[0]! : "";
      await sleep(100);
    }
    throw new Error(
      `nodes ${ids} did not converge within ${timeoutMs} ms: ${
        JSON.stringify(
          last.map((i) => i && [i.role, i.term, i.commit_index, i.applied_index, i.last_index]),
        )
      }\n${this.logTails()}`,
    );
  }

  /** Makes node `to` the leader (TRANSFER_LEADER sent to the current leader), bounded. */
  async transferLeader(to: number, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const leader = await this.waitLeader(Math.max(1, deadline - Date.now()));
      if (leader === to) return;
      let c: Client | null = null;
      try {
        c = await directClient(this.node(leader).port);
        await c.command("TRANSFER_LEADER", String(to));
      } catch { /* leadership moved meanwhile: look again */ }
      await c?.close();
      const until = Math.min(deadline, Date.now() + 2000);
      while (Date.now() < until) {
        const inf = await this.info(to);
        if (inf?.role === "leader") return;
        await sleep(30);
      }
    }
    throw new Error(`could not make node ${to} the leader within ${timeoutMs} ms`);
  }

  /**
   * Reads `keys` (GET) from node `id`'s own state machine: leadership is moved to `id` first and
   * the reads go to `id` alone (no redirects); if leadership moves away meanwhile, it starts over
   * (bounded). Returns key → value (null = not found).
   */
  async readFrom(id: number, keys: string[], timeoutMs = 30_000): Promise<Map<string, Value>> {
    const deadline = Date.now() + timeoutMs;
    let lastErr = "";
    while (Date.now() < deadline) {
      await this.transferLeader(id, Math.max(1, deadline - Date.now()));
      const c = await directClient(this.node(id).port, 5000);
      try {
        const out = new Map<string, Value>();
        let moved = false;
        for (let i = 0; i < keys.length && !moved; i += 500) {
          const chunk = keys.slice(i, i + 500);
          const rs = await c.batch(chunk.map((k) => ["GET", k]));
          for (let j = 0; j < rs.length; j++) {
            if (!rs[j].ok) {
              moved = true;
              lastErr = `${rs[j].code}: ${rs[j].error}`;
              break;
            }
            out.set(chunk[j], rs[j].value);
          }
        }
        if (!moved) return out;
      } catch (err) {
        lastErr = (err as Error).message;
      } finally {
        await c.close();
      }
    }
    throw new Error(`could not read from node ${id} within ${timeoutMs} ms: ${lastErr}`);
  }

  /** kill -9 whatever still runs (also SIGSTOPped nodes) and remove the temp dir. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.killAll();
    this.#removeRoot();
  }

  #removeRoot(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** Decodes a GET value to a string (null stays null). */
export function text(v: Value): string | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Uint8Array) return new TextDecoder().decode(v);
  return String(v);
}
