/**
 * Detects the JavaScript runtime once, so transports pick their native adapter
 * (`Bun.listen`, `Deno.listen`, or node:net as a fallback).
 * @module
 */

/** The runtimes TinyKV knows how to use natively. */
export type RuntimeName = "bun" | "deno" | "node";

const g = globalThis as { Bun?: unknown; Deno?: unknown };

/** The runtime this process runs on (Bun first: Bun also exposes some Node globals). */
export const RUNTIME: RuntimeName = g.Bun !== undefined
  ? "bun"
  : g.Deno !== undefined
  ? "deno"
  : "node";
