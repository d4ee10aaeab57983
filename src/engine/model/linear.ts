/**
 * Linear and embedding layers over float or affine-quantized weights, as mlx's `nn.Linear` / `nn.QuantizedLinear`
 * and `nn.Embedding` / `nn.QuantizedEmbedding` compute them, with the per-module choice mlx-lm's
 * `utils.load_model` makes (its `class_predicate`): an entry for the module path in config `quantization` wins
 * (parameters, or `false` = float); otherwise the module is quantized iff `<path>.scales` exists, with group size
 * and bits inferred from the tensor shapes (`utils.infer_quant_config`). Norms are never quantized.
 *
 * A quantized layer can be spread over several CPU streams ({@link Linear.spread}): MLX's CPU quantized matmul runs
 * on one thread, so its output rows are cut into bands, each band's matmul runs on a stream (a thread) of its own and
 * the bands are concatenated. Every output element is still computed by the same kernel over the same inputs in the
 * same order, so the result is bit-identical to the unsplit matmul (and to mlx-lm's); float layers are left whole,
 * their BLAS is multi-threaded already.
 */
import type { Pointer } from "bun:ffi";
import { Dtype, type MxArray, ops } from "bun-ffi-mlx-bindings";
import { QUANT_BITS, QUANT_GROUP_SIZES, type ModelConfig, type QuantParams } from "./config.ts";

/** Removes and returns `name` from the weight map. @throws Error naming the missing tensor. */
export function takeWeight(weights: Map<string, MxArray>, name: string): MxArray {
  const w = weights.get(name);
  if (!w) throw new Error(`missing tensor '${name}' in the model weights`);
  weights.delete(name);
  return w;
}

/** Removes and returns `name` from the weight map, checking its shape. @throws Error naming the tensor. */
export function takeShaped(weights: Map<string, MxArray>, name: string, shape: readonly number[]): MxArray {
  const w = takeWeight(weights, name);
  const got = w.shape;
  if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
    w.free();
    throw new Error(`tensor '${name}' has shape [${got.join(", ")}], expected [${shape.join(", ")}] from config.json`);
  }
  return w;
}

/** A module's dimensions: `weight` is `[outDims, inDims]` (float), `bias` `[outDims]` when present. */
export interface LinearShape {
  inDims: number;
  outDims: number;
  bias: boolean;
}

/**
 * How the module at `path` is stored: its quantization parameters, or undefined for float.
 * @throws Error when config.json and the weights disagree, or the inferred parameters are not affine MLX ones.
 */
export function resolveQuant(
  weights: Map<string, MxArray>,
  path: string,
  inDims: number,
  config: ModelConfig,
): QuantParams | undefined {
  const override = config.quantizationOverrides[path];
  const scales = weights.get(`${path}.scales`);
  if (override === false) {
    if (scales) throw new Error(`config.json quantization.${path} is false but the weights hold '${path}.scales'`);
    return undefined;
  }
  if (override) {
    if (!scales) throw new Error(`config.json quantization.${path} is set but the weights have no '${path}.scales'`);
    return override;
  }
  if (!scales) return undefined;
  if (!config.quantization) throw new Error(`'${path}.scales' found but config.json has no quantization block`);
  const weight = weights.get(`${path}.weight`);
  if (!weight) throw new Error(`missing tensor '${path}.weight' in the model weights`);
  const groupSize = inDims / scales.shape.at(-1)!;
  const bits = (weight.shape.at(-1)! * 32) / inDims;
  if (
    !(QUANT_GROUP_SIZES as readonly number[]).includes(groupSize) ||
    !(QUANT_BITS as readonly number[]).includes(bits)
  ) {
    throw new Error(
      `'${path}': cannot infer affine quantization from weight [${weight.shape.join(", ")}] and scales [${scales.shape.join(", ")}] ` +
        `for ${inDims} input features (group size ${groupSize}, bits ${bits})`,
    );
  }
  return { groupSize, bits };
}

/** How quantized layers are loaded. */
export interface QuantLoadOptions {
  /**
   * Cast bf16/f16 quantization scales and biases to float32 at load, and the layer's output back to their dtype:
   * MLX's CPU quantized matmul is 12× (bf16) to 40× (f16) faster with f32 scales, but its output is no longer
   * bit-identical to mlx-lm's (greedy output may diverge). Off unless asked (`engine.upcast_quantized_scales`).
   */
  upcastScales?: boolean;
  /**
   * CPU streams (threads) each quantized matmul is spread over once loaded ({@link Linear.spread}); 1 or absent:
   * none. No effect on a GPU. Resolved from `engine.matmul_streams`.
   */
  matmulStreams?: number;
}

