/**
 * The dense decoder-only transformer shared by llama, mistral, qwen2 and qwen3, following mlx-lm's
 * `models/llama.py`, `models/qwen2.py` and `models/qwen3.py` op for op (reference/mlx-c-binding.md §4.3), so greedy
 * decoding matches mlx-lm token for token on the same weights. What differs between them (projection biases, q/k
 * norm, tied embeddings) comes in the config, as architectures/ sets it. RoPE variants: rope.ts; quantized layers:
 * linear.ts. SwiGLU (compiled in mlx-lm too), RMSNorm and decode-time RoPE run as compiled MLX functions with the
 * same values (bun-ffi-mlx-bindings `kernels`).
 *
 * Shapes: B batch, L new tokens, D hidden, Hq/Hkv heads, d head_dim, V vocab.
 */
import type { Pointer } from "bun:ffi";
import { kernels, MxArray, ops } from "bun-ffi-mlx-bindings";
import type { AttentionInputs, LayerCache } from "../kv-cache.ts";
import type { ModelConfig } from "./config.ts";
import { Embedding, Linear, type QuantLoadOptions, takeShaped } from "./linear.ts";
import type { Parallel } from "./parallel.ts";
import { Rope } from "./rope.ts";

interface Layer {
  inputNorm: MxArray;
  postAttentionNorm: MxArray;
  q: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  qNorm?: MxArray;
  kNorm?: MxArray;
  gate: Linear;
  up: Linear;
  down: Linear;
}

export class DecoderModel {
  readonly config: ModelConfig;
  readonly #embed: Embedding;
  readonly #layers: Layer[];
  readonly #norm: MxArray;
  readonly #lmHead: Linear | undefined;
  readonly #rope: Rope;
  readonly #scale: number;
  /** This rank's part when the model is spread over a distributed group (./parallel.ts). */
  readonly #parallel: Parallel | undefined;

