/**
 * Weights of a "scripted" model: a real decoder (same architecture, files and computation as the random models)
 * whose greedy decoding follows a transition table (scripted.ts) from the last `order` tokens to the next one.
 *
 * Construction, residual stream of width d split into `order` code slots of width m, one constant dimension `c` and a
 * read-out block R of width r = d - 1 - order·m:
 * - Embedding row t = [code(t) in slot 0 | 1 in c], code(t) a unit vector (orthonormal over the tokens that appear
 *   in contexts when they fit in m dimensions). Every row has norm √2, so RMSNorm scales all tokens alike.
 * - Layer 0 attention copies the previous tokens' codes: kv heads are split into `order - 1` groups; group j attends to
 *   the token j positions back. Queries and keys read only `c`, so they are the same for every token; RoPE then makes
 *   the score a function of the distance Δ alone, Σ_i cos(θ_i(Δ - j)) over the `active` highest frequencies, which
 *   peaks at Δ = j. Values read slot 0; `o_proj` writes group j's heads into slot j. After it the residual is
 *   [code(t₀) | code(t₋₁) | … | 1 | 0].
 * - Layer 0 MLP is a lookup table, one unit per transition: gate = λ(Σ_j code(ctx_j)·slot_j - (order - ½)), positive
 *   only when all `order` slots match (orthonormal codes: a miss scores ≤ order - 1); up = 1; down writes γ·z(next)
 *   into R, z orthonormal read-out directions.
 * - Every other layer reads but writes nothing (`o_proj`, `down_proj` zero); norms are 1.
 * - `lm_head` (untied) row s = α·z(s) for every scripted successor, small random rows for the other tokens; α makes
 *   the scripted logit {@link TARGET_LOGIT}.
 * {@link buildScriptedWeights} checks the result by simulating each transition in float64 (ideal attention) and the
 * attention selectivity over the whole context length, and throws if a margin is too small.
 */
import { headDim, type ArchSpec, type SizePreset } from "./architectures.ts";
import { Rng } from "./random.ts";
import type { ScriptPlan } from "./scripted.ts";

/** Gain of the lookup gates: a matching unit gets gate λ/2, a missing one at most -λ/2. */
export const GATE_GAIN = 40;
/** Norm of the lookup's output in R, relative to the unit token codes. */
export const READ_GAIN = 2;
/** Logit of the scripted next token (other tokens score about 0 ± 1 there). */
export const TARGET_LOGIT = 40;
/** Attention score margin (logits) of the intended position over every other one in the context. */
export const ATTENTION_MARGIN = 40;
/** Smallest accepted logit margin of a scripted token over the runner-up, in the float64 check. */
export const MIN_LOGIT_MARGIN = 20;

/** Where things live in the residual stream and the attention heads. */
export interface ScriptLayout {
  order: number;
  d: number;
  /** Width of one code slot. */
  m: number;
  /** Index of the constant dimension. */
  c: number;
  /** First dimension and width of the read-out block R. */
  rStart: number;
  r: number;
  headDim: number;
  heads: number;
  kvHeads: number;
  /** kv heads per copied offset. */
  kvPerOffset: number;
}

export function scriptLayout(spec: ArchSpec, size: SizePreset, order: number): ScriptLayout {
  const d = size.hidden_size;
  const D = headDim(spec, size);
  const kvHeads = size.num_key_value_heads;
  const kvPerOffset = order > 1 ? Math.floor(kvHeads / (order - 1)) : 0;
  if (order > 1 && kvPerOffset === 0)
    throw new Error(`an order-${order} scripted model needs at least ${order - 1} kv heads, this size has ${kvHeads}`);
  const m = Math.min(Math.floor((d - 1) / (order + 1)), order > 1 ? kvPerOffset * D : Infinity);
  const r = d - 1 - order * m;
  if (m < 2 || r < 2) throw new Error(`hidden size ${d} is too small for an order-${order} scripted model`);
  return {
    order,
    d,
    m,
    c: order * m,
    rStart: order * m + 1,
    r,
    headDim: D,
    heads: size.num_attention_heads,
    kvHeads,
    kvPerOffset,
  };
}

