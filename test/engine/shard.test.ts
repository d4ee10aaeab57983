/**
 * A rank's share of a model (src/engine/model/shard.ts): the pipeline keeps its layers and the shared embedding, norm
 * and head; tensor parallel cuts the projections so that, rank by rank, the heads' projections concatenate to the
 * whole model's and the output projections' partial results sum to it — float (with qwen2's q/k/v biases) and 4-bit
 * quantized — and each share loads as a DecoderModel with the divided config. Checked on real generated models, in
 * one process (the collectives themselves: test/ffi/distributed.test.ts).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { Dtype, liveArrays, type MxArray, ops } from "bun-ffi-mlx-bindings";
import { ARCHITECTURES } from "../../src/engine/model/architectures/index.ts";
import { DecoderModel } from "../../src/engine/model/decoder.ts";
import { readModelConfig } from "../../src/engine/model/files.ts";
import { Linear } from "../../src/engine/model/linear.ts";
import { type RankShare, shardWeights, shareConfig } from "../../src/engine/model/shard.ts";
import { loadWeights } from "../../src/engine/model/weights.ts";
import { makeModel } from "../helpers/paths.ts";

const base = liveArrays();
afterAll(() => expect(liveArrays()).toBe(base));

/** The model's weights as its loader reads them, and its config. */
function load(dir: string) {
  const config = readModelConfig(dir);
  const weights = loadWeights(dir, (name) => ARCHITECTURES[config.arch].dropsWeight(name, config));
  return { config, weights };
}

function freeAll(weights: Map<string, MxArray>): void {
  for (const a of weights.values()) a.free();
  weights.clear();
}

/** `a` as a flat JS array of numbers (float32). */
function values(a: MxArray): number[] {
  using f = ops.astype(a, Dtype.float32);
  return Array.from(f.eval().toFloat32());
}

function closeTo(got: number[], want: number[], tolerance: number): void {
  expect(got.length).toBe(want.length);
  const worst = Math.max(...got.map((g, i) => Math.abs(g - (want[i] as number))));
  expect(worst).toBeLessThan(tolerance);
}

describe("pipeline", () => {
  test("a stage keeps its layers (names unchanged) and the embedding, norm and head; the rest is freed", () => {
    const dir = makeModel("qwen3", { seed: 3 });
    const { config, weights } = load(dir);
    const all = [...weights.keys()];
    shardWeights(weights, config, { mode: "pipeline", rank: 1, size: 2, layers: [1, 2] });
    const kept = [...weights.keys()];
    expect(kept.some((n) => n.startsWith("model.layers.0."))).toBe(false);
    expect(kept.filter((n) => n.startsWith("model.layers.1."))).toEqual(
      all.filter((n) => n.startsWith("model.layers.1.")),
    );
    expect(kept).toContain("model.embed_tokens.weight");
    expect(kept).toContain("model.norm.weight");
    freeAll(weights);
  });

  test("a slice outside the model, or a rank outside the group, is refused", () => {
    const { config, weights } = load(makeModel("qwen3", { seed: 3 }));
    expect(() => shardWeights(weights, config, { mode: "pipeline", rank: 0, size: 2, layers: [1, 9] })).toThrow(
      "not a slice",
    );
    expect(() => shardWeights(weights, config, { mode: "tensor", rank: 2, size: 2 })).toThrow("not in 0..1");
    freeAll(weights);
  });
});

describe("tensor", () => {
  for (const [arch, opts, tolerance] of [
    ["qwen2", {}, 1e-4],
    ["llama", { bits: 4, groupSize: 32 }, 1e-3],
  ] as const) {
    test(`${arch}${"bits" in opts ? " 4-bit" : ""}: sharded projections recompose the whole layer; shares load`, () => {
      const dir = makeModel(arch, { seed: 5, ...opts });
      const n = 2;
      const whole = load(dir);
      const shares = Array.from({ length: n }, (_, rank) => {
        const share: RankShare = { mode: "tensor", rank, size: n };
        const loaded = load(dir);
        shardWeights(loaded.weights, loaded.config, share);
        return { ...loaded, config: shareConfig(loaded.config, share) };
      });
      const c = whole.config;
      const p = "model.layers.0";
      const linear = (
        w: Map<string, MxArray>,
        cfg: typeof c,
        module: string,
        inDims: number,
        outDims: number,
        bias: boolean,
      ) => Linear.from(w, `${p}.${module}`, { inDims, outDims, bias }, cfg);
      using x = ops.fromArray(
        Float32Array.from({ length: 3 * c.hiddenSize }, (_, i) => Math.sin(i)),
        [1, 3, c.hiddenSize],
      );
      // All-to-sharded: q's rows are heads; each rank's output is its heads, in rank order.
      const qDims = c.numHeads * c.headDim;
      const q = linear(whole.weights, c, "self_attn.q_proj", c.hiddenSize, qDims, c.attentionBias);
      using qWhole = q.forward(x);
      const qParts = shares.map((s) =>
        linear(s.weights, s.config, "self_attn.q_proj", c.hiddenSize, qDims / n, c.attentionBias),
      );
      const qOuts = qParts.map((l) => l.forward(x));
      using qJoined = ops.concatenate(qOuts, 2);
      closeTo(values(qJoined), values(qWhole), tolerance);
      // Sharded-to-all: down's input columns; the partial products sum to the whole.
      using h = ops.fromArray(
        Float32Array.from({ length: 3 * c.intermediateSize }, (_, i) => Math.cos(i) / 4),
        [1, 3, c.intermediateSize],
      );
      const down = linear(whole.weights, c, "mlp.down_proj", c.intermediateSize, c.hiddenSize, c.mlpBias);
      using downWhole = down.forward(h);
      const part = c.intermediateSize / n;
      const downParts = shares.map((s, rank) => {
        const l = linear(s.weights, s.config, "mlp.down_proj", part, c.hiddenSize, c.mlpBias);
        using hPart = ops.slice(h, [0, 0, rank * part], [1, 3, (rank + 1) * part]);
        const y = l.forward(hPart);
        l.free();
        return y;
      });
      using summed = ops.add(downParts[0] as MxArray, downParts[1] as MxArray);
      closeTo(values(summed), values(downWhole), tolerance);
      for (const a of [...qOuts, ...downParts]) a.free();
      for (const l of [q, down, ...qParts]) l.free();
      for (const s of shares) freeAll(s.weights);
      // Each share, whole, loads as a model of the divided config: every layer's shapes check out.
      for (let rank = 0; rank < n; rank++) {
        const share: RankShare = { mode: "tensor", rank, size: n };
        const fresh = load(dir);
        shardWeights(fresh.weights, fresh.config, share);
        const config = shareConfig(fresh.config, share);
        expect([config.numHeads, config.numKvHeads, config.intermediateSize]).toEqual([
          c.numHeads / n,
          c.numKvHeads / n,
          c.intermediateSize / n,
        ]);
        const model = new DecoderModel(config, fresh.weights);
        expect(fresh.weights.size).toBe(0);
        model.free();
      }
      freeAll(whole.weights);
    });
  }

  test("a dimension or a quantization group that N does not divide is refused, naming it", () => {
    const { config, weights } = load(makeModel("llama", { seed: 5, bits: 4, groupSize: 64 }));
    expect(() => shardWeights(weights, config, { mode: "tensor", rank: 0, size: 2 })).toThrow("quantization groups");
    freeAll(weights);
    const c = load(makeModel("qwen3", { seed: 3 }));
    expect(() => shareConfig(c.config, { mode: "tensor", rank: 0, size: 3 })).toThrow("num_attention_heads");
    freeAll(c.weights);
  });
});