  /**
   * Builds the model from its weights, sanitized as the architecture requires (a tied `lm_head.weight` already
   * dropped: architectures/), taking ownership of every tensor in `weights` (the map is emptied, also on failure:
   * nothing stays allocated).
   * @throws Error naming a missing or mis-shaped tensor, a config/weights quantization mismatch, or listing
   *   tensors the architecture does not use (mlx-lm loads strictly too).
   * @param options how quantized layers are loaded (upcast scales: see {@link QuantLoadOptions}); `parallel`: this
   *   rank's part of a model spread over ranks, `weights` and `config` being its share (./shard.ts): a pipeline
   *   stage builds only its layers (`caches[i]` is then its i-th layer's).
   */
  constructor(
    config: ModelConfig,
    weights: Map<string, MxArray>,
    options: QuantLoadOptions & { parallel?: Parallel } = {},
  ) {
    this.config = config;
    this.#parallel = options.parallel;
    const built: { free(): void }[] = [];
    const keep = <T extends { free(): void }>(x: T): T => {
      built.push(x);
      return x;
    };
    const c = config;
    const lin = (path: string, inDims: number, outDims: number, bias: boolean) =>
      keep(Linear.from(weights, path, { inDims, outDims, bias }, c, options));
    const norm = (name: string, dims: number) => keep(takeShaped(weights, name, [dims]));
    try {
      this.#embed = Embedding.from(weights, "model.embed_tokens", c.vocabSize, c.hiddenSize, c, options);
      keep(this.#embed.table);
      this.#layers = [];
      const qDims = c.numHeads * c.headDim;
      const kvDims = c.numKvHeads * c.headDim;
      const [first, end] = options.parallel?.layers ?? [0, c.numLayers];
      for (let i = first; i < end; i++) {
        const p = `model.layers.${i}`;
        this.#layers.push({
          inputNorm: norm(`${p}.input_layernorm.weight`, c.hiddenSize),
          postAttentionNorm: norm(`${p}.post_attention_layernorm.weight`, c.hiddenSize),
          q: lin(`${p}.self_attn.q_proj`, c.hiddenSize, qDims, c.attentionBias),
          k: lin(`${p}.self_attn.k_proj`, c.hiddenSize, kvDims, c.attentionBias),
          v: lin(`${p}.self_attn.v_proj`, c.hiddenSize, kvDims, c.attentionBias),
          o: lin(`${p}.self_attn.o_proj`, qDims, c.hiddenSize, c.outputBias),
          qNorm: c.qkNorm ? norm(`${p}.self_attn.q_norm.weight`, c.headDim) : undefined,
          kNorm: c.qkNorm ? norm(`${p}.self_attn.k_norm.weight`, c.headDim) : undefined,
          gate: lin(`${p}.mlp.gate_proj`, c.hiddenSize, c.intermediateSize, c.mlpBias),
          up: lin(`${p}.mlp.up_proj`, c.hiddenSize, c.intermediateSize, c.mlpBias),
          down: lin(`${p}.mlp.down_proj`, c.intermediateSize, c.hiddenSize, c.mlpBias),
        });
      }
      this.#norm = norm("model.norm.weight", c.hiddenSize);
      this.#lmHead = c.tieWordEmbeddings ? undefined : lin("lm_head", c.hiddenSize, c.vocabSize, false);
      if (weights.size) {
        const names = [...weights.keys()];
        throw new Error(
          `unexpected tensors for ${c.arch}: ${names.slice(0, 5).join(", ")}${names.length > 5 ? ", ..." : ""}`,
        );
      }
      this.#rope = keep(new Rope(c.headDim, c.ropeTheta, c.ropeTraditional, c.ropeScaling));
    } catch (err) {
      for (const x of built) x.free();
      for (const a of weights.values()) a.free();
      weights.clear();
      throw err;
    }
    this.#scale = 1 / Math.sqrt(c.headDim);
  }

  /** Every parameter array (to evaluate once after loading). */
  parameters(): MxArray[] {
    const out: MxArray[] = [...this.#embed.table.arrays(), this.#norm, ...(this.#lmHead?.arrays() ?? [])];
    for (const l of this.#layers) {
      out.push(
        l.inputNorm,
        l.postAttentionNorm,
        ...[l.q, l.k, l.v, l.o, l.gate, l.up, l.down].flatMap((x) => x.arrays()),
      );
      if (l.qNorm) out.push(l.qNorm);
      if (l.kNorm) out.push(l.kNorm);
    }
    return out;
  }

  /** Total parameter bytes. */
  get nbytes(): number {
    return this.parameters().reduce((n, a) => n + a.nbytes, 0);
  }

  /**
   * Runs the model on `ids: [B, L]` (int32), appending to `caches` (one per layer: a `KVCache` for one sequence, a
   * left-padded `BatchKVCache` for a batch). The mask and RoPE offsets come from the first layer's cache, as mlx-lm's
   * `create_attention_mask(h, cache[0])`; every layer holds the same positions.
   * @returns logits `[B, L, V]` (owned by the caller; lazy).
   */
  forward(ids: MxArray, caches: LayerCache[]): MxArray {
    let h = this.#embed.forward(ids);
    const at = caches[0]!.attentionInputs(ids.shape[1]!);
    try {
      if (this.#parallel) h = this.#parallel.enter(h);
      for (let i = 0; i < this.#layers.length; i++) {
        const next = this.#block(this.#layers[i]!, h, caches[i]!, at);
        h.free();
        h = next;
      }
      if (this.#parallel) h = this.#parallel.leave(h);
      using normed = kernels.rmsNorm(h, this.#norm, this.config.rmsNormEps);
      return this.#lmHead ? this.#lmHead.forward(normed) : this.#embed.asLinear(normed);
    } finally {
      h.free();
      if (at.mask instanceof MxArray) at.mask.free();
      if (at.offset instanceof MxArray) at.offset.free();
    }
  }

  /** One transformer block: `h + attn(norm(h))`, then `+ mlp(norm(·))`. */
  #block(l: Layer, h: MxArray, cache: LayerCache, at: AttentionInputs): MxArray {
    using x = kernels.rmsNorm(h, l.inputNorm, this.config.rmsNormEps);
    using attn = this.#sum(this.#attention(l, x, cache, at));
    using r = ops.add(h, attn);
    using x2 = kernels.rmsNorm(r, l.postAttentionNorm, this.config.rmsNormEps);
    using gate = l.gate.forward(x2);
    using up = l.up.forward(x2);
    using act = kernels.swiglu(gate, up); // mlx-lm's compiled swiglu: one fused kernel
    using down = this.#sum(l.down.forward(act));
    return ops.add(r, down);
  }

  /** A sharded projection's output summed over the ranks (tensor parallel); `x` itself otherwise. */
  #sum(x: MxArray): MxArray {
    return this.#parallel ? this.#parallel.sum(x) : x;
  }

  #attention(l: Layer, x: MxArray, cache: LayerCache, at: AttentionInputs): MxArray {
    const c = this.config;
    const [B, L] = x.shape as [number, number];
    using q0 = l.q.forward(x);
    using k0 = l.k.forward(x);
    using v0 = l.v.forward(x);
    using q1 = ops.reshape(q0, [B, L, c.numHeads, -1]);
    using k1 = ops.reshape(k0, [B, L, c.numKvHeads, -1]);
    using v1 = ops.reshape(v0, [B, L, c.numKvHeads, -1]);
    // qwen3: per-head RMSNorm of q and k before RoPE.
    const q2 = l.qNorm && kernels.rmsNorm(q1, l.qNorm, c.rmsNormEps);
    const k2 = l.kNorm && kernels.rmsNorm(k1, l.kNorm, c.rmsNormEps);
    using q3 = ops.transpose(q2 || q1, [0, 2, 1, 3]);
    using k3 = ops.transpose(k2 || k1, [0, 2, 1, 3]);
    q2?.free();
    k2?.free();
    using v3 = ops.transpose(v1, [0, 2, 1, 3]);
    using q4 = this.#rope.apply(q3, at.offset);
    using k4 = this.#rope.apply(k3, at.offset);
    const [keys, values] = cache.updateAndFetch(k4, v3);
    using _k = keys;
    using _v = values;
    using o = ops.scaledDotProductAttention(q4, keys, values, this.#scale, at.mask);
    using o1 = ops.transpose(o, [0, 2, 1, 3]);
    using o2 = ops.reshape(o1, [B, L, -1]);
    return l.o.forward(o2);
  }

  /** Every linear layer: the embedding table (also the tied output projection), the layers', the output head. */
  #linears(): Linear[] {
    const out = [this.#embed.table, ...this.#layers.flatMap((l) => [l.q, l.k, l.v, l.o, l.gate, l.up, l.down])];
    if (this.#lmHead) out.push(this.#lmHead);
    return out;
  }

  /**
   * Spreads every quantized matmul over `streams` (the default stream first, then extra CPU streams; see
   * {@link Linear.spread}) and evaluates the band views. Output is bit-identical; decode runs about
   * `streams.length`× faster where the quantized matmul is the bottleneck (MLX on the CPU).
   */
  spreadMatmuls(streams: readonly Pointer[]): void {
    ops.evaluate(...this.#linears().flatMap((linear) => linear.spread(streams)));
  }

  /** How many of its linear layers are spread over streams ({@link spreadMatmuls}). */
  get spreadLayers(): number {
    return this.#linears().filter((linear) => linear.spreadOver > 1).length;
  }

  /** Frees every parameter (and the band views of a spread model) and the RoPE frequencies. */
  free(): void {
    for (const linear of this.#linears()) linear.free();
    for (const a of this.parameters()) a.free(); // norms; the linears' arrays are freed already (a no-op)
    this.#rope.free();
  }
}
