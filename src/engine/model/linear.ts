/**
 * Linear and embedding layers over float or affine-quantized weights, as mlx's `nn.Linear` / `nn.QuantizedLinear`
 * and `nn.Embedding` / `nn.QuantizedEmbedding` compute them. A module is quantized iff `<path>.scales` exists.
 */
import { type MxArray, ops } from "bun-ffi-mlx-bindings";

/** Removes and returns `name` from the weight map. @throws Error naming the missing tensor. */
export function takeWeight(weights: Map<string, MxArray>, name: string): MxArray {
  const w = weights.get(name);
  if (!w) throw new Error(`missing tensor '${name}' in the model weights`);
  weights.delete(name);
  return w;
}

function takeOptional(weights: Map<string, MxArray>, name: string): MxArray | undefined {
  const w = weights.get(name);
  weights.delete(name);
  return w;
}

interface Quant {
  scales: MxArray;
  biases: MxArray;
  groupSize: number;
  bits: number;
}

/** `y = x·Wᵀ (+ b)`; `x: [..., in]`, `W: [out, in]` (float) or packed uint32 `[out, in·bits/32]` (quantized). */
export class Linear {
  constructor(
    readonly weight: MxArray,
    readonly bias: MxArray | undefined,
    readonly quant: Quant | undefined,
  ) {}

  /** Takes `<prefix>.weight` (+ `.bias`, `.scales`, `.biases`) out of the weight map. */
  static from(weights: Map<string, MxArray>, prefix: string, quantDefaults?: { groupSize: number; bits: number }): Linear {
    const weight = takeWeight(weights, `${prefix}.weight`);
    const bias = takeOptional(weights, `${prefix}.bias`);
    const scales = takeOptional(weights, `${prefix}.scales`);
    if (!scales) return new Linear(weight, bias, undefined);
    if (!quantDefaults) throw new Error(`${prefix}: quantized weights but no quantization in config.json`);
    const biases = takeWeight(weights, `${prefix}.biases`);
    return new Linear(weight, bias, { scales, biases, ...quantDefaults });
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
    return [this.weight, ...(this.bias ? [this.bias] : []), ...(this.quant ? [this.quant.scales, this.quant.biases] : [])];
  }

  free(): void {
    for (const a of this.arrays()) a.free();
  }
}

/** Token embedding table `[vocab, hidden]`, also usable as the tied output projection (`as_linear`). */
export class Embedding {
  constructor(readonly table: Linear) {}

  /** `ids: [B, L]` int32 -> `[B, L, hidden]`. */
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
