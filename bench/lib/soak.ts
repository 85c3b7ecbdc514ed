/**
 * The soak report (#11): for long runs, one row per 10-second window — ops/s, failed operations,
 * leader changes, the longest event-loop block any node saw, the nodes' RSS and the key count —
 * because a run's average hides the stalls that make writes fail. Node figures come from `INFO`
 * (`leader_changes`, `loop_block_max_ms`, `loop_block_max_cpu_wait_ms`, `keys`) over the probes'
 * direct connections, RSS from `/proc/<pid>/status` of the nodes the bench started (blank for a
 * cluster it did not start).
 * @module
 */
import { readFileSync } from "node:fs";
import type { NodeProbe } from "./info.ts";

/** One window of the soak report. */
export interface SoakWindow {
  /** Seconds since the scenario started, at the window's end. */
  endS: number;
  opsPerSec: number;
  /** Operations that failed in the window. */
  failed: number;
  /** Leader changes seen by any node in the window (sum over nodes of their INFO counter). */
  leaderChanges: number;
  /** Longest event-loop block reported by any node so far (ms; INFO keeps the maximum). */
  maxLoopBlockMs: number;
  /**
   * Of that block, the time the node's JS thread waited for a CPU (ms; 0 where the node cannot
   * tell, see `core/env/thread_times.ts`): a block that is mostly this is the machine, not the node.
   */
  maxLoopBlockWaitMs: number;
  /** Largest node RSS (MiB), or null when unknown. */
  maxRssMiB: number | null;
  /** Keys on the node with the most (null when no node answered). */
  keys: number | null;
}

/** The live counters the runner hands to `onProgress`. */
export interface SoakProgress {
  ops: number;
  errors: number;
}

interface NodeReading {
  leaderChanges: number;
  loopMaxMs: number;
  loopMaxWaitMs: number;
  keys: number;
}

/** RSS of process `pid` in MiB, or null (not Linux, or the process is gone). */
export function rssMiB(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

async function readNodes(probes: readonly NodeProbe[]): Promise<NodeReading[]> {
  const infos = await Promise.all(probes.map((p) => p.info()));
  return infos.filter((i): i is Record<string, string> => i !== null).map((i) => ({
    leaderChanges: Number(i.leader_changes ?? 0),
    loopMaxMs: Number(i.loop_block_max_ms ?? 0),
    loopMaxWaitMs: Number(i.loop_block_max_cpu_wait_ms ?? 0),
    keys: Number(i.keys ?? 0),
  }));
}

/** Samples a running scenario every `windowMs`; {@link SoakSampler.stop} returns the windows. */
export class SoakSampler {
  readonly #probes: readonly NodeProbe[];
  readonly #pids: readonly number[];
  readonly #windowMs: number;
  readonly #windows: SoakWindow[] = [];
  #progress: SoakProgress = { ops: 0, errors: 0 };
  #last = { ops: 0, errors: 0, at: 0, leaderChanges: 0 };
  #timer: ReturnType<typeof setInterval> | null = null;
  #startedAt = 0;
  #sampling: Promise<void> = Promise.resolve();

  constructor(probes: readonly NodeProbe[], pids: readonly number[], windowMs = 10_000) {
    this.#probes = probes;
    this.#pids = pids;
    this.#windowMs = windowMs;
  }

  /** Starts sampling (the nodes' leader-change counters are read as the baseline). */
  async start(): Promise<void> {
    const nodes = await readNodes(this.#probes);
    this.#last.leaderChanges = nodes.reduce((a, n) => a + n.leaderChanges, 0);
    this.#startedAt = performance.now();
    this.#last.at = this.#startedAt;
    this.#timer = setInterval(() => {
      this.#sampling = this.#sampling.then(() => this.#sample());
    }, this.#windowMs);
  }

  /** The runner's latest live counters (call from `onProgress`). */
  update(p: SoakProgress): void {
    this.#progress = p;
  }

  async #sample(): Promise<void> {
    const now = performance.now();
    const { ops, errors } = this.#progress;
    const nodes = await readNodes(this.#probes);
    const changes = nodes.reduce((a, n) => a + n.leaderChanges, 0);
    const rss = this.#pids.map(rssMiB).filter((r): r is number => r !== null);
    const dt = (now - this.#last.at) / 1000;
    const worst = nodes.reduce<NodeReading | null>(
      (a, n) => a === null || n.loopMaxMs > a.loopMaxMs ? n : a,
      null,
    );
    this.#windows.push({
      endS: Math.round((now - this.#startedAt) / 1000),
      opsPerSec: dt > 0 ? (ops - this.#last.ops) / dt : 0,
      failed: errors - this.#last.errors,
      leaderChanges: Math.max(0, changes - this.#last.leaderChanges),
      maxLoopBlockMs: worst?.loopMaxMs ?? 0,
      maxLoopBlockWaitMs: worst?.loopMaxWaitMs ?? 0,
      maxRssMiB: rss.length > 0 ? Math.max(...rss) : null,
      keys: nodes.length > 0 ? Math.max(...nodes.map((n) => n.keys)) : null,
    });
    this.#last = { ops, errors, at: now, leaderChanges: changes };
  }

  /** Stops sampling and returns the windows taken (a last partial window is not added). */
  async stop(): Promise<SoakWindow[]> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#sampling;
    return this.#windows;
  }
}

/** The soak report as a markdown table. */
export function soakTable(name: string, windows: readonly SoakWindow[]): string {
  const rows = windows.map((w) =>
    `| ${w.endS} | ${
      Math.round(w.opsPerSec).toLocaleString("en-US")
    } | ${w.failed} | ${w.leaderChanges} | ` +
    `${Math.round(w.maxLoopBlockMs)} | ${Math.round(w.maxLoopBlockWaitMs)} | ${
      w.maxRssMiB === null ? "" : Math.round(w.maxRssMiB)
    } | ` +
    `${w.keys === null ? "" : w.keys.toLocaleString("en-US")} |`
  );
  return [
    `soak report: ${name}`,
    "| s | ops/s | failed | leader changes | longest loop block ms (so far) | of it waiting for a CPU ms | max RSS MiB | keys |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...rows,
  ].join("\n");
}
