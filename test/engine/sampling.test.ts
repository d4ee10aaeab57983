/**
 * Sampling and logits processors against mlx-lm's own functions (`sample_utils.py`, 0.32):
 * - top_p / min_p / top_k filters on the same log-probabilities give the same kept set and values;
 * - greedy decoding with repetition / presence / frequency penalties and logit_bias gives the same tokens and
 *   log-probabilities as mlx-lm's `generate_step` with `make_logits_processors`;
 * - degenerate filters (top_k = 1, min_p = 1) at temperature 1 reduce to greedy; logprobs come sorted and consistent.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { liveArrays, type MxArray, ops } from "bun-ffi-mlx-bindings";
import { ChatTemplate } from "../../src/engine/chat-template.ts";
import { generateSteps, type GenerationStep } from "../../src/engine/generate-step.ts";
import { freeCaches, makeCaches } from "../../src/engine/kv-cache.ts";
import { LogitsProcessors, type PenaltyParams } from "../../src/engine/logits-processors.ts";
import type { DecoderModel } from "../../src/engine/model/decoder.ts";
import { loadModel } from "../../src/engine/model/loader.ts";
import { applyMinP, applyTopK, applyTopP, Sampler, type SamplingParams } from "../../src/engine/sampler.ts";
import { ModelTokenizer } from "../../src/engine/tokenizer.ts";
import { makeModel, runPython } from "../helpers/paths.ts";

const SCRIPT = join(import.meta.dir, "mlx_lm_sampling.py");
const MESSAGES = [{ role: "user", content: "List the colours of the rainbow, then the planets." }];

/** Deterministic pseudo-random log-softmax rows `[rows, V]`. */
function randomLogprobs(rows: number, V: number, seed: number): number[][] {
  let s = seed;
  const rand = () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return (s / 2 ** 31) * 6 - 3;
  };
  return Array.from({ length: rows }, () => {
    const logits = Array.from({ length: V }, rand);
    const max = Math.max(...logits);
    const lse = max + Math.log(logits.reduce((a, x) => a + Math.exp(x - max), 0));
    return logits.map((x) => x - lse);
  });
}

function rowsOf(a: MxArray): (number | null)[][] {
  const [R, V] = a.shape as [number, number];
  const flat = a.toFloat32();
  return Array.from({ length: R }, (_, r) =>
    Array.from(flat.subarray(r * V, (r + 1) * V), (x) => (Number.isFinite(x) ? x : null)),
  );
}

function expectSameFiltered(ours: (number | null)[][], ref: (number | null)[][]) {
  expect(ours.map((row) => row.map((x) => x === null))).toEqual(ref.map((row) => row.map((x) => x === null)));
  ours.forEach((row, r) => {
    row.forEach((x, i) => {
      if (x !== null) expect(x).toBeCloseTo(ref[r]![i]!, 5);
    });
  });
}

describe("sampling filters match mlx-lm", () => {
  test.each([
    [0.9, 0.05, 8],
    [0.5, 0.2, 1],
    [0.99, 0.01, 40],
  ])("top_p %p, min_p %p, top_k %p on [3, 64]", (topP, minP, topK) => {
    const logprobs = randomLogprobs(3, 64, Math.round(topP * 1000 + topK));
    const ref = JSON.parse(
      runPython(SCRIPT, ["filters", JSON.stringify({ logprobs, top_p: topP, min_p: minP, top_k: topK })]),
    );
    const before = liveArrays();
    {
      using x = ops.fromArray(Float32Array.from(logprobs.flat()), [3, 64]);
      using p = applyTopP(x, topP);
      using m = applyMinP(x, minP);
      using k = applyTopK(x, topK);
      expectSameFiltered(rowsOf(p), ref.top_p);
      expectSameFiltered(rowsOf(m), ref.min_p);
      expectSameFiltered(rowsOf(k), ref.top_k);
      // top_k keeps exactly k per row.
      for (const row of rowsOf(k)) expect(row.filter((v) => v !== null)).toHaveLength(topK);
    }
    expect(liveArrays()).toBe(before);
  });
});

