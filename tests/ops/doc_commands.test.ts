// Every shell command in README.md and docs/**/*.md runs as written after the README's install
// (`npm install`: deno and bun are npm packages, reached as `npx deno` / `npx bun`).
//
// What "resolves" means here (checked statically, nothing is run but three `--help`s):
// - commands come from ```sh / ```bash blocks (a `\` line continues; `# or: CMD` is a command;
//   other `#` lines and trailing `# ...` are comments); `&&`, `||`, `;`, `|` separate commands and
//   leading `VAR=value` assignments are skipped;
// - the program is one of: `npx deno` / `npx bun` (bare `deno` / `bun` is an error: the install
//   does not put them on PATH), `npm` (its script must exist in package.json), `cd` (the
//   directory must exist; later commands on the line run there), or a tool from EXTERNAL;
// - `npx deno run -A FILE`, `npx bun FILE`, `npx bun test FILES`: every file exists (globs
//   must match); for mod.ts (and `npm start -- ...`) the subcommand is a node, `client`,
//   `cluster` or `snapshot`, and every `--flag` appears in that command's own `--help` (node flags: core options
//   and every built-in plugin's options);
// - in ```ts blocks, every relative import exists and every bare import is a dependency or the
//   package's own name with a path listed in package.json `exports`.
import { beforeAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BUN = join(ROOT, "node_modules", ".bin", "bun");

/** Programs outside the install that the docs may name (an operator's machine has them). */
const EXTERNAL = new Set([
  "openssl",
  "chmod",
  "export",
  "printf",
  "echo",
  "promtool",
  "curl",
  "redis-cli", // Debian redis-tools (.ci/run installs it)
  "redis-benchmark",
]);

function mdFiles(): string[] {
  const out = [join(ROOT, "README.md")];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".md")) out.push(p);
    }
  };
  walk(join(ROOT, "docs"));
  return out;
}

interface Block {
  file: string;
  line: number;
  lang: string;
  lines: string[];
}

function blocks(file: string): Block[] {
  const out: Block[] = [];
  const lines = readFileSync(file, "utf8").split("\n");
  let cur: Block | null = null;
  lines.forEach((l, i) => {
    if (l.startsWith("```")) {
      if (cur) {
        out.push(cur);
        cur = null;
      } else cur = { file: relative(ROOT, file), line: i + 2, lang: l.slice(3).trim(), lines: [] };
    } else if (cur) cur.lines.push(l);
  });
  return out;
}

/** Splits a shell line into words (quotes and `$(...)` kept whole) and separators. */
function words(line: string): string[] {
  const out: string[] = [];
  let w = "";
  let i = 0;
  const flush = () => {
    if (w !== "") out.push(w);
    w = "";
  };
  while (i < line.length) {
    const c = line[i];
    if (c === "'" || c === '"') {
      const j = line.indexOf(c, i + 1);
      w += line.slice(i + 1, j < 0 ? line.length : j);
      i = j < 0 ? line.length : j + 1;
    } else if (c === "$" && line[i + 1] === "(") {
      const j = line.indexOf(")", i);
      w += line.slice(i, j + 1);
      i = j + 1;
    } else if (c === " " || c === "\t") {
      flush();
      i++;
    } else if (c === "#" && w === "") {
      break; // a comment
    } else if ("&|;".includes(c)) {
      flush();
      const two = line.slice(i, i + 2);
      out.push(two === "&&" || two === "||" ? two : c);
      i += two === "&&" || two === "||" ? 2 : 1;
    } else if (c === ">" || c === "<") {
      flush();
      out.push(c);
      i++;
    } else {
      w += c;
      i++;
    }
  }
  flush();
  return out;
}

function commands(b: Block): { where: string; cmds: string[][] }[] {
  const out: { where: string; cmds: string[][] }[] = [];
  let acc = "";
  let start = 0;
  b.lines.forEach((raw, i) => {
    let l = raw.trim();
    if (acc === "") start = i;
    if (l.startsWith("# or: ")) l = l.slice(6);
    else if (l.startsWith("#") || l === "") return;
    if (l.endsWith("\\")) {
      acc += l.slice(0, -1) + " ";
      return;
    }
    acc += l;
    const cmds: string[][] = [[]];
    const ws = words(acc);
    for (let k = 0; k < ws.length; k++) {
      const t = ws[k];
      if (["&&", "||", ";", "|"].includes(t)) cmds.push([]);
      else if (t === ">" || t === "<") k++; // a redirection's file is not a word of the command
      else cmds[cmds.length - 1].push(t);
    }
    out.push({ where: `${b.file}:${b.line + start}`, cmds: cmds.filter((c) => c.length > 0) });
    acc = "";
  });
  return out;
}

/** The `--flags` a `--help` text mentions. */
function helpFlags(args: string[]): Set<string> {
  const r = spawnSync(BUN, [join(ROOT, "mod.ts"), ...args], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 20_000,
    env: { ...process.env, CBOR_NATIVE_ACCELERATION_DISABLED: "true" },
  });
  if (r.status !== 0) throw new Error(`mod.ts ${args.join(" ")}: ${r.stderr}`);
  return new Set([...r.stdout.matchAll(/(?<![\w-])--[a-z][a-z0-9-]*/g)].map((m) => m[0]));
}

let flags: Record<"node" | "client" | "cluster" | "snapshot", Set<string>>;
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));

