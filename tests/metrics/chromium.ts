/**
 * Headless Chromium for tests: load a page, let its scripts run for a virtual-time budget, and get
 * the rendered DOM (or a screenshot). Each run gets a fresh profile directory, removed afterwards;
 * on timeout only the browser's own process group (the one this helper started) is killed.
 *
 * Needs the Debian `chromium` package (`apt-get install -y chromium`).
 */
import { Buffer } from "node:buffer";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

/** Options of a headless run. */
export interface ChromiumRunOptions {
  /**
   * Virtual time the page gets before the DOM is dumped (ms). Timers run on virtual time, so a page
   * polling every second makes about budget/1000 polls; network fetches are real.
   */
  virtualTimeBudgetMs?: number;
  /** Wall-clock limit for the whole run (ms, default 30 000). */
  timeoutMs?: number;
  /** Window size `W,H` (default 1280,900). */
  windowSize?: string;
}

/** Path of the Chromium binary, or an Error saying how to install it. */
export function findChromium(): string {
  for (const p of ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]) {
    if (existsSync(p)) return p;
  }
  const which = spawnSync("sh", ["-c", "command -v chromium || command -v chromium-browser"], {
    encoding: "utf8",
  });
  const found = which.stdout.trim();
  if (which.status === 0 && found) return found;
  throw new Error(
    "chromium not found: install the `chromium` Debian package (apt-get install -y chromium)",
  );
}

function baseArgs(profile: string, o: ChromiumRunOptions): string[] {
  return [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--mute-audio",
    "--hide-scrollbars",
    `--user-data-dir=${profile}`,
    `--window-size=${o.windowSize ?? "1280,900"}`,
    `--virtual-time-budget=${o.virtualTimeBudgetMs ?? 3000}`,
  ];
}

/** Runs Chromium with `args` + `url`; resolves with its stdout. */
async function run(args: string[], url: string, timeoutMs: number): Promise<string> {
  const bin = findChromium();
  const child = spawn(bin, [...args, url], {
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group, so a timeout can stop the browser's helpers too
  });
  const out: Uint8Array[] = [];
  const err: Uint8Array[] = [];
  child.stdout!.on("data", (c: Uint8Array) => out.push(c));
  child.stderr!.on("data", (c: Uint8Array) => err.push(c));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      if (child.pid) process.kill(-child.pid, "SIGKILL");
    } catch {
      child.kill("SIGKILL");
    }
  }, timeoutMs);
  const code = await new Promise<number | null>((resolve) => {
    child.on("error", () => resolve(-1));
    child.on("close", (c) => resolve(c));
  });
  clearTimeout(timer);
  const text = (parts: Uint8Array[]) => new TextDecoder().decode(Buffer.concat(parts));
  if (timedOut) throw new Error(`chromium timed out after ${timeoutMs} ms loading ${url}`);
  if (code !== 0) {
    throw new Error(`chromium exited with ${code} loading ${url}: ${text(err).slice(-2000)}`);
  }
  return text(out);
}

async function withProfile<T>(fn: (profile: string) => Promise<T>): Promise<T> {
  const profile = mkdtempSync(join(tmpdir(), "tinykv-chromium-"));
  try {
    return await fn(profile);
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/** Loads `url` headless and returns the serialized DOM after the virtual-time budget. */
export function dumpDom(url: string, opts: ChromiumRunOptions = {}): Promise<string> {
  return withProfile((profile) =>
    run([...baseArgs(profile, opts), "--dump-dom"], url, opts.timeoutMs ?? 30_000)
  );
}

/** Loads `url` headless and writes a PNG screenshot to `path`. */
export async function screenshot(
  url: string,
  path: string,
  opts: ChromiumRunOptions = {},
): Promise<void> {
  await withProfile((profile) =>
    run([...baseArgs(profile, opts), `--screenshot=${path}`], url, opts.timeoutMs ?? 30_000)
  );
  if (!existsSync(path)) throw new Error(`chromium wrote no screenshot to ${path}`);
}

/** Text content of the element with `id` in dumped HTML (leaf elements only), or undefined. */
export function textById(html: string, id: string): string | undefined {
  const m = new RegExp(`id="${id}"[^>]*>([^<]*)<`).exec(html);
  if (!m) return undefined;
  return m[1]
    .replace(/&amp;/g, "&")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&nbsp;/g, " ")
    .trim();
}

/** Parses a rendered number like `1,234.5` or `12.3 KiB/s` (leading number); NaN if none. */
export function renderedNumber(text: string | undefined): number {
  const m = /^-?[\d,]*\.?\d+/.exec(text ?? "");
  return m ? Number(m[0].replace(/,/g, "")) : NaN;
}
