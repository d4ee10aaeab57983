/**
 * The architecture table (src/engine/model/architectures/): every `model_type` with its mlx-lm `ModelArgs` defaults
 * on a small synthetic config.json, and its `sanitize` on a list of weight names.
 */
import { describe, expect, test } from "bun:test";
import { ARCHITECTURES, MODEL_TYPES, type ModelType } from "../../src/engine/model/architectures/index.ts";
import { type ModelConfig, parseModelConfig } from "../../src/engine/model/config.ts";
import { BASE } from "./config-fixtures.ts";

const QWEN3_REQUIRED = { head_dim: 32, max_position_embeddings: 4096, tie_word_embeddings: true, rope_theta: 1e6 };

/** What llama's `ModelArgs` makes of the smallest config it accepts. */
const LLAMA_DEFAULTS: Partial<ModelConfig> = {
  headDim: 16,
  numKvHeads: 2,
  ropeTheta: 10_000,
  ropeTraditional: false,
  maxPositionEmbeddings: undefined,
  tieWordEmbeddings: true,
  attentionBias: false,
  outputBias: false,
  mlpBias: false,
  qkNorm: false,
};

/** Per architecture: the smallest config.json it accepts, and what it makes of it. */
const DEFAULTS: Record<ModelType, { config: Record<string, unknown>; expected: Partial<ModelConfig> }> = {
  llama: { config: { ...BASE, model_type: "llama" }, expected: LLAMA_DEFAULTS },
  // mistral is llama under another name (mlx-lm remaps it), defaults included.
  mistral: { config: { ...BASE, model_type: "mistral" }, expected: LLAMA_DEFAULTS },
  qwen2: {
    config: { ...BASE, model_type: "qwen2" },
    expected: {
      headDim: 16,
      numKvHeads: 2,
      ropeTheta: 1e6,
      ropeTraditional: false,
      maxPositionEmbeddings: 32768,
      tieWordEmbeddings: true,
      attentionBias: true,
      outputBias: false,
      mlpBias: false,
      qkNorm: false,
    },
  },
  qwen3: {
    config: { ...BASE, ...QWEN3_REQUIRED, model_type: "qwen3" },
    expected: {
      headDim: 32,
      numKvHeads: 2,
      ropeTheta: 1e6,
      ropeTraditional: false,
      maxPositionEmbeddings: 4096,
      tieWordEmbeddings: true,
      attentionBias: false,
      outputBias: false,
      mlpBias: false,
      qkNorm: true,
    },
  },
};

/** What each architecture makes of the config options it may honour or ignore. */
const OPTIONS = {
  head_dim: 32,
  attention_bias: true,
  mlp_bias: true,
  rope_traditional: true,
  rope_theta: 5e5,
  max_position_embeddings: 2048,
};
const WITH_OPTIONS: Record<ModelType, Partial<ModelConfig>> = {
  llama: {
    headDim: 32,
    attentionBias: true,
    outputBias: true,
    mlpBias: true,
    ropeTraditional: true,
    ropeTheta: 5e5,
    maxPositionEmbeddings: 2048,
  },
  mistral: {
    headDim: 32,
    attentionBias: true,
    outputBias: true,
    mlpBias: true,
    ropeTraditional: true,
    ropeTheta: 5e5,
    maxPositionEmbeddings: 2048,
  },
  qwen2: {
    headDim: 16,
    attentionBias: true,
    outputBias: false,
    mlpBias: false,
    ropeTraditional: true,
    ropeTheta: 5e5,
    maxPositionEmbeddings: 2048,
  },
  qwen3: {
    headDim: 32,
    attentionBias: false,
    outputBias: false,
    mlpBias: false,
    ropeTraditional: false,
    ropeTheta: 5e5,
    maxPositionEmbeddings: 2048,
  },
};

const WEIGHTS = [
  "model.embed_tokens.weight",
  "model.layers.0.self_attn.q_proj.weight",
  "model.layers.0.self_attn.rotary_emb.inv_freq",
  "model.norm.weight",
  "lm_head.weight",
  "lm_head.scales",
  "lm_head.biases",
];

