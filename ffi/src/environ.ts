/**
 * The C library's process environment (`getenv`/`setenv` through bun:ffi).
 *
 * Bun's `process.env` is a JS copy of the environment taken at start-up: assigning to it does not reach the C
 * environment that native code reads with `getenv` (MLX reads `MLX_HOSTFILE`/`MLX_RANK` this way). Values given to a
 * child process at spawn (`Bun.spawn(cmd, { env })`) are in its C environment from the start and need nothing here.
 */
import { CString, dlopen, FFIType } from "bun:ffi";

/** glibc's `libc.so.6` on Linux; libSystem on macOS. */
const LIBC = process.platform === "darwin" ? "libSystem.B.dylib" : "libc.so.6";

const SYMBOLS = {
  getenv: { args: [FFIType.ptr], returns: FFIType.ptr },
  setenv: { args: [FFIType.ptr, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
} as const;

let libc: ReturnType<typeof dlopen<typeof SYMBOLS>>["symbols"] | undefined;

function open() {
  libc ??= dlopen(LIBC, SYMBOLS).symbols;
  return libc;
}

const cstr = (s: string) => Buffer.from(`${s}\0`);

/** `getenv(name)`: the variable as native code sees it, or `undefined` when unset. */
export function nativeEnv(name: string): string | undefined {
  const p = open().getenv(cstr(name));
  return p ? new CString(p).toString() : undefined;
}

/**
 * `setenv(name, value, 1)`: sets the variable for native code in this process. `process.env` (and so what
 * `Bun.spawn` passes to children by default) is left as it is. Not thread-safe against a concurrent `getenv` on
 * another thread: call it before starting the native work that reads it.
 * @throws Error when `name` is empty or contains `=` or NUL, or `value` contains NUL (setenv would fail or truncate).
 */
export function setNativeEnv(name: string, value: string): void {
  if (!name || name.includes("=") || name.includes("\0")) {
    throw new Error(`setNativeEnv: invalid name ${JSON.stringify(name)}`);
  }
  if (value.includes("\0")) throw new Error(`setNativeEnv: ${name}: value contains NUL`);
  if (open().setenv(cstr(name), cstr(value), 1) !== 0) throw new Error(`setNativeEnv: setenv(${name}) failed`);
}
