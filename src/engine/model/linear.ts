/**
 * Linear and embedding layers over float or affine-quantized weights, as mlx's `nn.Linear` / `nn.QuantizedLinear`
 * and `nn.Embedding` / `nn.QuantizedEmbedding` compute them, with the per-module choice mlx-lm's
 * `utils.load_model` makes (its `class_predicate`): an entry for the module path in config `quantization` wins
 * (parameters, or `false` = float); otherwise the module is quantized iff `<path>.scales` exists, with group size
 * and bits inferred from the tensor shapes (`utils.infer_quant_config`). Norms are never quantized.
 */
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

interface Quant extends QuantParams {
  scales: MxArray;
  biases: MxArray;
}

/** `y = x·Wᵀ (+ b)`; `x: [..., in]`, `W: [out, in]` (float) or packed uint32 `[out, in·bits/32]` (quantized). */
export class Linear {
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
  static from(weights: Map<string, MxArray>, path: string, shape: LinearShape, config: ModelConfig): Linear {
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
      const scales = take("scales", groups);
      const biases = take("biases", groups);
      const bias = shape.bias ? take("bias", [shape.outDims]) : undefined;
      return new Linear(weight, bias, { scales, biases, ...q });
    } catch (err) {
      for (const a of taken) a.free();
      throw err;
    }
  }

  /** Applies the layer: `[..., in] -> [..., out]`. */
  forward(x: MxArray): MxArray {
    if (this.quant) {
      const { scales, biases, groupSize, bits } = this.quant;
      const y = ops.quantizedMatmul(x, this.weight, scales, biases, groupSize, bits, true);
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
  ): Embedding {
    return new Embedding(Linear.from(weights, path, { inDims: hidden, outDims: vocab, bias: false }, config));
  }

  /** `ids: [B, L]` int32 -> `[B, L, hidden]` (a quantized table dequantizes only the gathered rows). */
  forward(ids: MxArray): MxArray {
    const { weight, quant } = this.table;
    if (!quant) return ops.take(weight, ids, 0);
    using w = ops.take(weight, ids, 0);
    using s = ops.take(quant.scales, ids, 0);
    using b = ops.take(quant.biases, ids, 0);
    return ops.dequantize(w, s, b, quant.groupSize, quant.bits);
  }

  /** Tied output projection: `h: [..., hidden] -> [..., vocab]`. */
  asLinear(h: MxArray): MxArray {
    return this.table.forward(h);
  }
}