describe("decoding with logits processors and logprobs", () => {
  let dir: string;
  let model: DecoderModel;
  let tokenizer: ModelTokenizer;
  let prompt: number[];

  beforeAll(() => {
    dir = makeModel("qwen3", { seed: 11 });
    model = loadModel(dir);
    tokenizer = new ModelTokenizer(dir, model.config.eosTokenIds);
    prompt = tokenizer.encode(new ChatTemplate(tokenizer).render(MESSAGES));
  });
  afterAll(() => model.free());

  function run(
    sampling: SamplingParams,
    penalties: PenaltyParams | undefined,
    maxTokens: number,
    topLogprobs?: number,
  ) {
    const caches = makeCaches(model.config.numLayers);
    const sampler = new Sampler(sampling);
    const processors = penalties ? new LogitsProcessors(penalties, model.config.vocabSize, prompt) : undefined;
    try {
      const steps = [...generateSteps(model, caches, sampler, prompt, maxTokens, { processors, topLogprobs })];
      return steps.filter((s): s is Extract<GenerationStep, { kind: "token" }> => s.kind === "token");
    } finally {
      freeCaches(caches);
      sampler.free();
      processors?.free();
    }
  }

  const greedy: SamplingParams = { temperature: 0, top_p: 1 };
  const none: PenaltyParams = { presence_penalty: 0, frequency_penalty: 0, repetition_context_size: 20 };

  test.each([
    ["repetition_penalty 1.5 over 16 tokens", { ...none, repetition_penalty: 1.5, repetition_context_size: 16 }],
    ["presence 0.8 + frequency 0.6", { ...none, presence_penalty: 0.8, frequency_penalty: 0.6 }],
    [
      "all penalties + logit_bias",
      {
        repetition_penalty: 1.2,
        presence_penalty: 0.3,
        frequency_penalty: 0.4,
        repetition_context_size: 24,
        logit_bias: { "65": 4, "300": -100, "97": 2.5 },
      },
    ],
  ] as [string, PenaltyParams][])("greedy with %s: same tokens and logprobs as mlx-lm", (_name, penalties) => {
    const maxTokens = 40;
    const ref = JSON.parse(
      runPython(SCRIPT, ["greedy", dir, JSON.stringify({ messages: MESSAGES, max_tokens: maxTokens, ...penalties })]),
    );
    expect(prompt).toEqual(ref.prompt);
    const before = liveArrays();
    const ours = run(greedy, penalties, maxTokens, 0);
    expect(liveArrays()).toBe(before);
    expect(ours.map((s) => s.token)).toEqual(ref.tokens);
    ours.forEach((s, i) => {
      expect(s.logprob!).toBeCloseTo(ref.logprobs[i], 3);
    });
    // The processors changed the distribution (otherwise the comparison above proves nothing).
    const plain = run(greedy, undefined, maxTokens, 0);
    const moved = ours.some((s, i) => plain[i]!.token !== s.token || Math.abs(plain[i]!.logprob! - s.logprob!) > 1e-3);
    expect(moved).toBe(true);
  });

  test("top_k = 1 and min_p = 1 at temperature 1 reduce to greedy", () => {
    const reference = run(greedy, undefined, 24).map((s) => s.token);
    expect(run({ temperature: 1, top_p: 1, top_k: 1, seed: 3 }, undefined, 24).map((s) => s.token)).toEqual(reference);
    expect(run({ temperature: 1, top_p: 1, min_p: 1, seed: 4 }, undefined, 24).map((s) => s.token)).toEqual(reference);
    // Sampling without the filters wanders off (otherwise the check above proves nothing).
    expect(run({ temperature: 1.5, top_p: 1, seed: 5 }, undefined, 24).map((s) => s.token)).not.toEqual(reference);
  });

  test("top_logprobs: k alternatives, best first, the greedy token on top", () => {
    const steps = run(greedy, undefined, 12, 5);
    for (const s of steps) {
      expect(s.top).toHaveLength(5);
      const lps = s.top!.map((t) => t.logprob);
      expect([...lps].sort((a, b) => b - a)).toEqual(lps);
      expect(s.top![0]!.token).toBe(s.token);
      expect(s.top![0]!.logprob).toBeCloseTo(s.logprob!, 5);
      expect(lps.reduce((a, lp) => a + Math.exp(lp), 0)).toBeLessThanOrEqual(1 + 1e-4);
    }
  });
});
