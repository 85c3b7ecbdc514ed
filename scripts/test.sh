#!/usr/bin/env bash
# The whole test suite: house checks (fmt, lint, strict type-check of every entry point), then
# every bun:test file. Ends with one plain line "N passed, N failed" taken from bun's own counts.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

echo "== checks: deno fmt --check, deno lint, deno check"
if ! bash scripts/check.sh; then
  echo "checks failed"
  echo "0 passed, 1 failed"
  exit 1
fi

echo "== bun test"
log=$(mktemp)
bun test --timeout 120000 "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
passed=$(grep -E '^ *[0-9]+ pass$' "$log" | tail -1 | grep -oE '[0-9]+')
failed=$(grep -E '^ *[0-9]+ fail$' "$log" | tail -1 | grep -oE '[0-9]+')
rm -f "$log"
echo "${passed:-0} passed, ${failed:-0} failed"
if [ "$rc" -ne 0 ] && [ "${failed:-0}" -eq 0 ]; then
  echo "bun test exited with $rc"
  exit "$rc"
fi
[ "${failed:-0}" -eq 0 ] && [ "${passed:-0}" -gt 0 ]
