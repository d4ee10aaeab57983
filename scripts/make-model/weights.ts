/**
 * The weight tensors of a generated model: mlx-lm parameter names, shapes and initialisation scales.
 */
import { headDim, type ArchSpec, type SizePreset } from "./architectures.ts";

/** How a tensor is initialised: N(mean, std²). */
export interface TensorInit {
  std: number;
  mean: number;
}

/** One weight of the model: mlx-lm parameter name, shape (row-major; Linear weights are `[out, in]`), init. */
export interface WeightSpec {
  name: string;
  shape: [number, number] | [number];
  init: TensorInit;
  /** Rows `[firstRow, shape[0])` are multiplied by `scale` after sampling (see {@link ADDED_TOKEN_ROW_SCALE}). */
  scaleTailRows?: { firstRow: number; scale: number };
  /**
   * Module path when this is the `weight` of a layer mlx-lm can quantize (`nn.Linear` / `nn.Embedding`, i.e. it
   * has `to_quantized`); norms and biases have none.
   */
  module?: string;
}

/**
 * Initialisation scales, N(mean, std²) per tensor kind, chosen (by measuring mlx-lm greedy decoding over several
 * seeds and prompts) so that a random model gives a varied greedy continuation instead of one repeated token,
 * and well-separated logits (std ≈ √hidden) so that greedy argmax is robust to float rounding differences:
 * - `embed_tokens`, `lm_head`: std 1 (logits ≈ N(0, hidden)).
 * - q/k/v/gate/up projections: std 1/√fan_in; llama q/k ×{@link QK_GAIN} (sharper attention).
 * - o_proj, down_proj (residual writers): std {@link RESIDUAL_GAIN}/√fan_in, so the residual stream is not
 *   dominated by the current token's own embedding (with tied embeddings every token would predict itself).
 * - qwen2 q/k biases: N(0, {@link QK_BIAS_STD}²); v bias N(0, {@link V_BIAS_STD}²) (a v bias adds the same vector to
 *   every attention output, so a large one drives every position to one token).
 * - RMSNorm weights: 1 + N(0, 0.1²); qwen3 `q_norm`/`k_norm`: {@link QK_GAIN}² + N(0, 0.1²), the qk-norm
 *   equivalent of the llama q/k gain (flat attention makes random models loop).
 * - The output rows of the added tokens (ids ≥ the BPE vocabulary: end-of-turn, `<think>`, `<tool_call>`, …) are
 *   scaled by {@link ADDED_TOKEN_ROW_SCALE} (in `lm_head`, or in `embed_tokens` when tied), so a random model
 *   practically never emits a control token by itself: generations run to `max_tokens` and never open a spurious
 *   tool call or think block.
 */
export const ADDED_TOKEN_ROW_SCALE = 0.25;
export const RESIDUAL_GAIN = 8;
export const QK_GAIN = 2;
export const QK_BIAS_STD = 0.5;
export const V_BIAS_STD = 0.1;
const NORM_INIT: TensorInit = { mean: 1, std: 0.1 };
const QK_NORM_INIT: TensorInit = { mean: QK_GAIN * QK_GAIN, std: 0.1 };

/**
 * Every weight of the model, in mlx-lm's names and order of definition (mlx-lm `models/llama.py`, `qwen2.py`,
 * `qwen3.py`).
 */
export function weightSpecs(spec: ArchSpec, size: SizePreset, vocabSize: number): WeightSpec[] {
  const tail = { firstRow: vocabSize - spec.addedTokens.length, scale: ADDED_TOKEN_ROW_SCALE };
  const { hidden_size: d, num_attention_heads: hq, num_key_value_heads: hkv, intermediate_size: ff } = size;
  const hd = headDim(spec, size);
  const linear = (name: string, out: number, inp: number, gain = 1): WeightSpec => ({
    name,
    shape: [out, inp],
    init: { mean: 0, std: gain / Math.sqrt(inp) },
    module: name.slice(0, -".weight".length),
  });
  const bias = (name: string, out: number, std: number): WeightSpec => ({ name, shape: [out], init: { mean: 0, std } });
  const norm = (name: string, n: number, init = NORM_INIT): WeightSpec => ({ name, shape: [n], init });
  const qkGain = spec.qkNorm ? 1 : QK_GAIN;
  const out: WeightSpec[] = [
    {
      name: "model.embed_tokens.weight",
      shape: [vocabSize, d],
      init: { mean: 0, std: 1 },
      module: "model.embed_tokens",
      ...(spec.tieWordEmbeddings ? { scaleTailRows: tail } : {}),
    },
  ];
  for (let i = 0; i < size.num_hidden_layers; i++) {
    const p = `model.layers.${i}`;
    out.push(
      norm(`${p}.input_layernorm.weight`, d),
      linear(`${p}.self_attn.q_proj.weight`, hq * hd, d, qkGain),
      linear(`${p}.self_attn.k_proj.weight`, hkv * hd, d, qkGain),
      linear(`${p}.self_attn.v_proj.weight`, hkv * hd, d),
      linear(`${p}.self_attn.o_proj.weight`, d, hq * hd, RESIDUAL_GAIN),
    );
    if (spec.qkvBias) {
      out.push(
        bias(`${p}.self_attn.q_proj.bias`, hq * hd, QK_BIAS_STD),
        bias(`${p}.self_attn.k_proj.bias`, hkv * hd, QK_BIAS_STD),
        bias(`${p}.self_attn.v_proj.bias`, hkv * hd, V_BIAS_STD),
      );
    }
    if (spec.qkNorm) {
      out.push(
        norm(`${p}.self_attn.q_norm.weight`, hd, QK_NORM_INIT),
        norm(`${p}.self_attn.k_norm.weight`, hd, QK_NORM_INIT),
      );
    }
    out.push(
      norm(`${p}.post_attention_layernorm.weight`, d),
      linear(`${p}.mlp.gate_proj.weight`, ff, d),
      linear(`${p}.mlp.up_proj.weight`, ff, d),
      linear(`${p}.mlp.down_proj.weight`, d, ff, RESIDUAL_GAIN),
    );
  }
  out.push(norm("model.norm.weight", d));
  if (!spec.tieWordEmbeddings) {
    out.push({
      name: "lm_head.weight",
      shape: [vocabSize, d],
      init: { mean: 0, std: 1 },
      scaleTailRows: tail,
      module: "lm_head",
    });
  }
  return out;
}
