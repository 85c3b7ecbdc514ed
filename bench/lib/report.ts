/**
 * Benchmark output: the progress line (rewritten in place on a TTY, a line every few seconds
 * otherwise), the markdown table and the JSON file.
 * @module
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import process from "node:process";
import type { Progress, ScenarioResult } from "./runner.ts";

const TTY = process.stdout.isTTY === true;

/** Prints live progress for one scenario. */
export class ProgressLine {
  #lastPrint = -Infinity;
  #last: [Progress, number] | null = null;
  readonly #name: string;
  readonly #durationMs: number;

  constructor(name: string, durationMs: number) {
    this.#name = name;
    this.#durationMs = durationMs;
  }

  /** Shows the counters (on a TTY at once; otherwise at most every 2 s). */
  update(p: Progress, elapsedMs: number): void {
    this.#last = [p, elapsedMs];
    const now = performance.now();
    if (!TTY && now - this.#lastPrint < 2000) return;
    this.#print(p, elapsedMs);
  }

  #print(p: Progress, elapsedMs: number): void {
    const now = performance.now();
    this.#lastPrint = now;
    const secs = elapsedMs / 1000;
    const line = `[${this.#name}] ${secs.toFixed(1)}/${(this.#durationMs / 1000).toFixed(1)}s  ` +
      `${Math.round(p.ops / Math.max(secs, 0.001)).toLocaleString("en-US")} ops/s  ` +
      `p99 ${p.latency.percentileMs(99).toFixed(2)} ms  errors ${p.errors}`;
    if (TTY) process.stdout.write(`\r\x1b[2K${line}`);
    else process.stdout.write(line + "\n");
  }

  /** Prints the final counters and ends the line. */
  done(): void {
    if (this.#last) this.#print(...this.#last);
    if (TTY) process.stdout.write("\n");
  }
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** The results as a markdown table. */
export function markdownTable(results: ScenarioResult[]): string {
  const head =
    "| scenario | clients × batch | ops/s | round trips/s | p50 ms | p99 ms | p99.9 ms | MB sent | MB recv | bytes/op | errors |";
  const sep = "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|";
  const rows = results.map((r) =>
    `| ${r.name} | ${r.clients} × ${r.batch} | ${fmt(r.opsPerSec)} | ${fmt(r.roundTripsPerSec)} | ${
      fmt(r.latencyMs.p50, 2)
    } | ${fmt(r.latencyMs.p99, 2)} | ${fmt(r.latencyMs.p999, 2)} | ${fmt(r.bytesSent / 1e6, 1)} | ${
      fmt(r.bytesReceived / 1e6, 1)
    } | ${fmt(r.bytesPerOp)} | ${fmt(r.errors)} |`
  );
  return [head, sep, ...rows].join("\n");
}

/** Writes the JSON report; returns its path. */
export function writeJson(dir: string, report: unknown): string {
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const file = path.join(dir, `${stamp}.json`);
  writeFileSync(file, JSON.stringify(report, null, 2) + "\n");
  return file;
}
