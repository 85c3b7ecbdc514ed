import { describe, expect, test } from "bun:test";
import process from "node:process";
import {
  ConfigError,
  defaultConfig,
  envName,
  flagName,
  makeConfig,
  optionsHelp,
  resolveConfig,
} from "../../core/config/config.ts";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  loadNodeCommandLine,
  nodeConfig,
  parseNodeArgs,
  usage,
  UsageError,
} from "../../cli/node.ts";
import { definePlugin, pluginOptionSpecs, pluginOptionValues } from "../../core/plugin/plugin.ts";
import { startTestNode } from "../helpers/in_process.ts";

describe("config", () => {
  test("defaults come from the plan", () => {
    const c = defaultConfig();
    expect(c.port).toBe(5210);
    expect(c.raft_port).toBe(5211);
    expect(c.batch_size).toBe(100);
    expect(c.batch_timeout_ms).toBe(10);
    expect(c.batch_max_bytes).toBe(1024 * 1024);
    expect(c.raft_submit_timeout_ms).toBe(2000);
    expect(c.raft_append_batch).toBe(500);
    expect(c.election_timeout_ms).toBe(400);
    expect(c.heartbeat_ms).toBe(30);
    expect(c.socket_buffer_bytes).toBe(64 * 1024);
    expect(c.tcp_nodelay).toBe(true);
    expect(c.password).toBe("");
    expect(c.data_dir).toBe("./data");
    expect(c.transport).toBe("tcp");
  });

  test("precedence: flags > env > file > defaults", () => {
    const file = { path: "t.json", data: { batch_size: 10, port: 7000, batch_timeout_ms: 3 } };
    const env = { TINYKV_BATCH_SIZE: "20", TINYKV_PORT: "7001" };
    const c = resolveConfig({ file, env, flags: { batch_size: "30" } });
    expect(c.batch_size).toBe(30);
    expect(c.port).toBe(7001);
    expect(c.batch_timeout_ms).toBe(3);
    expect(c.raft_port).toBe(5211);
  });

  test("bad values name the key, the value and what is allowed", () => {
    expect(() => resolveConfig({ flags: { batch_size: "abc" } })).toThrow(
      /batch_size="abc": not an integer/,
    );
    expect(() => resolveConfig({ flags: { batch_size: "0" } })).toThrow(
      /batch_size="0": out of range \(allowed 1\.\.100000\)/,
    );
    expect(() => resolveConfig({ env: { TINYKV_TRANSPORT: "sctp" } })).toThrow(
      /transport="sctp": not allowed \(allowed: tcp, udp\)/,
    );
    expect(() => resolveConfig({ flags: { tcp_nodelay: "maybe" } })).toThrow(/not a boolean/);
    expect(() => resolveConfig({ flags: { nope: "1" } })).toThrow(/unknown flag --nope/);
    expect(() => resolveConfig({ file: { path: "x.json", data: { nope: 1 } } })).toThrow(
      /config file x.json: unknown key "nope"/,
    );
    expect(() => resolveConfig({ file: { path: "x.json", data: [1] } })).toThrow(ConfigError);
  });

  test("peers parse and are validated", () => {
    const c = resolveConfig({
      flags: {
        node_id: "2",
        peers: "1=127.0.0.1:5211,2=127.0.0.1:5221,3=127.0.0.1:5231",
        cluster_secret: "0123456789abcdef",
      },
    });
    expect(c.peers).toEqual({ 1: "127.0.0.1:5211", 2: "127.0.0.1:5221", 3: "127.0.0.1:5231" });
    expect(() => resolveConfig({ flags: { peers: "1=127.0.0.1" } })).toThrow(/bad peer/);
    expect(() => resolveConfig({ flags: { node_id: "4", peers: "1=a:1,2=b:2" } })).toThrow(
      /not among peers/,
    );
    expect(() => resolveConfig({ flags: { peers: "1=a:1,1=b:2" } })).toThrow(/given twice/);
  });

  test("cross-field checks", () => {
    expect(() => makeConfig({ port: 6000, raft_port: 6000 })).toThrow(/must differ/);
    expect(() => makeConfig({ heartbeat_ms: 500 })).toThrow(/heartbeat_ms/);
  });

  test("names and help", () => {
    expect(flagName("batch_max_bytes")).toBe("--batch-max-bytes");
    expect(envName("batch_max_bytes")).toBe("TINYKV_BATCH_MAX_BYTES");
    const h = optionsHelp();
    expect(h).toContain("--batch-size");
    expect(h).toContain("default: 100; env TINYKV_BATCH_SIZE");
  });

  test("command line parsing: booleans stand alone, unknown flags are usage errors", () => {
    const a = parseNodeArgs(["--lease-read", "--port", "6000", "--tcp-nodelay", "false"]);
    expect(a.flags).toEqual({ lease_read: "true", port: "6000", tcp_nodelay: "false" });
    expect(() => parseNodeArgs(["--bogus", "1"])).toThrow(UsageError);
    expect(() => parseNodeArgs(["--port"])).toThrow(UsageError);
  });
});

