/**
 * The CLI's `help` and `help CMD`, and the names Tab completes — from the state machine's own
 * command table (the same table the native and RESP servers dispatch through), plus the node's
 * server commands.
 * @module
 */
import { COMMAND_GROUPS } from "../core/state/state_machine.ts";

/** The node's own commands (answered by the node, not the state machine), with their syntax. */
const NODE_COMMANDS: readonly { name: string; syntax: string; summary: string }[] = [
  { name: "INFO", syntax: "INFO [section]", summary: "this node: server, raft, stats, plugins" },
  { name: "GET_LEADER", syntax: "GET_LEADER", summary: "the leader's id and client address" },
  {
    name: "MEMBERS",
    syntax: "MEMBERS",
    summary: "every member: id, addresses, voter/learner, role",
  },
  {
    name: "ADD_NODE",
    syntax: "ADD_NODE id raft_host:port [client_host:port] [learner]",
    summary: "add a member (answered once the change is applied)",
  },
  { name: "REMOVE_NODE", syntax: "REMOVE_NODE id", summary: "remove a member" },
  { name: "TRANSFER_LEADER", syntax: "TRANSFER_LEADER id", summary: "hand leadership to a voter" },
  {
    name: "SNAPSHOT_SAVE",
    syntax: "SNAPSHOT_SAVE",
    summary: "capture a backup (use `mod.ts snapshot save FILE`)",
  },
  {
    name: "SNAPSHOT_CHUNK",
    syntax: "SNAPSHOT_CHUNK token offset",
    summary: "read a captured backup",
  },
];

/** `arity` as Redis writes it, as text: "2 (exactly)" / "at least 2". */
function arityText(arity: number): string {
  return arity > 0 ? `${arity - 1} argument(s)` : `at least ${-arity - 1} argument(s)`;
}

/** Every command name Tab completes (upper case, sorted). */
export function commandNames(): string[] {
  const names = new Set<string>();
  for (const g of COMMAND_GROUPS) for (const c of g.commands) names.add(c.name.toUpperCase());
  for (const c of NODE_COMMANDS) names.add(c.name);
  for (const extra of ["HELP", "QUIT", "EXIT"]) names.add(extra);
  return [...names].sort();
}

/** `help`: the commands by group; `help CMD`: one command. */
export function helpText(topic?: string): string {
  if (topic === undefined) {
    const lines = [
      'Type a command and its arguments, e.g. SET k "a value"; quit or Ctrl-D leaves;',
      "help CMD shows one command. Commands by group (r = reads only, w = writes):",
      "",
    ];
    for (const g of COMMAND_GROUPS) {
      const names = [...g.commands].map((c) => c.name.toUpperCase()).sort();
      lines.push(`${g.group}:`);
      for (let i = 0; i < names.length; i += 8) lines.push("  " + names.slice(i, i + 8).join(" "));
    }
    lines.push("node (answered by the node, sent on their own):");
    lines.push("  " + NODE_COMMANDS.map((c) => c.name).join(" "));
    return lines.join("\n");
  }
  const t = topic.toUpperCase();
  const node = NODE_COMMANDS.find((c) => c.name === t);
  if (node) return `${node.syntax}\n  ${node.summary} (node command)`;
  for (const g of COMMAND_GROUPS) {
    const c = g.commands.find((x) => x.name === topic.toLowerCase());
    if (c) {
      return `${t}: ${arityText(c.arity)}; ${
        c.write ? "writes (through the log)" : "reads only"
      }; ` +
        `group ${g.group}\n  semantics and replies as Redis 7 (docs/state-machine.md)`;
    }
  }
  return `unknown command '${topic}' (help lists them)`;
}

/** Tab completion for a line (readline's completer): command names for the first word. */
export function complete(line: string): [string[], string] {
  const m = /^\s*(\S*)$/.exec(line);
  if (!m) return [[], line];
  const word = m[1].toUpperCase();
  const hits = commandNames().filter((n) => n.startsWith(word));
  return [hits, m[1]];
}
