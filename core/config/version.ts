/**
 * TinyKV's version: `--version`, `--help` and the `tinykv_build_info` metric. Kept equal to
 * deno.json's and package.json's `version` (tests/ops/compile.test.ts checks it).
 * @module
 */

/** The release version. */
export const VERSION = "0.1.0";