/** A plugin with one option of each type, as a third-party author would write it. */
const demo = definePlugin({
  name: "demo-x",
  options: {
    level: { type: "int", default: 3, min: 1, max: 9, help: "how much" },
    mode: { type: "enum", choices: ["fast", "safe"], default: "safe", help: "which way" },
    label: { type: "string", default: "none", help: "a name" },
    loud: { type: "bool", default: false, help: "say more" },
    tags: { type: "list", default: ["a"], help: "some tags" },
  },
});

describe("plugin options", () => {
  test("full names are namespaced by the plugin; the same parser as core options", () => {
    const specs = pluginOptionSpecs(demo);
    expect(specs.map((o) => [o.key, o.env])).toEqual([
      ["demo_x_level", "TINYKV_DEMO_X_LEVEL"],
      ["demo_x_mode", "TINYKV_DEMO_X_MODE"],
      ["demo_x_label", "TINYKV_DEMO_X_LABEL"],
      ["demo_x_loud", "TINYKV_DEMO_X_LOUD"],
      ["demo_x_tags", "TINYKV_DEMO_X_TAGS"],
    ]);
    const c = resolveConfig({
      file: { path: "t.json", data: { demo_x_label: "file", demo_x_tags: ["p", "q"] } },
      env: { TINYKV_DEMO_X_MODE: "fast", TINYKV_DEMO_X_LEVEL: "4" },
      flags: { demo_x_level: "7", demo_x_loud: "true" },
    }, specs);
    expect(pluginOptionValues(demo, c)).toEqual({
      level: 7,
      mode: "fast",
      label: "file",
      loud: true,
      tags: ["p", "q"],
    });
    // Defaults fill what nobody set (and a config made in code works the same way).
    expect(pluginOptionValues(demo, makeConfig())).toEqual({
      level: 3,
      mode: "safe",
      label: "none",
      loud: false,
      tags: ["a"],
    });
    expect(pluginOptionValues(demo, makeConfig({ demo_x_level: 9 })).level).toBe(9);
    expect(() => pluginOptionValues(demo, makeConfig({ demo_x_level: 10 }))).toThrow(
      /config demo_x_level=10: out of range \(allowed 1\.\.9\)/,
    );
    expect(() => resolveConfig({ flags: { demo_x_mode: "slow" } }, specs)).toThrow(
      /flag demo_x_mode="slow": not allowed \(allowed: fast, safe\)/,
    );
    expect(() => resolveConfig({ env: { TINYKV_DEMO_X_LEVEL: "x" } }, specs)).toThrow(
      /environment demo_x_level="x": not an integer/,
    );
    // Without the plugin its options are unknown.
    expect(() => resolveConfig({ flags: { demo_x_level: "7" } })).toThrow(
      /unknown flag --demo-x-level/,
    );
  });

  test("a bad declaration is refused when the plugin is defined", () => {
    const bad = (options: unknown, name = "p") => () =>
      definePlugin({ name, options } as Parameters<typeof definePlugin>[0]);
    expect(bad({ n: { type: "int", default: 1, help: "h" } })).toThrow(/int needs integer min/);
    expect(bad({ n: { type: "int", default: 0, min: 1, max: 2, help: "h" } })).toThrow(
      /default of p_n=0: out of range/,
    );
    expect(bad({ n: { type: "float", default: 1, help: "h" } })).toThrow(/type must be one of/);
    expect(bad({ N: { type: "bool", default: true, help: "h" } })).toThrow(/snake_case/);
    expect(bad({ n: { type: "bool", default: true } })).toThrow(/needs help/);
    expect(bad({ port: { type: "int", default: 1, min: 0, max: 9, help: "h" } }, "raft")).toThrow(
      /raft_port is a core option/,
    );
    expect(bad({ e: { type: "enum", choices: [], default: "", help: "h" } })).toThrow(
      /enum needs choices/,
    );
    // Two plugins whose options would share a full name cannot be loaded together.
    const a = pluginOptionSpecs(definePlugin({
      name: "a",
      options: { b_c: { type: "bool", default: true, help: "h" } },
    }));
    const ab = pluginOptionSpecs(definePlugin({
      name: "a_b",
      options: { c: { type: "bool", default: true, help: "h" } },
    }));
    expect(() => resolveConfig({}, [...a, ...ab])).toThrow(/a_b_c of plugin "a_b" clashes/);
  });

  test("the node hands each plugin its own options as ctx.options", async () => {
    let seen: unknown;
    const p = definePlugin({
      name: "demo-x",
      options: demo.options,
      setup(ctx) {
        seen = ctx.options;
      },
    });
    const node = await startTestNode({ demo_x_mode: "fast" }, [p]);
    await node.stop();
    expect(seen).toEqual({ level: 3, mode: "fast", label: "none", loud: false, tags: ["a"] });
  });
});

