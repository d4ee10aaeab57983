/**
 * Quantized and sharded output of scripts/make-model (scripts/make-model/quantize.ts, weights.ts): tensors identical
 * to mlx-lm's `quantize_model` (what `mlx_lm.convert -q` runs), the config block as mlx_lm.convert writes it, per-module
 * overrides, and mlx-lm's shard layout and index.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { VOCAB_SIZE } from "../../scripts/make-model/architectures.ts";
import { readSafetensorsFile, shapeSize } from "../../scripts/make-model/safetensors.ts";
import { modelFixture, readJson } from "./fixtures.ts";

const { dirs, py } = modelFixture(
  "ithaca-make-model-quant-",
  ["llama", "llamaQ4", "llamaQ4Again", "qwen3", "qwen3Q8", "qwen2", "qwen2Q4", "qwen2Sharded"],
  { quant: true, sharded: true },
);

describe("quantized and sharded output (mlx_lm.convert as the reference)", () => {
  test("4-bit with overrides: tensors identical to mlx-lm quantize_model's, config block as mlx_lm.convert writes it", () => {
    const r = py.quant["llama-q4"]!;
    expect(r.mismatched).toEqual([]);
    expect(r.generated).toBe(4);
    const config = readJson(join(dirs.llamaQ4, "config.json"));
    const block = {
      group_size: 64,
      bits: 4,
      mode: "affine",
      "model.embed_tokens": { group_size: 32, bits: 6, mode: "affine" },
      "model.layers.0.mlp.down_proj": false,
      lm_head: { group_size: 64, bits: 8, mode: "affine" },
    };
    expect(config.quantization).toEqual(block);
    expect(config.quantization_config).toEqual(block);
    // mlx-lm records parameter overrides; a module kept in float is written as `false` for the loader.
    const { "model.layers.0.mlp.down_proj": _float, ...recorded } = block;
    expect(r.quantization).toEqual(recorded);
    expect(r.quantized_modules).not.toContain("model.layers.0.mlp.down_proj");
    expect(r.quantized_modules).toContain("model.layers.1.mlp.down_proj");
    const st = readSafetensorsFile(join(dirs.llamaQ4, "model.safetensors"));
    expect(st.tensors.get("model.layers.1.self_attn.q_proj.weight")).toMatchObject({ dtype: "U32", shape: [64, 8] });
    expect(st.tensors.get("model.layers.1.self_attn.q_proj.scales")).toMatchObject({ dtype: "F32", shape: [64, 1] });
    expect(st.tensors.get("lm_head.weight")).toMatchObject({ dtype: "U32", shape: [VOCAB_SIZE, 16] });
    expect(st.tensors.get("model.embed_tokens.scales")).toMatchObject({ shape: [VOCAB_SIZE, 2] });
    expect(st.tensors.get("model.layers.0.mlp.down_proj.weight")).toMatchObject({ dtype: "F32", shape: [64, 128] });
    expect(st.tensors.has("model.norm.scales")).toBe(false);
    // Same options through the CLI and the library → identical bytes.
    for (const name of readdirSync(dirs.llamaQ4)) {
      expect({
        name,
        same: Buffer.compare(readFileSync(join(dirs.llamaQ4, name)), readFileSync(join(dirs.llamaQ4Again, name))) === 0,
      }).toEqual({ name, same: true });
    }
  });

  test("8-bit bfloat16 g32 (tied, quantized embeddings) and 4-bit g128 match mlx-lm, including which modules it quantizes", () => {
    const q8 = py.quant["qwen3-q8"]!;
    expect(q8.mismatched).toEqual([]);
    expect(q8.generated).toBe(4);
    expect(q8.quantization).toEqual({ group_size: 32, bits: 8, mode: "affine" });
    expect(q8.quantized_modules).toContain("model.embed_tokens");
    expect(q8.quantized_modules.length).toBe(1 + 2 * 7);
    const st = readSafetensorsFile(join(dirs.qwen3Q8, "model.safetensors"));
    expect(st.tensors.get("model.embed_tokens.biases")).toMatchObject({ dtype: "BF16", shape: [VOCAB_SIZE, 2] });
    expect(st.tensors.get("model.layers.0.self_attn.q_norm.weight")).toMatchObject({ dtype: "BF16" });
    // Group size 128: only down_proj (128 inputs) is divisible; everything with 64 inputs stays float.
    const g128 = py.quant["qwen2-q4-g128"]!;
    expect(g128.mismatched).toEqual([]);
    expect(g128.quantized_modules).toEqual(["model.layers.0.mlp.down_proj", "model.layers.1.mlp.down_proj"]);
    expect(readJson(join(dirs.qwen2Q4, "config.json")).rope_scaling).toEqual({
      factor: 4,
      original_max_position_embeddings: 4096,
      type: "yarn",
    });
  });

  test("sharded: mlx-lm's file names and index, same tensors as the single file, loads in mlx-lm", () => {
    expect(
      readdirSync(dirs.qwen2Sharded)
        .filter((f) => f.includes("safetensors"))
        .sort(),
    ).toEqual([
      "model-00001-of-00003.safetensors",
      "model-00002-of-00003.safetensors",
      "model-00003-of-00003.safetensors",
      "model.safetensors.index.json",
    ]);
    expect(py.sharded.qwen2).toEqual({ mismatched: [], generated: 4 });
    const index = readJson(join(dirs.qwen2Sharded, "model.safetensors.index.json")) as {
      metadata: { total_size: number; total_parameters: number };
      weight_map: Record<string, string>;
    };
    const single = readSafetensorsFile(join(dirs.qwen2, "model.safetensors"));
    const names = [...single.tensors.keys()].sort();
    expect(Object.keys(index.weight_map)).toEqual(names);
    let bytes = 0;
    let params = 0;
    for (const t of single.tensors.values()) {
      bytes += t.data.byteLength;
      params += shapeSize(t.shape);
    }
    expect(index.metadata).toEqual({ total_size: bytes, total_parameters: params });
    for (const file of new Set(Object.values(index.weight_map))) {
      const shard = readSafetensorsFile(join(dirs.qwen2Sharded, file));
      expect([...shard.tensors.keys()].sort()).toEqual(names.filter((n) => index.weight_map[n] === file));
    }
  });
});
