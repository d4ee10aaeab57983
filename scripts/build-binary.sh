#!/usr/bin/env bash
# Builds the standalone binary dist/ithaca-<os>-<arch> (bun build --compile, pinned Bun) with the MLX libraries inside:
# the compatibility and error-capture libraries, libmlx and what it needs beyond a bare Debian 12 / Ubuntu 22.04
# (Linux) or macOS, the demo-model generator, the engine Workers. Setup runs first (idempotent).
#
#   bash scripts/build-binary.sh [--out FILE] [--minify]
#
# Linux x64/arm64 are built and tested; macOS (Apple silicon) is written but untested: see README.md,
# "Install from a single binary". See scripts/build-binary.ts for the steps.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >&2
exec .tools/bin/bun scripts/build-binary.ts "$@"
