/**
 * The files scripts/make-model writes per architecture (scripts/make-model/architectures.ts, model.ts): the
 * mlx-community file set and config.json, and that mlx-lm loads each model and decodes greedily from the prompt the JS
 * tokenizer and template give.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { ARCH_SPECS, VOCAB_SIZE } from "../../scripts/make-model/architectures.ts";
import { ARCHS, GEN_TOKENS, SYSTEM_USER, jsRender, jsTokenizer, modelFixture, readJson } from "./fixtures.ts";

const { root, dirs, py } = modelFixture("ithaca-make-model-arch-", ["qwen3", "llama", "qwen2", "mistral"], {
  models: { generate: true },
});

describe.each(ARCHS)("generated %s model", (arch) => {
  const spec = ARCH_SPECS[arch];

  test("has the mlx-community files and config", () => {
    const dir = dirs[arch];
    expect(readdirSync(dir).sort()).toEqual([
      "config.json",
      "generation_config.json",
      "model.safetensors",
      "special_tokens_map.json",
      "tokenizer.json",
      "tokenizer_config.json",
    ]);
    const config = readJson(join(dir, "config.json"));
    expect(config.model_type).toBe(arch);
    expect(config.vocab_size).toBe(VOCAB_SIZE);
    expect(config.tie_word_embeddings).toBe(arch === "qwen3" || arch === "qwen2");
    expect(config.attention_bias).toBe(arch === "llama" || arch === "qwen3" ? false : undefined);
    expect(config.torch_dtype).toBe("float32");
    // Qwen2.5 configs have no head_dim (mlx-lm's qwen2 uses hidden / heads).
    expect(config.head_dim).toBe(arch === "qwen2" ? undefined : 16);
    expect(config.rope_scaling).toEqual(
      arch === "llama"
        ? {
            factor: 32,
            high_freq_factor: 4,
            low_freq_factor: 1,
            original_max_position_embeddings: 8192,
            rope_type: "llama3",
          }
        : null,
    );
    expect(config.quantization).toBeUndefined();
    expect(Object.keys(config)).toEqual(Object.keys(config).sort());
    // No temp or backup directory left beside the model.
    expect(readdirSync(root).filter((n) => n.startsWith("."))).toEqual([]);
  });

  test("mlx-lm loads it and greedy decoding is varied", () => {
    const r = py.models[arch];
    const tok = jsTokenizer(dirs[arch]);
    const eos = spec.stopTokens.map((t) => tok.token_to_id(t)!);
    expect(r.eos).toEqual([...eos].sort((a, b) => a - b));
    expect(r.vocab_size).toBe(VOCAB_SIZE);
    const stoppedAtEos = r.generated.length < GEN_TOKENS && eos.includes(r.generated.at(-1)!);
    expect(r.generated.length === GEN_TOKENS || stoppedAtEos).toBe(true);
    expect(r.generated.length).toBeGreaterThan(4);
    expect(new Set(r.generated).size).toBeGreaterThan(1);
    // mlx-lm's prompt ids = the JS tokenizer on the JS-rendered template.
    const rendered = jsRender(dirs[arch], SYSTEM_USER);
    expect(tok.encode(rendered, { add_special_tokens: false }).ids).toEqual(r.prompt);
  });
});
