/**
 * Continuous batching (issue 16 item 1) against mlx-lm's `BatchGenerator`, the reference: on the same model files and
 * prompt ids, Ithaca's {@link BatchGenerator} driven call by call produces exactly the token ids mlx-lm's produces —
 * prompts of unequal lengths prefilled together (right-padded, rolled into left padding), sequences leaving at
 * different lengths, sequences joining a running batch after a chunked prefill, and a sequence starting from a cached
 * prefix. mlx-lm runs once per job, in one Python process. No MLX array outlives the batch.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { liveArrays, ops } from "bun-ffi-mlx-bindings";
import { BatchGenerator, type BatchOptions } from "../../src/engine/batch-generator.ts";
import { freeCaches, makeCaches } from "../../src/engine/kv-cache.ts";
import type { DecoderModel } from "../../src/engine/model/decoder.ts";
import { loadModel } from "../../src/engine/model/loader.ts";
import { Sampler } from "../../src/engine/sampler.ts";
import { ModelTokenizer } from "../../src/engine/tokenizer.ts";
import { makeModel, type TestModelOptions } from "../helpers/paths.ts";
import { runMlxLm } from "./mlx-lm-reference.ts";

/** One sequence of a job: prompt ids, its `max_tokens`, the `next()` call it joins before, tokens already cached. */
interface Seq {
  prompt: number[];
  max_tokens: number;
  join_at: number;
  cached?: number;
}

interface Job {
  name: string;
  model: { arch: "qwen3" | "llama"; opts: TestModelOptions };
  sizes: { prefill_step_size: number; prefill_batch_size: number; completion_batch_size: number };
  sequences: Seq[];
}

/** Deterministic prompt ids in [3, vocab) (a linear congruential sequence seeded by `seed`). */
function promptIds(n: number, seed: number, vocab = 1024): number[] {
  let x = seed;
  return Array.from({ length: n }, () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return 3 + (x % (vocab - 3));
  });
}

const SIZES = { prefill_step_size: 2048, prefill_batch_size: 8, completion_batch_size: 32 };
const JOBS: Job[] = [
  {
    name: "four prompts of unequal length at once (batch_generate), leaving at different lengths",
    model: { arch: "qwen3", opts: { seed: 5 } },
    sizes: SIZES,
    sequences: [
      { prompt: promptIds(17, 1), max_tokens: 40, join_at: 0 },
      { prompt: promptIds(5, 2), max_tokens: 12, join_at: 0 },
      { prompt: promptIds(30, 3), max_tokens: 28, join_at: 0 },
      { prompt: promptIds(9, 4), max_tokens: 40, join_at: 0 },
    ],
  },
  {
    name: "joining a running batch after a chunked prefill, leaving mid-way, a cached prefix",
    model: { arch: "qwen3", opts: { seed: 6 } },
    sizes: { prefill_step_size: 8, prefill_batch_size: 2, completion_batch_size: 4 },
    sequences: [
      { prompt: promptIds(12, 5), max_tokens: 30, join_at: 0 },
      { prompt: promptIds(3, 6), max_tokens: 6, join_at: 0 },
      { prompt: promptIds(25, 7), max_tokens: 20, join_at: 4 },
      { prompt: promptIds(40, 8), max_tokens: 16, join_at: 5, cached: 21 },
      { prompt: promptIds(2, 9), max_tokens: 10, join_at: 9 },
      { prompt: promptIds(19, 10), max_tokens: 10, join_at: 9 },
    ],
  },
  {
    name: "llama 4-bit: unequal prompts at once, then a late joiner",
    model: { arch: "llama", opts: { seed: 7, bits: 4 } },
    sizes: SIZES,
    sequences: [
      { prompt: promptIds(11, 11), max_tokens: 24, join_at: 0 },
      { prompt: promptIds(23, 12), max_tokens: 10, join_at: 0 },
      { prompt: promptIds(6, 13), max_tokens: 24, join_at: 3 },
    ],
  },
];

/** Runs a job through Ithaca's BatchGenerator exactly as mlx_lm_batch.py drives mlx-lm's. */
function ithacaBatch(model: DecoderModel, eos: ReadonlySet<number>, job: Job): number[][] {
  const opts: BatchOptions = {
    completionBatchSize: job.sizes.completion_batch_size,
    prefillBatchSize: job.sizes.prefill_batch_size,
    prefillStepSize: job.sizes.prefill_step_size,
  };
  const batch = new BatchGenerator(model, opts);
  const tokens: number[][] = job.sequences.map(() => []);
  let finished = 0;
  for (let call = 0; finished < job.sequences.length; call++) {
    job.sequences.forEach((s, i) => {
      if (s.join_at !== call) return;
      const caches = makeCaches(model.config.numLayers);
      const cached = s.cached ?? 0;
      if (cached > 0) {
        using ids = ops.fromArray(Int32Array.from(s.prompt.slice(0, cached)), [1, cached]);
        model.forward(ids, caches).free();
        ops.evaluate(...caches.flatMap((c) => c.state()));
      }
      const sampler = new Sampler({ temperature: 0, top_p: 1 });
      const seq = {
        sampling: { sampler },
        onToken: ({ token }: { token: number }) => {
          if (eos.has(token)) return false;
          tokens[i]!.push(token);
          return tokens[i]!.length < s.max_tokens;
        },
        onLeave: (left: ReturnType<typeof makeCaches>) => {
          freeCaches(left);
          sampler.free();
          finished++;
        },
      };
      batch.insert(i, seq, s.prompt.slice(cached), caches);
    });
    batch.next();
  }
  expect(batch.size).toBe(0);
  return tokens;
}

function mlxLmBatch(dir: string, job: Job): number[][] {
  const input = { model: dir, ...job.sizes, sequences: job.sequences };
  return runMlxLm<{ tokens: number[][] }>("mlx_lm_batch.py", input).tokens;
}

const base = liveArrays();
const dirs = new Map<string, string>();
beforeAll(() => {
  for (const job of JOBS) dirs.set(job.name, makeModel(job.model.arch, job.model.opts));
});
afterAll(() => expect(liveArrays()).toBe(base));

describe.each(JOBS)("greedy batch parity with mlx-lm BatchGenerator: $name", (job) => {
  test("token ids identical for every sequence", () => {
    const dir = dirs.get(job.name)!;
    const reference = mlxLmBatch(dir, job);
    const model = loadModel(dir);
    try {
      const eos = new ModelTokenizer(dir, model.config.eosTokenIds).eosTokenIds;
      const ours = ithacaBatch(model, eos, job);
      expect(ours).toEqual(reference);
      // Sequences ran to their own lengths and produced varied tokens (a degenerate model would prove little).
      expect(ours.map((t) => t.length)).toEqual(job.sequences.map((s) => s.max_tokens));
      for (const t of ours) expect(new Set(t).size).toBeGreaterThan(Math.min(4, t.length - 1));
    } finally {
      model.free();
    }
  }, 120_000);
});
