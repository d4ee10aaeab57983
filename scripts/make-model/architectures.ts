/**
 * Architectures (llama, mistral, qwen2, qwen3) and size presets of generated models: config.json, special tokens,
 * tokenizer_config.json, generation_config.json, special_tokens_map.json. Tensor shapes and initialisation are in
 * weights.ts.
 */
import type { AddedTokenSpec, PretokenizerFlavor } from "./bpe.ts";
import {
  LLAMA3_CHAT_TEMPLATE,
  MISTRAL_CHAT_TEMPLATE,
  QWEN2_5_CHAT_TEMPLATE,
  QWEN3_CHAT_TEMPLATE,
} from "./templates.ts";

/** Supported architectures (mlx-lm `model_type`). */
export type Arch = "llama" | "mistral" | "qwen2" | "qwen3";
export const ARCHES: readonly Arch[] = ["llama", "mistral", "qwen2", "qwen3"];

/**
 * `rope_scaling` written to config.json: `default` (null), `linear` (factor 2), `llama3` (Llama 3.2's block),
 * `yarn` (factor 4 over the preset's context, as Qwen2.5 / Qwen3 document for long context).
 */
export type RopeKind = "default" | "linear" | "llama3" | "yarn";
export const ROPE_KINDS: readonly RopeKind[] = ["default", "linear", "llama3", "yarn"];

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
    hidden_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 16,
    intermediate_size: 128,
    max_position_embeddings: 4096,
  },
  small: {
    hidden_size: 256,
    num_hidden_layers: 4,
    num_attention_heads: 8,
    num_key_value_heads: 4,
    head_dim: 32,
    intermediate_size: 512,
    max_position_embeddings: 4096,
  },
  "qwen3-0.6b": {
    hidden_size: 1024,
    num_hidden_layers: 28,
    num_attention_heads: 16,
    num_key_value_heads: 8,
    head_dim: 128,
    intermediate_size: 3072,
    max_position_embeddings: 40960,
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
  padToken: string | null;
  /** Every token that ends generation (generation_config `eos_token_id`), first = primary. */
  stopTokens: readonly string[];
  /** config.json `eos_token_id`: every stop token, or only the primary one (Qwen2.5 Instruct). */
  configEos: "all" | "first";
  /** Token written as config `bos_token_id` (Qwen3 uses `<|endoftext|>` although it never prepends it). */
  bosIdToken: string;
  tieWordEmbeddings: boolean;
  /** Per-head RMSNorm on queries and keys (`self_attn.q_norm` / `k_norm`). */
  qkNorm: boolean;
  /** Bias on the q/k/v projections (qwen2). */
  qkvBias: boolean;
  /** config.json has `head_dim` (qwen2's mlx-lm model always uses hidden / heads, and Qwen2.5 configs omit it). */
  writesHeadDim: boolean;
  /** RoPE scaling written by default. */
  defaultRope: RopeKind;
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
      special("<|endoftext|>"),
      special("<|im_start|>"),
      special("<|im_end|>"),
      plain("<tool_call>"),
      plain("</tool_call>"),
      plain("<tool_response>"),
      plain("</tool_response>"),
      plain("<think>"),
      plain("</think>"),
    ],
    bosToken: null,
    eosToken: "<|im_end|>",
    padToken: "<|endoftext|>",
    stopTokens: ["<|im_end|>", "<|endoftext|>"],
    configEos: "all",
    bosIdToken: "<|endoftext|>",
    tieWordEmbeddings: true,
    qkNorm: true,
    qkvBias: false,
    writesHeadDim: true,
    defaultRope: "default",
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
      special("<|begin_of_text|>"),
      special("<|end_of_text|>"),
      special("<|start_header_id|>"),
      special("<|end_header_id|>"),
      special("<|eot_id|>"),
      special("<|python_tag|>"),
    ],
    bosToken: "<|begin_of_text|>",
    eosToken: "<|eot_id|>",
    padToken: "<|end_of_text|>",
    stopTokens: ["<|eot_id|>", "<|end_of_text|>"],
    configEos: "all",
    bosIdToken: "<|begin_of_text|>",
    tieWordEmbeddings: false,
    qkNorm: false,
    qkvBias: false,
    writesHeadDim: true,
    defaultRope: "llama3",
    rmsNormEps: 1e-5,
    ropeTheta: 500000,
    chatTemplate: LLAMA3_CHAT_TEMPLATE,
    ignoreMerges: true,
  },
  // Qwen2.5-Instruct: ChatML, q/k/v biases, tied embeddings at small sizes, default RoPE (yarn opt-in).
  qwen2: {
    arch: "qwen2",
    hfClass: "Qwen2ForCausalLM",
    flavor: "qwen2",
    addedTokens: [
      special("<|endoftext|>"),
      special("<|im_start|>"),
      special("<|im_end|>"),
      plain("<tool_call>"),
      plain("</tool_call>"),
    ],
    bosToken: null,
    eosToken: "<|im_end|>",
    padToken: "<|endoftext|>",
    stopTokens: ["<|im_end|>", "<|endoftext|>"],
    configEos: "first",
    bosIdToken: "<|endoftext|>",
    tieWordEmbeddings: true,
    qkNorm: false,
    qkvBias: true,
    writesHeadDim: false,
    defaultRope: "default",
    rmsNormEps: 1e-6,
    ropeTheta: 1000000,
    chatTemplate: QWEN2_5_CHAT_TEMPLATE,
    ignoreMerges: false,
  },
  // Mistral-7B-Instruct-v0.3: [INST] template and control tokens, untied. Its SentencePiece tokenizer is stood in
  // for by this project's byte-level BPE (a `<s>` prepended by the post-processor, as Mistral's).
  mistral: {
    arch: "mistral",
    hfClass: "MistralForCausalLM",
    flavor: "llama3",
    addedTokens: [
      special("<s>"),
      special("</s>"),
      special("[INST]"),
      special("[/INST]"),
      special("[TOOL_CALLS]"),
      special("[AVAILABLE_TOOLS]"),
      special("[/AVAILABLE_TOOLS]"),
      special("[TOOL_RESULTS]"),
      special("[/TOOL_RESULTS]"),
    ],
    bosToken: "<s>",
    eosToken: "</s>",
    padToken: null,
    stopTokens: ["</s>"],
    configEos: "first",
    bosIdToken: "<s>",
    tieWordEmbeddings: false,
    qkNorm: false,
    qkvBias: false,
    writesHeadDim: true,
    defaultRope: "default",
    rmsNormEps: 1e-5,
    ropeTheta: 1000000,
    chatTemplate: MISTRAL_CHAT_TEMPLATE,
    ignoreMerges: false,
  },
};

