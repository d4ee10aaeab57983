/**
 * Loads a model directory in the mlx-community layout into a {@link DecoderModel}: `config.json` (validated), the
 * safetensors weights (single file or sharded), evaluated once so the first request does not pay for reading them.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ops } from "bun-ffi-mlx-bindings";
import { parseModelConfig } from "./config.ts";
import { DecoderModel } from "./decoder.ts";
import { loadWeights } from "./weights.ts";

/**
 * @throws Error naming the file or field when `config.json` is missing/invalid, a tensor is missing, or MLX fails to
 *   read the weights. Nothing stays allocated after a failure.
 */
export function loadModel(dir: string): DecoderModel {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
  } catch (err) {
    throw new Error(`${join(dir, "config.json")}: ${(err as Error).message}`);
  }
  const config = parseModelConfig(raw);
  const weights = loadWeights(dir);
  const model = new DecoderModel(config, weights);
  try {
    ops.evaluate(...model.parameters());
  } catch (err) {
    model.free();
    throw err;
  }
  return model;
}
