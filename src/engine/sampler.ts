/**
 * Token sampling on log-probabilities, following mlx-lm's `sample_utils.make_sampler` (0.32): greedy (`argmax`)
 * when `temperature == 0`; otherwise the filters top_p → min_p → top_k in that order, then
 * `random.categorical(logprobs / temperature)`. With a `seed`, each request draws from its own PRNG key (split every
 * step), so the same seed reproduces the same tokens.
 */
import { Dtype, type MxArray, ops } from "bun-ffi-mlx-bindings";

export interface SamplingParams {
  /** 0 = greedy. */
  temperature: number;
  /** Nucleus mass in (0, 1]; 1 disables it. */
  top_p: number;
  /** Keep only the k most likely tokens; 0 or absent disables it. */
  top_k?: number;
  /** Keep tokens whose probability is at least `min_p` × the top probability; 0 or absent disables it. */
  min_p?: number;
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

  /** Whether this sampler is `argmax` (temperature 0): greedy rows of a batch are sampled together. */
  get greedy(): boolean {
    return this.#key === undefined;
  }

  /**
   * Picks the next token from `logprobs: [B, V]` (float, normalised log-softmax of the last position).
   * @returns token ids `[B]` (owned by the caller; lazy).
   */
  sample(logprobs: MxArray): MxArray {
    if (!this.#key) return ops.reduceAxis("argmax_axis", logprobs, -1);
    const V = logprobs.shape.at(-1)!;
    const { top_p: topP, min_p: minP = 0, top_k: topK = 0 } = this.#p;
    let filtered = ops.unary("copy", logprobs);
    const apply = (f: (x: MxArray) => MxArray) => {
      const next = f(filtered);
      filtered.free();
      filtered = next;
    };
    if (topP > 0 && topP < 1) apply((x) => applyTopP(x, topP));
    if (minP > 0) apply((x) => applyMinP(x, minP));
    if (topK > 0 && topK < V) apply((x) => applyTopK(x, topK));
    using invTemp = ops.scalar(1 / this.#p.temperature);
    using scaled = ops.multiply(filtered, invTemp);
    filtered.free();
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
 * Nucleus filtering (mlx-lm `apply_top_p`): sorts ascending, finds how many of the least likely tokens can be
 * dropped while the mass above them stays >= `topP`, and sets every token below that threshold to `-inf`.
 * `logprobs: [B, V]` → `[B, V]`.
 */
export function applyTopP(logprobs: MxArray, topP: number): MxArray {
  using order = ops.argsort(logprobs, -1);
  using sorted = ops.takeAlongAxis(logprobs, order, -1);
  using sorted32 = ops.astype(sorted, Dtype.float32);
  using sortedProbs = ops.unary("exp", sorted32);
  using massAbove = ops.cumsum(sortedProbs, -1, true, false);
  const B = logprobs.shape[0]!;
  using firstMass = ops.slice(massAbove, [0, 0], [B, 1]);
  using firstProb = ops.slice(sortedProbs, [0, 0], [B, 1]);
  using total = ops.add(firstMass, firstProb);
  using p = ops.scalar(topP);
  using needed = ops.multiply(total, p);
  using droppable = ops.binary("greater_equal", massAbove, needed);
  using droppable32 = ops.astype(droppable, Dtype.int32);
  using numDropped = ops.reduceAxis("sum_axis", droppable32, -1, true);
  using threshold = ops.takeAlongAxis(sorted, numDropped, -1);
  using below = ops.binary("less", logprobs, threshold);
  using negInf = ops.scalar(-Infinity);
  return ops.where(below, negInf, logprobs);
}

/**
 * Min-p filtering (mlx-lm `apply_min_p`, min_tokens_to_keep = 1): drops tokens with probability below
 * `minP` × the top probability. `logprobs: [B, V]` → `[B, V]`.
 */
export function applyMinP(logprobs: MxArray, minP: number): MxArray {
  using top = ops.reduceAxis("max_axis", logprobs, -1, true);
  using logMinP = ops.scalar(Math.log(minP));
  using cutoff = ops.add(top, logMinP);
  using below = ops.binary("less", logprobs, cutoff);
  using negInf = ops.scalar(-Infinity);
  return ops.where(below, negInf, logprobs);
}

/**
 * Top-k filtering (mlx-lm `apply_top_k`): every token outside the `topK` most likely gets `-inf`.
 * `logprobs: [B, V]` → `[B, V]`; requires 0 < topK < V.
 */
export function applyTopK(logprobs: MxArray, topK: number): MxArray {
  const [B, V] = logprobs.shape as [number, number];
  using negated = ops.unary("negative", logprobs);
  using order = ops.argpartition(negated, topK - 1, -1);
  using masked = ops.slice(order, [0, topK], [B, V]);
  using negInf = ops.full([B, V - topK], -Infinity, logprobs.dtype);
  return ops.putAlongAxis(logprobs, masked, negInf, -1);
}
