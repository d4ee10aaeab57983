/**
 * Architectures (llama, qwen3) and size presets of generated models: config.json, the tensor list with shapes and
 * initialisation scales, special tokens, tokenizer_config.json, generation_config.json, special_tokens_map.json.
 */
import type { AddedTokenSpec, PretokenizerFlavor } from "./bpe.ts";
import { LLAMA3_CHAT_TEMPLATE, QWEN3_CHAT_TEMPLATE } from "./templates.ts";

/** Supported architectures (mlx-lm `model_type`). */
export type Arch = "llama" | "qwen3";
export const ARCHES: readonly Arch[] = ["llama", "qwen3"];

/** Transformer shape of a size preset. The vocabulary size comes from the tokenizer, not from here. */
export interface SizePreset {
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  /** Per-head dimension; may differ from hidden_size / num_attention_heads (Qwen3-0.6B: 128 vs 64). */
  head_dim: number;
  intermediate_size: number;
  max_position_embeddings: number;
}

/**
 * Size presets. Add a row to add a size; `--size` accepts every key. `qwen3-0.6b` has the transformer shape of
 * Qwen/Qwen3-0.6B (with this project's small vocabulary, so ≈ 0.44 B parameters, ≈ 1.8 GB in float32).
 */
export const SIZES = {
  tiny: {
    hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16,
    intermediate_size: 128, max_position_embeddings: 4096,
  },
  small: {
    hidden_size: 256, num_hidden_layers: 4, num_attention_heads: 8, num_key_value_heads: 4, head_dim: 32,
    intermediate_size: 512, max_position_embeddings: 4096,
  },
  "qwen3-0.6b": {
    hidden_size: 1024, num_hidden_layers: 28, num_attention_heads: 16, num_key_value_heads: 8, head_dim: 128,
    intermediate_size: 3072, max_position_embeddings: 40960,
  },
} as const satisfies Record<string, SizePreset>;
export type SizeName = keyof typeof SIZES;
export const SIZE_NAMES = Object.keys(SIZES) as SizeName[];

/** Total tokenizer vocabulary (byte symbols + merges + added tokens) = config `vocab_size`, for every size. */
export const VOCAB_SIZE = 1024;

/** Everything that differs between architectures. */
export interface ArchSpec {
  arch: Arch;
  /** Hugging Face `architectures` entry. */
  hfClass: string;
  flavor: PretokenizerFlavor;
  /** Added tokens, in id order (they follow the BPE vocabulary). */
  addedTokens: readonly AddedTokenSpec[];
  bosToken: string | null;
  /** tokenizer_config `eos_token` (the chat turn terminator). */
  eosToken: string;
  padToken: string;
  /** Every token that ends generation (generation_config / config `eos_token_id`), first = primary. */
  stopTokens: readonly string[];
  /** Token written as config `bos_token_id` (Qwen3 uses `<|endoftext|>` although it never prepends it). */
  bosIdToken: string;
  tieWordEmbeddings: boolean;
  /** Per-head RMSNorm on queries and keys (`self_attn.q_norm` / `k_norm`). */
  qkNorm: boolean;
  rmsNormEps: number;
  ropeTheta: number;
  chatTemplate: string;
  /** Llama 3 sets `ignore_merges: true` in its BPE model. */
  ignoreMerges: boolean;
}

const special = (content: string): AddedTokenSpec => ({ content, special: true });
const plain = (content: string): AddedTokenSpec => ({ content, special: false });

export const ARCH_SPECS: Readonly<Record<Arch, ArchSpec>> = {
  qwen3: {
    arch: "qwen3",
    hfClass: "Qwen3ForCausalLM",
    flavor: "qwen2",
    // As in Qwen3: the think / tool markers are added tokens but not "special" (decode keeps them).
    addedTokens: [
      special("<|endoftext|>"), special("<|im_start|>"), special("<|im_end|>"),
      plain("<tool_call>"), plain("</tool_call>"), plain("<tool_response>"), plain("</tool_response>"),
      plain("<think>"), plain("</think>"),
    ],
    bosToken: null,
    eosToken: "<|im_end|>",
    padToken: "<|endoftext|>",
    stopTokens: ["<|im_end|>", "<|endoftext|>"],
    bosIdToken: "<|endoftext|>",
    tieWordEmbeddings: true,
    qkNorm: true,
    rmsNormEps: 1e-6,
    ropeTheta: 1000000,
    chatTemplate: QWEN3_CHAT_TEMPLATE,
    ignoreMerges: false,
  },
  llama: {
    arch: "llama",
    hfClass: "LlamaForCausalLM",
    flavor: "llama3",
    addedTokens: [
      special("<|begin_of_text|>"), special("<|end_of_text|>"), special("<|start_header_id|>"),
      special("<|end_header_id|>"), special("<|eot_id|>"), special("<|python_tag|>"),
    ],
    bosToken: "<|begin_of_text|>",
    eosToken: "<|eot_id|>",
    padToken: "<|end_of_text|>",
    stopTokens: ["<|eot_id|>", "<|end_of_text|>"],
    bosIdToken: "<|begin_of_text|>",
    tieWordEmbeddings: false,
    qkNorm: false,
    rmsNormEps: 1e-5,
    ropeTheta: 500000,
    chatTemplate: LLAMA3_CHAT_TEMPLATE,
    ignoreMerges: true,
  },
};

