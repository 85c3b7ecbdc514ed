#!/usr/bin/env bash
# Formatting, lint, strict type-check of every entry point (DESIGN §10 house habits), doc lint.
set -euo pipefail
cd "$(dirname "$0")/.."
export CBOR_NATIVE_ACCELERATION_DISABLED=true
DENO="node_modules/.bin/deno"
$DENO fmt --check
$DENO lint
# Every .ts file outside node_modules is type-checked (entry points, plugins, tests, bench).
mapfile -t files < <(git ls-files --cached --others --exclude-standard '*.ts' | grep -v '^node_modules/')
$DENO check "${files[@]}"
# The public API is documented (DESIGN: `deno doc mod.ts` reads as the reference).
$DENO doc --lint mod.ts