interface Quant extends QuantParams {
  scales: MxArray;
  biases: MxArray;
  /** Set when the scales were upcast: the dtype outputs are cast back to (the scales' own). */
  outDtype?: Dtype;
}

/** `a` as float32 (a new array, evaluated lazily), replacing `a` in `taken` and freeing it. */
function take32(a: MxArray, taken: MxArray[]): MxArray {
  const upcast = ops.astype(a, Dtype.float32);
  taken[taken.indexOf(a)] = upcast;
  a.free();
  return upcast;
}

/** `y` cast to `dtype` (freeing `y`), or `y` itself when no dtype is given. */
function castBack(y: MxArray, dtype: Dtype | undefined): MxArray {
  if (dtype === undefined) return y;
  try {
    return ops.astype(y, dtype);
  } finally {
    y.free();
  }
}

/**
 * Fewest weights (output rows × input features) a band of a spread quantized matmul gets: below this, waking
 * another thread costs more than it saves, so small layers stay whole.
 */
export const MIN_BAND_WEIGHTS = 65_536;

/** One band of a spread quantized layer: views of rows `[start, end)` of its weight, scales and biases. */
interface Band {
  weight: MxArray;
  scales: MxArray;
  biases: MxArray;
  /** The stream its matmul runs on. */
  stream: Pointer;
}

/** `y = x·Wᵀ (+ b)`; `x: [..., in]`, `W: [out, in]` (float) or packed uint32 `[out, in·bits/32]` (quantized). */
export class Linear {
  /** Set by {@link spread}: the row bands the quantized matmul is cut into. */
  #bands: Band[] | undefined;

  constructor(
    readonly weight: MxArray,
    readonly bias: MxArray | undefined,
    readonly quant: Quant | undefined,
  ) {}

  /**
   * Takes `<path>.weight` (+ `.bias` when `shape.bias`, `.scales` / `.biases` when quantized) out of the weight
   * map, checking every shape against `shape` and the quantization parameters.
   * @throws Error naming the tensor or config field; nothing taken stays allocated.
   */
  static from(
    weights: Map<string, MxArray>,
    path: string,
    shape: LinearShape,
    config: ModelConfig,
    options: QuantLoadOptions = {},
  ): Linear {
    const q = resolveQuant(weights, path, shape.inDims, config);
    const taken: MxArray[] = [];
    const take = (suffix: string, dims: number[]) => {
      const a = takeShaped(weights, `${path}.${suffix}`, dims);
      taken.push(a);
      return a;
    };
    try {
      if (!q) {
        const weight = take("weight", [shape.outDims, shape.inDims]);
        return new Linear(weight, shape.bias ? take("bias", [shape.outDims]) : undefined, undefined);
      }
      if (shape.inDims % q.groupSize !== 0 || (shape.inDims * q.bits) % 32 !== 0) {
        throw new Error(
          `'${path}': ${shape.inDims} input features cannot be quantized with group size ${q.groupSize}, ${q.bits} bits`,
        );
      }
      const weight = take("weight", [shape.outDims, (shape.inDims * q.bits) / 32]);
      if (weight.dtype !== Dtype.uint32) throw new Error(`tensor '${path}.weight' is quantized but not uint32`);
      const groups = [shape.outDims, shape.inDims / q.groupSize];
      let scales = take("scales", groups);
      let biases = take("biases", groups);
      const bias = shape.bias ? take("bias", [shape.outDims]) : undefined;
      const halfScales = scales.dtype === Dtype.bfloat16 || scales.dtype === Dtype.float16;
      if (!options.upcastScales || !halfScales) return new Linear(weight, bias, { scales, biases, ...q });
      const outDtype = scales.dtype;
      scales = take32(scales, taken);
      biases = take32(biases, taken);
      return new Linear(weight, bias, { scales, biases, outDtype, ...q });
    } catch (err) {
      for (const a of taken) a.free();
      throw err;
    }
  }

