/**
 * The `rope_scaling` block of `config.json`, validated as mlx-lm's `models/rope_utils.py` (`initialize_rope`) reads it.
 * Pure: rope.ts builds the embeddings from it with MLX.
 */

/** A validated `rope_scaling` block (config.json). */
export type RopeScaling =
  | { type: "default" }
  | { type: "linear"; factor: number }
  | {
      type: "llama3";
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositionEmbeddings: number;
    }
  | {
      type: "yarn";
      factor: number;
      originalMaxPositionEmbeddings: number;
      betaFast: number;
      betaSlow: number;
      mscale: number;
      mscaleAllDim: number;
    };

/** `rope_scaling` types this engine implements. */
export const ROPE_TYPES = ["default", "linear", "llama3", "yarn"] as const;

function num(block: Record<string, unknown>, key: string, fallback?: number): number {
  const v = block[key];
  if (v === undefined || v === null) {
    if (fallback === undefined)
      throw new Error(`config.json: rope_scaling.${key} is required for rope_type '${block.rope_type ?? block.type}'`);
    return fallback;
  }
  if (typeof v !== "number" || !Number.isFinite(v))
    throw new Error(`config.json: rope_scaling.${key} must be a number, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * Validates a `rope_scaling` object (or null/undefined → `default`). The type is read as mlx-lm reads it:
 * `type` first, then `rope_type`, default `"default"`. Defaults of optional keys are `rope_utils.py`'s.
 * @throws Error naming the field for an unsupported type or a missing / non-numeric parameter.
 */
export function parseRopeScaling(raw: unknown): RopeScaling {
  if (raw === undefined || raw === null) return { type: "default" };
  if (typeof raw !== "object" || Array.isArray(raw))
    throw new Error("config.json: rope_scaling must be an object or null");
  const block = raw as Record<string, unknown>;
  const type = (block.type || block.rope_type || "default") as unknown;
  if (typeof type !== "string") throw new Error("config.json: rope_scaling.rope_type must be a string");
  const positive = (key: string, fallback?: number) => {
    const v = num(block, key, fallback);
    if (!(v > 0)) throw new Error(`config.json: rope_scaling.${key} must be > 0, got ${v}`);
    return v;
  };
  switch (type) {
    case "default":
      return { type };
    case "linear":
      return { type, factor: positive("factor") };
    case "llama3": {
      const lowFreqFactor = positive("low_freq_factor", 1);
      const highFreqFactor = positive("high_freq_factor", 4);
      if (lowFreqFactor === highFreqFactor)
        throw new Error("config.json: rope_scaling.high_freq_factor must differ from low_freq_factor");
      return {
        type,
        factor: positive("factor"),
        lowFreqFactor,
        highFreqFactor,
        originalMaxPositionEmbeddings: positive("original_max_position_embeddings", 8192),
      };
    }
    case "yarn":
      return {
        type,
        factor: positive("factor"),
        originalMaxPositionEmbeddings: positive("original_max_position_embeddings", 4096),
        betaFast: num(block, "beta_fast", 32),
        betaSlow: num(block, "beta_slow", 1),
        mscale: num(block, "mscale", 1),
        mscaleAllDim: num(block, "mscale_all_dim", 0),
      };
    default:
      throw new Error(
        `config.json: rope_scaling type '${type}' is not supported (supported: ${ROPE_TYPES.join(", ")})`,
      );
  }
}
