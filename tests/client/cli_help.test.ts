/** The CLI's help (from the command table), Tab completion, history and INFO sections. */
import { afterAll, expect, test } from "bun:test";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { infoSections, runClientCli } from "../../cli/client.ts";
import { commandNames, complete, helpText } from "../../cli/help.ts";
import { STATE_COMMANDS } from "../../core/state/state_machine.ts";
import type { TinyKVNode } from "../../core/node/types.ts";
import { startTestNode } from "../helpers/in_process.ts";

let node: TinyKVNode | undefined;
afterAll(async () => {
  await node?.stop();
});

test("help lists every command of the table by group; help CMD shows one", () => {
  const h = helpText();
  for (const name of STATE_COMMANDS) expect(h).toContain(name.toUpperCase());
  expect(h).toMatch(/^sorted-set:/m);
  expect(h).toContain("ADD_NODE");
  // Each command on its own line: name, arguments, r/w, the one-line summary.
  expect(h).toMatch(/^ {2}GET +1 r {2}Returns the string value of a key\.$/m);
  expect(h).toMatch(/^ {2}ZADD +3\+ w {2}Adds members to a sorted set/m);
  expect(h).toMatch(/^ {2}ADD_NODE +2\+ {4}Adds a member to the cluster/m);
  expect(helpText("get")).toBe(
    "GET key\n  Returns the string value of a key.\n" +
      "  1 argument(s); reads only; group string; replies as Redis 7 (docs/state-machine.md)",
  );
  expect(helpText("ZADD")).toMatch(/^ZADD key \[NX \| XX\] .*score member/);
  expect(helpText("ZADD")).toMatch(/at least 3 argument\(s\); writes/);
  expect(helpText("add_node")).toMatch(/^ADD_NODE id raft_host:port/);
  expect(helpText("add_node")).toContain("Adds a member to the cluster");
  expect(helpText("nope")).toMatch(/unknown command 'nope'/);
});

test("Tab completes command names", () => {
  expect(complete("ZRANGEB")[0]).toEqual(["ZRANGEBYLEX", "ZRANGEBYSCORE"]);
  expect(complete("get_l")).toEqual([["GET_LEADER"], "get_l"]);
  expect(complete("SET k ")[0]).toEqual([]); // only the first word
  expect(commandNames()).toContain("SNAPSHOT_SAVE");
});

test("INFO section picks sections, case-insensitively", () => {
  const text = "# Server\nnode_id:1\n# Raft\nrole:leader\nterm:2\n# Stats\nconnections:1";
  expect(infoSections(text, ["raft"])).toBe("# Raft\nrole:leader\nterm:2");
  expect(infoSections(text, ["RAFT", "stats"])).toBe(
    "# Raft\nrole:leader\nterm:2\n# Stats\nconnections:1",
  );
  expect(infoSections(text, [])).toBe(text);
});

function io(input: string, isTTY: boolean) {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  stdout.on("data", (d: Buffer) => (out += d.toString()));
  stdin.end(input);
  return { io: { stdin, stdout, stderr, isTTY }, out: () => out };
}

test("against a node: INFO raft, MEMBERS roles, history kept across sessions", async () => {
  node = await startTestNode();
  const port = String(node.clientPort);
  const a = io("", false);
  expect(await runClientCli(["-p", port, "INFO", "raft"], a.io)).toBe(0);
  expect(a.out()).toMatch(/^# Raft\nrole:leader/);
  expect(a.out()).not.toContain("# Server");
  const m = io("", false);
  expect(await runClientCli(["-p", port, "MEMBERS"], m.io)).toBe(0);
  expect(m.out()).toContain("5) leader");
  const dir = fs.mkdtempSync(join(tmpdir(), "tkv-hist-"));
  const file = join(dir, "history");
  process.env.TINYKV_HISTORY_FILE = file;
  try {
    const s1 = io("SET h 1\nGET h\nquit\n", true);
    expect(await runClientCli(["-p", port], s1.io)).toBe(0);
    expect(fs.readFileSync(file, "utf8")).toBe("SET h 1\nGET h\nquit\n");
    const s2 = io("help\nquit\n", true);
    expect(await runClientCli(["-p", port], s2.io)).toBe(0);
    expect(s2.out()).toContain("Commands by group");
    expect(fs.readFileSync(file, "utf8")).toBe("SET h 1\nGET h\nquit\nhelp\nquit\n");
  } finally {
    delete process.env.TINYKV_HISTORY_FILE;
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("one-shot `client help CMD` needs no node", async () => {
  const a = io("", false);
  expect(await runClientCli(["-p", "1", "help", "zadd"], a.io)).toBe(0);
  expect(a.out()).toMatch(/^ZADD key \[NX \| XX\]/);
});