/** Storage dtype names as config.json (`torch_dtype`) spells them. */
export type ModelDtype = "float32" | "float16" | "bfloat16";
export const MODEL_DTYPES: readonly ModelDtype[] = ["float32", "float16", "bfloat16"];

/**
 * config.json, key order as transformers writes it (alphabetical).
 * @param tokenIds id of every added token, by content.
 */
export function buildConfig(spec: ArchSpec, size: SizePreset, dtype: ModelDtype, tokenIds: ReadonlyMap<string, number>): Record<string, unknown> {
  const id = (t: string): number => {
    const v = tokenIds.get(t);
    if (v === undefined) throw new Error(`no id for ${t}`);
    return v;
  };
  const eos = spec.stopTokens.map(id);
  const config: Record<string, unknown> = {
    architectures: [spec.hfClass],
    attention_bias: false,
    attention_dropout: 0.0,
    bos_token_id: id(spec.bosIdToken),
    eos_token_id: eos.length === 1 ? eos[0] : eos,
    head_dim: size.head_dim,
    hidden_act: "silu",
    hidden_size: size.hidden_size,
    initializer_range: 0.02,
    intermediate_size: size.intermediate_size,
    max_position_embeddings: size.max_position_embeddings,
    ...(spec.arch === "qwen3" ? { max_window_layers: size.num_hidden_layers } : { mlp_bias: false }),
    model_type: spec.arch,
    num_attention_heads: size.num_attention_heads,
    num_hidden_layers: size.num_hidden_layers,
    num_key_value_heads: size.num_key_value_heads,
    ...(spec.arch === "llama" ? { pretraining_tp: 1 } : {}),
    rms_norm_eps: spec.rmsNormEps,
    rope_scaling: null,
    rope_theta: spec.ropeTheta,
    ...(spec.arch === "qwen3" ? { sliding_window: null } : {}),
    tie_word_embeddings: spec.tieWordEmbeddings,
    torch_dtype: dtype,
    transformers_version: "4.51.0",
    use_cache: true,
    ...(spec.arch === "qwen3" ? { use_sliding_window: false } : {}),
    vocab_size: VOCAB_SIZE,
  };
  return config;
}

/** How a tensor is initialised: N(mean, std²). */
export interface TensorInit {
  std: number;
  mean: number;
}

/** One weight of the model: mlx-lm parameter name, shape (row-major; Linear weights are `[out, in]`), init. */
export interface WeightSpec {
  name: string;
  shape: [number, number] | [number];
  init: TensorInit;
  /** Rows `[firstRow, shape[0])` are multiplied by `scale` after sampling (see {@link ADDED_TOKEN_ROW_SCALE}). */
  scaleTailRows?: { firstRow: number; scale: number };
}

/**
 * Initialisation scales, N(mean, std²) per tensor kind, chosen (by measuring mlx-lm greedy decoding over several
 * seeds and prompts) so that a random model gives a varied greedy continuation instead of one repeated token,
 * and well-separated logits (std ≈ √hidden) so that greedy argmax is robust to float rounding differences:
 * - `embed_tokens`, `lm_head`: std 1 (logits ≈ N(0, hidden)).
 * - q/k/v/gate/up projections: std 1/√fan_in; llama q/k ×{@link QK_GAIN} (sharper attention).
 * - o_proj, down_proj (residual writers): std {@link RESIDUAL_GAIN}/√fan_in, so the residual stream is not
 *   dominated by the current token's own embedding (with tied embeddings every token would predict itself).
 * - RMSNorm weights: 1 + N(0, 0.1²); qwen3 `q_norm`/`k_norm`: {@link QK_GAIN}² + N(0, 0.1²), the qk-norm
 *   equivalent of the llama q/k gain (flat attention makes random models loop).
 * - The output rows of the added tokens (ids ≥ the BPE vocabulary: end-of-turn, `<think>`, `<tool_call>`, …) are
 *   scaled by {@link ADDED_TOKEN_ROW_SCALE} (in `lm_head`, or in `embed_tokens` when tied), so a random model
 *   practically never emits a control token by itself: generations run to `max_tokens` and never open a spurious
 *   tool call or think block.
 */
export const ADDED_TOKEN_ROW_SCALE = 0.25;
export const RESIDUAL_GAIN = 8;
export const QK_GAIN = 2;
const NORM_INIT: TensorInit = { mean: 1, std: 0.1 };
const QK_NORM_INIT: TensorInit = { mean: QK_GAIN * QK_GAIN, std: 0.1 };

