/**
 * The CLI's `help` and `help CMD`, and the names Tab completes — from the state machine's own
 * command table (the same table the native and RESP servers dispatch through: names, arity, write
 * flag) and the node's server commands, with each command's syntax and summary from
 * core/state/command_docs.ts (the table COMMAND DOCS answers from too).
 * @module
 */
import { commandDoc } from "../core/state/command_docs.ts";
import { COMMAND_GROUPS, SERVER_COMMANDS } from "../core/state/state_machine.ts";

/** Commands the prompt itself answers. */
const PROMPT_COMMANDS: readonly { name: string; syntax: string; summary: string }[] = [
  { name: "HELP", syntax: "HELP [command]", summary: "Lists the commands, or shows one." },
  { name: "QUIT", syntax: "QUIT", summary: "Leaves the prompt (also EXIT, Ctrl-D)." },
  { name: "EXIT", syntax: "EXIT", summary: "Leaves the prompt (also QUIT, Ctrl-D)." },
];

/** Arguments after the name, from a Redis-style arity: "2" (exactly) or "2+" (at least). */
function argCount(arity: number): string {
  return arity > 0 ? String(arity - 1) : `${-arity - 1}+`;
}

/** `arity` in words, for `help CMD`. */
function arityText(arity: number): string {
  return arity > 0 ? `${arity - 1} argument(s)` : `at least ${-arity - 1} argument(s)`;
}

/** Arguments of a syntax line (node commands have no arity spec): "2", or "2+" with options. */
function syntaxArgs(syntax: string): string {
  const words = syntax.split(" ");
  const open = words.findIndex((w) => w.startsWith("["));
  const required = (open < 0 ? words.length : open) - 1;
  return open < 0 ? String(required) : `${required}+`;
}

function summaryOf(name: string): string {
  return commandDoc(name)?.summary ?? "(no summary)";
}

/** Every command name Tab completes (upper case, sorted). */
export function commandNames(): string[] {
  const names = new Set<string>();
  for (const g of COMMAND_GROUPS) for (const c of g.commands) names.add(c.name.toUpperCase());
  for (const c of SERVER_COMMANDS) names.add(c);
  for (const c of PROMPT_COMMANDS) names.add(c.name);
  return [...names].sort();
}

/** `help`: the commands by group, each with its arguments and summary; `help CMD`: one command. */
export function helpText(topic?: string): string {
  if (topic === undefined) {
    const lines = [
      'Type a command and its arguments, e.g. SET k "a value"; quit or Ctrl-D leaves;',
      "help CMD shows one command's syntax. Commands by group, with the number of arguments",
      "(2+ = at least 2) and r (reads only) or w (writes, through the log):",
    ];
    const width = Math.max(...commandNames().map((n) => n.length));
    const row = (name: string, args: string, rw: string, summary: string) =>
      `  ${name.padEnd(width)} ${args.padStart(3)} ${rw}  ${summary}`;
    for (const g of COMMAND_GROUPS) {
      lines.push("", `${g.group}:`);
      for (const c of [...g.commands].sort((a, b) => a.name < b.name ? -1 : 1)) {
        lines.push(
          row(c.name.toUpperCase(), argCount(c.arity), c.write ? "w" : "r", summaryOf(c.name)),
        );
      }
    }
    lines.push(
      "",
      "node (answered by the node, sent on their own; membership follows the leader):",
    );
    for (const name of SERVER_COMMANDS) {
      lines.push(row(name, syntaxArgs(commandDoc(name)?.syntax ?? name), " ", summaryOf(name)));
    }
    lines.push("", "prompt:");
    for (const c of PROMPT_COMMANDS) lines.push(row(c.name, "", " ", c.summary));
    return lines.join("\n");
  }
  const t = topic.toUpperCase();
  const prompt = PROMPT_COMMANDS.find((c) => c.name === t);
  if (prompt) return `${prompt.syntax}\n  ${prompt.summary}\n  answered by the prompt`;
  const doc = commandDoc(topic);
  if (SERVER_COMMANDS.has(t)) {
    return `${doc?.syntax ?? t}\n  ${summaryOf(t)}\n  node command (answered by the node)`;
  }
  for (const g of COMMAND_GROUPS) {
    const c = g.commands.find((x) => x.name === topic.toLowerCase());
    if (c) {
      return `${doc?.syntax ?? t}\n  ${summaryOf(c.name)}\n  ` +
        `${arityText(c.arity)}; ${c.write ? "writes (through the log)" : "reads only"}; ` +
        `group ${g.group}; replies as Redis 7 (docs/state-machine.md)`;
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
