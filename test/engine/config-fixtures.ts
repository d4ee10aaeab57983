/** config.json fixtures shared by the model config and architecture tests. */

/** Fields every architecture needs (qwen3's extra required fields are added per case). */
export const BASE = {
  hidden_size: 64,
  num_hidden_layers: 2,
  intermediate_size: 128,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-5,
  vocab_size: 1024,
};
