/**
 * The layout's import rules (docs/architecture.md, "What may import what"): every relative import
 * of every source file outside tests/ is checked against the table below, by folder.
 */
import { expect, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The folders (areas) each area may import, besides itself. `*` is any area except tests/. */
const ALLOWED: Record<string, readonly string[]> = {
  "protocol": [],
  "transports": [],
  "core/env": ["transports"],
  "core/raft": ["protocol"],
  "core/state": ["protocol"],
  "core/storage": ["core/raft"],
  // config validates the cluster secret with the peers' rules; peers log through config/logger.ts.
  "core/config": ["core/peers"],
  "core/peers": ["core/env", "core/config", "core/plugin", "core/raft", "protocol", "transports"],
  "core/plugin": [
    "core/env",
    "core/config",
    "core/raft",
    "core/state",
    "core/storage",
    "protocol",
    "transports",
  ],
  "core/server": ["core/env", "core/config", "core/plugin", "core/state", "protocol", "transports"],
  "core/node": [
    "core/env",
    "core/config",
    "core/peers",
    "core/plugin",
    "core/raft",
    "core/server",
    "core/state",
    "core/storage",
    "protocol",
    "transports",
  ],
  "client": ["protocol", "transports"],
  "cli": [
    "core/env",
    "client",
    "plugins",
    "core/state",
    "core/config",
    "core/node",
    "core/peers",
    "core/plugin",
    "protocol",
    "transports",
  ],
  "plugins": [
    "core/env",
    "core/config",
    "core/plugin",
    "core/raft",
    "core/state",
    "core/storage",
    "protocol",
    "transports",
  ],
  "tools": ["transports"],
  "examples": ["mod.ts"],
  "mod.ts": ["*"],
  "main.ts": ["cli"],
  // The test kit for plugin authors (the storage conformance suite), beside mod.ts.
  "testing.ts": ["core/storage", "core/raft"],
  "bench": ["*"],
  "scripts": ["*"],
};

/** Single files outside their area's rule, with the reason. */
const EXCEPTIONS: Record<string, string> = {
  // The idempotency cache keys batches exactly as the pending table does.
  "plugins/idempotency/mod.ts -> core/node/pending.ts": "batchKey",
  // The built-in plugins, imported statically so a bundled binary carries them.
  "core/plugin/loader.ts -> plugins/builtin.ts": "BUILTIN_MODULES",
};

function area(rel: string): string {
  const parts = rel.split("/");
  if (parts.length === 1) return rel;
  if (parts[0] === "core") return parts.length > 2 ? `core/${parts[1]}` : "core";
  return parts[0];
}

function sources(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name === "node_modules" || e.name.startsWith(".")) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) sources(p, out);
    else if (e.name.endsWith(".ts")) out.push(p);
  }
  return out;
}

const IMPORT = /(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g;

test("every import outside tests/ follows the layout's rules", () => {
  const problems: string[] = [];
  const files = sources(ROOT).map((f) => path.relative(ROOT, f).split(path.sep).join("/"));
  expect(files.length).toBeGreaterThan(100);
  for (const rel of files) {
    const from = area(rel);
    if (from === "tests") continue;
    const allowed = ALLOWED[from];
    if (allowed === undefined) {
      problems.push(`${rel}: its folder "${from}" has no rule (add one to this test and the docs)`);
      continue;
    }
    const text = fs.readFileSync(path.join(ROOT, rel), "utf8");
    for (const m of text.matchAll(IMPORT)) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(rel), m[1]));
      const to = area(target);
      if (to === from || EXCEPTIONS[`${rel} -> ${target}`] !== undefined) continue;
      if (to === "tests") {
        problems.push(`${rel} imports ${target}: nothing outside tests/ imports tests/`);
      } else if (!allowed.includes("*") && !allowed.includes(to)) {
        problems.push(
          `${rel} imports ${target}: ${from} may import only ${allowed.join(", ") || "itself"}`,
        );
      }
    }
  }
  expect(problems).toEqual([]);
});

test("core/ holds folders only (each says what it holds)", () => {
  const flat = fs.readdirSync(path.join(ROOT, "core")).filter((n) => n.endsWith(".ts"));
  expect(flat).toEqual([]);
});
