// End-to-end: the server runs as a real process under Deno (`deno run -A mod.ts`) and under Bun
// (`bun mod.ts`); the client library talks to each over TCP.
import { describe, expect, test } from "bun:test";
import net from "node:net";
import { connect } from "../../mod.ts";
import { runMod, type RuntimeName, startNodeProcess } from "../helpers/node_process.ts";

for (const runtime of ["deno", "bun"] as RuntimeName[]) {
  describe(`server on ${runtime}`, () => {
    test("start, batch, single commands, graceful SIGTERM", async () => {
      const node = await startNodeProcess(runtime, [
        "--port",
        "0",
        "--raft-port",
        "0",
        "--log-level",
        "info",
      ]);
      try {
        expect(node.log()).toMatch(/in memory only/);
        const c = await connect({ host: "127.0.0.1", port: node.clientPort });
        const rs = await c.batch(Array.from({ length: 100 }, (_, i) => ["SET", `k${i}`, `v${i}`]));
        expect(rs.length).toBe(100);
        expect(rs.every((r) => r.ok && r.code === "OK")).toBe(true);
        const v = await c.command("GET", "k7");
        expect(new TextDecoder().decode(v as Uint8Array)).toBe("v7");
        expect(await c.command("GET", "missing")).toBeNull();
        expect(await c.command("INCR", "n")).toBe(1);
        await expect(c.command("LPUSH", "k1", "x")).rejects.toMatchObject({
          codeName: "WRONG_TYPE",
        });
        await c.close();
      } finally {
        expect(await node.stop()).toBe(0);
      }
      expect(node.log()).toMatch(/stopped/);
    });
  });
}

describe("command line", () => {
  test("--help lists every flag with its default", async () => {
    const r = await runMod("deno", ["--help"]);
    expect(r.code).toBe(0);
    for (
      const f of [
        "--node-id",
        "--peers",
        "--host",
        "--port",
        "--raft-port",
        "--data-dir",
        "--plugins",
        "--transport",
        "--password",
        "--config",
        "--metrics-port",
        "--log-level",
        "--batch-size",
      ]
    ) {
      expect(r.stdout).toContain(f);
    }
    expect(r.stdout).toContain("default: 5210");
  });

  test("bad flags, values and plugin names: one line on stderr, exit 2", async () => {
    for (
      const args of [
        ["--bogus"],
        ["--port", "99999"],
        ["--batch-size", "abc"],
        ["--plugins", "nosuch"],
        ["--transport", "sctp"],
        ["--config", "/nonexistent/tinykv.json"],
      ]
    ) {
      const r = await runMod("bun", args);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split("\n").length).toBe(1);
      expect(r.stderr).toMatch(/^tinykv: /);
    }
    const env = await runMod("bun", [], { env: { TINYKV_BATCH_SIZE: "-4" } });
    expect(env.code).toBe(2);
    expect(env.stderr).toMatch(/environment batch_size="-4": out of range/);
  });

  test("a client port already in use: a clear error naming it, non-zero exit", async () => {
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, "127.0.0.1", () => r()));
    const port = (busy.address() as net.AddressInfo).port;
    try {
      for (const runtime of ["deno", "bun"] as RuntimeName[]) {
        const r = await runMod(runtime, ["--port", String(port), "--raft-port", "0"]);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain(`127.0.0.1:${port}`);
        expect(r.stderr.toLowerCase()).toContain("in use");
      }
    } finally {
      busy.close();
    }
  });
});
