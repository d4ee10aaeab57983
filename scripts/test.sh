#!/usr/bin/env bash
# The whole test suite on a fresh machine: setup (idempotent), type check, lint (Biome, dependency rules), then every
# test with bun test. Prints the closing line `N passed, N failed` (the type check and the lint count as one test each).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }
export PATH="$PWD/.tools/bin:$PATH"
mkdir -p .build
passed=0 failed=0
if bun x tsc --noEmit -p tsconfig.json; then passed=1; echo "(pass) tsc --noEmit"; else failed=1; echo "(fail) tsc --noEmit"; fi
if bash scripts/lint.sh; then passed=$((passed + 1)); echo "(pass) lint"; else failed=$((failed + 1)); echo "(fail) lint"; fi
bun test --timeout 120000 --reporter=junit --reporter-outfile=.build/junit.xml "$@" 2>&1 | tee .build/test.log
status=${PIPESTATUS[0]}
# bun's summary lines: " N pass" / " N fail"
p=$(grep -E '^ *[0-9]+ pass$' .build/test.log | tail -1 | grep -oE '[0-9]+')
f=$(grep -E '^ *[0-9]+ fail$' .build/test.log | tail -1 | grep -oE '[0-9]+')
passed=$((passed + ${p:-0}))
failed=$((failed + ${f:-0}))
if [[ $status -ne 0 && ${f:-0} -eq 0 ]]; then failed=$((failed + 1)); echo "bun test exited $status"; fi
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
