/**
 * `config.json` of an mlx-community / Hugging Face decoder model, validated with valibot and normalised to what
 * mlx-lm's `ModelArgs` use, with the per-architecture defaults of architectures/ (reference/mlx-c-binding.md §4.1),
 * and the `quantization` block as mlx-lm's `utils.load_model` reads it (§4.2).
 */
import * as v from "valibot";
import type { ArchitectureConfig } from "./architectures/architecture.ts";
import { ARCHITECTURES, MODEL_TYPES, type ModelType } from "./architectures/index.ts";
import { configError as fail, RawConfigFields } from "./config-schema.ts";
import { parseRopeScaling, type RopeScaling } from "./rope-scaling.ts";

/** The validated `config.json`: its fields, with `model_type` one of the architectures. */
const RawConfig = v.looseObject({
  ...RawConfigFields.entries,
  model_type: v.picklist(MODEL_TYPES, `model_type must be one of ${MODEL_TYPES.join(", ")}`),
});

/** Bit widths and group sizes of MLX's affine quantization (`mx.quantize`, mode "affine"). */
export const QUANT_BITS = [1, 2, 3, 4, 5, 6, 8] as const;
export const QUANT_GROUP_SIZES = [32, 64, 128] as const;

/** Affine quantization parameters of one module (`to_quantized(group_size, bits)`). */
export interface QuantParams {
  groupSize: number;
  bits: number;
}

/** Normalised model hyper-parameters: the architecture's (architectures/) and the common ones. */
export interface ModelConfig extends Omit<ArchitectureConfig, "rawRopeScaling"> {
  arch: ModelType;
  hiddenSize: number;
  numLayers: number;
  intermediateSize: number;
  numHeads: number;
  rmsNormEps: number;
  vocabSize: number;
  /** `rope_scaling`, validated (see rope-scaling.ts). */
  ropeScaling: RopeScaling;
  /** Model-wide quantization defaults (`quantization.group_size` / `.bits`), when the model is quantized. */
  quantization?: QuantParams;
  /**
   * Per-module entries of the `quantization` block, keyed by module path (`model.layers.0.mlp.down_proj`,
   * `lm_head`): explicit parameters, or `false` for a module kept in float. Modules not listed are quantized iff
   * `<path>.scales` exists, with parameters inferred from the tensor shapes (mlx-lm `infer_quant_config`).
   */
  quantizationOverrides: Record<string, QuantParams | false>;
  eosTokenIds: number[];
}

/** Validates `bits` / `group_size` / `mode` of a quantization entry at `field`. */
function quantParams(raw: Record<string, unknown>, field: string, defaults?: QuantParams): QuantParams {
  const mode = raw.mode ?? "affine";
  if (mode !== "affine") fail(`${field}.mode`, `'${String(mode)}' is not supported (only affine quantization is)`);
  // mlx's to_quantized falls back to the affine defaults (64, 4) for a missing entry.
  const groupSize = raw.group_size ?? defaults?.groupSize ?? 64;
  const bits = raw.bits ?? defaults?.bits ?? 4;
  if (!(QUANT_BITS as readonly unknown[]).includes(bits))
    fail(`${field}.bits`, `${JSON.stringify(bits)} is not one of ${QUANT_BITS.join(", ")}`);
  if (!(QUANT_GROUP_SIZES as readonly unknown[]).includes(groupSize)) {
    fail(`${field}.group_size`, `${JSON.stringify(groupSize)} is not one of ${QUANT_GROUP_SIZES.join(", ")}`);
  }
  return { groupSize: groupSize as number, bits: bits as number };
}

/**
 * The `quantization` block: top-level `group_size`/`bits`/`mode`, and every other key whose value is an object
 * (per-module parameters), `true` (the top-level parameters) or `false` (kept in float), as mlx-lm's
 * `load_model` class predicate reads them. Other scalar keys are ignored, as mlx-lm ignores them.
 */
function parseQuantization(
  q: Record<string, unknown> | null | undefined,
  qc: Record<string, unknown> | null | undefined,
): { quantization?: QuantParams; overrides: Record<string, QuantParams | false> } {
  if (!q) {
    // mlx-lm only honours a bare quantization_config for special quant_method values (bitnet, mxfp4...).
    if (qc)
      fail(
        "quantization_config",
        `without a 'quantization' block is not supported (quant_method ${JSON.stringify(qc.quant_method ?? null)})`,
      );
    return { overrides: {} };
  }
  const quantization = quantParams(q, "quantization");
  const overrides: Record<string, QuantParams | false> = {};
  for (const [key, value] of Object.entries(q)) {
    if (key === "group_size" || key === "bits" || key === "mode") continue;
    if (value === false) overrides[key] = false;
    else if (value === true) overrides[key] = quantization;
    else if (value && typeof value === "object" && !Array.isArray(value)) {
      overrides[key] = quantParams(value as Record<string, unknown>, `quantization.${key}`, quantization);
    }
  }
  return { quantization, overrides };
}

/**
 * Validates and normalises a parsed `config.json`, with the defaults and required fields of its architecture
 * (architectures/, one file per mlx-lm `ModelArgs`).
 * @throws Error naming the offending field (`config.json: hidden_size: ...`).
 */
export function parseModelConfig(raw: unknown): ModelConfig {
  const r = v.safeParse(RawConfig, raw);
  if (!r.success) {
    const issue = r.issues[0];
    throw new Error(`config.json: ${v.getDotPath(issue) ?? "(root)"}: ${issue.message}`);
  }
  const c = r.output;
  const { rawRopeScaling, ...a } = ARCHITECTURES[c.model_type].config(c);
  const numHeads = c.num_attention_heads;
  if (numHeads % a.numKvHeads !== 0)
    fail("num_key_value_heads", `${a.numKvHeads} does not divide num_attention_heads ${numHeads}`);
  if (a.headDim % 2 !== 0) fail("head_dim", `${a.headDim} must be even for RoPE`);

  const { quantization, overrides } = parseQuantization(c.quantization, c.quantization_config);
  return {
    ...a,
    arch: c.model_type,
    hiddenSize: c.hidden_size,
    numLayers: c.num_hidden_layers,
    intermediateSize: c.intermediate_size,
    numHeads,
    rmsNormEps: c.rms_norm_eps,
    vocabSize: c.vocab_size,
    ropeScaling: parseRopeScaling(rawRopeScaling),
    quantization,
    quantizationOverrides: overrides,
    eosTokenIds:
      c.eos_token_id === undefined || c.eos_token_id === null
        ? []
        : Array.isArray(c.eos_token_id)
          ? c.eos_token_id
          : [c.eos_token_id],
  };
}