  /**
   * Cuts a quantized layer's output rows into up to `streams.length` bands of at least {@link MIN_BAND_WEIGHTS}
   * weights, band `i`'s matmul to run on `streams[i]` (see the module comment). The bands are views (no copy) of the
   * evaluated weights, returned for the caller to evaluate. A float layer, or one too small for two bands, stays as
   * it is. Called once, after loading.
   * @param streams the default stream first, then extra CPU streams (`extraCpuStreams`).
   * @returns the band arrays made (none when the layer is not spread).
   */
  spread(streams: readonly Pointer[]): MxArray[] {
    const quant = this.quant;
    if (!quant || this.#bands) return [];
    const rows = this.weight.shape[0]!;
    const inDims = (this.weight.shape[1]! * 32) / quant.bits;
    const count = Math.min(streams.length, Math.floor((rows * inDims) / MIN_BAND_WEIGHTS), rows);
    if (count < 2) return [];
    const bands: Band[] = [];
    for (let i = 0; i < count; i++) {
      const start = Math.round((i * rows) / count);
      const end = Math.round(((i + 1) * rows) / count);
      const rowsOf = (a: MxArray) => ops.slice(a, [start, 0], [end, a.shape[1]!]);
      bands.push({
        weight: rowsOf(this.weight),
        scales: rowsOf(quant.scales),
        biases: rowsOf(quant.biases),
        stream: streams[i]!,
      });
    }
    this.#bands = bands;
    return bands.flatMap((b) => [b.weight, b.scales, b.biases]);
  }

  /** The streams the layer's matmul runs on: its bands, or 1 when it is not spread. */
  get spreadOver(): number {
    return this.#bands?.length ?? 1;
  }

  /** `x·Wᵀ` for a quantized layer: one matmul, or one per band concatenated. */
  #quantizedMatmul(x: MxArray, quant: Quant): MxArray {
    const { groupSize, bits } = quant;
    const bands = this.#bands;
    if (!bands) return ops.quantizedMatmul(x, this.weight, quant.scales, quant.biases, groupSize, bits, true);
    const parts = bands.map((b) =>
      ops.quantizedMatmul(x, b.weight, b.scales, b.biases, groupSize, bits, true, b.stream),
    );
    try {
      return ops.concatenate(parts, -1);
    } finally {
      for (const p of parts) p.free();
    }
  }

  /** Applies the layer: `[..., in] -> [..., out]`. */
  forward(x: MxArray): MxArray {
    if (this.quant) {
      const y = castBack(this.#quantizedMatmul(x, this.quant), this.quant.outDtype);
      if (!this.bias) return y;
      try {
        return ops.add(y, this.bias);
      } finally {
        y.free();
      }
    }
    using wt = ops.transpose(this.weight, [1, 0]);
    return this.bias ? ops.addmm(this.bias, x, wt) : ops.matmul(x, wt);
  }

  arrays(): MxArray[] {
    return [
      this.weight,
      ...(this.bias ? [this.bias] : []),
      ...(this.quant ? [this.quant.scales, this.quant.biases] : []),
    ];
  }

  free(): void {
    for (const b of this.#bands ?? []) for (const a of [b.weight, b.scales, b.biases]) a.free();
    this.#bands = undefined;
    for (const a of this.arrays()) a.free();
  }
}

/**
 * Token embedding table `[vocab, hidden]` (float, or quantized as `QuantizedEmbedding`), also usable as the tied
 * output projection (`as_linear`: a quantized embedding becomes a quantized matmul with its own parameters).
 */
export class Embedding {
  constructor(readonly table: Linear) {}

  /** Takes `<path>.weight` (+ `.scales` / `.biases`) for a `[vocab, hidden]` table. */
  static from(
    weights: Map<string, MxArray>,
    path: string,
    vocab: number,
    hidden: number,
    config: ModelConfig,
    options: QuantLoadOptions = {},
  ): Embedding {
    return new Embedding(Linear.from(weights, path, { inDims: hidden, outDims: vocab, bias: false }, config, options));
  }

  /** `ids: [B, L]` int32 -> `[B, L, hidden]` (a quantized table dequantizes only the gathered rows). */
  forward(ids: MxArray): MxArray {
    const { weight, quant } = this.table;
    if (!quant) return ops.take(weight, ids, 0);
    using w = ops.take(weight, ids, 0);
    using s = ops.take(quant.scales, ids, 0);
    using b = ops.take(quant.biases, ids, 0);
    return castBack(ops.dequantize(w, s, b, quant.groupSize, quant.bits), quant.outDtype);
  }

  /** Tied output projection: `h: [..., hidden] -> [..., vocab]`. */
  asLinear(h: MxArray): MxArray {
    return this.table.forward(h);
  }
}
