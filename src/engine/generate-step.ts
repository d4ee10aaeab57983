/**
 * The token generation loop, as mlx-lm's `generate_step` (`mlx_lm/generate.py`):
 * - chunked prefill: all prompt tokens but the last are run through the model `prefillStepSize` at a time, evaluating
 *   only the KV cache (the logits of those chunks are never computed), with the buffer cache cleared after each chunk;
 * - each step: logits of the last position → logits processors (penalties, bias) → log-softmax → sampler;
 * - decode: the step for token n+1 is built from the still-unevaluated token n and scheduled with `async_eval` before
 *   token n is read back, so graph construction overlaps computation.
 *
 * {@link generateSteps} yields after every prefill chunk as well as every token, so a scheduler can interleave
 * several requests fairly (a long prompt never blocks a short request for its whole prefill).
 * Stopping early (`return()`) frees every array still in flight.
 */
import { clearCache, Dtype, type MxArray, ops } from "bun-ffi-mlx-bindings";
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
}

/** One scheduling point of a generation. */
export type GenerationStep =
  | { kind: "prefill"; processed: number; total: number }
  | {
      kind: "token";
      token: number;
      /** Log-probability of `token` under the processed distribution (before top_p/top_k/min_p filtering). */
      logprob?: number;
      /** The most likely alternatives, best first. */
      top?: { token: number; logprob: number }[];
    };

/** The lazy arrays of one step. */
interface Sampled {
  token: MxArray;
  logprob?: MxArray;
  topIds?: MxArray;
  topLogprobs?: MxArray;
}

const freeSampled = (s: Sampled | undefined) => {
  s?.token.free();
  s?.logprob?.free();
  s?.topIds?.free();
  s?.topLogprobs?.free();
};

/** Runs the model on `tokens: [1, L]` and samples the next token from the last position (all outputs lazy). */
function step(
  model: DecoderModel,
  caches: KVCache[],
  sampler: Sampler,
  tokens: MxArray,
  opts: GenerateOptions,
): Sampled {
  using logits = model.forward(tokens, caches);
  const [B, L, V] = logits.shape as [number, number, number];
  using last3 = ops.slice(logits, [0, L - 1, 0], [B, L, V]);
  using raw = ops.reshape(last3, [B, V]);
  using processed = opts.processors?.active ? opts.processors.apply(raw) : undefined;
  using lse = ops.reduceAxis("logsumexp_axis", processed ?? raw, -1, true);
  using logprobs = ops.subtract(processed ?? raw, lse);
  const token = sampler.sample(logprobs);
  opts.processors?.append(token);
  if (opts.topLogprobs === undefined) return { token };
  using index = ops.reshape(token, [B, 1]);
  using index32 = ops.astype(index, Dtype.int32);
  const logprob = ops.takeAlongAxis(logprobs, index32, -1);
  const k = Math.min(opts.topLogprobs, V);
  if (k === 0) return { token, logprob };
  using negated = ops.unary("negative", logprobs);
  using order = ops.argpartition(negated, k - 1, -1);
  const topIds = ops.slice(order, [0, 0], [B, k]);
  const topLogprobs = ops.takeAlongAxis(logprobs, topIds, -1);
  return { token, logprob, topIds, topLogprobs };
}

const lazyArrays = (s: Sampled) =>
  [s.token, s.logprob, s.topIds, s.topLogprobs].filter((a): a is MxArray => a !== undefined);

/** Reads a step's results back (blocks until evaluated). */
function readStep(s: Sampled): Extract<GenerationStep, { kind: "token" }> {
  const out: Extract<GenerationStep, { kind: "token" }> = { kind: "token", token: s.token.itemInt() };
  if (s.logprob) out.logprob = s.logprob.toFloat32()[0]!;
  if (s.topIds && s.topLogprobs) {
    const ids = s.topIds.toInt32();
    const lps = s.topLogprobs.toFloat32();
    out.top = Array.from(ids, (token, i) => ({ token, logprob: lps[i]! })).sort((a, b) => b.logprob - a.logprob);
  }
  return out;
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
  let y: Sampled | undefined;
  let next: Sampled | undefined;
  try {
    {
      using rest = ops.fromArray(Int32Array.from(prompt.slice(done)), [1, prompt.length - done]);
      y = step(model, caches, sampler, rest, opts);
    }
    ops.asyncEval(...lazyArrays(y));
    for (let n = 0; n < maxTokens; n++) {
      const current: Sampled = y!;
      if (n + 1 < maxTokens) {
        using input = ops.reshape(current.token, [1, 1]);
        next = step(model, caches, sampler, input, opts);
        ops.asyncEval(...lazyArrays(next));
      }
      const result = readStep(current);
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
