/**
 * Parity with mlx-lm (DESIGN §4): on the same generated model files and chat prompt, Ithaca's greedy decoding produces
 * exactly the token ids mlx-lm produces — prompt tokens (tokenizer + chat template) and generated tokens — for every
 * architecture (llama, mistral, qwen2, qwen3), float and 4-bit, 8-bit, per-module quantization overrides, sharded
 * weights, and the RoPE scalings (llama3, linear, yarn). mlx-lm runs once, in one Python process, for all models.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { liveArrays } from "bun-ffi-mlx-bindings";
import type { Arch } from "../../scripts/make-model/architectures.ts";
import type { ModelConfig } from "../../src/engine/model/config.ts";
import type { RopeScaling } from "../../src/engine/model/rope-scaling.ts";
import { loadModel } from "../../src/engine/model/loader.ts";
import { makeModel, type TestModelOptions } from "../helpers/paths.ts";
import { engineGreedy, type GreedyReference, mlxLmGreedy } from "./mlx-lm-reference.ts";

const MAX_TOKENS = 48;
const MESSAGES = [
  { role: "system", content: "You are a helpful assistant." },
  { role: "user", content: "Write a short story about a lighthouse keeper and a whale." },
];

interface Case {
  name: string;
  arch: Arch;
  opts: TestModelOptions;
  /** Checks on the loaded config / files that make the case what its name says. */
  check: (config: ModelConfig, dir: string) => void;
}

const float = (c: ModelConfig) => expect(c.quantization).toBeUndefined();
const quantized =
  (bits: number, groupSize = 64) =>
  (c: ModelConfig) =>
    expect(c.quantization).toEqual({ bits, groupSize });
const rope = (type: RopeScaling["type"]) => (c: ModelConfig) => expect(c.ropeScaling.type).toBe(type);
const all =
  (...fs: Array<(c: ModelConfig, dir: string) => void>) =>
  (c: ModelConfig, dir: string) => {
    for (const f of fs) f(c, dir);
  };

const CASES: Case[] = [
  { name: "llama float32 (llama3 rope)", arch: "llama", opts: {}, check: all(float, rope("llama3")) },
  {
    name: "llama float32 (default rope)",
    arch: "llama",
    opts: { rope: "default" },
    check: all(float, rope("default")),
  },
  { name: "llama float16", arch: "llama", opts: { dtype: "float16" }, check: float },
  { name: "llama 4-bit", arch: "llama", opts: { bits: 4 }, check: all(quantized(4), rope("llama3")) },
  {
    name: "llama 4-bit with overrides (lm_head 8-bit, embeddings 6-bit g32, layer 0 down_proj float)",
    arch: "llama",
    opts: { bits: 4, quantOverrides: ["lm_head=8", "model.embed_tokens=6/32", "model.layers.0.mlp.down_proj=float"] },
    check: (c) => {
      expect(c.quantization).toEqual({ bits: 4, groupSize: 64 });
      expect(c.quantizationOverrides).toEqual({
        lm_head: { bits: 8, groupSize: 64 },
        "model.embed_tokens": { bits: 6, groupSize: 32 },
        "model.layers.0.mlp.down_proj": false,
      });
    },
  },
  // Group size 128 > hidden 64: mlx-lm leaves every module with 64 inputs in float; only down_proj is quantized.
  {
    name: "llama 3-bit g128 (mostly float)",
    arch: "llama",
    opts: { bits: 3, groupSize: 128 },
    check: quantized(3, 128),
  },
  { name: "mistral float32", arch: "mistral", opts: {}, check: all(float, rope("default")) },
  {
    name: "mistral 4-bit float16 (linear rope)",
    arch: "mistral",
    opts: { bits: 4, dtype: "float16", rope: "linear" },
    check: all(quantized(4), rope("linear")),
  },
  {
    name: "qwen2 float32",
    arch: "qwen2",
    opts: {},
    check: all(float, (c) => expect(c.attentionBias && c.tieWordEmbeddings).toBe(true)),
  },
  {
    name: "qwen2 4-bit (yarn rope, tied quantized embeddings)",
    arch: "qwen2",
    opts: { bits: 4, rope: "yarn" },
    check: all(quantized(4), rope("yarn")),
  },
  { name: "qwen3 float32", arch: "qwen3", opts: {}, check: all(float, rope("default")) },
  { name: "qwen3 float32 (yarn rope)", arch: "qwen3", opts: { rope: "yarn" }, check: all(float, rope("yarn")) },
  { name: "qwen3 bfloat16", arch: "qwen3", opts: { dtype: "bfloat16" }, check: float },
  { name: "qwen3 4-bit", arch: "qwen3", opts: { bits: 4 }, check: quantized(4) },
  {
    name: "qwen3 8-bit bfloat16 (yarn rope)",
    arch: "qwen3",
    opts: { bits: 8, dtype: "bfloat16", rope: "yarn" },
    check: all(quantized(8), rope("yarn")),
  },
  {
    name: "qwen3 sharded (3 files)",
    arch: "qwen3",
    opts: { shards: 3 },
    check: (_c, dir) => expect(readdirSync(dir).filter((f) => f.endsWith(".safetensors")).length).toBe(3),
  },
  {
    name: "qwen2 4-bit bfloat16 sharded (2 files)",
    arch: "qwen2",
    opts: { bits: 4, dtype: "bfloat16", shards: 2 },
    check: (c, dir) => {
      expect(c.quantization).toEqual({ bits: 4, groupSize: 64 });
      expect(readdirSync(dir).filter((f) => f.endsWith(".safetensors"))).toEqual([
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
      ]);
    },
  },
];

