#!/usr/bin/env bun
/**
 * Ithaca side of `bench/tokens-per-sec.ts`: loads a model with the in-process MLX engine and times one greedy
 * generation on the given prompt ids with the single-sequence loop (`generateTokens`; a request alone in the engine
 * Worker's batch computes the same), after an untimed warm-up generation. Prints one {@link EngineRun} JSON line on
 * stdout.
 *
 *   bun bench/ithaca_tps.ts --model DIR --prompt-file IDS.json --gen-tokens N [--warmup-tokens N]
 *                           [--prefill-step-size N] [--upcast-quantized-scales] [--matmul-streams auto|N]
 *
 * Runs alone in its own process so its peak RSS is its own; the twin for mlx-lm is `bench/mlx_lm_tps.py`.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { memoryStats, mlxVersion } from "bun-ffi-mlx-bindings";
import { generateTokens, PREFILL_STEP_SIZE } from "../src/engine/generate-step.ts";
import { freeCaches, makeCaches } from "../src/engine/kv-cache.ts";
import type { DecoderModel } from "../src/engine/model/decoder.ts";
import { loadModel } from "../src/engine/model/loader.ts";
import { DEFAULT_ENGINE } from "../src/backends/mlx/engine-settings.ts";
import { Sampler, type SamplingParams } from "../src/engine/sampler.ts";
import { ModelTokenizer } from "../src/engine/tokenizer.ts";
import { matmulStreamsFlag } from "./tps/flags.ts";
import { peakRssBytes, type EngineRun } from "./tps/result.ts";

/** Greedy decoding; any sampling field added later keeps its "off" default, which greedy ignores anyway. */
const GREEDY = { temperature: 0, top_p: 1 } as SamplingParams;

interface Timed {
  ttftS: number;
  decodeS: number;
  tokens: number[];
}

/** One generation with fresh caches; times the first token and the rest, as mlx-lm's `stream_generate` does. */
function timedGeneration(model: DecoderModel, prompt: number[], maxTokens: number, prefillStepSize: number): Timed {
  const caches = makeCaches(model.config.numLayers);
  const sampler = new Sampler(GREEDY);
  const tokens: number[] = [];
  try {
    const t0 = performance.now();
    let tFirst = t0;
    let tLast = t0;
    for (const token of generateTokens(model, caches, sampler, prompt, maxTokens, prefillStepSize)) {
      tLast = performance.now();
      if (tokens.length === 0) tFirst = tLast;
      tokens.push(token);
    }
    return { ttftS: (tFirst - t0) / 1000, decodeS: (tLast - tFirst) / 1000, tokens };
  } finally {
    freeCaches(caches);
    sampler.free();
  }
}

function main(argv: string[]): void {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: "string" },
      "prompt-file": { type: "string" },
      "gen-tokens": { type: "string", default: "128" },
      "warmup-tokens": { type: "string", default: "8" },
      "prefill-step-size": { type: "string", default: String(PREFILL_STEP_SIZE) },
      "upcast-quantized-scales": { type: "boolean", default: false },
      // engine.matmul_streams, as the server resolves it (its default: auto).
      "matmul-streams": { type: "string", default: String(DEFAULT_ENGINE.matmul_streams) },
    },
    strict: true,
  });
  if (!values.model || !values["prompt-file"]) throw new Error("--model and --prompt-file are required");
  const prompt = JSON.parse(readFileSync(values["prompt-file"], "utf8")) as number[];
  const genTokens = Number(values["gen-tokens"]);
  const warmupTokens = Number(values["warmup-tokens"]);
  const prefillStepSize = Number(values["prefill-step-size"]);

  // Load what the engine Worker loads, tokenizer included (mlx-lm's `load` reads its tokenizer too), so load time and
  // peak RSS compare like for like; the prompt is already token ids, so the tokenizer is not used after that.
  const tLoad = performance.now();
  const model = loadModel(values.model, {
    upcastScales: values["upcast-quantized-scales"] === true,
    matmulStreams: matmulStreamsFlag(values["matmul-streams"]),
  });
  new ModelTokenizer(values.model, model.config.eosTokenIds);
  const loadS = (performance.now() - tLoad) / 1000;
  try {
    if (warmupTokens > 0) timedGeneration(model, prompt, warmupTokens, prefillStepSize);
    const run = timedGeneration(model, prompt, genTokens, prefillStepSize);
    const result: EngineRun = {
      engine: "ithaca",
      mlx_version: mlxVersion(),
      load_s: loadS,
      prompt_tokens: prompt.length,
      gen_tokens: run.tokens.length,
      ttft_s: run.ttftS,
      prefill_tps: prompt.length / run.ttftS,
      decode_tps: run.tokens.length > 1 ? (run.tokens.length - 1) / run.decodeS : 0,
      peak_rss_bytes: peakRssBytes(),
      mlx_peak_bytes: memoryStats().peak,
      tokens: run.tokens,
    };
    console.log(JSON.stringify(result));
  } finally {
    model.free();
  }
}

if (import.meta.main) main(process.argv.slice(2));
