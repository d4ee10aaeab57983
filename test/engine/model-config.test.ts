/**
 * Model configuration and loading: config.json parsing with mlx-lm's per-architecture defaults, `rope_scaling`
 * validation, RoPE `freqs` bit-identical to mlx-lm's `rope_utils.py`, the `quantization` block (per-module
 * overrides, inference from tensor shapes), and loader errors for config/weights mismatches (with nothing leaked).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { liveArrays, ops } from "bun-ffi-mlx-bindings";
import { freeCaches, makeCaches } from "../../src/engine/kv-cache.ts";
import { parseModelConfig } from "../../src/engine/model/config.ts";
import { loadModel } from "../../src/engine/model/loader.ts";
import { Rope } from "../../src/engine/model/rope.ts";
import { parseRopeScaling } from "../../src/engine/model/rope-scaling.ts";
import { makeModel, runPython, tempDir } from "../helpers/paths.ts";
import { BASE } from "./config-fixtures.ts";

const QWEN3 = {
  ...BASE,
  model_type: "qwen3",
  head_dim: 32,
  max_position_embeddings: 4096,
  tie_word_embeddings: true,
  rope_theta: 1e6,
};

describe("config.json parsing (mlx-lm ModelArgs defaults)", () => {
  test("llama / mistral: tied by default, head_dim from config or hidden / heads, attention_bias on q/k/v/o", () => {
    const c = parseModelConfig({ ...BASE, model_type: "mistral" });
    expect(c).toMatchObject({
      arch: "mistral",
      tieWordEmbeddings: true,
      headDim: 16,
      ropeTheta: 10000,
      numKvHeads: 2,
      attentionBias: false,
      outputBias: false,
    });
    const b = parseModelConfig({
      ...BASE,
      model_type: "llama",
      head_dim: 32,
      attention_bias: true,
      mlp_bias: true,
      tie_word_embeddings: false,
    });
    expect(b).toMatchObject({
      headDim: 32,
      attentionBias: true,
      outputBias: true,
      mlpBias: true,
      tieWordEmbeddings: false,
    });
    expect(parseModelConfig({ ...BASE, model_type: "llama", num_key_value_heads: undefined }).numKvHeads).toBe(4);
  });

  test("qwen2: head_dim always hidden / heads, rope_theta 1e6, bias on q/k/v only", () => {
    const c = parseModelConfig({ ...BASE, model_type: "qwen2", head_dim: 128, attention_bias: false });
    expect(c).toMatchObject({
      headDim: 16,
      ropeTheta: 1e6,
      attentionBias: true,
      outputBias: false,
      mlpBias: false,
      tieWordEmbeddings: true,
      maxPositionEmbeddings: 32768,
    });
    expect(() => parseModelConfig({ ...BASE, model_type: "qwen2", num_key_value_heads: undefined })).toThrow(
      /num_key_value_heads: required for qwen2/,
    );
  });

  test("qwen3: required fields, rope_parameters (transformers 5), q/k norm, rope_traditional forced off", () => {
    expect(parseModelConfig({ ...QWEN3, rope_traditional: true })).toMatchObject({
      headDim: 32,
      qkNorm: true,
      ropeTraditional: false,
      ropeTheta: 1e6,
    });
    for (const field of ["head_dim", "max_position_embeddings", "tie_word_embeddings"]) {
      expect(() => parseModelConfig({ ...QWEN3, [field]: undefined })).toThrow(
        new RegExp(`config.json: ${field}: required for qwen3`),
      );
    }
    expect(() => parseModelConfig({ ...QWEN3, rope_theta: undefined })).toThrow(/rope_theta: missing/);
    const nested = parseModelConfig({
      ...QWEN3,
      rope_theta: undefined,
      rope_parameters: { rope_theta: 5e5, rope_type: "yarn", factor: 4 },
    });
    expect(nested.ropeTheta).toBe(5e5);
    expect(nested.ropeScaling).toMatchObject({ type: "yarn", factor: 4 });
  });

  test("errors name the field", () => {
    expect(() => parseModelConfig({ ...BASE, model_type: "gpt2" })).toThrow(/config.json: model_type/);
    expect(() => parseModelConfig({ ...BASE, model_type: "llama", hidden_size: "64" })).toThrow(
      /config.json: hidden_size/,
    );
    expect(() =>
      parseModelConfig({ ...BASE, model_type: "llama", layer_types: ["full_attention", "sliding_attention"] }),
    ).toThrow(/layer_types: 'sliding_attention'/);
    expect(() => parseModelConfig({ ...BASE, model_type: "llama", num_key_value_heads: 3 })).toThrow(
      /num_key_value_heads: 3 does not divide/,
    );
  });
});

describe("rope_scaling", () => {
  test("types, defaults and the `type` / `rope_type` precedence of rope_utils.initialize_rope", () => {
    expect(parseRopeScaling(null)).toEqual({ type: "default" });
    expect(parseRopeScaling({ rope_type: "default", factor: 8 })).toEqual({ type: "default" });
    expect(parseRopeScaling({ type: "linear", rope_type: "llama3", factor: 2 })).toEqual({ type: "linear", factor: 2 });
    expect(parseRopeScaling({ rope_type: "llama3", factor: 8 })).toEqual({
      type: "llama3",
      factor: 8,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalMaxPositionEmbeddings: 8192,
    });
    expect(parseRopeScaling({ type: "yarn", factor: 4 })).toEqual({
      type: "yarn",
      factor: 4,
      originalMaxPositionEmbeddings: 4096,
      betaFast: 32,
      betaSlow: 1,
      mscale: 1,
      mscaleAllDim: 0,
    });
  });

  test("unsupported types and bad parameters are refused, naming the field", () => {
    expect(() => parseRopeScaling({ rope_type: "dynamic", factor: 2 })).toThrow(
      /rope_scaling type 'dynamic' is not supported \(supported: default, linear, llama3, yarn\)/,
    );
    expect(() => parseRopeScaling({ type: "longrope" })).toThrow(/'longrope' is not supported/);
    expect(() => parseRopeScaling({ rope_type: "linear" })).toThrow(/rope_scaling.factor is required/);
    expect(() => parseRopeScaling({ rope_type: "llama3", factor: "8" })).toThrow(
      /rope_scaling.factor must be a number/,
    );
    expect(() => parseRopeScaling({ rope_type: "yarn", factor: 0 })).toThrow(/rope_scaling.factor must be > 0/);
    expect(() => parseModelConfig({ ...BASE, model_type: "llama", rope_scaling: { rope_type: "su" } })).toThrow(
      /'su' is not supported/,
    );
  });

  test("llama3 and yarn freqs (and the yarn mscale) are bit-identical to mlx-lm's rope_utils", () => {
    const cases = [
      {
        dims: 16,
        base: 500000,
        scaling: {
          rope_type: "llama3",
          factor: 32,
          low_freq_factor: 1,
          high_freq_factor: 4,
          original_max_position_embeddings: 8192,
        },
      },
      { dims: 128, base: 500000, scaling: { rope_type: "llama3", factor: 8, original_max_position_embeddings: 8192 } },
      { dims: 64, base: 1e6, scaling: { type: "yarn", factor: 4, original_max_position_embeddings: 32768 } },
      {
        dims: 128,
        base: 1e6,
        scaling: {
          rope_type: "yarn",
          factor: 4,
          original_max_position_embeddings: 32768,
          // biome-ignore lint/suspicious/noApproximativeNumericConstant: 0.707 is the mscale written in real yarn configs (DeepSeek's config.json), kept as shipped rather than Math.SQRT1_2
          mscale: 0.707,
          beta_fast: 16,
        },
      },
      {
        dims: 16,
        base: 1e4,
        scaling: { rope_type: "yarn", factor: 2, original_max_position_embeddings: 4096, mscale_all_dim: 1 },
      },
    ];
    const script = `
import json, sys
from mlx_lm.models.rope_utils import initialize_rope
out = []
for c in json.loads(sys.argv[1]):
    r = initialize_rope(c["dims"], c["base"], False, c["scaling"], 4096)
    out.append({"freqs": r._freqs.tolist(), "mscale": getattr(r, "mscale", 1.0)})
print(json.dumps(out))`;
    const dir = tempDir();
    writeFileSync(join(dir, "rope.py"), script);
    const ref = JSON.parse(runPython(join(dir, "rope.py"), [JSON.stringify(cases)])) as Array<{
      freqs: number[];
      mscale: number;
    }>;
    const before = liveArrays();
    cases.forEach((c, i) => {
      const rope = new Rope(c.dims, c.base, false, parseRopeScaling(c.scaling));
      try {
        expect(Array.from(rope.freqs!.toFloat32())).toEqual(Array.from(Float32Array.from(ref[i]!.freqs)));
        expect(rope.mscale).toBeCloseTo(ref[i]!.mscale, 12);
      } finally {
        rope.free();
      }
    });
    expect(liveArrays()).toBe(before);
  });

  test("yarn scales q/k by mscale before rotating; default and linear use base and scale", () => {
    using x = ops.fromArray(
      Float32Array.from({ length: 2 * 3 * 16 }, (_, i) => Math.sin(i)),
      [1, 2, 3, 16],
    );
    const yarn = new Rope(
      16,
      1e4,
      false,
      parseRopeScaling({ rope_type: "yarn", factor: 4, original_max_position_embeddings: 64 }),
    );
    const linear = new Rope(16, 1e4, false, parseRopeScaling({ rope_type: "linear", factor: 2 }));
    try {
      expect(yarn.mscale).toBeCloseTo(0.1 * Math.log(4) + 1, 12);
      using m = ops.scalar(yarn.mscale);
      using scaled = ops.multiply(x, m);
      using expected = ops.rope(scaled, { dims: 16, traditional: false, scale: 1, offset: 5, freqs: yarn.freqs });
      using got = yarn.apply(x, 5);
      expect(Array.from(got.toFloat32())).toEqual(Array.from(expected.toFloat32()));
      using lin = linear.apply(x, 7);
      using linRef = ops.rope(x, { dims: 16, traditional: false, base: 1e4, scale: 0.5, offset: 7 });
      expect(Array.from(lin.toFloat32())).toEqual(Array.from(linRef.toFloat32()));
      expect(linear.freqs).toBeUndefined();
    } finally {
      yarn.free();
      linear.free();
    }
  });
});

describe("quantization block", () => {
  test("top-level parameters and per-module overrides (parameters, true, false); other scalars ignored", () => {
    const c = parseModelConfig({
      ...BASE,
      model_type: "llama",
      quantization: {
        group_size: 32,
        bits: 4,
        mode: "affine",
        lm_head: { group_size: 64, bits: 8 },
        "model.layers.0.mlp.down_proj": false,
        "model.embed_tokens": true,
        "model.layers.1.mlp.up_proj": { bits: 6 },
        quant_method: "mlx",
      },
    });
    expect(c.quantization).toEqual({ groupSize: 32, bits: 4 });
    expect(c.quantizationOverrides).toEqual({
      lm_head: { groupSize: 64, bits: 8 },
      "model.layers.0.mlp.down_proj": false,
      "model.embed_tokens": { groupSize: 32, bits: 4 },
      "model.layers.1.mlp.up_proj": { groupSize: 32, bits: 6 },
    });
    expect(parseModelConfig({ ...BASE, model_type: "llama" })).toMatchObject({
      quantization: undefined,
      quantizationOverrides: {},
    });
  });

  test("unsupported bits, group sizes and modes are refused, naming the field", () => {
    const q = (quantization: unknown) => () => parseModelConfig({ ...BASE, model_type: "llama", quantization });
    expect(q({ group_size: 64, bits: 7 })).toThrow(
      /config.json: quantization.bits: 7 is not one of 1, 2, 3, 4, 5, 6, 8/,
    );
    expect(q({ group_size: 48, bits: 4 })).toThrow(/quantization.group_size: 48 is not one of 32, 64, 128/);
    expect(q({ group_size: 32, bits: 4, mode: "mxfp4" })).toThrow(/quantization.mode: 'mxfp4' is not supported/);
    expect(q({ group_size: 64, bits: 4, lm_head: { group_size: 64, bits: 9 } })).toThrow(
      /quantization.lm_head.bits: 9/,
    );
    expect(() =>
      parseModelConfig({ ...BASE, model_type: "llama", quantization_config: { quant_method: "awq", bits: 4 } }),
    ).toThrow(/quantization_config: without a 'quantization' block is not supported \(quant_method "awq"\)/);
  });
});

describe("loading: config / weights mismatches", () => {
  const base = liveArrays();
  afterAll(() => expect(liveArrays()).toBe(base));

  /** A copy of a generated model with its config.json (and optionally index) edited. */
  function variant(src: string, edit: (config: Record<string, any>) => void, file = "config.json"): string {
    const dir = join(tempDir(), "model");
    cpSync(src, dir, { recursive: true });
    const path = join(dir, file);
    const json = JSON.parse(readFileSync(path, "utf8"));
    edit(json);
    writeFileSync(path, JSON.stringify(json));
    return dir;
  }
  const quantized = () => makeModel("llama", { seed: 4, bits: 4, quantOverrides: ["lm_head=8"] });

  test("a module's bits and group size are inferred from its shapes when config.json does not list it", () => {
    const src = quantized();
    const dir = variant(src, (c) => {
      delete c.quantization.lm_head;
      delete c.quantization_config;
    });
    const a = loadModel(src);
    const b = loadModel(dir);
    try {
      expect(b.config.quantizationOverrides).toEqual({});
      expect(b.nbytes).toBe(a.nbytes);
      using ids = ops.fromArray(new Int32Array([5, 17, 300, 2]), [1, 4]);
      const ca = makeCaches(2);
      const cb = makeCaches(2);
      using la = a.forward(ids, ca);
      using lb = b.forward(ids, cb);
      expect(Array.from(lb.toFloat32())).toEqual(Array.from(la.toFloat32()));
      freeCaches(ca);
      freeCaches(cb);
    } finally {
      a.free();
      b.free();
    }
  });

  test("errors name the tensor or field", () => {
    const q = quantized();
    const f = makeModel("llama", { seed: 4 });
    const cases: Array<[string, RegExp]> = [
      [
        variant(q, (c) => {
          delete c.quantization;
          delete c.quantization_config;
        }),
        /'model.embed_tokens.scales' found but config.json has no quantization block/,
      ],
      [
        variant(q, (c) => (c.quantization.lm_head = false)),
        /quantization.lm_head is false but the weights hold 'lm_head.scales'/,
      ],
      [
        variant(f, (c) => (c.quantization = { group_size: 64, bits: 4, lm_head: { group_size: 64, bits: 8 } })),
        /quantization.lm_head is set but the weights have no 'lm_head.scales'/,
      ],
      [
        variant(q, (c) => (c.quantization.lm_head = { group_size: 64, bits: 4 })),
        /tensor 'lm_head.weight' has shape \[1024, 16\], expected \[1024, 8\]/,
      ],
      [
        variant(f, (c) => (c.intermediate_size = 256)),
        /tensor 'model.layers.0.mlp.gate_proj.weight' has shape \[128, 64\], expected \[256, 64\]/,
      ],
      [variant(f, (c) => (c.attention_bias = true)), /missing tensor 'model.layers.0.self_attn.q_proj.bias'/],
      [variant(f, (c) => (c.num_hidden_layers = 1)), /unexpected tensors for llama: model.layers.1/],
      [
        variant(q, (c) => (c.tie_word_embeddings = true)),
        /unexpected tensors for llama: lm_head.biases, lm_head.scales/,
      ],
    ];
    for (const [dir, error] of cases) expect(() => loadModel(dir)).toThrow(error);
    // Tied: a float lm_head.weight is dropped, as mlx-lm's sanitize drops it.
    const tied = loadModel(variant(f, (c) => (c.tie_word_embeddings = true)));
    expect(tied.config.tieWordEmbeddings).toBe(true);
    tied.free();
  });

  test("sharded: every tensor of the index must be in its shard; generation_config eos wins over config.json", () => {
    const src = makeModel("qwen3", { seed: 4, shards: 2 });
    const dir = variant(
      src,
      (i) => (i.weight_map["model.layers.9.mlp.up_proj.weight"] = "model-00002-of-00002.safetensors"),
      "model.safetensors.index.json",
    );
    expect(() => loadModel(dir)).toThrow(
      /model-00002-of-00002.safetensors: tensor 'model.layers.9.mlp.up_proj.weight' listed in model.safetensors.index.json is missing/,
    );
    const gen = variant(src, (g) => (g.eos_token_id = [7, 8]), "generation_config.json");
    const m = loadModel(gen);
    try {
      expect(m.config.eosTokenIds).toEqual([7, 8]);
    } finally {
      m.free();
    }
  });
});
