/**
 * WAL benchmark: group commit under concurrency. `--writers` concurrent writers each append
 * `--batch`-entry batches of `--entry-bytes` bytes (default 100 × 65 B ≈ 6.5 KB per batch) and
 * await `sync()`, for `--seconds` per fsync policy. Prints entries/s, batches/s, fdatasyncs/s and
 * the mean sync() latency. Also compares the two ways of writing a flush (sync `fs.writeSync`
 * vs `FileHandle.write`), which is why the WAL writes synchronously.
 *
 *   bun bench/wal.ts [--writers 10] [--batch 100] [--entry-bytes 65] [--seconds 2]
 *   deno run -A bench/wal.ts
 * @module
 */
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import process from "node:process";
import { setImmediate } from "node:timers";
import type { FsyncPolicy } from "../core/config/config.ts";
import type { Entry } from "../core/raft/types.ts";
import { openWal } from "../plugins/wal/wal.ts";

function flag(name: string, def: number): number {
  const args = process.argv.slice(2);
  const i = args.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(args[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}

const WRITERS = flag("writers", 10);
const BATCH = flag("batch", 100);
const ENTRY_BYTES = flag("entry-bytes", 65);
const SECONDS = flag("seconds", 2);
const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";

async function runPolicy(policy: FsyncPolicy): Promise<void> {
  const dir = fs.mkdtempSync(join(os.tmpdir(), "tinykv-walbench-"));
  const wal = await openWal(dir, { fsync: policy });
  const data = new Uint8Array(ENTRY_BYTES).fill(0x5a);
  let next = 1;
  let batches = 0;
  let syncMs = 0;
  const end = performance.now() + SECONDS * 1000;
  const fsync0 = wal.fsyncCount;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: WRITERS }, async () => {
    const es: Entry[] = [];
    while (performance.now() < end) {
      es.length = 0;
      for (let i = 0; i < BATCH; i++) es.push({ index: next++, term: 1, type: 0, data });
      wal.append(es);
      const s = performance.now();
      await wal.sync();
      syncMs += performance.now() - s;
      batches++;
      // Let timers and I/O run even though sync() resolves at once (batch/off).
      if (policy !== "always") await new Promise<void>((r) => setImmediate(r));
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  const fsyncs = wal.fsyncCount - fsync0;
  await wal.close();
  fs.rmSync(dir, { recursive: true, force: true });
  const entries = batches * BATCH;
  console.log(
    `${policy.padEnd(6)} ${(entries / secs).toFixed(0).padStart(9)} entries/s ` +
      `${(batches / secs).toFixed(0).padStart(7)} batches/s ` +
      `${(fsyncs / secs).toFixed(0).padStart(6)} fdatasyncs/s ` +
      `${((entries * (ENTRY_BYTES + 26)) / secs / 1e6).toFixed(1).padStart(6)} MB/s ` +
      `sync() mean ${(syncMs / batches).toFixed(3)} ms`,
  );
}

async function writeStyles(): Promise<void> {
  const dir = fs.mkdtempSync(join(os.tmpdir(), "tinykv-walbench-"));
  for (const size of [BATCH * (ENTRY_BYTES + 26), WRITERS * BATCH * (ENTRY_BYTES + 26)]) {
    const chunk = new Uint8Array(size).fill(1);
    const n = Math.max(50, Math.floor(20_000_000 / size));
    const fd = fs.openSync(join(dir, "a"), "w");
    let t = performance.now();
    for (let i = 0, pos = 0; i < n; i++, pos += size) fs.writeSync(fd, chunk, 0, size, pos);
    const syncUs = ((performance.now() - t) * 1000) / n;
    fs.closeSync(fd);
    const fh = await fsp.open(join(dir, "b"), "w");
    t = performance.now();
    for (let i = 0, pos = 0; i < n; i++, pos += size) await fh.write(chunk, 0, size, pos);
    const asyncUs = ((performance.now() - t) * 1000) / n;
    await fh.close();
    console.log(
      `flush of ${size} B: fs.writeSync ${syncUs.toFixed(1)} µs, FileHandle.write ${
        asyncUs.toFixed(1)
      } µs`,
    );
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

console.log(
  `wal bench (${runtime}, ${os.cpus().length} cpus): ${WRITERS} writers × ${BATCH}-entry batches of ` +
    `${ENTRY_BYTES} B entries (${
      BATCH * ENTRY_BYTES
    } B/batch), ${SECONDS} s per policy, dir ${os.tmpdir()}`,
);
for (const p of ["always", "batch", "off"] as const) await runPolicy(p);
await writeStyles();