beforeAll(() => {
  const node = helpFlags(["--help"]);
  flags = {
    node,
    client: helpFlags(["client", "--help"]),
    cluster: new Set([...helpFlags(["cluster", "--help"]), ...node]),
    snapshot: helpFlags(["snapshot", "--help"]),
  };
});

function globExists(cwd: string, pattern: string): boolean {
  if (!pattern.includes("*")) return existsSync(join(cwd, pattern));
  const dir = join(cwd, pattern.slice(0, pattern.lastIndexOf("/") + 1));
  const re = new RegExp(
    "^" + pattern.slice(pattern.lastIndexOf("/") + 1).replace(/[.]/g, "\\.").replace(/\*/g, ".*") +
      "$",
  );
  return existsSync(dir) && readdirSync(dir).some((n) => re.test(n));
}

/** Checks mod.ts's arguments: subcommand and flags. */
function checkMod(args: string[], problems: string[], where: string): void {
  const sub = args[0] === "client" || args[0] === "cluster" || args[0] === "snapshot"
    ? args[0]
    : "node";
  const rest = sub === "node" ? args : args.slice(1);
  const known = flags[sub];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (sub === "client" && !a.startsWith("-")) break; // the command to send starts here
    if (a.startsWith("--")) {
      const f = a.split("=")[0];
      if (!known.has(f)) problems.push(`${where}: mod.ts ${sub}: unknown flag ${f}`);
    } else if (sub === "node" && i === 0) {
      problems.push(`${where}: mod.ts: unknown subcommand "${a}"`);
    }
  }
}

function checkCommand(argv: string[], cwd: string, where: string, problems: string[]): string {
  let i = 0;
  while (i < argv.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(argv[i])) i++;
  const a = argv.slice(i);
  if (a.length === 0) return cwd;
  const [prog, ...rest] = a;
  if (prog === "deno" || prog === "bun") {
    problems.push(`${where}: bare "${prog}": the README's install gives "npx ${prog}"`);
    return cwd;
  }
  if (prog === "cd") {
    const d = join(cwd, rest[0] ?? "");
    if (!existsSync(d) || !statSync(d).isDirectory()) {
      problems.push(`${where}: cd ${rest[0]}: no such dir`);
    }
    return d;
  }
  if (prog === "npm") {
    if (rest[0] === "install" || rest[0] === "ci") return cwd;
    const script = rest[0] === "run" ? rest[1] : rest[0];
    if (!pkg.scripts?.[script]) problems.push(`${where}: npm ${script}: no such script`);
    else if (script === "start") checkMod(rest.slice(rest.indexOf("--") + 1), problems, where);
    return cwd;
  }
  if (prog === "npx" && (rest[0] === "deno" || rest[0] === "bun")) {
    let r = rest.slice(1);
    if (rest[0] === "deno") {
      if (r[0] !== "run") {
        problems.push(`${where}: npx deno ${r[0]}: only "deno run" is documented`);
        return cwd;
      }
      r = r.slice(1);
      while (r.length && r[0].startsWith("-")) r = r.slice(1); // -A and other deno flags
    }
    if (rest[0] === "bun" && r[0] === "test") {
      for (const f of r.slice(1).filter((x) => !x.startsWith("-"))) {
        if (!globExists(cwd, f)) problems.push(`${where}: bun test ${f}: no such file`);
      }
      return cwd;
    }
    const file = r[0];
    if (!file || !existsSync(join(cwd, file))) {
      problems.push(`${where}: npx ${rest[0]} ${file}: no such file`);
    } else if (file === "mod.ts" || file === "main.ts") checkMod(r.slice(1), problems, where);
    return cwd;
  }
  if (!EXTERNAL.has(prog)) problems.push(`${where}: unknown program "${prog}"`);
  return cwd;
}

test("every shell command in README.md and docs/ resolves", () => {
  const problems: string[] = [];
  let count = 0;
  for (const f of mdFiles()) {
    for (const b of blocks(f)) {
      if (b.lang !== "sh" && b.lang !== "bash") continue;
      for (const { where, cmds } of commands(b)) {
        let cwd = ROOT;
        for (const c of cmds) {
          count++;
          cwd = checkCommand(c, cwd, where, problems);
        }
      }
    }
  }
  expect(count).toBeGreaterThan(30);
  expect(problems).toEqual([]);
}, 60_000);

test("every import in the docs' TypeScript examples resolves", () => {
  const problems: string[] = [];
  const deps = new Set(Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }));
  for (const f of mdFiles()) {
    for (const b of blocks(f)) {
      if (b.lang !== "ts") continue;
      for (const m of b.lines.join("\n").matchAll(/from\s+"([^"]+)"/g)) {
        const s = m[1];
        if (/^(node|npm|jsr|bun):/.test(s)) continue;
        if (s.startsWith(".")) {
          // Examples are written as if from the repository root (or next to mod.ts).
          if (!existsSync(join(ROOT, s))) problems.push(`${b.file}:${b.line}: import "${s}"`);
        } else if (s === pkg.name || s.startsWith(pkg.name + "/")) {
          const sub = "." + s.slice(pkg.name.length);
          if (!(sub in pkg.exports)) problems.push(`${b.file}:${b.line}: import "${s}"`);
        } else if (!deps.has(s.split("/").slice(0, s.startsWith("@") ? 2 : 1).join("/"))) {
          problems.push(`${b.file}:${b.line}: import "${s}": not a dependency`);
        }
      }
    }
  }
  expect(problems).toEqual([]);
});
