/**
 * `engine.matmul_streams`: a quantized model's matmuls spread over CPU streams (src/engine/model/linear.ts,
 * `Linear.spread`). Spread output is bit-identical to the whole matmul's, so greedy output stays token-identical to
 * mlx-lm's; the bands are views of the loaded weights (no memory added) and are freed with the model.
 * On a bfloat16 model quantized to 4 bits, as mlx-community checkpoints are, of the "small" size: some of its layers
 * are big enough to spread and some are not.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Dtype, liveArrays, memoryStats, ops } from "bun-ffi-mlx-bindings";
import { freeCaches, makeCaches } from "../../src/engine/kv-cache.ts";
import type { DecoderModel } from "../../src/engine/model/decoder.ts";
import { loadModel } from "../../src/engine/model/loader.ts";
import { makeModel } from "../helpers/paths.ts";
import { engineGreedy, type GreedyReference, mlxLmGreedy } from "./mlx-lm-reference.ts";

const MAX_TOKENS = 24;
const MESSAGES = [{ role: "user", content: "Name three rivers and the seas they flow into." }];
/** Linear layers of the "small" qwen3 (4 layers × 7, and the tied embedding table). */
const LINEARS = 4 * 7 + 1;

let dir: string;
let reference: GreedyReference;
const base = liveArrays();

beforeAll(() => {
  dir = makeModel("qwen3", { seed: 13, size: "small", dtype: "bfloat16", bits: 4 });
  reference = mlxLmGreedy(MESSAGES, MAX_TOKENS, [dir])[dir] as GreedyReference;
}, 60_000);

afterAll(() => expect(liveArrays()).toBe(base));

function withModel<T>(options: Parameters<typeof loadModel>[1], use: (model: DecoderModel) => T): T {
  const model = loadModel(dir, options);
  try {
    return use(model);
  } finally {
    model.free();
  }
}

test("spread over 3 streams: the big layers are spread, the small ones not, greedy tokens identical to mlx-lm", () => {
  withModel({ matmulStreams: 3 }, (model) => {
    // gate/up/down (512×256 weights) and the embedding table (1024×256) spread; q/o (256×256) and k/v stay whole.
    expect(model.spreadLayers).toBe(4 * 3 + 1);
    expect(model.spreadLayers).toBeLessThan(LINEARS);
    expect(engineGreedy(model, dir, MESSAGES, MAX_TOKENS)).toEqual(reference);
  });
  withModel({ matmulStreams: 1 }, (model) => expect(model.spreadLayers).toBe(0));
});

/** Logits of an 8-token prefill and of the decode step after it, as float32 values. */
function logits(options: Parameters<typeof loadModel>[1]): { prefill: number[]; decode: number[]; dtype: Dtype } {
  return withModel(options, (model) => {
    const caches = makeCaches(model.config.numLayers);
    try {
      using ids = ops.fromArray(Int32Array.from([5, 17, 300, 2, 99, 640, 7, 1000]), [1, 8]);
      using prefill = model.forward(ids, caches);
      using next = ops.fromArray(Int32Array.from([42]), [1, 1]);
      using decode = model.forward(next, caches);
      using p32 = ops.astype(prefill, Dtype.float32);
      using d32 = ops.astype(decode, Dtype.float32);
      return { prefill: Array.from(p32.toFloat32()), decode: Array.from(d32.toFloat32()), dtype: prefill.dtype };
    } finally {
      freeCaches(caches);
    }
  });
}

test("logits are bit-identical to the unspread model's, prefill and decode, with upcast scales too", () => {
  for (const upcastScales of [false, true]) {
    const whole = logits({ upcastScales });
    const spread = logits({ upcastScales, matmulStreams: 2 });
    expect(spread.dtype).toBe(whole.dtype);
    expect(spread.prefill).toEqual(whole.prefill);
    expect(spread.decode).toEqual(whole.decode);
  }
});

test("the bands are views: a spread model holds no more MLX memory than a whole one, and frees all of it", () => {
  const held = (matmulStreams: number) => {
    const before = memoryStats().active;
    return withModel({ matmulStreams }, (model) => {
      expect(model.spreadLayers > 0).toBe(matmulStreams > 1);
      return memoryStats().active - before;
    });
  };
  const whole = held(1);
  const spread = held(4);
  expect(whole).toBeGreaterThan(0);
  expect(spread).toBe(whole);
  const after = memoryStats().active;
  withModel({ matmulStreams: 4 }, () => {});
  expect(memoryStats().active).toBe(after);
});