/** Per-head dimension of an architecture at a size (qwen2 derives it from hidden / heads, as mlx-lm's qwen2.py). */
export function headDim(spec: ArchSpec, size: SizePreset): number {
  return spec.writesHeadDim ? size.head_dim : size.hidden_size / size.num_attention_heads;
}

/** The `rope_scaling` value of config.json for a kind (null for `default`). */
export function ropeScaling(spec: ArchSpec, kind: RopeKind, size: SizePreset): Record<string, unknown> | null {
  // Qwen2.5 model cards spell the key `type`; Llama 3.x and Qwen3 use `rope_type`.
  const typeKey = spec.arch === "qwen2" ? "type" : "rope_type";
  switch (kind) {
    case "default":
      return null;
    case "linear":
      return { factor: 2.0, [typeKey]: "linear" };
    case "llama3":
      // Llama-3.2-1B's block.
      return {
        factor: 32.0,
        high_freq_factor: 4.0,
        low_freq_factor: 1.0,
        original_max_position_embeddings: 8192,
        [typeKey]: "llama3",
      };
    case "yarn":
      return { factor: 4.0, original_max_position_embeddings: size.max_position_embeddings, [typeKey]: "yarn" };
  }
}

/** Storage dtype names as config.json (`torch_dtype`) spells them. */
export type ModelDtype = "float32" | "float16" | "bfloat16";
export const MODEL_DTYPES: readonly ModelDtype[] = ["float32", "float16", "bfloat16"];

