/**
 * The architectures this engine implements, one file each (mlx-lm keeps one `models/<model_type>.py` each): the
 * table config.ts reads a `config.json`'s `model_type` from and loader.ts takes the weight sanitizing from.
 */
import type { Architecture } from "./architecture.ts";
import { llama } from "./llama.ts";
import { mistral } from "./mistral.ts";
import { qwen2 } from "./qwen2.ts";
import { qwen3 } from "./qwen3.ts";

const TABLE = { llama, mistral, qwen2, qwen3 };

/** A supported config.json `model_type`. */
export type ModelType = keyof typeof TABLE;

/** Every architecture, keyed by its `model_type` (the type checks that each key is its entry's `modelType`). */
export const ARCHITECTURES: { readonly [T in ModelType]: Architecture<T> } = TABLE;

/** Supported `model_type` values, in table order. */
export const MODEL_TYPES = Object.keys(ARCHITECTURES) as readonly ModelType[];
