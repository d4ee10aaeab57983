/**
 * qwen3, following mlx-lm's `models/qwen3.py`: `head_dim`, `max_position_embeddings`, `tie_word_embeddings`,
 * `num_key_value_heads` and `rope_theta` required (transformers ≥ 5 nests `rope_theta` and the scaling block under
 * `rope_parameters`), per-head RMSNorm of q and k before RoPE, no projection bias, `rope_traditional` always false.
 * `sanitize` drops a tied `lm_head.weight`; `rotary_emb.inv_freq` is dropped too, as for the other architectures
 * (qwen3.py would refuse it as an unexpected parameter).
 */
import { configError } from "../config-schema.ts";
import { type Architecture, isRotaryInvFreq, isTiedLmHead, required } from "./architecture.ts";

export const qwen3: Architecture<"qwen3"> = {
  modelType: "qwen3",
  config: (c) => {
    const headDim = required(c, "head_dim", "qwen3");
    const maxPositionEmbeddings = required(c, "max_position_embeddings", "qwen3");
    const tieWordEmbeddings = required(c, "tie_word_embeddings", "qwen3");
    const numKvHeads = required(c, "num_key_value_heads", "qwen3");
    let ropeTheta = c.rope_theta ?? undefined;
    let rawRopeScaling: unknown = c.rope_scaling;
    if (c.rope_parameters && Object.keys(c.rope_parameters).length > 0) {
      const nested = c.rope_parameters.rope_theta;
      if (ropeTheta === undefined && typeof nested === "number") ropeTheta = nested;
      if (!rawRopeScaling) rawRopeScaling = c.rope_parameters;
    }
    if (ropeTheta === undefined)
      configError("rope_theta", "missing (neither rope_theta nor rope_parameters.rope_theta)");
    return {
      numKvHeads,
      headDim,
      ropeTheta,
      ropeTraditional: false,
      rawRopeScaling,
      maxPositionEmbeddings,
      tieWordEmbeddings,
      attentionBias: false,
      outputBias: false,
      mlpBias: false,
      qkNorm: true,
    };
  },
  dropsWeight: (name, config) => isRotaryInvFreq(name) || isTiedLmHead(name, config),
};