/** Every weight of the model, in mlx-lm's names (see mlx-lm `models/llama.py`, `models/qwen3.py`). */
export function weightSpecs(spec: ArchSpec, size: SizePreset, vocabSize: number): WeightSpec[] {
  const tail = { firstRow: vocabSize - spec.addedTokens.length, scale: ADDED_TOKEN_ROW_SCALE };
  const { hidden_size: d, head_dim: hd, num_attention_heads: hq, num_key_value_heads: hkv, intermediate_size: ff } = size;
  const linear = (name: string, out: number, inp: number, gain = 1): WeightSpec => ({
    name, shape: [out, inp], init: { mean: 0, std: gain / Math.sqrt(inp) },
  });
  const norm = (name: string, n: number, init = NORM_INIT): WeightSpec => ({ name, shape: [n], init });
  const qkGain = spec.qkNorm ? 1 : QK_GAIN;
  const out: WeightSpec[] = [{
    name: "model.embed_tokens.weight", shape: [vocabSize, d], init: { mean: 0, std: 1 },
    ...(spec.tieWordEmbeddings ? { scaleTailRows: tail } : {}),
  }];
  for (let i = 0; i < size.num_hidden_layers; i++) {
    const p = `model.layers.${i}`;
    out.push(
      norm(`${p}.input_layernorm.weight`, d),
      linear(`${p}.self_attn.q_proj.weight`, hq * hd, d, qkGain),
      linear(`${p}.self_attn.k_proj.weight`, hkv * hd, d, qkGain),
      linear(`${p}.self_attn.v_proj.weight`, hkv * hd, d),
      linear(`${p}.self_attn.o_proj.weight`, d, hq * hd, RESIDUAL_GAIN),
    );
    if (spec.qkNorm) {
      out.push(norm(`${p}.self_attn.q_norm.weight`, hd, QK_NORM_INIT), norm(`${p}.self_attn.k_norm.weight`, hd, QK_NORM_INIT));
    }
    out.push(
      norm(`${p}.post_attention_layernorm.weight`, d),
      linear(`${p}.mlp.gate_proj.weight`, ff, d),
      linear(`${p}.mlp.up_proj.weight`, ff, d),
      linear(`${p}.mlp.down_proj.weight`, d, ff, RESIDUAL_GAIN),
    );
  }
  out.push(norm("model.norm.weight", d));
  if (!spec.tieWordEmbeddings) out.push({ name: "lm_head.weight", shape: [vocabSize, d], init: { mean: 0, std: 1 }, scaleTailRows: tail });
  return out;
}

/** tokenizer_config.json (transformers format; class PreTrainedTokenizerFast so no model-specific code runs). */
export function buildTokenizerConfig(spec: ArchSpec, tokenIds: ReadonlyMap<string, number>): Record<string, unknown> {
  const decoder: Record<string, unknown> = {};
  for (const t of spec.addedTokens) {
    decoder[String(tokenIds.get(t.content))] = {
      content: t.content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: t.special,
    };
  }
  const named = new Set([spec.bosToken, spec.eosToken, spec.padToken]);
  return {
    add_bos_token: spec.bosToken !== null,
    add_eos_token: false,
    add_prefix_space: false,
    added_tokens_decoder: decoder,
    additional_special_tokens: spec.addedTokens.filter((t) => t.special && !named.has(t.content)).map((t) => t.content),
    bos_token: spec.bosToken,
    chat_template: spec.chatTemplate,
    clean_up_tokenization_spaces: false,
    eos_token: spec.eosToken,
    errors: "replace",
    model_input_names: ["input_ids", "attention_mask"],
    model_max_length: 131072,
    pad_token: spec.padToken,
    split_special_tokens: false,
    tokenizer_class: "PreTrainedTokenizerFast",
    unk_token: null,
  };
}

/** special_tokens_map.json. */
export function buildSpecialTokensMap(spec: ArchSpec): Record<string, unknown> {
  const tok = (content: string) => ({ content, lstrip: false, normalized: false, rstrip: false, single_word: false });
  const named = new Set([spec.bosToken, spec.eosToken, spec.padToken]);
  const map: Record<string, unknown> = {
    additional_special_tokens: spec.addedTokens.filter((t) => t.special && !named.has(t.content)).map((t) => t.content),
  };
  if (spec.bosToken !== null) map.bos_token = tok(spec.bosToken);
  map.eos_token = tok(spec.eosToken);
  map.pad_token = tok(spec.padToken);
  return map;
}

/** generation_config.json: only token ids (no sampling defaults, so greedy stays the default everywhere). */
export function buildGenerationConfig(spec: ArchSpec, tokenIds: ReadonlyMap<string, number>): Record<string, unknown> {
  const id = (t: string) => tokenIds.get(t)!;
  return {
    bos_token_id: id(spec.bosIdToken),
    eos_token_id: spec.stopTokens.map(id),
    pad_token_id: id(spec.padToken),
    transformers_version: "4.51.0",
  };
}
