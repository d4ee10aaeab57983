#!/usr/bin/env bash
# Builds the MLX C API compatibility library (libmlxc-compat) from
# ffi/native/src/*.cpp against MLX's C++ API.
#
#   MLX_PREFIX=<site-packages>/mlx bash ffi/native/build.sh
#
# MLX_PREFIX is the directory holding include/mlx/*.h and lib/libmlx.*:
#   - Linux: the `mlx-cpu` wheel's package dir, e.g. .venv/lib/python3.11/site-packages/mlx
#     (if unset, the repository's .venv is searched).
#   - macOS (best effort): Homebrew mlx, MLX_PREFIX=$(brew --prefix mlx)
#     (if unset and `brew` exists, that is used). Produces a .dylib with an
#     @rpath install name; no `-undefined dynamic_lookup` is needed because
#     every MLX symbol resolves against libmlx.dylib at link time.
#
# Output: ffi/native/build/libmlxc-compat.so (.dylib on macOS), libmlxc-errors.so (thread-safe error capture,
# errors/mlxc_errors.c) and libmlxc-kernels.so (the closure bodies mlx_compile compiles, kernels/mlxc_kernels.c),
# both needed with any libmlxc, objects in
# ffi/native/build/obj/. Incremental: nothing is done when the library is
# newer than every source, header and this script and the MLX prefix/version
# and compiler settings (kept in build/stamp) are unchanged; otherwise only
# the out-of-date objects are recompiled (MLXC_JOBS in parallel, default 2).
#
# Environment: MLX_PREFIX, CXX, CXXFLAGS (extra flags), MLXC_JOBS.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SELF="$HERE/build.sh"

# ------------------------------------------------- compile-one sub-command
# (used through xargs for parallel compilation; arguments: src obj)
if [[ "${1:-}" == "--compile-one" ]]; then
  src="$2"
  obj="$3"
  # shellcheck disable=SC2086
  "$MLXC_CXX" $MLXC_CXXFLAGS -isystem "$MLXC_INCLUDE" -c "$src" -o "$obj.tmp"
  mv -f "$obj.tmp" "$obj"
  exit 0
fi

REPO="$(cd "$HERE/../.." && pwd)"
UNAME="$(uname -s)"

# ------------------------------------------------------------- MLX prefix
if [[ -z "${MLX_PREFIX:-}" ]]; then
  for cand in "$REPO"/.venv/lib/python3*/site-packages/mlx; do
    if [[ -f "$cand/include/mlx/mlx.h" ]]; then MLX_PREFIX="$cand"; break; fi
  done
fi
if [[ -z "${MLX_PREFIX:-}" && "$UNAME" == "Darwin" ]] && command -v brew >/dev/null 2>&1; then
  MLX_PREFIX="$(brew --prefix mlx 2>/dev/null || true)"
fi
if [[ -z "${MLX_PREFIX:-}" ]]; then
  echo "build.sh: MLX_PREFIX is not set and no MLX installation was found" >&2
  echo "  Linux: MLX_PREFIX=<venv>/lib/python3.X/site-packages/mlx (pip install mlx-cpu)" >&2
  echo "  macOS: MLX_PREFIX=\$(brew --prefix mlx)" >&2
  exit 1
fi
MLX_PREFIX="$(cd "$MLX_PREFIX" && pwd)"

if [[ "$UNAME" == "Darwin" ]]; then
  LIBEXT=dylib
  CXX="${CXX:-clang++}"
else
  LIBEXT=so
  CXX="${CXX:-g++}"
fi

MLX_LIB="$MLX_PREFIX/lib/libmlx.$LIBEXT"
MLX_VERSION_H="$MLX_PREFIX/include/mlx/version.h"
if [[ ! -f "$MLX_PREFIX/include/mlx/mlx.h" ]]; then
  echo "build.sh: no MLX headers under $MLX_PREFIX/include/mlx" >&2
  exit 1
fi
if [[ ! -f "$MLX_LIB" ]]; then
  echo "build.sh: $MLX_LIB not found" >&2
  exit 1
fi

mlx_version="unknown"
if [[ -f "$MLX_VERSION_H" ]]; then
  mlx_version="$(sed -nE 's/^#define MLX_VERSION_(MAJOR|MINOR|PATCH) ([0-9]+).*/\2/p' "$MLX_VERSION_H" | paste -sd. -)"
  [[ -n "$mlx_version" ]] || mlx_version="unknown"
fi

# ------------------------------------------------------------------ paths
BUILD="$HERE/build"
OBJDIR="$BUILD/obj"
OUT="$BUILD/libmlxc-compat.$LIBEXT"
STAMP="$BUILD/stamp"
mkdir -p "$OBJDIR"

