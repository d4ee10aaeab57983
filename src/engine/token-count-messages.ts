/**
 * Messages between the main thread's prompt counter (src/backends/mlx/prompt-counter.ts) and the token-count Worker
 * (./token-count-worker.ts). Only plain data crosses (structured clone).
 */
import type { PromptParams } from "./prompt.ts";

/** A model as the Worker reads it: `stamp` changes when its tokenizer or template files change (then re-read). */
export interface CountedModel {
  id: string;
  path: string;
  stamp: string;
}

/** Main thread → Worker: count a request's prompt tokens; forget a model's tokenizer and template. */
export type ToTokenCounter =
  | { type: "count"; id: number; model: CountedModel; params: PromptParams }
  | { type: "drop"; model: string };

/**
 * Worker → main thread, one answer per `count`: the token count, or why there is none — `load` (the tokenizer or
 * template files cannot be read; the model is not held) or `render` (`status` 400 when the template rejects the
 * messages, 500 otherwise).
 */
export type FromTokenCounter =
  | { type: "counted"; id: number; tokens: number }
  | { type: "count_failed"; id: number; stage: "load"; message: string }
  | { type: "count_failed"; id: number; stage: "render"; message: string; status: number };
