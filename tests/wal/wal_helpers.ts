/** Shared helpers for the wal tests: temp dirs, deterministic entries, log collection. */
import * as fs from "node:fs";
import os from "node:os";
import { join } from "node:path";
import type { Entry } from "../../core/raft/types.ts";
import { EntryType } from "../../core/raft/types.ts";
import type { WalLogger } from "../../plugins/wal/wal.ts";

/** Creates a fresh temp directory; remove it with `rmTempDir`. */
export function tempDir(tag: string): string {
  return fs.mkdtempSync(join(os.tmpdir(), `tinykv-wal-${tag}-`));
}

/** Removes a temp directory made by `tempDir`. */
export function rmTempDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Deterministic payload for (index, term): length varies with the index. */
export function payload(index: number, term: number, size = 16 + (index % 37)): Uint8Array {
  const d = new Uint8Array(size);
  for (let i = 0; i < size; i++) d[i] = (index * 31 + term * 7 + i) & 0xff;
  return d;
}

/** Entries [from, to] at `term` with deterministic payloads. */
export function makeEntries(from: number, to: number, term: number, size?: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) {
    out.push({ index: i, term, type: EntryType.Normal, data: payload(i, term, size) });
  }
  return out;
}

/** Asserts-friendly plain copy of entries (data as arrays). */
export function plain(
  es: Entry[],
): { index: number; term: number; type: number; data: number[] }[] {
  return es.map((e) => ({ index: e.index, term: e.term, type: e.type, data: [...e.data] }));
}

/** A logger that records lines. */
export function recordingLogger(): WalLogger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => lines.push(`INFO ${m}`),
    warn: (m) => lines.push(`WARN ${m}`),
    error: (m) => lines.push(`ERROR ${m}`),
  };
}

/** Segment file paths in `dir`, oldest first. */
export function segmentFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => /^wal-[0-9a-f]{16}\.log$/.test(n)).sort().map((n) =>
    join(dir, n)
  );
}
