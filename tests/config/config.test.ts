import { describe, expect, test } from "bun:test";
import {
  ConfigError,
  defaultConfig,
  envName,
  flagName,
  makeConfig,
  optionsHelp,
  resolveConfig,
} from "../../core/config/config.ts";
import { parseNodeArgs, UsageError } from "../../cli/node.ts";

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
    expect(c.election_timeout_ms).toBe(150);
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
    expect(() => makeConfig({ heartbeat_ms: 200 })).toThrow(/heartbeat_ms/);
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
