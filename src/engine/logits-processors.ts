/**
 * Logits processors, as mlx-lm's `sample_utils.make_logits_processors`: `logit_bias`, then the repetition,
 * presence and frequency penalties over the last `context_size` tokens (prompt and completion). They run on the raw
 * logits of the last position, before log-softmax and sampling, exactly where mlx-lm's `generate_step` applies them.
 *
 * The recent tokens are kept as a lazy MLX array so the next decode step can be built before the previous token is
 * read back (`async_eval` pipelining). Occurrences are counted with a one-hot comparison against the vocabulary
 * (`[n, V]`), which gives mlx-lm's scatter semantics: repetition and presence apply once per distinct token,
 * frequency once per occurrence.
 */
import { Dtype, type MxArray, ops } from "bun-ffi-mlx-bindings";

export interface PenaltyParams {
  /** Sign-aware multiplicative penalty (CTRL, arXiv:1909.05858): logits < 0 are multiplied, others divided. */
  repetition_penalty?: number;
  /** Subtracted once from the logit of each token present in the window. */
  presence_penalty: number;
  /** Subtracted from a token's logit once per occurrence in the window. */
  frequency_penalty: number;
  /** Window of recent tokens the penalties consider (tokens). */
  repetition_context_size: number;
  /** Token id → additive bias (OpenAI `logit_bias`). */
  logit_bias?: Record<string, number>;
}

/** Stateful processors of one request; owns its arrays. */
export class LogitsProcessors {
  readonly #p: PenaltyParams;
  #bias: MxArray | undefined;
  #vocab: MxArray | undefined;
  /** The last `repetition_context_size` tokens, `[n]` int32, possibly unevaluated. */
  #recent: MxArray | undefined;

  /**
   * @param prompt the prompt's token ids (the first window)
   * @param vocabSize V of the logits the processors will see
   */
  constructor(params: PenaltyParams, vocabSize: number, prompt: readonly number[]) {
    this.#p = params;
    if (params.logit_bias && Object.keys(params.logit_bias).length > 0) {
      const dense = new Float32Array(vocabSize);
      for (const [id, bias] of Object.entries(params.logit_bias)) dense[Number(id)] = bias;
      this.#bias = ops.fromArray(dense, [1, vocabSize]);
    }
    if (this.#penalised) {
      const window = prompt.slice(-params.repetition_context_size);
      if (window.length) this.#recent = ops.fromArray(Int32Array.from(window), [window.length]);
      this.#vocab = ops.arange(0, vocabSize, 1, Dtype.int32);
    }
  }

  get #penalised(): boolean {
    const p = this.#p;
    return (
      (p.repetition_penalty !== undefined && p.repetition_penalty !== 1) ||
      p.presence_penalty !== 0 ||
      p.frequency_penalty !== 0
    );
  }

  /** Whether any processor is active (a request without them skips this stage entirely). */
  get active(): boolean {
    return this.#bias !== undefined || this.#penalised;
  }

  /**
   * Applies the processors to `logits: [1, V]` (float). Returns a new array owned by the caller (lazy).
   */
  apply(logits: MxArray): MxArray {
    let out = this.#bias ? ops.add(logits, this.#bias) : ops.unary("copy", logits);
    if (!this.#recent || !this.#vocab) return out;
    const replace = (next: MxArray) => {
      out.free();
      out = next;
    };
    using column = ops.reshape(this.#recent, [-1, 1]);
    using hits = ops.binary("equal", column, this.#vocab);
    using hitsF = ops.astype(hits, Dtype.float32);
    using counts = ops.reduceAxis("sum_axis", hitsF, 0, true);
    using zero = ops.scalar(0);
    using present = ops.binary("greater", counts, zero);
    const p = this.#p;
    if (p.repetition_penalty !== undefined && p.repetition_penalty !== 1) {
      using penalty = ops.scalar(p.repetition_penalty);
      using negative = ops.binary("less", out, zero);
      using multiplied = ops.multiply(out, penalty);
      using divided = ops.divide(out, penalty);
      using penalised = ops.where(negative, multiplied, divided);
      replace(ops.where(present, penalised, out));
    }
    if (p.presence_penalty !== 0) {
      using penalty = ops.scalar(p.presence_penalty);
      using lowered = ops.subtract(out, penalty);
      replace(ops.where(present, lowered, out));
    }
    if (p.frequency_penalty !== 0) {
      using penalty = ops.scalar(p.frequency_penalty);
      using scaled = ops.multiply(counts, penalty);
      replace(ops.subtract(out, scaled));
    }
    return out;
  }

  /** Appends the sampled token `[1]` (integer, may be unevaluated) to the window. */
  append(token: MxArray): void {
    if (!this.#vocab) return;
    using token32 = ops.astype(token, Dtype.int32);
    const joined = this.#recent ? ops.concatenate([this.#recent, token32], 0) : ops.unary("copy", token32);
    const n = joined.shape[0]!;
    const size = this.#p.repetition_context_size;
    this.#recent?.free();
    if (n > size) {
      this.#recent = ops.slice(joined, [n - size], [n]);
      joined.free();
    } else {
      this.#recent = joined;
    }
  }

  free(): void {
    this.#bias?.free();
    this.#vocab?.free();
    this.#recent?.free();
    this.#bias = this.#vocab = this.#recent = undefined;
  }
}
