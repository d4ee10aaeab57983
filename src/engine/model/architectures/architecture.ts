/**
 * The description each architecture file of this folder exports, in the spirit of an mlx-lm `models/<name>.py`:
 * what its `ModelArgs` makes of `config.json` (defaults, required fields, the decoder's flags) and what its
 * `Model.sanitize` drops from the weights. The decoder itself is shared (decoder.ts); generic validation and the
 * `quantization` block are config.ts's.
 */
import { configError, type RawModelConfig } from "../config-schema.ts";

/** The fields of the model config (config.ts `ModelConfig`) that depend on the architecture. */
export interface ArchitectureConfig {
  numKvHeads: number;
  headDim: number;
  ropeTheta: number;
  ropeTraditional: boolean;
  maxPositionEmbeddings?: number;
  tieWordEmbeddings: boolean;
  /** q/k/v projections carry a bias. */
  attentionBias: boolean;
  /** o_proj carries a bias. */
  outputBias: boolean;
  /** gate/up/down projections carry a bias. */
  mlpBias: boolean;
  /** Per-head RMSNorm of q and k before RoPE. */
  qkNorm: boolean;
  /** The `rope_scaling` block the architecture reads (validated afterwards by rope-scaling.ts `parseRopeScaling`). */
  rawRopeScaling: unknown;
}

/** One architecture: a `model_type` of config.json. */
export interface Architecture<T extends string = string> {
  readonly modelType: T;
  /**
   * The architecture's `ModelArgs`: its defaults and required fields over the validated `config.json`.
   * @throws Error naming the field (`config.json: head_dim: required for qwen3`).
   */
  readonly config: (raw: RawModelConfig) => ArchitectureConfig;
  /** Whether the architecture's `sanitize` drops the tensor `name` before the weights are loaded. */
  readonly dropsWeight: (name: string, config: Pick<ArchitectureConfig, "tieWordEmbeddings">) => boolean;
}

/** `config[field]`, which the architecture `modelType` requires. @throws Error naming the field when absent. */
export function required<K extends keyof RawModelConfig & string>(
  config: RawModelConfig,
  field: K,
  modelType: string,
): NonNullable<RawModelConfig[K]> {
  const value = config[field];
  if (value === undefined || value === null) configError(field, `required for ${modelType}`);
  return value as NonNullable<RawModelConfig[K]>;
}

/** `hidden_size / num_attention_heads`, the head size when config.json gives none. */
export function derivedHeadDim(config: RawModelConfig): number {
  return Math.floor(config.hidden_size / config.num_attention_heads);
}

/** Precomputed RoPE frequencies some checkpoints carry (`*.rotary_emb.inv_freq`); the engine computes its own. */
export function isRotaryInvFreq(name: string): boolean {
  return name.endsWith("rotary_emb.inv_freq");
}

/**
 * `lm_head.weight` of a model with tied embeddings (the embedding table is the output projection). Only the float
 * weight is dropped: a quantized lm_head's scales and biases stay, and are then unexpected, as in mlx-lm.
 */
export function isTiedLmHead(name: string, config: Pick<ArchitectureConfig, "tieWordEmbeddings">): boolean {
  return config.tieWordEmbeddings && name === "lm_head.weight";
}
