/**
 * Locates and opens the MLX C API library (DESIGN §4). Resolution order, first hit wins:
 * 1. `MLX_C_LIBRARY` (absolute path to a libmlxc build);
 * 2. a system libmlxc: Homebrew (`/opt/homebrew/lib`, `/usr/local/lib`) or `/usr/lib`;
 * 3. the compatibility library built from `ffi/native/` by `scripts/setup.sh` (`ffi/native/build/libmlxc-compat.*`).
 */
import { dlopen, FFIType, suffix } from "bun:ffi";
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

/** Where the library came from, for `/health` and error messages. */
export type LibrarySource = "env" | "system" | "compat";

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

const ERROR_SYMBOLS = {
  mlxc_errors_handler_address: { args: [], returns: FFIType.ptr },
  mlxc_errors_take: { args: [], returns: FFIType.ptr },
} as const;

/** Opens the error-capture library. @throws Error saying how to build it when it is missing. */
export function openErrorLibrary() {
  if (!existsSync(ERRORS_LIBRARY)) {
    throw new Error(`${ERRORS_LIBRARY} not found; build it with: bash scripts/setup.sh`);
  }
  return dlopen(ERRORS_LIBRARY, ERROR_SYMBOLS).symbols;
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
  if (existsSync(COMPAT_LIBRARY)) out.push({ path: COMPAT_LIBRARY, source: "compat" });
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
