/**
 * Engine request parameters for tests: greedy, no penalties, no logprobs — what the HTTP layer sends for a plain
 * request — with the fields a test cares about overridden.
 */
import type { EngineClient } from "../../src/engine/client.ts";
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
