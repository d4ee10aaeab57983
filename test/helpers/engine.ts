/**
 * Engine request parameters for tests: greedy, no penalties, no logprobs — what the HTTP layer sends for a plain
 * request — with the fields a test cares about overridden.
 */
import { DEFAULT_ENGINE, workerLimits } from "../../src/backends/mlx/engine-settings.ts";
import type { EngineClient, EngineLimits } from "../../src/engine/client.ts";
import type { PrefixCacheOptions } from "../../src/engine/prefix-cache.ts";
import type { GenerateParams } from "../../src/engine/worker-messages.ts";

export function generateParams(over: Partial<GenerateParams> = {}): GenerateParams {
  return {
    messages: [{ role: "user", content: "Tell me about the sea." }],
    max_tokens: 24,
    temperature: 0,
    top_p: 1,
    top_k: 0,
    min_p: 0,
    repetition_context_size: 20,
    presence_penalty: 0,
    frequency_penalty: 0,
    logprobs: false,
    top_logprobs: 0,
    stop: [],
    ...over,
  };
}

/**
 * Live MLX arrays in an engine Worker other than those its prefix cache keeps on purpose: a leak check that holds
 * whatever the cache decided to keep.
 */
export async function arraysInUse(engine: EngineClient): Promise<number> {
  const stats = await engine.stats();
  return stats.liveArrays - stats.prefixCache.arrays;
}

/**
 * Engine Worker limits for tests: the config schema's `engine:` defaults (as the app maps them), with the given
 * concurrency and prefix-cache fields overridden.
 */
export function engineLimits(
  over: Partial<Pick<EngineLimits, "maxActive" | "maxQueue">> & { prefixCache?: Partial<PrefixCacheOptions> } = {},
): EngineLimits {
  const defaults = workerLimits(DEFAULT_ENGINE);
  return { ...defaults, ...over, prefixCache: { ...defaults.prefixCache, ...over.prefixCache } };
}
