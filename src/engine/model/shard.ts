/**
 * A rank's share of a model's weights, for running one model across the ranks of an MLX distributed group (issue
 * 17). Two ways, as mlx-lm shards its models:
 *
 * - **pipeline**: the rank keeps the layers `[start, end)` (their tensors keep their names, `model.layers.<i>.…`) and
 *   the embedding, final norm and output head (every rank computes the logits after the last stage's hidden state is
 *   shared, as mlx-lm's pipelined models do with `all_gather`);
 * - **tensor** (mlx-lm `utils.shard_linear` / `models/llama.py` `shard`): in every layer the projections into the
 *   heads and the MLP (`q_proj`, `k_proj`, `v_proj`, `gate_proj`, `up_proj`) keep their rows
 *   `[r·out/N, (r+1)·out/N)` — whole heads, as heads are contiguous rows — ("all-to-sharded"), and the projections
 *   out of them (`o_proj`, `down_proj`) keep their input columns `[r·in/N, (r+1)·in/N)` ("sharded-to-all": their
 *   outputs are summed across ranks with `all_sum`; a bias is rank 0's, the other ranks' are zeros, so it counts once). Quantized
 *   tensors are cut the same way: rows of the packed `uint32` weight and of its scales and biases, or columns in
 *   whole quantization groups. The rank's config has `num_attention_heads`, `num_key_value_heads` and
 *   `intermediate_size` divided by N.
 *
 * Shapes: float weight `[out, in]`; quantized weight `[out, in·bits/32]` (uint32), scales and biases
 * `[out, in/group_size]`.
 */
import { type MxArray, ops } from "bun-ffi-mlx-bindings";
import type { ModelConfig } from "./config.ts";

/** Projections cut by output rows in tensor mode (all-to-sharded). */
const ROW_SHARDED = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "mlp.gate_proj", "mlp.up_proj"];
/** Projections cut by input columns in tensor mode (sharded-to-all). */
const COLUMN_SHARDED = ["self_attn.o_proj", "mlp.down_proj"];

/** Which share of the model a rank holds. */
export type RankShare =
  | { mode: "pipeline"; rank: number; size: number; layers: [number, number] }
  | { mode: "tensor"; rank: number; size: number };

const LAYER = /^model\.layers\.(\d+)\./;

/**
 * The config of a rank's share: tensor mode divides the heads, KV heads and MLP width by N; a pipeline stage counts
 * only its own layers (one KV cache each).
 * @throws Error naming the field that N does not divide.
 */
export function shareConfig(config: ModelConfig, share: RankShare): ModelConfig {
  // A stage's KV caches are its layers' (the generation loop makes one per layer of the config).
  if (share.mode === "pipeline") return { ...config, numLayers: share.layers[1] - share.layers[0] };
  const n = share.size;
  for (const [field, value] of [
    ["num_attention_heads", config.numHeads],
    ["num_key_value_heads", config.numKvHeads],
    ["intermediate_size", config.intermediateSize],
  ] as const) {
    if (value % n !== 0)
      throw new Error(`tensor parallel on ${n} ranks needs ${field} divisible by ${n}, got ${value}`);
  }
  return {
    ...config,
    numHeads: config.numHeads / n,
    numKvHeads: config.numKvHeads / n,
    intermediateSize: config.intermediateSize / n,
  };
}

/**
 * `a`'s slice `[start, stop)` along `axis`, in a buffer of its own (a new lazy array): a slice alone is a view that
 * keeps the whole tensor's buffer alive, so it is multiplied by 1, which copies it bit for bit (−0 and NaN included).
 */
function cut(a: MxArray, axis: number, start: number, stop: number): MxArray {
  const from = a.shape.map(() => 0);
  const to = [...a.shape];
  from[axis] = start;
  to[axis] = stop;
  using view = ops.slice(a, from, to);
  using one = ops.full([], 1, a.dtype);
  return ops.multiply(view, one);
}

/** Replaces `name` in `weights` by its rank's part along `axis` (its length split in N), freeing the whole. */
function keepPart(weights: Map<string, MxArray>, name: string, axis: number, rank: number, n: number): void {
  const whole = weights.get(name);
  if (!whole) return;
  const length = whole.shape[axis] as number;
  if (length % n !== 0) throw new Error(`tensor '${name}': dimension ${axis} (${length}) is not divisible by ${n}`);
  const part = length / n;
  weights.set(name, cut(whole, axis, rank * part, (rank + 1) * part));
  whole.free();
}

/** Frees and removes `name` from `weights`, if there. */
function drop(weights: Map<string, MxArray>, name: string): void {
  weights.get(name)?.free();
  weights.delete(name);
}

/**
 * Cuts `weights` (the whole model's, as loaded) down to a rank's share, in place: tensors outside the share are freed
 * and removed, cut ones replaced by their (lazy) slices. The map then loads with `new DecoderModel(shareConfig(…),
 * weights)`.
 * @throws Error when a dimension is not divisible by N (a quantization group split across ranks included), or the
 *   share is not a valid one (rank out of range, an empty or out-of-range layer slice).
 */
export function shardWeights(weights: Map<string, MxArray>, config: ModelConfig, share: RankShare): void {
  const { rank, size } = share;
  if (!Number.isInteger(rank) || rank < 0 || rank >= size) throw new Error(`rank ${rank} is not in 0..${size - 1}`);
  if (share.mode === "pipeline") {
    const [start, end] = share.layers;
    if (!(start >= 0 && start < end && end <= config.numLayers)) {
      throw new Error(`layers [${start}, ${end}) are not a slice of the model's ${config.numLayers} layers`);
    }
    for (const name of [...weights.keys()]) {
      const layer = LAYER.exec(name);
      if (layer && (Number(layer[1]) < start || Number(layer[1]) >= end)) drop(weights, name);
    }
    return;
  }
  for (let i = 0; i < config.numLayers; i++) {
    for (const module of ROW_SHARDED) {
      const path = `model.layers.${i}.${module}`;
      for (const suffix of ["weight", "scales", "biases", "bias"])
        keepPart(weights, `${path}.${suffix}`, 0, rank, size);
    }
    for (const module of COLUMN_SHARDED) {
      const path = `model.layers.${i}.${module}`;
      const scales = weights.get(`${path}.scales`);
      if (scales && (scales.shape[1] as number) % size !== 0) {
        throw new Error(
          `'${path}': its ${scales.shape[1]} quantization groups per row cannot be split over ${size} ranks`,
        );
      }
      for (const suffix of ["weight", "scales", "biases"]) keepPart(weights, `${path}.${suffix}`, 1, rank, size);
      // The outputs are summed across ranks: the bias counts once, rank 0's; the others add zeros.
      const bias = weights.get(`${path}.bias`);
      if (bias && rank !== 0) {
        weights.set(`${path}.bias`, ops.zeros(bias.shape, bias.dtype));
        bias.free();
      }
    }
  }
}