describe("architecture table", () => {
  test("lists llama, mistral, qwen2, qwen3, each under its own model_type", () => {
    expect(MODEL_TYPES).toEqual(["llama", "mistral", "qwen2", "qwen3"]);
    for (const t of MODEL_TYPES) expect(ARCHITECTURES[t].modelType).toBe(t);
  });

  test("an unsupported model_type names the supported ones", () => {
    expect(() => parseModelConfig({ ...BASE, model_type: "gpt2" })).toThrow(
      "config.json: model_type: model_type must be one of llama, mistral, qwen2, qwen3",
    );
  });

  test("mistral is llama under another name (mlx-lm's MODEL_REMAPPING)", () => {
    const { modelType: _m, ...mistral } = ARCHITECTURES.mistral;
    const { modelType: _l, ...llama } = ARCHITECTURES.llama;
    expect(mistral).toEqual(llama);
  });

  for (const t of MODEL_TYPES) {
    describe(t, () => {
      test("defaults of a minimal config.json", () => {
        expect(parseModelConfig(DEFAULTS[t].config)).toMatchObject({
          arch: t,
          ropeScaling: { type: "default" },
          ...DEFAULTS[t].expected,
        });
      });

      test("options it honours or ignores", () => {
        expect(parseModelConfig({ ...DEFAULTS[t].config, ...OPTIONS })).toMatchObject(WITH_OPTIONS[t]);
      });

      test("sanitize drops rotary_emb.inv_freq, and lm_head.weight only when tied", () => {
        const kept = (tie: boolean) => {
          const config = parseModelConfig({ ...DEFAULTS[t].config, tie_word_embeddings: tie });
          return WEIGHTS.filter((name) => !ARCHITECTURES[t].dropsWeight(name, config));
        };
        const common = ["model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight", "model.norm.weight"];
        expect(kept(true)).toEqual([...common, "lm_head.scales", "lm_head.biases"]);
        expect(kept(false)).toEqual([...common, "lm_head.weight", "lm_head.scales", "lm_head.biases"]);
      });
    });
  }

  test("required fields and per-architecture refusals name the field", () => {
    const { num_key_value_heads: _, ...noKv } = BASE;
    expect(parseModelConfig({ ...noKv, model_type: "llama" }).numKvHeads).toBe(4);
    expect(parseModelConfig({ ...noKv, model_type: "mistral" }).numKvHeads).toBe(4);
    expect(() => parseModelConfig({ ...noKv, model_type: "qwen2" })).toThrow(
      "config.json: num_key_value_heads: required for qwen2",
    );
    expect(() => parseModelConfig({ ...noKv, ...QWEN3_REQUIRED, model_type: "qwen3" })).toThrow(
      "config.json: num_key_value_heads: required for qwen3",
    );
    for (const field of Object.keys(QWEN3_REQUIRED).filter((f) => f !== "rope_theta")) {
      expect(() => parseModelConfig({ ...DEFAULTS.qwen3.config, [field]: undefined })).toThrow(
        `config.json: ${field}: required for qwen3`,
      );
    }
    expect(() => parseModelConfig({ ...DEFAULTS.qwen3.config, rope_theta: undefined })).toThrow(
      "config.json: rope_theta: missing",
    );
    const sliding = { layer_types: ["full_attention", "sliding_attention"] };
    for (const t of ["llama", "mistral"] as const) {
      expect(() => parseModelConfig({ ...DEFAULTS[t].config, ...sliding })).toThrow(
        "config.json: layer_types: 'sliding_attention' layers are not supported",
      );
    }
    for (const t of ["qwen2", "qwen3"] as const)
      expect(parseModelConfig({ ...DEFAULTS[t].config, ...sliding }).arch).toBe(t);
  });

  test("rope_scaling: qwen3 alone reads transformers 5's rope_parameters", () => {
    const rope_parameters = { rope_theta: 2e5, rope_type: "linear", factor: 2 };
    const qwen3 = parseModelConfig({ ...DEFAULTS.qwen3.config, rope_theta: undefined, rope_parameters });
    expect(qwen3).toMatchObject({ ropeTheta: 2e5, ropeScaling: { type: "linear", factor: 2 } });
    for (const t of ["llama", "mistral", "qwen2"] as const) {
      expect(parseModelConfig({ ...DEFAULTS[t].config, rope_parameters })).toMatchObject({
        ropeTheta: DEFAULTS[t].expected.ropeTheta,
        ropeScaling: { type: "default" },
      });
    }
    const scaling = { rope_scaling: { rope_type: "linear", factor: 4 } };
    for (const t of MODEL_TYPES)
      expect(parseModelConfig({ ...DEFAULTS[t].config, ...scaling }).ropeScaling).toEqual({
        type: "linear",
        factor: 4,
      });
  });
});