/** Options of {@link buildConfig} beyond the architecture and size. */
export interface ConfigOptions {
  dtype: ModelDtype;
  rope: RopeKind;
  /** The `quantization` block (also written as `quantization_config`, as mlx_lm.convert does). */
  quantization?: Record<string, unknown>;
}

/**
 * config.json as the model's Hugging Face release has it (keys sorted, as transformers and mlx-lm write them).
 * @param tokenIds id of every added token, by content.
 */
export function buildConfig(
  spec: ArchSpec,
  size: SizePreset,
  tokenIds: ReadonlyMap<string, number>,
  opts: ConfigOptions,
): Record<string, unknown> {
  const id = (t: string): number => {
    const v = tokenIds.get(t);
    if (v === undefined) throw new Error(`no id for ${t}`);
    return v;
  };
  const eos = (spec.configEos === "first" ? spec.stopTokens.slice(0, 1) : spec.stopTokens).map(id);
  const a = spec.arch;
  const config: Record<string, unknown> = {
    architectures: [spec.hfClass],
    attention_dropout: 0.0,
    bos_token_id: id(spec.bosIdToken),
    eos_token_id: eos.length === 1 ? eos[0] : eos,
    hidden_act: "silu",
    hidden_size: size.hidden_size,
    initializer_range: 0.02,
    intermediate_size: size.intermediate_size,
    max_position_embeddings: size.max_position_embeddings,
    model_type: a,
    num_attention_heads: size.num_attention_heads,
    num_hidden_layers: size.num_hidden_layers,
    num_key_value_heads: size.num_key_value_heads,
    rms_norm_eps: spec.rmsNormEps,
    rope_scaling: ropeScaling(spec, opts.rope, size),
    rope_theta: spec.ropeTheta,
    tie_word_embeddings: spec.tieWordEmbeddings,
    torch_dtype: opts.dtype,
    transformers_version: "4.51.0",
    use_cache: true,
    vocab_size: VOCAB_SIZE,
  };
  if (spec.writesHeadDim) config.head_dim = size.head_dim;
  if (a === "llama" || a === "qwen3") config.attention_bias = false;
  if (a === "llama") Object.assign(config, { mlp_bias: false, pretraining_tp: 1 });
  if (a === "qwen2" || a === "qwen3") {
    Object.assign(config, { max_window_layers: size.num_hidden_layers, use_sliding_window: false });
    config.sliding_window = a === "qwen2" ? size.max_position_embeddings : null;
  }
  if (a === "mistral") config.sliding_window = null;
  if (opts.quantization) {
    config.quantization = opts.quantization;
    config.quantization_config = opts.quantization;
  }
  return Object.fromEntries(Object.entries(config).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
}

/** tokenizer_config.json (transformers format; class PreTrainedTokenizerFast so no model-specific code runs). */
export function buildTokenizerConfig(spec: ArchSpec, tokenIds: ReadonlyMap<string, number>): Record<string, unknown> {
  const decoder: Record<string, unknown> = {};
  for (const t of spec.addedTokens) {
    decoder[String(tokenIds.get(t.content))] = {
      content: t.content,
      lstrip: false,
      normalized: false,
      rstrip: false,
      single_word: false,
      special: t.special,
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
  if (spec.padToken !== null) map.pad_token = tok(spec.padToken);
  return map;
}

/** generation_config.json: only token ids (no sampling defaults, so greedy stays the default everywhere). */
export function buildGenerationConfig(spec: ArchSpec, tokenIds: ReadonlyMap<string, number>): Record<string, unknown> {
  const id = (t: string) => tokenIds.get(t)!;
  const eos = spec.stopTokens.map(id);
  return {
    bos_token_id: id(spec.bosIdToken),
    eos_token_id: eos.length === 1 ? eos[0] : eos,
    ...(spec.padToken !== null ? { pad_token_id: id(spec.padToken) } : {}),
    transformers_version: "4.51.0",
  };
}
