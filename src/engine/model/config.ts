/**
 * `config.json` of an mlx-community / Hugging Face decoder model, validated with valibot and normalised to the fields
 * mlx-lm's `llama.py` / `qwen3.py` `ModelArgs` use (reference/mlx-c-binding.md §4.1).
 */
import * as v from "valibot";

/** Architectures this engine implements (mistral loads through llama, as in mlx-lm's MODEL_REMAPPING). */
export const ARCHITECTURES = ["llama", "mistral", "qwen2", "qwen3"] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

const Quantization = v.looseObject({ group_size: v.number(), bits: v.number() });

const RawConfig = v.looseObject({
  model_type: v.picklist(ARCHITECTURES, "model_type must be one of llama, mistral, qwen2, qwen3"),
  hidden_size: v.pipe(v.number(), v.integer(), v.minValue(1)),
  num_hidden_layers: v.pipe(v.number(), v.integer(), v.minValue(1)),
  intermediate_size: v.pipe(v.number(), v.integer(), v.minValue(1)),
  num_attention_heads: v.pipe(v.number(), v.integer(), v.minValue(1)),
  num_key_value_heads: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  head_dim: v.optional(v.nullable(v.pipe(v.number(), v.integer(), v.minValue(1)))),
  rms_norm_eps: v.number(),
  vocab_size: v.pipe(v.number(), v.integer(), v.minValue(1)),
  rope_theta: v.optional(v.number(), 10000),
  rope_traditional: v.optional(v.boolean(), false),
  rope_scaling: v.optional(v.nullable(v.looseObject({ type: v.optional(v.string()), rope_type: v.optional(v.string()), factor: v.optional(v.number()) }))),
  max_position_embeddings: v.optional(v.number()),
  tie_word_embeddings: v.optional(v.boolean()),
  attention_bias: v.optional(v.boolean()),
  mlp_bias: v.optional(v.boolean(), false),
  quantization: v.optional(Quantization),
  eos_token_id: v.optional(v.union([v.number(), v.array(v.number())])),
});

/** Normalised model hyper-parameters. */
export interface ModelConfig {
  arch: Architecture;
  hiddenSize: number;
  numLayers: number;
  intermediateSize: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  vocabSize: number;
  ropeTheta: number;
  ropeTraditional: boolean;
  /** RoPE position scale (1 / factor for `linear` scaling, else 1). */
  ropeScale: number;
  maxPositionEmbeddings?: number;
  tieWordEmbeddings: boolean;
  /** q/k/v projections carry a bias (qwen2; llama with `attention_bias`). */
  attentionBias: boolean;
  mlpBias: boolean;
  /** Per-head RMSNorm of q and k before RoPE (qwen3). */
  qkNorm: boolean;
  quantization?: { groupSize: number; bits: number };
  eosTokenIds: number[];
}

/**
 * Validates and normalises a parsed `config.json`.
 * @throws Error naming the offending field (`config.json: hidden_size: ...`).
 */
export function parseModelConfig(raw: unknown): ModelConfig {
  const r = v.safeParse(RawConfig, raw);
  if (!r.success) {
    const issue = r.issues[0];
    throw new Error(`config.json: ${v.getDotPath(issue) ?? "(root)"}: ${issue.message}`);
  }
  const c = r.output;
  const scaling = c.rope_scaling;
  const scalingType = scaling?.rope_type ?? scaling?.type;
  if (scaling && scalingType && scalingType !== "linear" && scalingType !== "default") {
    throw new Error(`config.json: rope_scaling.type '${scalingType}' is not supported yet (linear, default are)`);
  }
  const arch = c.model_type;
  return {
    arch,
    hiddenSize: c.hidden_size,
    numLayers: c.num_hidden_layers,
    intermediateSize: c.intermediate_size,
    numHeads: c.num_attention_heads,
    numKvHeads: c.num_key_value_heads ?? c.num_attention_heads,
    headDim: c.head_dim ?? c.hidden_size / c.num_attention_heads,
    rmsNormEps: c.rms_norm_eps,
    vocabSize: c.vocab_size,
    ropeTheta: c.rope_theta,
    ropeTraditional: c.rope_traditional,
    ropeScale: scalingType === "linear" && scaling?.factor ? 1 / scaling.factor : 1,
    maxPositionEmbeddings: c.max_position_embeddings,
    tieWordEmbeddings: c.tie_word_embeddings ?? (arch === "qwen2" || arch === "qwen3"),
    attentionBias: arch === "qwen2" ? true : (c.attention_bias ?? false),
    mlpBias: c.mlp_bias,
    qkNorm: arch === "qwen3",
    quantization: c.quantization ? { groupSize: c.quantization.group_size, bits: c.quantization.bits } : undefined,
    eosTokenIds: c.eos_token_id === undefined ? [] : Array.isArray(c.eos_token_id) ? c.eos_token_id : [c.eos_token_id],
  };
}