/** `count` unit vectors of dimension `dim` (float64): orthonormal when count ≤ dim, else independent random ones. */
function unitCodes(count: number, dim: number, rng: Rng): Float64Array[] {
  const out: Float64Array[] = [];
  const orthogonal = count <= dim;
  while (out.length < count) {
    const v = Float64Array.from({ length: dim }, () => rng.normal());
    if (orthogonal) {
      for (let pass = 0; pass < 2; pass++) {
        for (const u of out) {
          const p = dot(u, v);
          for (let i = 0; i < dim; i++) v[i]! -= p * u[i]!;
        }
      }
    }
    const n = Math.sqrt(dot(v, v));
    if (n < 1e-6) continue;
    for (let i = 0; i < dim; i++) v[i]! /= n;
    out.push(v);
  }
  return out;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>, bOffset = 0, n = a.length): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[i]! * b[bOffset + i]!;
  return s;
}

/**
 * Chooses how many of the highest RoPE frequencies the copy heads use: the count that maximises the worst relative
 * margin min over offsets j and distances Δ ∈ [0, maxPositions), Δ ≠ j, of (S(j) - S(Δ)) / active, where
 * S(Δ) = Σ_{i<active} cos(θ_i (Δ - j)), θ_i = base^(-2i/D) (mlx `RoPE`, not traditional).
 */
export function ropeCopyPlan(
  D: number,
  base: number,
  maxPositions: number,
  offsets: number[],
): { active: number; fraction: number; theta: number[] } {
  const theta = Array.from({ length: D / 2 }, (_, i) => base ** ((-2 * i) / D));
  const sums = offsets.map(() => new Float64Array(maxPositions));
  let best = { active: 0, fraction: -Infinity };
  for (let n = 1; n <= D / 2; n++) {
    let worst = Infinity;
    offsets.forEach((j, k) => {
      const s = sums[k]!;
      let other = -Infinity;
      for (let delta = 0; delta < maxPositions; delta++) {
        s[delta]! += Math.cos(theta[n - 1]! * (delta - j));
        if (delta !== j && s[delta]! > other) other = s[delta]!;
      }
      worst = Math.min(worst, (n - other) / n);
    });
    if (worst > best.fraction) best = { active: n, fraction: worst };
  }
  return { ...best, theta };
}

/** What {@link buildScriptedWeights} produced. */
export interface ScriptedWeights {
  /** Full contents (float32, row-major, mlx-lm shapes) of every tensor the construction sets. */
  tensors: Map<string, Float32Array>;
  layout: ScriptLayout;
  /** Worst attention score margin (logits) of the intended position, over the context length; Infinity at order 1. */
  attentionMargin: number;
  /** Worst logit margin of a scripted token over the runner-up, float64 simulation. */
  logitMargin: number;
}

/**
 * Builds the scripted tensors (the others keep their random initialisation).
 * @param spec the architecture, untied (`tieWordEmbeddings: false`); its `ropeTheta` is the RoPE base, and the config
 *   must have no `rope_scaling`
 * @param vocab vocabulary size (rows of `embed_tokens` and `lm_head`)
 * @param seed seed of the random parts (codes, `lm_head` noise), as the other tensors'
 * @throws Error when the size cannot hold the plan (too many transitions for `intermediate_size`, too narrow) or a
 *   checked margin is below {@link MIN_LOGIT_MARGIN} / {@link ATTENTION_MARGIN}.
 */
