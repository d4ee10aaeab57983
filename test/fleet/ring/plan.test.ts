/**
 * Ring cluster planning (src/fleet/ring/plan.ts): which modes a model allows on N ranks, the pipeline's layer split
 * by memory budget, the fit checks with OdyssAI-X's margins, and the load options listed for every choice.
 */
import { describe, expect, test } from "bun:test";
import { checkMode, isRefusal, loadOptions, planRing, type RingModelFacts } from "../../../src/fleet/ring/plan.ts";
import { splitLayers } from "../../../src/engine/model/stages.ts";

const GIB = 1024 ** 3;
/** Qwen3-0.6B's shape: 28 layers, 16 heads, 8 KV heads, MLP 3072; 1.2 GiB of weights. */
const QWEN3: RingModelFacts = {
  modelType: "qwen3",
  layers: 28,
  heads: 16,
  kvHeads: 8,
  intermediateSize: 3072,
  bytes: 1.2 * GIB,
};

describe("checkMode", () => {
  test("the four architectures pass; others are invalid_mode_for_model naming model_type", () => {
    for (const modelType of ["llama", "mistral", "qwen2", "qwen3"]) {
      expect(checkMode({ ...QWEN3, modelType }, "pipeline", 2)).toBeUndefined();
    }
    const refused = checkMode({ ...QWEN3, modelType: "gemma3" }, "tensor", 2);
    expect(refused?.code).toBe("invalid_mode_for_model");
    expect(refused?.reason).toContain("gemma3");
  });

  test("pipeline needs at least one layer per rank", () => {
    expect(checkMode({ ...QWEN3, layers: 2 }, "pipeline", 2)).toBeUndefined();
    expect(checkMode({ ...QWEN3, layers: 2 }, "pipeline", 3)?.reason).toContain("at least 3 layers");
  });

  test("tensor needs heads, KV heads and the MLP width divisible by N, naming the field that is not", () => {
    expect(checkMode(QWEN3, "tensor", 2)).toBeUndefined();
    expect(checkMode(QWEN3, "tensor", 4)).toBeUndefined();
    expect(checkMode(QWEN3, "tensor", 3)?.reason).toContain("num_attention_heads");
    expect(checkMode({ ...QWEN3, kvHeads: 2 }, "tensor", 4)?.reason).toContain("num_key_value_heads");
    expect(checkMode({ ...QWEN3, intermediateSize: 3070 }, "tensor", 4)?.reason).toContain("intermediate_size");
  });

  test("zero ranks is refused", () => {
    expect(checkMode(QWEN3, "pipeline", 0)?.code).toBe("invalid_mode_for_model");
  });
});

describe("splitLayers", () => {
  test("equal budgets: equal contiguous slices covering every layer in order", () => {
    expect(splitLayers(28, [1, 1])).toEqual([
      [0, 14],
      [14, 28],
    ]);
    expect(splitLayers(10, [5, 5, 5])).toEqual([
      [0, 4],
      [4, 7],
      [7, 10],
    ]);
  });

  test("in proportion to the budgets, at least one layer each", () => {
    expect(splitLayers(28, [3 * GIB, 1 * GIB])).toEqual([
      [0, 21],
      [21, 28],
    ]);
    expect(splitLayers(4, [1000, 1, 1])).toEqual([
      [0, 2],
      [2, 3],
      [3, 4],
    ]);
  });

  test("every split covers 0..layers without gaps, whatever the budgets", () => {
    for (let layers = 3; layers < 40; layers += 5) {
      for (const budgets of [
        [1, 2, 3],
        [7, 7, 7],
        [100, 1, 50],
      ]) {
        const slices = splitLayers(layers, budgets);
        expect(slices[0]?.[0]).toBe(0);
        expect(slices.at(-1)?.[1]).toBe(layers);
        for (let i = 1; i < slices.length; i++) expect(slices[i]?.[0]).toBe(slices[i - 1]?.[1] as number);
        for (const [start, end] of slices) expect(end - start).toBeGreaterThanOrEqual(1);
      }
    }
  });

  test("fewer layers than ranks, or no rank, throws", () => {
    expect(() => splitLayers(2, [1, 1, 1])).toThrow(RangeError);
    expect(() => splitLayers(2, [])).toThrow(RangeError);
  });
});

describe("planRing", () => {
  test("pipeline shares follow the layers; tensor shares are 1/N; budgets are reported", () => {
    const pipeline = planRing(QWEN3, "pipeline", [4 * GIB, 4 * GIB]);
    if (isRefusal(pipeline)) throw new Error(pipeline.reason);
    // Stages in reverse rank order: rank 1 the first layers.
    expect(pipeline.ranks.map((r) => r.layers)).toEqual([
      [14, 28],
      [0, 14],
    ]);
    expect(pipeline.ranks[0]?.bytes).toBe(Math.ceil(0.6 * GIB));
    const tensor = planRing(QWEN3, "tensor", [4 * GIB, 4 * GIB]);
    if (isRefusal(tensor)) throw new Error(tensor.reason);
    expect(tensor.ranks.map((r) => [r.layers, r.bytes, r.budgetBytes])).toEqual([
      [[0, 28], Math.ceil(0.6 * GIB), 4 * GIB],
      [[0, 28], Math.ceil(0.6 * GIB), 4 * GIB],
    ]);
  });

  test("the whole model × 1.15 must fit the sum of the budgets", () => {
    const refused = planRing(QWEN3, "pipeline", [0.65 * GIB, 0.65 * GIB]);
    expect(isRefusal(refused) && refused.code).toBe("model_too_big_for_cluster");
    expect(isRefusal(refused) && refused.reason).toContain("× 1.15");
  });

  test("each share × 1.10 must fit its own node: a small node refuses tensor, a budget-weighted pipeline fits", () => {
    const budgets = [2 * GIB, 0.5 * GIB];
    const tensor = planRing(QWEN3, "tensor", budgets);
    expect(isRefusal(tensor) && tensor.reason).toContain("rank 1's share");
    const pipeline = planRing(QWEN3, "pipeline", budgets);
    if (isRefusal(pipeline)) throw new Error(pipeline.reason);
    expect(pipeline.ranks.map((r) => r.layers)).toEqual([
      [6, 28],
      [0, 6],
    ]);
    for (const share of pipeline.ranks) expect(share.bytes * 1.1).toBeLessThanOrEqual(share.budgetBytes);
  });
});

describe("loadOptions", () => {
  test("every (nodes, mode) from 1 to N, with fits and a reason when not", () => {
    const options = loadOptions(QWEN3, [1 * GIB, 4 * GIB, 4 * GIB]);
    expect(options.map((o) => [o.nodes, o.mode, o.fits])).toEqual([
      [1, "pipeline", false],
      [1, "tensor", false],
      [2, "pipeline", true],
      [2, "tensor", true],
      [3, "pipeline", true],
      [3, "tensor", false],
    ]);
    expect(options[0]?.code).toBe("model_too_big_for_cluster");
    expect(options[5]?.code).toBe("invalid_mode_for_model");
    expect(options[2]?.ranks?.length).toBe(2);
  });
});
