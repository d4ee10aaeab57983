/**
 * Loads a model directory in the mlx-community layout into a {@link DecoderModel}: `config.json` (validated), the
 * safetensors weights (single file or sharded) less those the architecture's `sanitize` drops, evaluated once so the
 * first request does not pay for reading them. Follows mlx-lm's `utils.load_model` / `load_config`.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ops } from "bun-ffi-mlx-bindings";
import { ARCHITECTURES } from "./architectures/index.ts";
import { parseModelConfig } from "./config.ts";
import { DecoderModel } from "./decoder.ts";
import { loadWeights } from "./weights.ts";

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
}

/**
 * Reads `config.json`, with `eos_token_id` taken from `generation_config.json` when that file sets one (as
 * mlx-lm's `load_config` does).
 */
export function readModelConfig(dir: string): ReturnType<typeof parseModelConfig> {
  const raw = readJson(join(dir, "config.json"));
  const genPath = join(dir, "generation_config.json");
  if (raw && typeof raw === "object" && existsSync(genPath)) {
    let gen: unknown;
    try {
      gen = JSON.parse(readFileSync(genPath, "utf8"));
    } catch {
      gen = undefined; // mlx-lm ignores an unreadable generation_config.json
    }
    const eos = (gen as { eos_token_id?: unknown } | undefined)?.eos_token_id;
    if (eos !== undefined && eos !== null && eos !== false && eos !== 0 && !(Array.isArray(eos) && eos.length === 0)) {
      (raw as Record<string, unknown>).eos_token_id = eos;
    }
  }
  return parseModelConfig(raw);
}

/**
 * @throws Error naming the file or field when `config.json` is missing/invalid, a tensor is missing or mis-shaped,
 *   or MLX fails to read the weights. Nothing stays allocated after a failure.
 */
export function loadModel(dir: string): DecoderModel {
  const config = readModelConfig(dir);
  const architecture = ARCHITECTURES[config.arch];
  const weights = loadWeights(dir, (name) => architecture.dropsWeight(name, config));
  const model = new DecoderModel(config, weights);
  try {
    ops.evaluate(...model.parameters());
  } catch (err) {
    model.free();
    throw err;
  }
  return model;
}