function ithacaGreedy(
  dir: string,
  prefillStepSize?: number,
): { prompt: number[]; tokens: number[]; config: ModelConfig } {
  const model = loadModel(dir);
  try {
    return { ...engineGreedy(model, dir, MESSAGES, MAX_TOKENS, prefillStepSize), config: model.config };
  } finally {
    model.free();
  }
}

const dirs = new Map<string, string>();
let reference: Record<string, GreedyReference>;
const base = liveArrays();

beforeAll(() => {
  for (const c of CASES) dirs.set(c.name, makeModel(c.arch, { seed: 11, ...c.opts }));
  reference = mlxLmGreedy(MESSAGES, MAX_TOKENS, [...dirs.values()]);
}, 60_000);

afterAll(() => expect(liveArrays()).toBe(base));

describe.each(CASES)("greedy parity with mlx-lm: $name", (c) => {
  test(`${MAX_TOKENS} tokens identical to mlx_lm.generate_step`, () => {
    const dir = dirs.get(c.name)!;
    const ref = reference[dir]!;
    const ours = ithacaGreedy(dir);
    expect(ours.config.arch).toBe(c.arch);
    c.check(ours.config, dir);
    expect(ours.prompt).toEqual(ref.prompt);
    expect(ref.tokens.length).toBe(MAX_TOKENS);
    expect(ours.tokens).toEqual(ref.tokens);
    // A degenerate model (one token repeated) would make the comparison weak.
    expect(new Set(ours.tokens).size).toBeGreaterThan(8);
  });

  test("chunked prefill (step 5) gives the same tokens as one-shot prefill", () => {
    const dir = dirs.get(c.name)!;
    expect(ithacaGreedy(dir, 5).tokens.slice(0, 16)).toEqual(reference[dir]!.tokens.slice(0, 16));
  });
});

describe("parity cases differ where they should", () => {
  test("quantization and RoPE scaling change the generated tokens (so the cases test them); sharding does not", () => {
    const tokens = (name: string) => reference[dirs.get(name)!]!.tokens;
    expect(tokens("llama float32 (llama3 rope)")).not.toEqual(tokens("llama float32 (default rope)"));
    expect(tokens("qwen3 float32 (yarn rope)")).not.toEqual(tokens("qwen3 float32"));
    expect(tokens("llama 4-bit")).not.toEqual(tokens("llama float32 (llama3 rope)"));
    expect(
      tokens("llama 4-bit with overrides (lm_head 8-bit, embeddings 6-bit g32, layer 0 down_proj float)"),
    ).not.toEqual(tokens("llama 4-bit"));
    expect(tokens("qwen3 4-bit")).not.toEqual(tokens("qwen3 float32"));
    expect(tokens("qwen3 8-bit bfloat16 (yarn rope)")).not.toEqual(tokens("qwen3 bfloat16"));
    expect(tokens("qwen3 sharded (3 files)")).toEqual(tokens("qwen3 float32"));
  });
});
