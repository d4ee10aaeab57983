/**
 * The token generation loop, as mlx-lm's `generate_step` (`mlx_lm/generate.py`):
 * - chunked prefill: all prompt tokens but the last are run through the model `prefillStepSize` at a time, evaluating
 *   only the KV cache (the logits of those chunks are never computed), with the buffer cache cleared after each chunk;
 * - decode: the step for token n+1 is built from the still-unevaluated token n and scheduled with `async_eval` before
 *   token n is read back, so graph construction overlaps computation.
 *
 * The generator yields token ids; the caller decides when to stop (EOS, `max_tokens`, stop strings, cancellation).
 * Stopping early (`return()`) frees every array still in flight.
 */
import { clearCache, type MxArray, ops } from "bun-ffi-mlx-bindings";
import type { KVCache } from "./kv-cache.ts";
import type { DecoderModel } from "./model/decoder.ts";
import type { Sampler } from "./sampler.ts";

/** mlx-lm's default `prefill_step_size` (tokens). */
export const PREFILL_STEP_SIZE = 2048;

/** Runs the model on `tokens: [1, L]` and samples the next token from the last position. @returns `[1]` int32, lazy. */
function step(model: DecoderModel, caches: KVCache[], sampler: Sampler, tokens: MxArray): MxArray {
  using logits = model.forward(tokens, caches);
  const [B, L, V] = logits.shape as [number, number, number];
  using last3 = ops.slice(logits, [0, L - 1, 0], [B, L, V]);
  using last = ops.reshape(last3, [B, V]);
  using lse = ops.reduceAxis("logsumexp_axis", last, -1, true);
  using logprobs = ops.subtract(last, lse);
  return sampler.sample(logprobs);
}

/**
 * Prefills `prompt` into `caches` and yields generated token ids, up to `maxTokens`.
 * @param prompt token ids, at least one
 * @throws MlxError from MLX evaluation
 */
export function* generateTokens(
  model: DecoderModel,
  caches: KVCache[],
  sampler: Sampler,
  prompt: number[],
  maxTokens: number,
  prefillStepSize = PREFILL_STEP_SIZE,
): Generator<number, void, undefined> {
  if (prompt.length === 0) throw new Error("empty prompt");
  let done = 0;
  while (prompt.length - done > 1) {
    const n = Math.min(prefillStepSize, prompt.length - done - 1);
    using chunk = ops.fromArray(Int32Array.from(prompt.slice(done, done + n)), [1, n]);
    model.forward(chunk, caches).free();
    ops.evaluate(...caches.flatMap((c) => c.state()));
    done += n;
    clearCache();
  }
  let y: MxArray | undefined;
  let next: MxArray | undefined;
  try {
    {
      using rest = ops.fromArray(Int32Array.from(prompt.slice(done)), [1, prompt.length - done]);
      y = step(model, caches, sampler, rest);
    }
    ops.asyncEval(y);
    for (let n = 0; n < maxTokens; n++) {
      const current: MxArray = y!;
      if (n + 1 < maxTokens) {
        using input = ops.reshape(current, [1, 1]);
        next = step(model, caches, sampler, input);
        ops.asyncEval(next);
      }
      const token = current.itemInt();
      current.free();
      y = next;
      next = undefined;
      yield token;
      if (n % 256 === 0) clearCache();
    }
  } finally {
    y?.free();
    next?.free();
  }
}
