/**
 * The `engine:` settings as the local backend applies them. Their defaults live once, in the config schema
 * (src/config/schema.ts, `EngineSchema`): this module derives from them and maps them, in both directions, between
 * the config's shape (`max_active`, `memory.cache_limit_bytes`...) and the engine Worker's {@link EngineLimits}
 * (`maxActive`, `memory.cacheLimitBytes`...).
 */
import { availableParallelism } from "node:os";
import * as v from "valibot";
import { type EngineConfig, EngineSchema } from "../../config/schema.ts";
import type { EngineLimits } from "../../engine/client.ts";

/** Worker-style overrides of the `engine:` settings (tests and embedders): concurrency and MLX allocator limits. */
export type LimitOverrides = Partial<Pick<EngineLimits, "maxActive" | "maxQueue" | "memory">>;

/** Most CPU streams `engine.matmul_streams: auto` spreads a quantized matmul over. */
export const AUTO_MATMUL_STREAMS_MAX = 8;

/**
 * `engine.matmul_streams` as a count: `auto` is the CPUs this process may use (`os.availableParallelism()`), at most
 * {@link AUTO_MATMUL_STREAMS_MAX}.
 */
export function matmulStreams(setting: EngineConfig["matmul_streams"]): number {
  return setting === "auto" ? Math.min(availableParallelism(), AUTO_MATMUL_STREAMS_MAX) : setting;
}

/**
 * Engine settings when the caller gives none: the `engine:` defaults of the config schema, with no memory budget
 * (`memory.budget_bytes` is `Number.MAX_SAFE_INTEGER`; loading a config file resolves it from the machine's memory).
 */
export const DEFAULT_ENGINE: EngineConfig = {
  ...v.parse(EngineSchema, {}),
  memory: { budget_bytes: Number.MAX_SAFE_INTEGER },
};

/**
 * `settings` with Worker-style `limits` laid over them: `maxActive`, `maxQueue`, `memory.cacheLimitBytes` and
 * `memory.wiredLimitBytes` replace `max_active`, `max_queue`, `memory.cache_limit_bytes` and
 * `memory.wired_limit_bytes` when given (`limits.prefixCache` is not read); everything else is kept.
 */
export function withLimits(settings: EngineConfig, limits: LimitOverrides = {}): EngineConfig {
  return {
    ...settings,
    max_active: limits.maxActive ?? settings.max_active,
    max_queue: limits.maxQueue ?? settings.max_queue,
    memory: {
      ...settings.memory,
      cache_limit_bytes: limits.memory?.cacheLimitBytes ?? settings.memory.cache_limit_bytes,
      wired_limit_bytes: limits.memory?.wiredLimitBytes ?? settings.memory.wired_limit_bytes,
    },
  };
}

/**
 * What each model's engine Worker is started with (`EngineClient.start`), from the `engine:` settings: concurrency
 * (`max_active`, `max_queue`), the MLX allocator limits (bytes) and the prefix cache switches and limits.
 */
export function workerLimits(settings: EngineConfig): EngineLimits {
  const { cache_limit_bytes: cacheLimitBytes, wired_limit_bytes: wiredLimitBytes } = settings.memory;
  const {
    enabled,
    shared,
    max_bytes: maxBytes,
    max_entries: maxEntries,
    ttl_s: ttlS,
    block_size: blockSize,
  } = settings.prefix_cache;
  return {
    maxActive: settings.max_active,
    maxQueue: settings.max_queue,
    memory: { cacheLimitBytes, wiredLimitBytes },
    prefixCache: { enabled, shared, maxBytes, maxEntries, ttlS, blockSize },
    upcastQuantizedScales: settings.upcast_quantized_scales,
    matmulStreams: matmulStreams(settings.matmul_streams),
  };
}
