/**
 * One model across two ranks (issue 17, item 4 in part): each rank its own Bun process joined over MLX's ring backend
 * on loopback, loading its share (src/engine/model/shard.ts) and running the engine's greedy generation loop with the
 * collectives of src/engine/model/parallel.ts, against the same loop in one process on the whole model:
 *
 * - pipeline: token-identical, for llama, mistral, qwen2 and qwen3, float32 and 4-bit;
 * - tensor: identical, or — where all_sum changes float rounding — the first divergence is reported with the
 *   single process's top-2 logit margin there, which must be within float tolerance;
 * - both ranks produce the same tokens (they sample the same logits) and leak no arrays.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { liveArrays, ops } from "bun-ffi-mlx-bindings";
import { generateTokens } from "../../src/engine/generate-step.ts";
import { freeCaches, makeCaches } from "../../src/engine/kv-cache.ts";
import { loadModel } from "../../src/engine/model/loader.ts";
import { Sampler } from "../../src/engine/sampler.ts";
import { BUN, makeModel, tempDir } from "../helpers/paths.ts";
import { freePort } from "../helpers/processes.ts";

const RANK_SCRIPT = join(import.meta.dir, "distributed-rank.ts");
const MAX_TOKENS = 12;
const PROMPT = [5, 17, 250, 33, 901, 64, 7, 128, 512, 3];
/** A tensor-parallel divergence is a rounding difference only below this top-2 logit margin (float32 logits). */
const MARGIN_TOLERANCE = 1e-3;
const DEADLINE_MS = 60_000;

const base = liveArrays();
afterAll(() => expect(liveArrays()).toBe(base));

/** Greedy tokens of the whole model in this process. */
function single(dir: string): number[] {
  const model = loadModel(dir);
  const caches = makeCaches(model.config.numLayers);
  const sampler = new Sampler({ temperature: 0, top_p: 1 });
  try {
    return [...generateTokens(model, caches, sampler, PROMPT, MAX_TOKENS)];
  } finally {
    freeCaches(caches);
    sampler.free();
    model.free();
  }
}

/** The single process's top-2 logit margin at the next token after `context`. */
function margin(dir: string, context: number[]): number {
  const model = loadModel(dir);
  const caches = makeCaches(model.config.numLayers);
  try {
    using ids = ops.fromArray(Int32Array.from(context), [1, context.length]);
    using logits = model.forward(ids, caches);
    using last = ops.slice(logits, [0, context.length - 1, 0], [1, context.length, model.config.vocabSize]);
    const values = Array.from(last.eval().toFloat32()).sort((a, b) => b - a);
    return (values[0] as number) - (values[1] as number);
  } finally {
    freeCaches(caches);
    model.free();
  }
}

interface RankResult {
  rank: number;
  tokens: number[];
  live: number;
}

/** Runs both ranks of `mode` on `dir`; each is killed at the deadline. */
async function twoRanks(dir: string, mode: "pipeline" | "tensor"): Promise<RankResult[]> {
  const hostfile = join(tempDir("ithaca-ring-"), "hostfile.json");
  const ports = [await freePort(), await freePort()];
  writeFileSync(hostfile, JSON.stringify(ports.map((port) => [`127.0.0.1:${port}`])));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("MLX_")));
  const ranks = [0, 1].map((rank) =>
    Bun.spawn([BUN, RANK_SCRIPT, dir, mode, String(MAX_TOKENS), JSON.stringify(PROMPT)], {
      env: { ...env, MLX_HOSTFILE: hostfile, MLX_RANK: String(rank) },
      stdout: "pipe",
      stderr: "pipe",
      timeout: DEADLINE_MS,
      killSignal: "SIGKILL",
    }),
  );
  return Promise.all(
    ranks.map(async (proc) => {
      const [out, err, code] = await Promise.all([
        new Response(proc.stdout).text(),
        new Response(proc.stderr).text(),
        proc.exited,
      ]);
      if (code !== 0) throw new Error(`rank exited ${code}: ${err.slice(-1000)}`);
      return JSON.parse(out.trim().split("\n").at(-1) as string) as RankResult;
    }),
  );
}

const MODELS = [
  ["llama", {}],
  ["mistral", {}],
  ["qwen2", {}],
  ["qwen3", {}],
  ["llama", { bits: 4, groupSize: 32 }],
  ["qwen3", { bits: 4, groupSize: 32 }],
] as const;

describe("two ranks on loopback", () => {
  for (const [arch, opts] of MODELS) {
    const label = `${arch}${"bits" in opts ? " 4-bit" : ""}`;
    test(`pipeline, ${label}: token-identical to one process`, async () => {
      const dir = makeModel(arch, { seed: 21, ...opts });
      const reference = single(dir);
      const ranks = await twoRanks(dir, "pipeline");
      expect(ranks.map((r) => r.tokens)).toEqual([reference, reference]);
      expect(ranks.map((r) => r.live)).toEqual([0, 0]);
    }, 90_000);

    test(`tensor, ${label}: identical to one process, or within float tolerance where it first differs`, async () => {
      const dir = makeModel(arch, { seed: 21, ...opts });
      const reference = single(dir);
      const ranks = await twoRanks(dir, "tensor");
      expect(ranks[1]?.tokens).toEqual(ranks[0]?.tokens as number[]);
      expect(ranks.map((r) => r.live)).toEqual([0, 0]);
      const got = ranks[0]?.tokens as number[];
      const at = got.findIndex((token, i) => token !== reference[i]);
      if (at !== -1) {
        const m = margin(dir, [...PROMPT, ...reference.slice(0, at)]);
        console.log(`${label} tensor: first divergence at token ${at}, top-2 logit margin ${m.toExponential(2)}`);
        expect(m).toBeLessThan(MARGIN_TOLERANCE);
      }
      expect(got.length).toBe(reference.length);
    }, 90_000);
  }
});
