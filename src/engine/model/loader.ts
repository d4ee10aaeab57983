/**
 * Loads a model directory in the mlx-community layout into a {@link DecoderModel}: `config.json` (validated), the
 * safetensors weights (single file or sharded) less those the architecture's `sanitize` drops, evaluated once so the
 * first request does not pay for reading them. Follows mlx-lm's `utils.load_model` / `load_config`.
 */
import { extraCpuStreams, mlx, ops } from "bun-ffi-mlx-bindings";
import { ARCHITECTURES } from "./architectures/index.ts";
import { DecoderModel } from "./decoder.ts";
import type { QuantLoadOptions } from "./linear.ts";
import type { Parallel } from "./parallel.ts";
import { shardWeights, shareConfig } from "./shard.ts";
import { readModelConfig } from "./files.ts";
import { loadWeights } from "./weights.ts";

/**
 * @param options how quantized layers are loaded (`upcastScales`, `matmulStreams`: see {@link QuantLoadOptions});
 *   `parallel`: load only this rank's share of the model (./shard.ts, ./parallel.ts).
 * @throws Error naming the file or field when `config.json` is missing/invalid, a tensor is missing or mis-shaped,
 *   or MLX fails to read the weights. Nothing stays allocated after a failure.
 */
export function loadModel(dir: string, options: QuantLoadOptions & { parallel?: Parallel } = {}): DecoderModel {
  const config = readModelConfig(dir);
  const architecture = ARCHITECTURES[config.arch];
  const weights = loadWeights(dir, (name) => architecture.dropsWeight(name, config));
  const share = options.parallel?.share;
  if (share) {
    try {
      shardWeights(weights, config, share);
    } catch (err) {
      for (const a of weights.values()) a.free();
      throw err;
    }
  }
  const model = new DecoderModel(share ? shareConfig(config, share) : config, weights, options);
  try {
    ops.evaluate(...model.parameters());
    const extra = (options.matmulStreams ?? 1) - 1;
    if (extra > 0) model.spreadMatmuls([mlx().stream, ...extraCpuStreams(extra)]);
  } catch (err) {
    model.free();
    throw err;
  }
  return model;
}
