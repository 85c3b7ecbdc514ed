// `--transport udp`, `TINYKV_TRANSPORT=udp` and the config file's `"transport": "udp"` each select
// UDP for the client listener AND for peers. For each path, a 2-node cluster is started in process
// from a config built the way `mod.ts` builds it (parseNodeArgs + configFromArgs), with only the
// transport coming from the path under test. Checks: INFO says udp; a UDP client works; nothing
// accepts TCP on the client or raft ports; the raft port completes a UDP handshake; and the two
// nodes elect a leader and replicate a write, which they can only do over UDP peer links.
// The peers are addressed through loss-free proxies that learn their target once the nodes have
// bound ephemeral ports.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configFromArgs, parseNodeArgs } from "../../cli/node.ts";
import { createLogger } from "../../core/config/logger.ts";
import { startNode } from "../../core/node/node.ts";
import type { TinyKVNode } from "../../core/node/types.ts";
import { connect } from "../../mod.ts";
import { createUdpTransport } from "../../transports/udp/mod.ts";
import { type LossyProxy, startLossyProxy } from "../../tools/lossy_proxy.ts";

const HOST = "127.0.0.1";
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** True if a TCP connection to `port` is accepted. */
function tcpAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: HOST, port });
    const t = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, 1000);
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

type Path = "flag" | "env" | "file";

/** argv and env for node `id` with the transport given by `path` only. */
function sources(path: Path, id: number, peers: string, dir: string) {
  const argv = [
    "--node-id",
    String(id),
    "--host",
    HOST,
    "--port",
    "0",
    "--raft-port",
    "0",
    "--peers",
    peers,
    "--log-level",
    "error",
  ];
  // Peers authenticate with a shared secret.
  const env: Record<string, string> = { TINYKV_CLUSTER_SECRET: "udp-transport-config-secret" };
  if (path === "flag") argv.push("--transport", "udp");
  if (path === "env") env.TINYKV_TRANSPORT = "udp";
  if (path === "file") {
    const file = join(dir, `node${id}.json`);
    writeFileSync(file, JSON.stringify({ transport: "udp" }));
    argv.push("--config", file);
  }
  return { argv, env };
}

describe("transport selection", () => {
  test("flags > env > file: a tcp flag overrides udp from env and file", () => {
    const dir = mkdtempSync(join(tmpdir(), "tkv-udp-cfg-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, "c.json");
    writeFileSync(file, JSON.stringify({ transport: "udp" }));
    const env = { TINYKV_TRANSPORT: "udp" };
    expect(configFromArgs(parseNodeArgs(["--config", file]), {}).transport).toBe("udp");
    expect(configFromArgs(parseNodeArgs([]), env).transport).toBe("udp");
    expect(configFromArgs(parseNodeArgs(["--transport", "tcp"]), env).transport).toBe("tcp");
    expect(configFromArgs(parseNodeArgs(["--config", file]), { TINYKV_TRANSPORT: "tcp" }).transport)
      .toBe("tcp");
    expect(configFromArgs(parseNodeArgs([]), {}).transport).toBe("tcp");
  });

  for (const path of ["flag", "env", "file"] as Path[]) {
    test(`udp via ${path}: client listener and peers use UDP`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "tkv-udp-cfg-"));
      cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
      const proxies: LossyProxy[] = [];
      for (let i = 0; i < 2; i++) {
        const p = await startLossyProxy({ target: null, dropRate: 0, seed: i });
        proxies.push(p);
        cleanup.push(() => p.close());
      }
      const peers = proxies.map((p, i) => `${i + 1}=${HOST}:${p.port}`).join(",");
      const nodes: TinyKVNode[] = [];
      for (const id of [1, 2]) {
        const { argv, env } = sources(path, id, peers, dir);
        const config = configFromArgs(parseNodeArgs(argv), env);
        expect(config.transport).toBe("udp");
        const node = await startNode(config, { logger: createLogger("error") });
        cleanup.push(() => node.stop());
        proxies[id - 1].setTarget({ host: HOST, port: node.raftPort });
        nodes.push(node);
      }

      for (const n of nodes) {
        // No TCP listener on either port.
        expect(await tcpAccepts(n.clientPort)).toBe(false);
        expect(await tcpAccepts(n.raftPort)).toBe(false);
        // The raft port speaks our UDP protocol (handshake completes).
        const probe = await createUdpTransport({ handshakeTimeoutMs: 2000 }).connect(
          { host: HOST, port: n.raftPort, maxMessageBytes: 1024 },
          { onMessage() {} },
        );
        probe.close();
      }

      // The nodes elect a leader over UDP peer links (bounded).
      const deadline = Date.now() + 10_000;
      while (
        Date.now() < deadline &&
        !nodes.some((n) => n.status().role === "leader" && nodes.every((m) => m.status().leader))
      ) await sleep(10);
      const leader = nodes.find((n) => n.status().role === "leader");
      expect(leader).toBeDefined();

      const c = await connect({ host: HOST, port: leader!.clientPort, transport: "udp" });
      cleanup.push(() => c.close());
      expect(String(await c.command("INFO"))).toContain("transport:udp");
      expect(await c.command("SET", "k", "v")).toBe("OK");
      // The follower applies the write too: replication went over UDP.
      const target = leader!.status().commit;
      while (Date.now() < deadline && nodes.some((n) => n.status().applied < target)) {
        await sleep(10);
      }
      expect(nodes.map((n) => n.status().applied >= target)).toEqual([true, true]);
      expect(proxies.every((p) => p.stats.forwarded > 0)).toBe(true);
    }, 30_000);
  }
});