describe("two-phase command line", () => {
  const cwd = process.cwd();
  const load = (argv: string[], env: Record<string, string> = {}) =>
    loadNodeCommandLine(argv, env, cwd).then((cl) => nodeConfig(cl, env));

  test("plugin flags are known once their plugin is loaded (--plugins, env or config file)", async () => {
    const c = await load(["--plugins", "wal,metrics", "--wal-fsync", "off", "--metrics-details"]);
    expect([c.wal_fsync, c.metrics_details, c.metrics_port]).toEqual(["off", true, 9210]);
    expect((await load(["--wal-fsync", "batch"], { TINYKV_PLUGINS: "wal" })).wal_fsync).toBe(
      "batch",
    );
    const dir = mkdtempSync(join(tmpdir(), "tinykv-config-"));
    try {
      const file = join(dir, "c.json");
      writeFileSync(file, JSON.stringify({ plugins: ["wal"], wal_segment_bytes: 65536 }));
      const f = await load(["--config", file, "--wal-fsync", "off"]);
      expect([f.wal_fsync, f.wal_segment_bytes]).toEqual(["off", 65536]);
      writeFileSync(file, JSON.stringify({ wal_fsync: "off" }));
      await expect(load(["--config", file])).rejects.toThrow(
        `config file ${file}: key "wal_fsync" needs --plugins wal`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // The core plugin idempotency is always loaded, so its flags always work.
    expect((await load(["--idempotency-max-age-ms", "20000"])).idempotency_max_age_ms).toBe(20000);
  });

  test("a flag of a built-in plugin that is not loaded says which plugin it needs", async () => {
    await expect(load(["--wal-fsync", "off"])).rejects.toThrow("--wal-fsync needs --plugins wal");
    await expect(load(["--plugins", "wal", "--metrics-port", "0"])).rejects.toThrow(
      "--metrics-port needs --plugins metrics",
    );
    await expect(load(["--wal-nope", "1"])).rejects.toThrow("unknown flag --wal-nope");
    await expect(load(["--plugins", "wal", "--wal-fsync", "sometimes"])).rejects.toThrow(
      'flag wal_fsync="sometimes": not allowed (allowed: always, batch, off)',
    );
  });

  test("--help lists the options of every plugin it is given", () => {
    const h = usage([demo]);
    expect(h).toContain("Options of the demo-x plugin (--plugins demo-x):");
    expect(h).toMatch(/--demo-x-level +how much/);
    expect(h).toContain("default: 3; env TINYKV_DEMO_X_LEVEL; allowed 1..9");
    expect(h).toContain("(fast|safe)");
  });
});
