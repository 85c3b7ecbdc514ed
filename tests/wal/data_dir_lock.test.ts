/**
 * Two real processes on one data dir (issue 9 item 7): a Deno node and a Bun node given the same
 * `--data-dir` (both default to ./data). The second refuses with one clear line naming the dir and
 * the holder's pid and a non-zero exit; the first keeps serving; after a `kill -9` of the first, the
 * next start succeeds and has the acknowledged writes.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { join } from "node:path";
import { connect } from "../../mod.ts";
import { LOCK_FILE, lockPidFile } from "../../core/env/dir_lock.ts";
import { runMod, type RuntimeName, startNodeProcess } from "../helpers/node_process.ts";
import { rmTempDir, tempDir } from "./wal_helpers.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmTempDir(d);
});

const args = (dir: string) => [
  "--data-dir",
  dir,
  ...("--plugins wal --port 0 --raft-port 0 --log-level info".split(" ")),
];

async function setGet(port: number, key: string, value: string): Promise<string> {
  const c = await connect({ host: "127.0.0.1", port });
  try {
    await c.command("SET", key, value);
    return new TextDecoder().decode(await c.command("GET", key) as Uint8Array);
  } finally {
    await c.close();
  }
}

for (const [first, second] of [["deno", "bun"], ["bun", "deno"]] as RuntimeName[][]) {
  describe(`${first} holds the data dir, ${second} tries it`, () => {
    test(
      "the second refuses with one line; the first keeps serving; kill -9 frees it",
      async () => {
        const dir = tempDir(`lock-${first}`);
        dirs.push(dir);
        const a = await startNodeProcess(first, args(dir));
        const pid = a.proc.pid!;
        try {
          expect(await setGet(a.clientPort, "k", "v1")).toBe("v1");
          const r = await runMod(second, args(dir), { timeoutMs: 30_000 });
          expect(r.code).not.toBe(0);
          expect(r.code).not.toBeNull(); // exited by itself, not killed by the timeout
          const errors = r.stderr.split("\n").filter((l) => / ERROR /.test(l));
          expect(errors.length).toBe(1);
          expect(errors[0]).toContain(`data dir ${dir} is in use by another process (pid ${pid})`);
          expect(r.stderr).not.toContain("listening");
          // The first one never noticed.
          expect(await setGet(a.clientPort, "k", "v2")).toBe("v2");
        } finally {
          await a.kill9();
        }
        // The kernel dropped the dead process's lock: the next start (other runtime) succeeds.
        const b = await startNodeProcess(second, args(dir));
        try {
          const c = await connect({ host: "127.0.0.1", port: b.clientPort });
          try {
            expect(new TextDecoder().decode(await c.command("GET", "k") as Uint8Array)).toBe("v2");
          } finally {
            await c.close();
          }
        } finally {
          expect(await b.stop()).toBe(0);
        }
      },
      90_000,
    );
  });
}

describe("pid-file fallback (runtimes without flock)", () => {
  test("a live holder refuses with its pid; a dead holder's file is replaced", async () => {
    const dir = tempDir("pidlock");
    dirs.push(dir);
    const child = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      fs.writeFileSync(join(dir, LOCK_FILE), `pid ${child.pid}\n`);
      expect(() => lockPidFile(dir)).toThrow(
        `data dir ${dir} is in use by another process (pid ${child.pid})`,
      );
    } finally {
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
    }
    // Its process is gone now: the stale file does not block.
    const l = lockPidFile(dir);
    expect(fs.readFileSync(join(dir, LOCK_FILE), "utf8")).toStartWith(`pid ${process.pid}\n`);
    l.release();
    expect(fs.existsSync(join(dir, LOCK_FILE))).toBe(false);
  });
});
