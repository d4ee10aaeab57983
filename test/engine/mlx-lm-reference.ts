/**
 * mlx-lm, the reference implementation, run through this folder's `mlx_lm_*.py` scripts: each reads one JSON job on
 * stdin and prints one JSON answer on stdout (the script's docstring gives both shapes). And the greedy job on
 * Ithaca's engine, to compare with.
 */
import { join } from "node:path";
import { ChatTemplate } from "../../src/engine/chat-template.ts";
import { generateTokens } from "../../src/engine/generate-step.ts";
import { freeCaches, makeCaches } from "../../src/engine/kv-cache.ts";
import type { DecoderModel } from "../../src/engine/model/decoder.ts";
import { Sampler } from "../../src/engine/sampler.ts";
import { ModelTokenizer } from "../../src/engine/tokenizer.ts";
import { PYTHON, REPO } from "../helpers/paths.ts";

/**
 * Runs `test/engine/<script>` with `job` on stdin, in the project venv, from the repository root.
 * @returns the script's JSON answer.
 * @throws Error with the script's standard error when it exits non-zero.
 */
export function runMlxLm<T>(script: string, job: unknown): T {
  const r = Bun.spawnSync([PYTHON, join(import.meta.dir, script)], {
    cwd: REPO,
    stdin: new TextEncoder().encode(JSON.stringify(job)),
    stdout: "pipe",
    stderr: "pipe",
  });
  if (r.exitCode !== 0) throw new Error(`${script} exited ${r.exitCode}: ${r.stderr.toString()}`);
  return JSON.parse(r.stdout.toString()) as T;
}

/** mlx-lm's greedy answer to one chat: the chat-templated prompt ids and the generated ids. */
export interface GreedyReference {
  prompt: number[];
  tokens: number[];
}

/** mlx-lm's greedy `generate_step` (mlx_lm_greedy.py) on `messages` for each model directory, keyed by directory. */
export function mlxLmGreedy(
  messages: readonly { role: string; content: string }[],
  maxTokens: number,
  models: readonly string[],
): Record<string, GreedyReference> {
  return runMlxLm("mlx_lm_greedy.py", { messages, max_tokens: maxTokens, models });
}

/**
 * The same job on Ithaca's engine, to compare with {@link mlxLmGreedy}: `messages` chat-templated with the model's
 * tokenizer, then greedy `generateTokens` with fresh KV caches. The caller owns (and frees) `model`.
 */
export function engineGreedy(
  model: DecoderModel,
  dir: string,
  messages: readonly { role: string; content: string }[],
  maxTokens: number,
  prefillStepSize?: number,
): GreedyReference {
  const caches = makeCaches(model.config.numLayers);
  const sampler = new Sampler({ temperature: 0, top_p: 1 });
  try {
    const tokenizer = new ModelTokenizer(dir, model.config.eosTokenIds);
    const prompt = tokenizer.encode(new ChatTemplate(tokenizer).render([...messages]));
    return { prompt, tokens: [...generateTokens(model, caches, sampler, prompt, maxTokens, prefillStepSize)] };
  } finally {
    freeCaches(caches);
    sampler.free();
  }
}
