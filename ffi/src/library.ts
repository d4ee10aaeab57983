/**
 * Locates and opens the MLX C API library (DESIGN §4). Resolution order, first hit wins:
 * 1. `MLX_C_LIBRARY` (absolute path to a libmlxc build);
 * 2. a system libmlxc: Homebrew (`/opt/homebrew/lib`, `/usr/local/lib`) or `/usr/lib`;
 * 3. the compatibility library: in `MLXC_NATIVE_DIR` when set (the directory a standalone binary extracted its
 *    libraries to, source `bundled`), else the one built from `ffi/native/` by `scripts/setup.sh`
 *    (`ffi/native/build/libmlxc-compat.*`, source `compat`).
 * The error-capture and kernel libraries come from `MLXC_NATIVE_DIR` too when set.
 */
import { dlopen, type FFIFunction, FFIType, suffix } from "bun:ffi";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { SYMBOLS, type SymbolTable } from "./symbols.ts";

/**
 * The opened functions. bun:ffi's generated types cannot follow a table built from helpers, so calls are typed at the
 * binding's public surface (`ops.ts`, `array.ts`) rather than here: ints and sizes come back as numbers, handles as
 * pointers (`null` for an empty handle).
 */
// biome-ignore lint/suspicious/noExplicitAny: the return type is any on purpose: the table's entries are widened to FFIFunction, so no per-symbol return type exists here, and each call site types its result (status int, size, or `as Pointer | null`).
export type MlxSymbols = { [K in keyof SymbolTable]: (...args: unknown[]) => any };

/**
 * Where the library came from, for `/health`, `ithaca doctor` and error messages: `MLX_C_LIBRARY` (`env`), a system
 * libmlxc (`system`), the compatibility library of a checkout (`compat`) or the one a standalone binary extracted
 * (`bundled`, from `MLXC_NATIVE_DIR`).
 */
export type LibrarySource = "env" | "system" | "compat" | "bundled";

/**
 * The MLX version the compatibility library is built against (the `mlx-cpu` wheel that `scripts/setup.sh` pins).
 * Only the compatibility library must match it; a libmlxc from `MLX_C_LIBRARY` or the system may carry another MLX
 * version, which is reported (`ithaca doctor`, `/health`), not refused.
 */
export const PINNED_MLX_VERSION = "0.32.4";

export interface LoadedLibrary {
  path: string;
  source: LibrarySource;
  symbols: MlxSymbols;
  close(): void;
}

/** The compatibility library's path inside this package. */
export const COMPAT_LIBRARY = join(import.meta.dir, "..", "native", "build", `libmlxc-compat.${suffix}`);
/** The thread-safe error-capture library (`ffi/native/errors/mlxc_errors.c`), used with any libmlxc. */
export const ERRORS_LIBRARY = join(import.meta.dir, "..", "native", "build", `libmlxc-errors.${suffix}`);
/** The native closure bodies for `mlx_compile` (`ffi/native/kernels/mlxc_kernels.c`), used with any libmlxc. */
export const KERNELS_LIBRARY = join(import.meta.dir, "..", "native", "build", `libmlxc-kernels.${suffix}`);

/**
 * The compatibility, error-capture and kernel libraries in use: those in `env.MLXC_NATIVE_DIR` (absolute directory,
 * set by a standalone binary once its libraries are extracted) when set, else {@link COMPAT_LIBRARY},
 * {@link ERRORS_LIBRARY} and {@link KERNELS_LIBRARY}.
 */
export function nativeLibraries(env: Record<string, string | undefined> = process.env): {
  compat: string;
  errors: string;
  kernels: string;
  source: "compat" | "bundled";
} {
  const dir = env.MLXC_NATIVE_DIR;
  if (!dir) return { compat: COMPAT_LIBRARY, errors: ERRORS_LIBRARY, kernels: KERNELS_LIBRARY, source: "compat" };
  return {
    compat: join(dir, `libmlxc-compat.${suffix}`),
    errors: join(dir, `libmlxc-errors.${suffix}`),
    kernels: join(dir, `libmlxc-kernels.${suffix}`),
    source: "bundled",
  };
}

