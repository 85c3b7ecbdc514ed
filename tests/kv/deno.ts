/** Runs tests/kv/deno_driver.ts under `deno run --unstable-kv -A` (bounded); resolves to stdout. */
import { spawn } from "node:child_process";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DENO = join(ROOT, "node_modules", ".bin", "deno");

export function runDenoDriver(args: string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(
      DENO,
      ["run", "--unstable-kv", "-A", join(ROOT, "tests/kv/deno_driver.ts"), ...args],
      { cwd: ROOT, env: { ...process.env, CBOR_NATIVE_ACCELERATION_DISABLED: "true" } },
    );
    let out = "", err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    const t = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    p.on("exit", (code) => {
      clearTimeout(t);
      if (code !== 0) reject(new Error(`deno driver exited ${code}: ${err}`));
      else resolve(out);
    });
  });
}
