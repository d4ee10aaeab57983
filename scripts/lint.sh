#!/usr/bin/env bash
# Lint: Biome (format + lint, no --write) and the dependency rules of DESIGN §3 (.dependency-cruiser.cjs).
# Runs both, prints each one's result, exits non-zero if either failed. To apply Biome's fixes:
#   .tools/bin/bun x biome check --write src plugins test bench scripts ffi/src
set -uo pipefail
cd "$(dirname "$0")/.."

BUN="${BUN:-.tools/bin/bun}"
[ -x "$BUN" ] || BUN="$(command -v bun || true)"
if [ -z "$BUN" ]; then
  echo "lint: bun not found (.tools/bin/bun or PATH); run scripts/setup.sh" >&2
  exit 2
fi

status=0

echo "== biome check src plugins test bench scripts ffi/src"
"$BUN" x biome check src plugins test bench scripts ffi/src || status=1

echo "== depcruise src plugins ffi/src (.dependency-cruiser.cjs)"
# --bun: run dependency-cruiser on Bun itself, not on the system `node` that its shebang names (it needs node >= 22).
"$BUN" x --bun depcruise src plugins ffi/src --config .dependency-cruiser.cjs || status=1

if [ "$status" -eq 0 ]; then echo "lint: ok"; else echo "lint: FAILED" >&2; fi
exit "$status"