const ERROR_SYMBOLS = {
  mlxc_errors_handler_address: { args: [], returns: FFIType.ptr },
  mlxc_errors_take: { args: [], returns: FFIType.ptr },
} as const;

const KERNEL_SYMBOLS = {
  mlxc_kernels_init: { args: [FFIType.ptr], returns: FFIType.i32 },
  mlxc_kernels_params: {
    args: [FFIType.ptr, FFIType.f32, FFIType.i32, FFIType.bool, FFIType.f32, FFIType.bool, FFIType.f32],
    returns: FFIType.ptr,
  },
  mlxc_kernels_params_free_address: { args: [], returns: FFIType.ptr },
  mlxc_kernels_swiglu_address: { args: [], returns: FFIType.ptr },
  mlxc_kernels_rms_norm_address: { args: [], returns: FFIType.ptr },
  mlxc_kernels_rope_address: { args: [], returns: FFIType.ptr },
} as const;

function openNative<T extends Record<string, FFIFunction>>(path: string, symbols: T) {
  if (!existsSync(path)) {
    throw new Error(`${path} not found; build it with: bash scripts/setup.sh`);
  }
  return dlopen(path, symbols).symbols;
}

/**
 * Opens the error-capture library ({@link nativeLibraries}).
 * @throws Error saying how to build it when it is missing.
 */
export function openErrorLibrary(env: Record<string, string | undefined> = process.env) {
  return openNative(nativeLibraries(env).errors, ERROR_SYMBOLS);
}

/**
 * Opens the kernel library ({@link nativeLibraries}): the native closure bodies that `mlx_compile` compiles
 * (`ffi/native/kernels/mlxc_kernels.c`).
 * @throws Error saying how to build it when it is missing.
 */
export function openKernelLibrary(env: Record<string, string | undefined> = process.env) {
  return openNative(nativeLibraries(env).kernels, KERNEL_SYMBOLS);
}

const SYSTEM_DIRS = [
  "/opt/homebrew/lib",
  "/usr/local/lib",
  "/usr/lib",
  "/usr/lib/x86_64-linux-gnu",
  "/usr/lib/aarch64-linux-gnu",
];

/** Candidate library paths in resolution order (existing files only). */
export function candidateLibraries(
  env: Record<string, string | undefined> = process.env,
): { path: string; source: LibrarySource }[] {
  const out: { path: string; source: LibrarySource }[] = [];
  if (env.MLX_C_LIBRARY) out.push({ path: env.MLX_C_LIBRARY, source: "env" });
  for (const dir of SYSTEM_DIRS) {
    const path = join(dir, `libmlxc.${suffix}`);
    if (existsSync(path)) out.push({ path, source: "system" });
  }
  const native = nativeLibraries(env);
  if (existsSync(native.compat)) out.push({ path: native.compat, source: native.source });
  return out;
}

/**
 * Opens the first candidate that resolves every symbol of {@link SYMBOLS}.
 * @throws Error listing each candidate tried and why it failed, or saying that none exists
 *   (run `bash scripts/setup.sh` to build the compatibility library).
 */
export function openLibrary(
  env: Record<string, string | undefined> = process.env,
  candidates: { path: string; source: LibrarySource }[] = candidateLibraries(env),
): LoadedLibrary {
  const failures: string[] = [];
  for (const { path, source } of candidates) {
    if (source === "env" && !existsSync(path)) {
      failures.push(`${path} (MLX_C_LIBRARY): no such file`);
      continue;
    }
    try {
      const lib = dlopen(path, SYMBOLS);
      return { path, source, symbols: lib.symbols as unknown as MlxSymbols, close: () => lib.close() };
    } catch (err) {
      failures.push(`${path}: ${(err as Error).message}`);
    }
  }
  const tried = failures.length ? `tried:\n  ${failures.join("\n  ")}` : "no candidate found";
  throw new Error(
    `cannot load the MLX C API library; ${tried}\nbuild the compatibility library with: bash scripts/setup.sh`,
  );
}
