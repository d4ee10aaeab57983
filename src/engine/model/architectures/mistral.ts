/**
 * mistral: mlx-lm has no model file of its own for it (`utils.MODEL_REMAPPING` maps `mistral` to `llama`), so it
 * loads through `models/llama.py` exactly as {@link llama} does, keeping its own `model_type`.
 */
import type { Architecture } from "./architecture.ts";
import { llama } from "./llama.ts";

export const mistral: Architecture<"mistral"> = { ...llama, modelType: "mistral" };
