import { afterEach, describe, expect, test } from "bun:test";
import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { openWal } from "../../plugins/wal/wal.ts";
import { payload, rmTempDir, tempDir } from "./wal_helpers.ts";

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) rmTempDir(dirs.pop()!);
});

const HERE = dirname(fileURLToPath(import.meta.url));
const WRITER = join(HERE, "crash_writer.ts");
const ROOT = join(HERE, "..", "..");

/** Runs the writer until it has acknowledged for `runMs`, then SIGKILLs it. Returns acked (index, term) pairs. */
function runAndKill(cmd: string[], dir: string, runMs: number): Promise<Map<number, number>> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(cmd[0], [...cmd.slice(1), WRITER, dir, "8192"], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const acked = new Map<number, number>();
    let prev = 0;
    let buf = "";
    let stderr = "";
    let killTimer: ReturnType<typeof setTimeout> | undefined;
    const hardLimit = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.stdout!.on("data", (chunk: Buffer) => {
      buf += chunk.toString();
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const [kind, a, b] = line.split(" ");
        if (kind === "start") {
          prev = Number(a);
          killTimer ??= setTimeout(() => child.kill("SIGKILL"), runMs);
        } else if (kind === "ack") {
          for (let i = prev + 1; i <= Number(a); i++) acked.set(i, Number(b));
          prev = Number(a);
        }
      }
    });
    child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("exit", (_code, signal) => {
      clearTimeout(hardLimit);
      if (killTimer) clearTimeout(killTimer);
      if (signal !== "SIGKILL") reject(new Error(`writer exited without being killed: ${stderr}`));
      else resolve(acked);
    });
  });
}

async function verify(dir: string, acked: Map<number, number>): Promise<number> {
  const w = await openWal(dir, { segmentBytes: 8192 });
  try {
    const snapIndex = w.snapshot().meta.index;
    let checked = 0;
    for (const [index, term] of acked) {
      if (index < w.firstIndex()) {
        expect(index).toBeLessThanOrEqual(snapIndex);
        continue;
      }
      expect(index).toBeLessThanOrEqual(w.lastIndex());
      const e = w.entries(index, index + 1)[0];
      expect(e.term).toBe(term);
      expect(e.data.length).toBeGreaterThanOrEqual(50);
      expect([...e.data]).toEqual([...payload(index, term, e.data.length)]);
      checked++;
    }
    const hs = w.initialState().hardState;
    const maxAcked = Math.max(0, ...acked.keys());
    expect(hs.commit).toBeGreaterThanOrEqual(maxAcked);
    return checked;
  } finally {
    await w.close();
  }
}

describe("wal crash safety", () => {
  test(
    "SIGKILL during append+sync loses no acknowledged entry (bun and deno writers)",
    async () => {
      const dir = tempDir("crash");
      dirs.push(dir);
      const bun = [process.execPath];
      const deno = [join(ROOT, "node_modules", ".bin", "deno"), "run", "-A"];
      let total = 0;
      const all = new Map<number, number>();
      for (const cmd of [bun, bun, deno, bun]) {
        const acked = await runAndKill(cmd, dir, 400);
        expect(acked.size).toBeGreaterThan(0);
        // Later runs overwrite nothing that was acknowledged: they continue after lastIndex.
        for (const [i, t] of acked) all.set(i, t);
        total += await verify(dir, all);
      }
      expect(total).toBeGreaterThan(0);
    },
    40_000,
  );
});
