/**
 * Parity with mlx-lm (DESIGN §4): on the same generated model files and chat prompt, Ithaca's greedy decoding produces
 * exactly the token ids mlx-lm produces — prompt tokens (tokenizer + chat template) and generated tokens.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { liveArrays } from "bun-ffi-mlx-bindings";
import { ChatTemplate } from "../../src/engine/chat-template.ts";
import { generateTokens } from "../../src/engine/generate.ts";
import { freeCaches, makeCaches } from "../../src/engine/kv-cache.ts";
import { loadModel } from "../../src/engine/model/loader.ts";
import { Sampler } from "../../src/engine/sampler.ts";
import { ModelTokenizer } from "../../src/engine/tokenizer.ts";
import { makeModel, runPython } from "../helpers/paths.ts";

const MAX_TOKENS = 48;
const MESSAGES = [
  { role: "system", content: "You are a helpful assistant." },
  { role: "user", content: "Write a short story about a lighthouse keeper and a whale." },
];

function ithacaGreedy(dir: string, prefillStepSize?: number): { prompt: number[]; tokens: number[] } {
  const model = loadModel(dir);
  const caches = makeCaches(model.config.numLayers);
  const sampler = new Sampler({ temperature: 0, top_p: 1 });
  try {
    const tokenizer = new ModelTokenizer(dir, model.config.eosTokenIds);
    const prompt = tokenizer.encode(new ChatTemplate(tokenizer).render(MESSAGES));
    const tokens = [...generateTokens(model, caches, sampler, prompt, MAX_TOKENS, prefillStepSize)];
    return { prompt, tokens };
  } finally {
    freeCaches(caches);
    sampler.free();
    model.free();
  }
}

describe.each([
  ["qwen3", "float32"],
  ["llama", "float32"],
  ["qwen3", "bfloat16"],
  ["llama", "float16"],
] as const)("greedy parity with mlx-lm: %s %s", (arch, dtype) => {
  const base = liveArrays();
  afterAll(() => expect(liveArrays()).toBe(base));

  test(`${MAX_TOKENS} tokens identical to mlx_lm.generate_step`, () => {
    const dir = makeModel(arch, { seed: 11, dtype });
    const reference = JSON.parse(runPython(join(import.meta.dir, "mlx_lm_greedy.py"), [dir, JSON.stringify(MESSAGES), String(MAX_TOKENS)]));
    const ours = ithacaGreedy(dir);
    expect(ours.prompt).toEqual(reference.prompt);
    expect(reference.tokens.length).toBe(MAX_TOKENS);
    expect(ours.tokens).toEqual(reference.tokens);
    // A degenerate model (one token repeated) would make the comparison weak.
    expect(new Set(ours.tokens).size).toBeGreaterThan(3);
  });

  test("chunked prefill (step 5) gives the same tokens as one-shot prefill", () => {
    const dir = makeModel(arch, { seed: 11, dtype });
    expect(ithacaGreedy(dir, 5).tokens.slice(0, 16)).toEqual(ithacaGreedy(dir).tokens.slice(0, 16));
  });
});
