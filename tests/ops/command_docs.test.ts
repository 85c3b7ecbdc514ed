/**
 * Every command TinyKV answers has an entry in core/state/command_docs.ts (syntax and summary, the
 * table behind the CLI's `help` and COMMAND DOCS), and the table documents nothing that is not
 * served. A command added without docs fails here, naming it.
 */
import { expect, test } from "bun:test";
import { COMMAND_DOCS, commandDoc, undocumented } from "../../core/state/command_docs.ts";
import { RawResp, resp, startRespNode } from "../resp/helpers.ts";
import { SERVER_COMMANDS, STATE_SPECS } from "../../core/state/state_machine.ts";
import {
  LOCAL_ARITY,
  SERVED_COMMANDS,
  TRANSACTION_NAMES,
} from "../../core/server/resp/commands.ts";

/** Every command name some part of TinyKV answers. */
function servedNames(): string[] {
  return [
    ...STATE_SPECS.map((s) => s.name),
    ...[...SERVER_COMMANDS].map((n) => n.toLowerCase()),
    ...Object.keys(LOCAL_ARITY),
    ...TRANSACTION_NAMES,
    ...SERVED_COMMANDS.map((c) => c.name),
  ];
}

test("every command has docs (syntax and a one-line summary)", () => {
  const missing = undocumented(servedNames());
  if (missing.length > 0) {
    throw new Error(
      `commands without an entry in core/state/command_docs.ts: ${missing.join(", ")}`,
    );
  }
  expect(missing).toEqual([]);
});

test("the docs describe only served commands, each in one well-formed line", () => {
  const served = new Set(servedNames().map((n) => n.toLowerCase()));
  const stale = [...COMMAND_DOCS.keys()].filter((n) => !served.has(n));
  expect(stale).toEqual([]);
  for (const [key, d] of COMMAND_DOCS) {
    expect(d.name.toLowerCase()).toBe(key);
    expect(d.syntax.startsWith(d.name)).toBe(true);
    expect(d.summary).toMatch(/^[A-Z].*\.$/);
    expect(d.summary.includes("\n")).toBe(false);
    expect(d.summary.length).toBeLessThanOrEqual(100);
  }
});

test("lookup is case-insensitive; the failure names what lacks docs", () => {
  expect(commandDoc("set")?.syntax).toMatch(/^SET key value \[NX \| XX\]/);
  expect(commandDoc("Get_Leader")?.summary).toBe("Returns the leader's id and client address.");
  expect(undocumented(["get", "nosuch", "NOPE", "nosuch"])).toEqual(["NOPE", "nosuch"]);
});

test("COMMAND DOCS on the RESP port answers the same summaries", async () => {
  const node = await startRespNode();
  const c = await RawResp.connect(node.redisPort);
  try {
    await c.write(resp("COMMAND", "DOCS", "get", "members"));
    const text = await c.until((t) => t.includes("Returns every member"));
    expect(text).toContain("$34\r\nReturns the string value of a key.\r\n");
    expect(text).toContain(commandDoc("members")!.summary);
    expect(text).not.toContain("(TinyKV)");
  } finally {
    c.close();
    await node.stop();
  }
});