SRCS=("$HERE"/src/*.cpp)
HEADERS=("$HERE"/mlxc.h "$HERE"/src/*.h)

CXXFLAGS_ALL="-std=c++20 -O2 -fPIC -fvisibility=hidden -fvisibility-inlines-hidden -Wall -Wextra -Wno-unused-parameter ${CXXFLAGS:-}"
# Only the C API is exported: -fvisibility=hidden plus an explicit export
# list, which also hides weak C++ template instantiations that MLX's
# default-visibility classes would otherwise leak into the dynamic table.
if [[ "$UNAME" == "Darwin" ]]; then
  LDFLAGS_ALL=(-dynamiclib -install_name "@rpath/libmlxc-compat.dylib"
    "-Wl,-exported_symbol,_mlx_*" "-Wl,-exported_symbol,__mlx_*"
    "-Wl,-exported_symbol,_mlxc_*"
    -L"$MLX_PREFIX/lib" -lmlx -Wl,-rpath,"$MLX_PREFIX/lib")
else
  EXPORTS="$BUILD/exports.map"
  LDFLAGS_ALL=(-shared -Wl,-z,defs -Wl,-soname,libmlxc-compat.so
    -Wl,--version-script,"$EXPORTS"
    -L"$MLX_PREFIX/lib" -lmlx -Wl,-rpath,"$MLX_PREFIX/lib")
fi

# ----------------------------------------------- thread-safe error capture
# A tiny C library with no MLX dependency (errors/mlxc_errors.c), used with either this library or a system libmlxc.
ERRORS_SRC="$HERE/errors/mlxc_errors.c"
ERRORS_OUT="$BUILD/libmlxc-errors.$LIBEXT"
if [[ ! -f "$ERRORS_OUT" || ! "$ERRORS_OUT" -nt "$ERRORS_SRC" || ! "$ERRORS_OUT" -nt "$SELF" ]]; then
  if [[ "$UNAME" == "Darwin" ]]; then ERRORS_LD=(-dynamiclib); else ERRORS_LD=(-shared); fi
  "${CC:-cc}" -std=c11 -O2 -fPIC -fvisibility=hidden -Wall -Wextra "${ERRORS_LD[@]}" "$ERRORS_SRC" -o "$ERRORS_OUT.tmp"
  mv -f "$ERRORS_OUT.tmp" "$ERRORS_OUT"
  echo "mlxc-errors: built ${ERRORS_OUT#"$REPO"/}"
fi

newer_than_all() { # $1 newer than every other argument?
  local target="$1"; shift
  [[ -f "$target" ]] || return 1
  local f
  for f in "$@"; do
    [[ "$target" -nt "$f" ]] || return 1
  done
  return 0
}

# ------------------------------------------------------ native closure bodies
# Another small C library with no link-time MLX dependency (kernels/mlxc_kernels.c): the functions mlx_compile
# compiles (SwiGLU...). It resolves mlx-c's functions at run time from the library the binding loaded, so it too
# serves this library and a system libmlxc alike.
KERNELS_SRC="$HERE/kernels/mlxc_kernels.c"
KERNELS_OUT="$BUILD/libmlxc-kernels.$LIBEXT"
if ! newer_than_all "$KERNELS_OUT" "$KERNELS_SRC" "$HERE/mlxc.h" "$SELF"; then
  if [[ "$UNAME" == "Darwin" ]]; then KERNELS_LD=(-dynamiclib); else KERNELS_LD=(-shared -ldl -lpthread); fi
  "${CC:-cc}" -std=gnu11 -O2 -fPIC -fvisibility=hidden -Wall -Wextra "$KERNELS_SRC" "${KERNELS_LD[@]}" \
    -o "$KERNELS_OUT.tmp"
  mv -f "$KERNELS_OUT.tmp" "$KERNELS_OUT"
  echo "mlxc-kernels: built ${KERNELS_OUT#"$REPO"/}"
fi

stamp_now="prefix=$MLX_PREFIX
mlx=$mlx_version
cxx=$CXX
cxxflags=$CXXFLAGS_ALL
ldflags=${LDFLAGS_ALL[*]}"

stamp_ok=0
if [[ -f "$STAMP" ]] && [[ "$(cat "$STAMP")" == "$stamp_now" ]]; then
  stamp_ok=1
fi

if [[ $stamp_ok == 1 ]] && newer_than_all "$OUT" "${SRCS[@]}" "${HEADERS[@]}" "$SELF"; then
  echo "mlxc-compat: up to date: ${OUT#"$REPO"/} (mlx $mlx_version)"
  exit 0
fi

# ---------------------------------------------------------------- compile
if [[ $stamp_ok == 0 ]]; then
  rm -f "$OBJDIR"/*.o "$STAMP"
fi

todo=()
for src in "${SRCS[@]}"; do
  obj="$OBJDIR/$(basename "${src%.cpp}").o"
  if ! newer_than_all "$obj" "$src" "${HEADERS[@]}" "$SELF"; then
    todo+=("$src" "$obj")
  fi
done
# Objects of deleted sources must not be linked.
for obj in "$OBJDIR"/*.o; do
  [[ -e "$obj" ]] || continue
  [[ -f "$HERE/src/$(basename "${obj%.o}").cpp" ]] || rm -f "$obj"
done

start=$(date +%s)
if (( ${#todo[@]} > 0 )); then
  export MLXC_CXX="$CXX" MLXC_CXXFLAGS="$CXXFLAGS_ALL" MLXC_INCLUDE="$MLX_PREFIX/include"
  printf '%s\n' "${todo[@]}" | xargs -n 2 -P "${MLXC_JOBS:-2}" bash "$SELF" --compile-one
fi

# ------------------------------------------------------------------- link
if [[ "$UNAME" != "Darwin" ]]; then
  printf '{\n  global: mlx_*; _mlx_*; mlxc_*;\n  local: *;\n};\n' >"$EXPORTS"
fi
OBJS=()
for src in "${SRCS[@]}"; do OBJS+=("$OBJDIR/$(basename "${src%.cpp}").o"); done
"$CXX" "${OBJS[@]}" "${LDFLAGS_ALL[@]}" -o "$OUT.tmp"
mv -f "$OUT.tmp" "$OUT"
printf '%s\n' "$stamp_now" >"$STAMP"

end=$(date +%s)
echo "mlxc-compat: built ${OUT#"$REPO"/} ($(( ${#todo[@]} / 2 ))/${#SRCS[@]} objects recompiled, mlx $mlx_version, $((end - start))s)"
