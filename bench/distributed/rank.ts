#!/usr/bin/env bun
/**
 * One process of `bench/distributed.ts`: alone (no `MLX_HOSTFILE`) the whole model, or one rank of a ring
 * (`MLX_HOSTFILE`, `MLX_RANK`) its share. Loads it, warms up, then times one greedy generation of the engine's loop
 * (src/engine/generate-step.ts): prefill (prompt → first token) and decode; then, ranked, the collectives of one
 * decode step alone (the same shapes and count, `--comm-steps` times) to tell communication from compute. Prints one
 * JSON line of {@link RankRun}.
 *
 *   bun bench/distributed/rank.ts MODEL_DIR single|pipeline|tensor PROMPT_FILE GEN_TOKENS WARMUP_TOKENS COMM_STEPS
 */
import { readFileSync } from "node:fs";
import { Dtype, distributed, memoryStats, type MxArray, ops, resetPeakMemory } from "bun-ffi-mlx-bindings";
import { generateTokens } from "../../src/engine/generate-step.ts";
import { freeCaches, makeCaches } from "../../src/engine/kv-cache.ts";
import { readModelConfig } from "../../src/engine/model/files.ts";
import { loadModel } from "../../src/engine/model/loader.ts";
import { Parallel, pipelineLayers } from "../../src/engine/model/parallel.ts";
import { Sampler } from "../../src/engine/sampler.ts";

/** What one process measured. */
export interface RankRun {
  rank: number;
  size: number;
  mode: string;
  prefillTps: number;
  decodeTps: number;
  /** Decode step time, ms. */
  stepMs: number;
  /** The collectives of one decode step alone, ms (0 alone). */
  commMs: number;
  /** MLX's peak memory over the timed run, bytes. */
  peakBytes: number;
  tokens: number[];
}

const [dir, mode, promptFile, gen, warmup, commSteps] = process.argv.slice(2) as [
  string,
  "single" | "pipeline" | "tensor",
  string,
  string,
  string,
  string,
];
const prompt = JSON.parse(readFileSync(promptFile, "utf8")) as number[];
const config = readModelConfig(dir);
const group = mode === "single" ? undefined : distributed.initDistributed({ backend: "ring", strict: true });
const parallel =
  group &&
  new Parallel(
    group,
    mode === "pipeline"
      ? { mode, rank: group.rank, size: group.size, layers: pipelineLayers(config.numLayers, group.rank, group.size) }
      : { mode: "tensor", rank: group.rank, size: group.size },
  );
const model = loadModel(dir, { parallel });
const sampler = new Sampler({ temperature: 0, top_p: 1 });

/** One greedy generation: the time of its first token and of its last. */
function run(tokens: number): { first: number; last: number; ids: number[] } {
  const caches = makeCaches(config.numLayers);
  const t0 = performance.now();
  let first = 0;
  const ids: number[] = [];
  for (const id of generateTokens(model, caches, sampler, prompt, tokens)) {
    if (ids.length === 0) first = performance.now() - t0;
    ids.push(id);
  }
  const last = performance.now() - t0;
  freeCaches(caches);
  return { first, last, ids };
}

/** The collectives one decode step of `mode` runs, on arrays of its shapes, `steps` times: ms per step. */
function communication(steps: number): number {
  if (!group || !parallel) return 0;
  using h = ops.zeros([1, 1, config.hiddenSize], Dtype.float32);
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) {
    const out: MxArray[] = [];
    if (mode === "tensor") {
      // Two all_sums per layer (attention and MLP outputs).
      for (let l = 0; l < config.numLayers * 2; l++) out.push(distributed.allSum(h, group));
    } else {
      const { rank, size } = group;
      if (rank < size - 1) out.push(distributed.recvLike(h, rank + 1, group));
      if (rank > 0) out.push(distributed.send(h, rank - 1, group));
      ops.evaluate(...out);
      for (const a of out.splice(0)) a.free();
      out.push(distributed.allGather(h, group));
    }
    ops.evaluate(...out);
    for (const a of out) a.free();
  }
  return (performance.now() - t0) / steps;
}

if (Number(warmup) > 0) run(Number(warmup));
resetPeakMemory();
const timed = run(Number(gen));
const peakBytes = memoryStats().peak;
const commMs = communication(Number(commSteps));
const decodeMs = timed.last - timed.first;
const result: RankRun = {
  rank: group?.rank ?? 0,
  size: group?.size ?? 1,
  mode,
  prefillTps: prompt.length / (timed.first / 1000),
  decodeTps: (timed.ids.length - 1) / (decodeMs / 1000),
  stepMs: decodeMs / Math.max(1, timed.ids.length - 1),
  commMs,
  peakBytes,
  tokens: timed.ids,
};
sampler.free();
model.free();
console.log(JSON.stringify(result));
process.exit(0);
