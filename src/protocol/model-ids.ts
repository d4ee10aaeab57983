/**
 * Model id helpers following OdyssAI-X's id scheme (reference/odyssai-x-wire.md §2.3): an upstream model is published
 * as `<upstream id>:<short>`, where `short` is the lower-cased last path segment of the upstream's model id
 * (`mlx-community/Qwen3-0.6B-4bit` → `qwen3-0.6b-4bit`).
 */

/** Lower-cased last path segment of a model id or path. */
export function shortModelName(modelId: string): string {
  const segments = modelId.split("/").filter((segment) => segment.length > 0);
  return (segments.at(-1) ?? modelId).toLowerCase();
}

/**
 * Quantization read from a model name, as OdyssAI-X publishes it: `-4bit` → `4bit`, `-q8` → `q8`,
 * `bf16`/`fp16`/`fp8` → that token; null when the name says nothing.
 */
export function quantizationFromName(name: string): string | null {
  const lower = name.toLowerCase();
  const bits = /(?:^|[-_.])(\d{1,2})-?bits?(?:$|[-_.])/.exec(lower);
  if (bits) return `${bits[1]}bit`;
  const q = /(?:^|[-_.])(q\d{1,2})(?:$|[-_.])/.exec(lower);
  if (q?.[1]) return q[1];
  const float = /(?:^|[-_.])(bf16|fp16|f16|fp8|fp32)(?:$|[-_.])/.exec(lower);
  return float?.[1] ?? null;
}

/**
 * The model family read from a model name, when nothing better says it (an engine's `config.json` `model_type`
 * does): the leading name and version of the last path segment, lower-cased — `mlx-community/Qwen3-4B-4bit` →
 * `qwen3`, `Qwen3.6-27B` → `qwen3.6`, `Llama-3.2-1B-Instruct` → `llama-3.2`, `Mistral-7B` → `mistral`; null when it
 * does not start with a name.
 */
export function familyFromName(name: string): string | null {
  const match = /^([a-z]+(?:[-_]?\d+(?:\.\d+)?(?![\d.]*[bm](?:$|[-_])))?)/.exec(shortModelName(name));
  return match?.[1] || null;
}
