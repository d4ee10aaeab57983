/**
 * bun-ffi-mlx-bindings: the MLX C API (mlx-c) from TypeScript through bun:ffi.
 *
 * Load order and rules: the library is opened and MLX's error handler installed on the first call of `mlx()`; every
 * MLX failure becomes a thrown {@link MlxError}; every {@link MxArray} has one owner and is freed explicitly.
 */
export { MxArray, liveArrays } from "./array.ts";
export { Dtype, DTYPE_SIZE, parseDtype, isFloating } from "./dtype.ts";
export { MlxError } from "./errors.ts";
export { loadSafetensors, saveSafetensors, readSafetensorsHeader, type SafetensorsEntry } from "./io.ts";
export {
  candidateLibraries,
  openLibrary,
  openKernelLibrary,
  nativeLibraries,
  COMPAT_LIBRARY,
  ERRORS_LIBRARY,
  KERNELS_LIBRARY,
  PINNED_MLX_VERSION,
  type LibrarySource,
} from "./library.ts";
export {
  memoryStats,
  resetPeakMemory,
  clearCache,
  setCacheLimit,
  setMemoryLimit,
  setWiredLimit,
  type MemoryStats,
} from "./memory.ts";
export * as ops from "./ops.ts";
export * as kernels from "./kernels.ts";
export { CompiledFunction } from "./compile.ts";
export * as distributed from "./distributed.ts";
export {
  checkRingHostfile,
  formatRingHostfile,
  validateRingConfig,
  ringEnv,
  ringConfigFromEnvironment,
  setRingEnvironment,
  type RingConfig,
  type RingHostfile,
} from "./ring.ts";
export { nativeEnv, setNativeEnv } from "./environ.ts";
export { extraCpuStreams, mlx, type Runtime } from "./runtime.ts";
export { optInt, optFloat, optDtype } from "./optional.ts";

import { CString, type Pointer } from "bun:ffi";
import { callOut, mlx } from "./runtime.ts";

/** The MLX core version reported by the library (e.g. `0.32.4`). */
export function mlxVersion(): string {
  const { S } = mlx();
  const str = callOut("mlx_version", S.mlx_version);
  try {
    return new CString(S.mlx_string_data(str) as Pointer).toString();
  } finally {
    S.mlx_string_free(str);
  }
}
