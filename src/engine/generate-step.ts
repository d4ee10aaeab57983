/**
 * The token generation loop, as mlx-lm's `generate_step` (`mlx_lm/generate.py`):
 * - chunked prefill: all prompt tokens but the last are run through the model `prefillStepSize` at a time, evaluating
 *   only the KV cache (the logits of those chunks are never computed), with the buffer cache cleared after each chunk;
 * - each step: logits of the last position → logits processors (penalties, bias) → log-softmax → sampler;
 * - decode: the step for token n+1 is built from the still-unevaluated token n and scheduled with `async_eval` before
 *   token n is read back, so graph construction overlaps computation. With a grammar constraint, the forward pass of
 *   step n+1 is scheduled, token n read back and the grammar mask of step n+1 computed on the CPU while that forward
 *   pass runs; its sampling is scheduled after.
 *
 * This is the single-sequence loop (parity tests, `bench/tokens-per-sec.ts`); the engine Worker runs every request
 * through the batch generator (batch-generator.ts), where a request alone in the batch computes exactly what this loop
 * computes. {@link generateSteps} yields after every prefill chunk as well as every token; stopping early
 * (`return()`) frees every array still in flight.
 */
import { clearCache, type MxArray, ops } from "bun-ffi-mlx-bindings";
import {
  freeSampled,
  lazyArrays,
  readRows,
  type RowSampling,
  type SampledRows,
  type SampledToken,
  sampleRows,
} from "./batch-sampling.ts";
import type { GrammarConstraint } from "./grammar/constraint.ts";
import type { KVCache } from "./kv-cache.ts";
import type { LogitsProcessors } from "./logits-processors.ts";
import type { DecoderModel } from "./model/decoder.ts";
import type { Sampler } from "./sampler.ts";

/** mlx-lm's default `prefill_step_size` (tokens). */
export const PREFILL_STEP_SIZE = 2048;

export interface GenerateOptions {
  /** Penalties and logit bias applied before sampling. */
  processors?: LogitsProcessors;
  /** Report each sampled token's log-probability and this many alternatives (0–20); absent: no logprobs. */
  topLogprobs?: number;
  /** Prompt tokens per prefill chunk (mlx-lm `prefill_step_size`). */
  prefillStepSize?: number;
  /** Grammar-constrained decoding (structured outputs), see {@link RowSampling.constraint}. */
  constraint?: GrammarConstraint;
}

/** One scheduling point of a generation. */
export type GenerationStep = { kind: "prefill"; processed: number; total: number } | ({ kind: "token" } & SampledToken);

/**
 * Runs the model on `tokens: [1, L]` and samples the next token from the last position (all outputs lazy). With a
 * grammar constraint the logits are scheduled first (`async_eval`); while they compute, `before` reads the previous
 * token back and the constraint accepts it and fills the next mask on the CPU.
 */
function step(
  model: DecoderModel,
  caches: KVCache[],
  row: RowSampling,
  tokens: MxArray,
  before?: () => void,
): SampledRows {
  using logits = model.forward(tokens, caches);
  const [B, L, V] = logits.shape as [number, number, number];
  using last3 = ops.slice(logits, [0, L - 1, 0], [B, L, V]);
  using raw = ops.reshape(last3, [B, V]);
  if (row.constraint) {
    ops.asyncEval(raw);
    before?.();
    row.constraint.fillMask();
  }
  return sampleRows(raw, [row]);
}

/**
 * Prefills `prompt` into `caches` and yields prefill progress and generated tokens, up to `maxTokens` tokens.
 * @param prompt token ids, at least one
 * @throws MlxError from MLX evaluation; Error for an empty prompt
 */
export function* generateSteps(
  model: DecoderModel,
  caches: KVCache[],
  sampler: Sampler,
  prompt: number[],
  maxTokens: number,
  opts: GenerateOptions = {},
): Generator<GenerationStep, void, undefined> {
  if (prompt.length === 0) throw new Error("empty prompt");
  const chunkSize = opts.prefillStepSize ?? PREFILL_STEP_SIZE;
  let done = 0;
  while (prompt.length - done > 1) {
    const n = Math.min(chunkSize, prompt.length - done - 1);
    using chunk = ops.fromArray(Int32Array.from(prompt.slice(done, done + n)), [1, n]);
    model.forward(chunk, caches).free();
    ops.evaluate(...caches.flatMap((c) => c.state()));
    done += n;
    clearCache();
    yield { kind: "prefill", processed: done, total: prompt.length };
  }
  const row: RowSampling = {
    sampler,
    processors: opts.processors,
    topLogprobs: opts.topLogprobs,
    constraint: opts.constraint,
  };
  let y: SampledRows | undefined;
  let next: SampledRows | undefined;
  try {
    {
      using rest = ops.fromArray(Int32Array.from(prompt.slice(done)), [1, prompt.length - done]);
      y = step(model, caches, row, rest);
    }
    ops.asyncEval(...lazyArrays(y));
    for (let n = 0; n < maxTokens; n++) {
      const current: SampledRows = y!;
      let read: SampledToken | undefined;
      const readCurrent = () => {
        read = readRows(current, [row])[0]!;
        row.constraint?.accept(read.token);
      };
      if (n + 1 < maxTokens) {
        using input = ops.reshape(current.token, [1, 1]);
        next = step(model, caches, row, input, readCurrent);
        ops.asyncEval(...lazyArrays(next));
      }
      if (!read) readCurrent();
      const result: GenerationStep = { kind: "token", ...read! };
      freeSampled(current);
      y = next;
      next = undefined;
      yield result;
      if (n % 256 === 0) clearCache();
    }
  } finally {
    freeSampled(y);
    freeSampled(next);
  }
}

/**
 * Token ids only, for callers that need no logprobs or scheduling points (parity tests, benchmarks).
 * @see generateSteps
 */
export function* generateTokens(
  model: DecoderModel,
  caches: KVCache[],
  sampler: Sampler,
  prompt: number[],
  maxTokens: number,
  prefillStepSize = PREFILL_STEP_SIZE,
): Generator<number, void, undefined> {
  for (const s of generateSteps(model, caches, sampler, prompt, maxTokens, { prefillStepSize })) {
    if (s.kind === "token") yield s.token;
  }
}