export function buildScriptedWeights(
  spec: ArchSpec,
  size: SizePreset,
  vocab: number,
  seed: number,
  plan: ScriptPlan,
): ScriptedWeights {
  if (spec.tieWordEmbeddings) throw new Error("a scripted model needs untied embeddings");
  const L = scriptLayout(spec, size, plan.order);
  const { d, m, c, rStart, headDim: D, heads: H, kvHeads: Hkv } = L;
  const ff = size.intermediate_size;
  const k = plan.order;
  if (plan.transitions.length > ff)
    throw new Error(
      `${plan.transitions.length} script transitions need ${plan.transitions.length} MLP units, this size has ${ff}`,
    );
  const rng = (name: string) => Rng.forTensor(seed, `script/${name}`);
  const tensors = new Map<string, Float32Array>();
  const put = (name: string, length: number, fill = 0) => {
    const t = new Float32Array(length).fill(fill);
    tensors.set(name, t);
    return t;
  };

  // Token codes: orthonormal for the tokens that appear in contexts (when they fit), random unit vectors otherwise.
  const ctxCodes = unitCodes(plan.contextTokens.length, m, rng("context-codes"));
  const otherCodes = rng("other-codes");
  const code = new Map<number, Float64Array>(plan.contextTokens.map((t, i) => [t, ctxCodes[i]!]));
  const embed = put("model.embed_tokens.weight", vocab * d);
  for (let t = 0; t < vocab; t++) {
    const v = code.get(t) ?? unitCodes(1, m, otherCodes)[0]!;
    code.set(t, v);
    for (let i = 0; i < m; i++) embed[t * d + i] = v[i]!;
    embed[t * d + c] = 1;
  }
  const inScale = Math.sqrt(d / 2); // input RMSNorm of an embedding row

  const p = "model.layers.0";
  put(`${p}.input_layernorm.weight`, d, 1);
  put(`${p}.post_attention_layernorm.weight`, d, 1);
  put("model.norm.weight", d, 1);
  let attentionMargin = Infinity;
  const oProj = put(`${p}.self_attn.o_proj.weight`, d * H * D);
  if (k > 1) {
    const offsets = Array.from({ length: k - 1 }, (_, j) => j + 1);
    const rope = ropeCopyPlan(D, spec.ropeTheta, size.max_position_embeddings, offsets);
    const gain = Math.sqrt(ATTENTION_MARGIN / (rope.fraction * Math.sqrt(D)));
    attentionMargin = gain * gain * Math.sqrt(D) * rope.fraction;
    if (!(rope.fraction > 0.01))
      throw new Error(`RoPE (head_dim ${D}, base ${spec.ropeTheta}) cannot single out the previous positions`);
    const s = Math.sqrt(D / rope.active); // per-pair magnitude of a unit-RMS head vector
    const projGain = spec.qkNorm ? 1 : gain; // with q/k norms the gain is the norm weight instead
    const q = put(`${p}.self_attn.q_proj.weight`, H * D * d);
    const kw = put(`${p}.self_attn.k_proj.weight`, Hkv * D * d);
    const v = put(`${p}.self_attn.v_proj.weight`, Hkv * D * d);
    const rep = H / Hkv;
    for (let h = 0; h < Hkv; h++) {
      for (let i = 0; i < rope.active; i++) kw[(h * D + i) * d + c] = (projGain * s) / inScale;
      const j = Math.floor(h / L.kvPerOffset) + 1; // offset this kv head copies
      if (j >= k) continue;
      const slice = (h % L.kvPerOffset) * D;
      for (let r = 0; r < D && slice + r < m; r++) {
        v[(h * D + r) * d + slice + r] = 1 / inScale;
        oProj[(j * m + slice + r) * H * D + h * rep * D + r] = 1;
      }
      for (let qh = h * rep; qh < (h + 1) * rep; qh++) {
        for (let i = 0; i < rope.active; i++) {
          // q_i = s·e^{-iθ_i j}: the score Σ s² cos(θ_i (Δ - j)) peaks j positions back.
          q[(qh * D + i) * d + c] = (projGain * s * Math.cos(-rope.theta[i]! * j)) / inScale;
          q[(qh * D + D / 2 + i) * d + c] = (projGain * s * Math.sin(-rope.theta[i]! * j)) / inScale;
        }
      }
    }
    if (spec.qkNorm) {
      put(`${p}.self_attn.q_norm.weight`, D, gain);
      put(`${p}.self_attn.k_norm.weight`, D, gain);
    }
    if (spec.qkvBias) {
      put(`${p}.self_attn.q_proj.bias`, H * D);
      put(`${p}.self_attn.k_proj.bias`, Hkv * D);
      put(`${p}.self_attn.v_proj.bias`, Hkv * D);
    }
  }

  // The lookup MLP and the read-out.
  const readCodes = unitCodes(plan.nextTokens.length, L.r, rng("readout-codes"));
  const readout = new Map(plan.nextTokens.map((t, i) => [t, readCodes[i]!]));
  const postScale = Math.sqrt(d / (k + 1)); // post-attention RMSNorm: codes are unit, plus the constant
  const gate = put(`${p}.mlp.gate_proj.weight`, ff * d);
  const up = put(`${p}.mlp.up_proj.weight`, ff * d);
  const down = put(`${p}.mlp.down_proj.weight`, d * ff);
  const fired = silu(GATE_GAIN / 2);
  plan.transitions.forEach((tr, u) => {
    tr.context.forEach((tok, pos) => {
      const slot = k - 1 - pos; // context is oldest first; slot 0 is the current token
      const cv = code.get(tok)!;
      for (let i = 0; i < m; i++) gate[u * d + slot * m + i] = (GATE_GAIN * cv[i]!) / postScale;
    });
    gate[u * d + c] = (-GATE_GAIN * (k - 0.5)) / postScale;
    up[u * d + c] = 1 / postScale;
    const z = readout.get(tr.next)!;
    for (let i = 0; i < L.r; i++) down[(rStart + i) * ff + u] = (READ_GAIN * z[i]!) / fired;
  });
  for (let layer = 1; layer < size.num_hidden_layers; layer++) {
    put(`model.layers.${layer}.self_attn.o_proj.weight`, d * H * D);
    put(`model.layers.${layer}.mlp.down_proj.weight`, d * ff);
  }
  const lmHead = put("lm_head.weight", vocab * d);
  const alpha = TARGET_LOGIT / (READ_GAIN * Math.sqrt(d / (k + 1 + READ_GAIN * READ_GAIN)));
  const noise = rng("lm-head-noise");
  for (let t = 0; t < vocab; t++) {
    const z = readout.get(t);
    if (z) for (let i = 0; i < L.r; i++) lmHead[t * d + rStart + i] = alpha * z[i]!;
    else for (let i = 0; i < d; i++) lmHead[t * d + i] = (0.5 / Math.sqrt(d)) * noise.normal();
  }

  const logitMargin = simulate(plan, L, tensors, vocab, ff);
  if (logitMargin < MIN_LOGIT_MARGIN) {
    throw new Error(
      `scripted model check failed: worst logit margin ${logitMargin.toFixed(2)} < ${MIN_LOGIT_MARGIN} (too many tokens for size ${d}; use a larger --size or fewer script tokens)`,
    );
  }
  return { tensors, layout: L, attentionMargin, logitMargin };
}

