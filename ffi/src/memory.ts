/**
 * MLX allocator statistics and limits (`mlx/memory.h` through mlx-c). All values in bytes.
 */
import { callSize, check, mlx } from "./runtime.ts";

export interface MemoryStats {
  /** Bytes held by live arrays. */
  active: number;
  /** Bytes held in MLX's buffer cache for reuse. */
  cache: number;
  /** Highest `active` since start or the last `resetPeakMemory()`. */
  peak: number;
}

export function memoryStats(): MemoryStats {
  const { S } = mlx();
  return {
    active: callSize("mlx_get_active_memory", S.mlx_get_active_memory),
    cache: callSize("mlx_get_cache_memory", S.mlx_get_cache_memory),
    peak: callSize("mlx_get_peak_memory", S.mlx_get_peak_memory),
  };
}

export function resetPeakMemory(): void {
  check(mlx().S.mlx_reset_peak_memory(), "mlx_reset_peak_memory");
}

/** Frees MLX's buffer cache (mlx-lm calls this after prefill and every 256 decode steps). */
export function clearCache(): void {
  check(mlx().S.mlx_clear_cache(), "mlx_clear_cache");
}

/** Sets the buffer-cache limit in bytes; returns the previous limit. */
export function setCacheLimit(bytes: number): number {
  const { S } = mlx();
  return callSize("mlx_set_cache_limit", S.mlx_set_cache_limit, bytes);
}

/** Sets the memory limit (a guideline for graph evaluation) in bytes; returns the previous limit. */
export function setMemoryLimit(bytes: number): number {
  const { S } = mlx();
  return callSize("mlx_set_memory_limit", S.mlx_set_memory_limit, bytes);
}

/** Sets the wired (resident) limit in bytes — Metal on macOS 15+; harmless elsewhere. Returns the previous limit. */
export function setWiredLimit(bytes: number): number {
  const { S } = mlx();
  return callSize("mlx_set_wired_limit", S.mlx_set_wired_limit, bytes);
}
