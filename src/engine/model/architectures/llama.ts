/**
 * llama, following mlx-lm's `models/llama.py`: `head_dim` from config.json or hidden / heads, `num_key_value_heads`
 * defaulting to the head count, `rope_theta` 10000, tied embeddings unless `tie_word_embeddings: false`,
 * `attention_bias` on q/k/v/o, `mlp_bias` on gate/up/down, full attention only (no sliding-window `layer_types`).
 * `sanitize` drops `rotary_emb.inv_freq` and a tied `lm_head.weight`.
 */
import { configError } from "../config-schema.ts";
import { type Architecture, derivedHeadDim, isRotaryInvFreq, isTiedLmHead } from "./architecture.ts";

export const llama: Architecture<"llama"> = {
  modelType: "llama",
  config: (c) => {
    const sliding = c.layer_types?.find((t) => t !== "full_attention");
    if (sliding !== undefined)
      configError("layer_types", `'${sliding}' layers are not supported (only full_attention)`);
    return {
      numKvHeads: c.num_key_value_heads ?? c.num_attention_heads,
      headDim: c.head_dim ?? derivedHeadDim(c),
      ropeTheta: c.rope_theta ?? 10_000,
      ropeTraditional: c.rope_traditional,
      rawRopeScaling: c.rope_scaling,
      maxPositionEmbeddings: c.max_position_embeddings ?? undefined,
      tieWordEmbeddings: c.tie_word_embeddings ?? true,
      attentionBias: c.attention_bias,
      outputBias: c.attention_bias,
      mlpBias: c.mlp_bias,
      qkNorm: false,
    };
  },
  dropsWeight: (name, config) => isRotaryInvFreq(name) || isTiedLmHead(name, config),
};