function silu(x: number): number {
  return x / (1 + Math.exp(-x));
}

/** RMSNorm (weight 1) of a float64 vector. */
function rmsNormalized(x: Float64Array): Float64Array {
  const rms = Math.sqrt(dot(x, x) / x.length + 1e-6);
  return x.map((v) => v / rms);
}

/**
 * Runs every transition through layer 0 (attention taken as ideal: each copy head sees exactly its position), the
 * final norm and `lm_head`, in float64 with the float32 weights.
 * @returns the worst margin of the scripted next token's logit over the best other logit
 * @throws Error naming the transition when the next token is not the argmax
 */
function simulate(plan: ScriptPlan, L: ScriptLayout, t: Map<string, Float32Array>, vocab: number, ff: number): number {
  const { d, headDim: D, heads: H, kvHeads: Hkv, order: k } = L;
  const w = (n: string) => t.get(n)!;
  const embed = w("model.embed_tokens.weight");
  const row = (tok: number) => Float64Array.from(embed.subarray(tok * d, (tok + 1) * d));
  let worst = Infinity;
  for (const tr of plan.transitions) {
    const cur = tr.context.at(-1)!;
    const x = row(cur);
    if (k > 1) {
      const v = w("model.layers.0.self_attn.v_proj.weight");
      const o = w("model.layers.0.self_attn.o_proj.weight");
      const rep = H / Hkv;
      for (let h = 0; h < Hkv; h++) {
        const j = Math.floor(h / L.kvPerOffset) + 1;
        if (j >= k) continue;
        const src = rmsNormalized(row(tr.context[k - 1 - j]!));
        for (let r = 0; r < D; r++) {
          const value = dot(src, v, (h * D + r) * d, d);
          for (let i = 0; i < d; i++) x[i]! += o[i * H * D + h * rep * D + r]! * value;
        }
      }
    }
    const xn = rmsNormalized(x);
    const gate = w("model.layers.0.mlp.gate_proj.weight");
    const up = w("model.layers.0.mlp.up_proj.weight");
    const down = w("model.layers.0.mlp.down_proj.weight");
    for (let u = 0; u < ff; u++) {
      const a = silu(dot(xn, gate, u * d, d)) * dot(xn, up, u * d, d);
      if (a !== 0) for (let i = 0; i < d; i++) x[i]! += down[i * ff + u]! * a;
    }
    const xf = rmsNormalized(x);
    const head = w("lm_head.weight");
    let best = -Infinity;
    let bestTok = -1;
    let target = 0;
    for (let s = 0; s < vocab; s++) {
      const logit = dot(xf, head, s * d, d);
      if (s === tr.next) target = logit;
      else if (logit > best) [best, bestTok] = [logit, s];
    }
    if (target <= best)
      throw new Error(
        `scripted model check failed: context [${tr.context}] should give ${tr.next}, token ${bestTok} wins`,
      );
    worst = Math.min(worst, target - best);
  }
  return worst;
}
