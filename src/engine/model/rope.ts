/**
 * Rotary position embeddings and their `rope_scaling` variants, as mlx-lm's `models/rope_utils.py`
 * (`initialize_rope`, `Llama3RoPE`, `YarnRoPE`) builds them for llama, mistral, qwen2 and qwen3:
 *
 * - `default` / `linear`: `mlx_fast_rope` with `base = rope_theta` and `scale = 1` (default) or `1 / factor` (linear).
 * - `llama3` (Llama 3.1 / 3.2): per-frequency rescaling of the inverse frequencies, passed as `freqs` (`base` unset).
 * - `yarn` (Qwen2.5 / Qwen3 long context): NTK-by-parts `freqs` plus an input scale `mscale` on q and k.
 *
 * The `freqs` vectors are computed with MLX ops in the same order and dtypes as `rope_utils.py`, so they are
 * bit-identical to mlx-lm's (greedy parity depends on it).
 */
import { Dtype, kernels, type MxArray, ops } from "bun-ffi-mlx-bindings";
import type { RopeScaling } from "./rope-scaling.ts";

/** A float32 scalar (Python scalars in `rope_utils.py` meet float32 arrays, so they act as float32). */
const s = (v: number) => ops.scalar(v);

/**
 * Llama 3 `freqs` (`rope_utils.Llama3RoPE.__init__`): inverse frequencies `base^(2i/d)` with long wavelengths
 * (> original_ctx / low_freq_factor) divided by `factor`, short ones kept, and a smooth blend in between.
 * @returns float32 `[dims / 2]`, evaluated.
 */
function llama3Freqs(dims: number, base: number, c: Extract<RopeScaling, { type: "llama3" }>): MxArray {
  const lowFreqWavelen = c.originalMaxPositionEmbeddings / c.lowFreqFactor;
  const highFreqWavelen = c.originalMaxPositionEmbeddings / c.highFreqFactor;
  using idx = ops.arange(0, dims, 2);
  using dimsS = s(dims);
  using exponent = ops.divide(idx, dimsS);
  using baseS = s(base);
  using freqs0 = ops.binary("power", baseS, exponent);
  using twoPi = s(2 * Math.PI);
  using wavelens = ops.multiply(twoPi, freqs0);
  using factor = s(c.factor);
  using lowW = s(lowFreqWavelen);
  using highW = s(highFreqWavelen);
  using isLow = ops.binary("greater", wavelens, lowW);
  using scaled = ops.multiply(freqs0, factor);
  using freqs = ops.where(isLow, scaled, freqs0);
  using aboveHigh = ops.binary("greater", wavelens, highW);
  using belowLow = ops.binary("less", wavelens, lowW);
  using isMedium = ops.binary("logical_and", aboveHigh, belowLow);
  using ctx = s(c.originalMaxPositionEmbeddings);
  using ratio = ops.divide(ctx, wavelens);
  using lowF = s(c.lowFreqFactor);
  using shifted = ops.subtract(ratio, lowF);
  using span = s(c.highFreqFactor - c.lowFreqFactor);
  using smooth = ops.divide(shifted, span);
  using one = s(1);
  using oneMinus = ops.subtract(one, smooth);
  using divided = ops.divide(oneMinus, factor);
  using denom = ops.add(divided, smooth);
  using smoothFreqs = ops.divide(freqs, denom);
  return ops.where(isMedium, smoothFreqs, freqs).eval();
}

/** `yarn_get_mscale` of `rope_utils.YarnRoPE`. */
function yarnMscale(scale: number, mscale: number): number {
  return scale <= 1 ? 1 : 0.1 * mscale * Math.log(scale) + 1;
}

/**
 * YaRN `freqs` and input scale (`rope_utils.YarnRoPE.__init__`): interpolated (`factor ×`) frequencies below the
 * correction range, original ones above it, a linear ramp between (`beta_fast` / `beta_slow` rotations).
 * @returns float32 `[dims / 2]` (evaluated) and the q/k input scale.
 */
