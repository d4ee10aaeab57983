/**
 * The raw `config.json` fields of a decoder model as validated before any architecture reads them, and the error
 * every config check throws. Kept apart from config.ts so the architectures (architectures/) can use them while
 * config.ts consults the architectures' table.
 */
import * as v from "valibot";

const Int = v.pipe(v.number(), v.integer(), v.minValue(1));

/** The fields of `config.json` this engine reads; `model_type` is checked against the architectures in config.ts. */
export const RawConfigFields = v.looseObject({
  model_type: v.string(),
  hidden_size: Int,
  num_hidden_layers: Int,
  intermediate_size: Int,
  num_attention_heads: Int,
  num_key_value_heads: v.optional(v.nullable(Int)),
  head_dim: v.optional(v.nullable(Int)),
  rms_norm_eps: v.number(),
  vocab_size: Int,
  rope_theta: v.optional(v.nullable(v.number())),
  rope_traditional: v.optional(v.boolean(), false),
  rope_scaling: v.optional(v.nullable(v.looseObject({}))),
  rope_parameters: v.optional(v.nullable(v.looseObject({}))),
  max_position_embeddings: v.optional(v.nullable(Int)),
  tie_word_embeddings: v.optional(v.boolean()),
  attention_bias: v.optional(v.boolean(), false),
  mlp_bias: v.optional(v.boolean(), false),
  layer_types: v.optional(v.nullable(v.array(v.string()))),
  quantization: v.optional(v.nullable(v.looseObject({}))),
  quantization_config: v.optional(v.nullable(v.looseObject({}))),
  eos_token_id: v.optional(v.nullable(v.union([v.number(), v.array(v.number())]))),
});

/** `config.json` after validation, before the architecture's defaults. */
export type RawModelConfig = v.InferOutput<typeof RawConfigFields>;

/** @throws Error `config.json: <field>: <message>`. */
export function configError(field: string, message: string): never {
  throw new Error(`config.json: ${field}: ${message}`);
}
