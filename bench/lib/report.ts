/**
 * Benchmark output: the progress line (rewritten in place on a TTY, a line every few seconds
 * otherwise), the markdown table and the JSON file.
 * @module
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import process from "node:process";
import type { FailoverReport } from "./failover.ts";
import type { Progress, ScenarioResult } from "./runner.ts";

const TTY = process.stdout.isTTY === true;

/** Prints a note on its own line (ending a live progress line on a TTY first). */
export function printNote(text: string): void {
  process.stdout.write(TTY ? `\r\x1b[2K${text}\n` : `${text}\n`);
}

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
    const nominal = (this.#durationMs / 1000).toFixed(1);
    // The failover scenario may run past its nominal duration while it waits for the new leader.
    const time = elapsedMs > this.#durationMs + 500
      ? `${secs.toFixed(1)}s (nominal ${nominal}s)`
      : `${secs.toFixed(1)}/${nominal}s`;
    const line = `[${this.#name}] ${time}  ` +
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

const ms = (v: number | null | undefined) => (v === null || v === undefined ? "–" : fmt(v, 0));

/**
 * The results as a markdown table. `batches/proposal` is the nodes' `batches_received` delta over
 * their `proposals` delta (INFO counters read before and after the scenario); a `variant` column
 * appears when the results come from more than one configuration (e.g. coalesce off / on).
 */
export function markdownTable(results: ScenarioResult[]): string {
  const variants = results.some((r) => r.variant !== undefined);
  const head = `|${variants ? " variant |" : ""} scenario | clients × batch | ops/s | ` +
    "round trips/s | p50 ms | p99 ms | p99.9 ms | MB sent | MB recv | bytes/op | " +
    "batches/proposal | errors |";
  const sep = `|${
    variants ? "---|" : ""
  }---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|`;
  const rows = results.map((r) =>
    `|${variants ? ` ${r.variant ?? ""} |` : ""} ${r.name} | ${r.clients} × ${r.batch} | ${
      fmt(r.opsPerSec)
    } | ${fmt(r.roundTripsPerSec)} | ${fmt(r.latencyMs.p50, 2)} | ${fmt(r.latencyMs.p99, 2)} | ${
      fmt(r.latencyMs.p999, 2)
    } | ${fmt(r.bytesSent / 1e6, 1)} | ${fmt(r.bytesReceived / 1e6, 1)} | ${fmt(r.bytesPerOp)} | ${
      r.server?.batchesPerProposal == null ? "–" : fmt(r.server.batchesPerProposal, 2)
    } | ${fmt(r.errors)} |`
  );
  return [head, sep, ...rows].join("\n");
}

/** The failover rows as a markdown table (empty string when there are none). */
export function failoverTable(results: ScenarioResult[]): string {
  const rows = results.filter((r) => r.failover !== undefined);
  if (rows.length === 0) return "";
  const variants = rows.some((r) => r.variant !== undefined);
  const head = `|${variants ? " variant |" : ""} killed leader | new leader | election ms | ` +
    "unavailable ms (kill → first ack from new leader) | ack gap ms (around the kill) | " +
    "failed ops | ops/s before | ops/s after |";
  const sep = `|${variants ? "---|" : ""}---:|---:|---:|---:|---:|---:|---:|---:|`;
  const body = rows.map((r) => {
    const f = r.failover as FailoverReport;
    const unavailable = f.unavailableMs === null
      ? `> ${fmt(f.capMs)} (${f.error})`
      : ms(f.unavailableMs);
    return `|${variants ? ` ${r.variant ?? ""} |` : ""} ${f.killedNode ?? "–"} | ${
      f.newLeader ?? "–"
    } | ${ms(f.electionMs)} | ${unavailable} | ${ms(f.ackGapMs)} | ${fmt(f.failedOpsAfterKill)} | ${
      fmt(f.opsPerSecBefore)
    } | ${fmt(f.opsPerSecAfter)} |`;
  });
  return [head, sep, ...body].join("\n");
}

/** Coalesce off vs on, one row per scenario (empty string unless both variants are present). */
export function coalesceTable(results: ScenarioResult[]): string {
  const off = results.filter((r) => r.variant === "coalesce off");
  const on = results.filter((r) => r.variant === "coalesce on");
  if (off.length === 0 || on.length === 0) return "";
  const head = "| scenario | ops/s off | ops/s on | change | p99 ms off | p99 ms on | " +
    "batches/proposal off | batches/proposal on |";
  const sep = "|---|---:|---:|---:|---:|---:|---:|---:|";
  const bpp = (r: ScenarioResult) =>
    r.server?.batchesPerProposal == null ? "–" : fmt(r.server.batchesPerProposal, 2);
  const body = off.flatMap((a) => {
    const b = on.find((x) => x.name === a.name);
    if (!b) return [];
    const change = a.opsPerSec > 0
      ? `${b.opsPerSec >= a.opsPerSec ? "+" : ""}${fmt((b.opsPerSec / a.opsPerSec - 1) * 100, 1)}%`
      : "–";
    return [
      `| ${a.name} | ${fmt(a.opsPerSec)} | ${fmt(b.opsPerSec)} | ${change} | ${
        fmt(a.latencyMs.p99, 2)
      } | ${fmt(b.latencyMs.p99, 2)} | ${bpp(a)} | ${bpp(b)} |`,
    ];
  });
  return [head, sep, ...body].join("\n");
}

/** Writes the JSON report; returns its path. */
export function writeJson(dir: string, report: unknown): string {
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const file = path.join(dir, `${stamp}.json`);
  writeFileSync(file, JSON.stringify(report, null, 2) + "\n");
  return file;
}
