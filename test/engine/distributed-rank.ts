/**
 * One rank of distributed.test.ts, its own Bun process with `MLX_HOSTFILE` and `MLX_RANK` in its environment:
 *
 *   bun test/engine/distributed-rank.ts MODEL_DIR pipeline|tensor MAX_TOKENS PROMPT_IDS_JSON
 *
 * Joins the ring, loads its share of the model (src/engine/model/shard.ts, parallel.ts) and runs the engine's greedy
 * generation loop on the prompt, as every rank does (SPMD). Prints one JSON line `{rank, tokens, live}` (`live`: MLX
 * arrays still alive once everything is freed) and exits 0; on an error prints it on stderr and exits 1.
 */
import { distributed, liveArrays } from "bun-ffi-mlx-bindings";
import { generateTokens } from "../../src/engine/generate-step.ts";
import { freeCaches, makeCaches } from "../../src/engine/kv-cache.ts";
import { loadModel } from "../../src/engine/model/loader.ts";
import { readModelConfig } from "../../src/engine/model/files.ts";
import { Parallel, pipelineLayers } from "../../src/engine/model/parallel.ts";
import type { RankShare } from "../../src/engine/model/shard.ts";
import { Sampler } from "../../src/engine/sampler.ts";

const [dir, mode, maxTokens, promptJson] = process.argv.slice(2) as [string, "pipeline" | "tensor", string, string];
try {
  const group = distributed.initDistributed({ backend: "ring", strict: true });
  const { rank, size } = group;
  const share: RankShare =
    mode === "pipeline"
      ? { mode, rank, size, layers: pipelineLayers(readModelConfig(dir).numLayers, rank, size) }
      : { mode, rank, size };
  const base = liveArrays();
  const model = loadModel(dir, { parallel: new Parallel(group, share) });
  const caches = makeCaches(model.config.numLayers);
  const sampler = new Sampler({ temperature: 0, top_p: 1 });
  const tokens = [...generateTokens(model, caches, sampler, JSON.parse(promptJson), Number(maxTokens))];
  freeCaches(caches);
  sampler.free();
  model.free();
  console.log(JSON.stringify({ rank, tokens, live: liveArrays() - base }));
  process.exit(0);
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
}
