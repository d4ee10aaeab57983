/**
 * Token sampling on log-probabilities, following mlx-lm's `sample_utils.make_sampler`: greedy (`argmax`) when
 * `temperature == 0`, otherwise top_p filtering then `random.categorical(logprobs / temperature)`. With a `seed`, each
 * request draws from its own PRNG key (split every step), so the same seed reproduces the same tokens.
 */
import { Dtype, type MxArray, ops } from "bun-ffi-mlx-bindings";

export interface SamplingParams {
  /** 0 = greedy. */
  temperature: number;
  /** Nucleus mass in (0, 1]; 1 disables it. */
  top_p: number;
  /** PRNG seed (exact integer below 2^53); omitted → a random seed per request. */
  seed?: number;
}

/** Stateful sampler for one request; owns its PRNG key. */
export class Sampler {
  readonly #p: SamplingParams;
  #key: MxArray | undefined;

  constructor(params: SamplingParams) {
    this.#p = params;
    if (params.temperature > 0) {
      this.#key = ops.randomKey(params.seed ?? Math.floor(Math.random() * 2 ** 32));
    }
  }

  /**
   * Picks the next token from `logprobs: [B, V]` (float, normalised log-softmax of the last position).
   * @returns token ids `[B]` int32 (owned by the caller; lazy).
   */
  sample(logprobs: MxArray): MxArray {
    if (!this.#key) return ops.reduceAxis("argmax_axis", logprobs, -1);
    const filtered = this.#p.top_p > 0 && this.#p.top_p < 1 ? applyTopP(logprobs, this.#p.top_p) : undefined;
    using invTemp = ops.scalar(1 / this.#p.temperature);
    using scaled = ops.multiply(filtered ?? logprobs, invTemp);
    filtered?.free();
    const [next, sub] = ops.randomSplit(this.#key);
    this.#key.free();
    this.#key = next;
    try {
      return ops.categorical(scaled, -1, sub);
    } finally {
      sub.free();
    }
  }

  free(): void {
    this.#key?.free();
    this.#key = undefined;
  }
}

/**
 * Keeps the smallest set of tokens whose probability mass exceeds `topP`; the rest get `-inf`
 * (mlx-lm `apply_top_p`). `logprobs: [B, V]` -> `[B, V]`.
 */
export function applyTopP(logprobs: MxArray, topP: number): MxArray {
  using probs = ops.unary("exp", logprobs);
  using sortedIdx = ops.argsort(logprobs, -1);
  using sortedProbs = ops.takeAlongAxis(probs, sortedIdx, -1);
  using cumSorted = ops.cumsum(sortedProbs, -1);
  const V = logprobs.shape.at(-1)!;
  using positions0 = ops.arange(0, V, 1, Dtype.uint32);
  using positions = ops.broadcastTo(positions0, sortedIdx.shape);
  using zeros = ops.unary("zeros_like", sortedIdx);
  using inverse = ops.putAlongAxis(zeros, sortedIdx, positions, -1);
  using cum = ops.takeAlongAxis(cumSorted, inverse, -1);
  using threshold = ops.scalar(1 - topP);
  using keep = ops.binary("greater", cum, threshold);
  using negInf = ops.scalar(-Infinity);
  return ops.where(keep, logprobs, negInf);
}
