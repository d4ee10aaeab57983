/**
 * qwen2, following mlx-lm's `models/qwen2.py`: `num_key_value_heads` required, the head size always hidden / heads
 * (a `head_dim` in config.json is ignored), `rope_theta` 1e6, `max_position_embeddings` 32768, tied embeddings by
 * default, a bias on q/k/v (never on o or the MLP). `sanitize` drops a tied `lm_head.weight` and
 * `rotary_emb.inv_freq`.
 */
import { type Architecture, derivedHeadDim, isRotaryInvFreq, isTiedLmHead, required } from "./architecture.ts";

export const qwen2: Architecture<"qwen2"> = {
  modelType: "qwen2",
  config: (c) => ({
    numKvHeads: required(c, "num_key_value_heads", "qwen2"),
    headDim: derivedHeadDim(c),
    ropeTheta: c.rope_theta ?? 1_000_000,
    ropeTraditional: c.rope_traditional,
    rawRopeScaling: c.rope_scaling,
    maxPositionEmbeddings: c.max_position_embeddings ?? 32768,
    tieWordEmbeddings: c.tie_word_embeddings ?? true,
    attentionBias: true,
    outputBias: false,
    mlpBias: false,
    qkNorm: false,
  }),
  dropsWeight: (name, config) => isRotaryInvFreq(name) || isTiedLmHead(name, config),
};