function yarnFreqs(
  dims: number,
  base: number,
  c: Extract<RopeScaling, { type: "yarn" }>,
): { freqs: MxArray; mscale: number } {
  const correctionDim = (rotations: number) =>
    (dims * Math.log(c.originalMaxPositionEmbeddings / (rotations * 2 * Math.PI))) / (2 * Math.log(base));
  const low = Math.max(Math.floor(correctionDim(c.betaFast)), 0);
  let high = Math.min(Math.ceil(correctionDim(c.betaSlow)), dims - 1);
  if (low === high) high += 0.001; // as rope_utils: prevents a division by zero
  using idx = ops.arange(0, dims, 2, Dtype.float32);
  using dimsS = s(dims);
  using exponent = ops.divide(idx, dimsS);
  using baseS = s(base);
  using freqExtra = ops.binary("power", baseS, exponent);
  using factor = s(c.factor);
  using freqInter = ops.multiply(factor, freqExtra);
  using ramp0 = ops.arange(0, dims / 2, 1, Dtype.float32);
  using lowS = s(low);
  using ramp1 = ops.subtract(ramp0, lowS);
  using width = s(high - low);
  using ramp2 = ops.divide(ramp1, width);
  using zero = s(0);
  using one = s(1);
  using ramp3 = ops.binary("maximum", ramp2, zero);
  using ramp = ops.binary("minimum", ramp3, one);
  using mask = ops.subtract(one, ramp);
  using num_ = ops.multiply(freqInter, freqExtra);
  using a = ops.multiply(freqInter, mask);
  using invMask = ops.subtract(one, mask);
  using b = ops.multiply(freqExtra, invMask);
  using den = ops.add(a, b);
  const freqs = ops.divide(num_, den).eval();
  return { freqs, mscale: yarnMscale(c.factor, c.mscale) / yarnMscale(c.factor, c.mscaleAllDim) };
}

/**
 * The rotary embedding of one model (shared by every layer; owns its `freqs`).
 * Applied to `[B, H, L, d]` queries / keys with positions `offset … offset + L - 1`.
 */
export class Rope {
  readonly #dims: number;
  readonly #traditional: boolean;
  readonly #base: number | undefined;
  readonly #scale: number;
  readonly #freqs: MxArray | undefined;
  /** `mscale` as a scalar of each activation dtype seen (Python's scalar takes the array's dtype). */
  readonly #mscaleArrays = new Map<Dtype, MxArray>();
  /** YaRN input scale on q and k (1 = none). */
  readonly mscale: number;

  /**
   * @param dims rotated features (= head_dim for these architectures).
   * @param base `rope_theta`.
   */
  constructor(dims: number, base: number, traditional: boolean, scaling: RopeScaling) {
    this.#dims = dims;
    this.#traditional = traditional;
    this.mscale = 1;
    this.#scale = 1;
    switch (scaling.type) {
      case "default":
      case "linear":
        this.#base = base;
        this.#scale = scaling.type === "linear" ? 1 / scaling.factor : 1;
        break;
      case "llama3":
        this.#freqs = llama3Freqs(dims, base, scaling);
        break;
      case "yarn": {
        const y = yarnFreqs(dims, base, scaling);
        this.#freqs = y.freqs;
        this.mscale = y.mscale;
        break;
      }
    }
  }

  /** The precomputed inverse frequencies (`[dims / 2]` float32), when the scaling type uses them. */
  get freqs(): MxArray | undefined {
    return this.#freqs;
  }

  /**
   * `x: [B, H, L, d]` → same shape and dtype, rotated for positions starting at `offset`: one start for every row, or
   * an int32 `[B]` array of per-row starts (a batch KV cache's offsets).
   */
  apply(x: MxArray, offset: number | MxArray): MxArray {
    const opts = { dims: this.#dims, traditional: this.#traditional, scale: this.#scale, offset };
    if (!this.#freqs) return kernels.rope(x, { ...opts, base: this.#base });
    if (this.mscale === 1) return kernels.rope(x, { ...opts, freqs: this.#freqs });
    // YarnRoPE: x.at[..., :dims].multiply(mscale), the scalar taking x's dtype (dims = head_dim here).
    let m = this.#mscaleArrays.get(x.dtype);
    if (!m) {
      using m0 = ops.scalar(this.mscale);
      m = ops.astype(m0, x.dtype).eval();
      this.#mscaleArrays.set(x.dtype, m);
    }
    using scaled = ops.multiply(x, m);
    return kernels.rope(scaled, { ...opts, freqs: this.#freqs });
  }

  /** Frees the frequencies and scalars. */
  free(): void {
    this.#freqs?.free();
    for (const m of this.#mscaleArrays.values()) m.free();
    this.#mscaleArrays.clear();
  }
}
