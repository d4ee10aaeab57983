#!/usr/bin/env bash
# Builds llguidance (crates.io, version pinned in Cargo.toml, dependencies locked in Cargo.lock) as a C dynamic
# library and installs it as ffi/native/build/libllguidance.so (.dylib on macOS), beside the MLX compatibility
# library, where src/engine/grammar/llguidance.ts opens it.
#
#   bash ffi/llguidance/build.sh
#
# Needs cargo/rustc >= 1.87 (llguidance's rust-version): from PATH, else ~/.cargo/bin (rustup). Incremental: cargo
# rebuilds only what changed, and the library is copied only when it differs. Environment: CARGO_BUILD_JOBS.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="$HERE/../native/build"
case "$(uname -s)" in Darwin) LIB=libllguidance.dylib ;; *) LIB=libllguidance.so ;; esac

CARGO=$(command -v cargo || true)
[[ -z "$CARGO" && -x "$HOME/.cargo/bin/cargo" ]] && CARGO="$HOME/.cargo/bin/cargo"
if [[ -z "$CARGO" ]]; then
  echo "ffi/llguidance: cargo not found; install Rust >= 1.87 (rustup) to build the structured-outputs engine" >&2
  exit 1
fi
PATH="$(dirname "$CARGO"):$PATH" "$CARGO" build --release --locked --quiet --manifest-path "$HERE/Cargo.toml"
mkdir -p "$OUT"
cmp -s "$HERE/target/release/$LIB" "$OUT/$LIB" || cp -f "$HERE/target/release/$LIB" "$OUT/$LIB"
