/**
 * Prompt token counts of local models on the main thread, without their weights: each model's tokenizer and chat
 * template (pure JavaScript: `@huggingface/tokenizers`, `@huggingface/jinja`; no MLX) are read on first use and kept
 * for the few most recently counted models, re-read when their files change, dropped when the model is unloaded.
 * Rendering and encoding are the engine Worker's own ({@link renderPrompt}), so a count equals the
 * `usage.prompt_tokens` the same request gets from the engine.
 */
import { ChatTemplateError } from "../engine/chat-template.ts";
import { loadPromptModel, type PromptModel, type PromptParams, renderPrompt } from "../engine/prompt.ts";
import { OpenAIError } from "../protocol/errors.ts";
import { fileStamp } from "./mlx-inventory.ts";
import type { KnownModel } from "./mlx-model-view.ts";
import { engineError } from "./mlx-render.ts";

/** How many models keep their tokenizer and template (the least recently counted one is dropped first). */
export const PROMPT_CACHE_MODELS = 4;

/** The files a model's tokenizer and chat template are read from. */
const PROMPT_FILES = ["tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "generation_config.json"];

interface Entry {
  path: string;
  stamp: string;
  prompt: PromptModel;
}

/**
 * Counts prompt tokens per model with a small cache of tokenizers and chat templates (by model id, least recently
 * used dropped first; an entry is re-read when the model's directory or its tokenizer files change).
 */
export class PromptCounter {
  readonly #capacity: number;
  /** By model id, least recently used first. */
  readonly #entries = new Map<string, Entry>();

  /** @param capacity models whose tokenizer and template are kept (default {@link PROMPT_CACHE_MODELS}) */
  constructor(capacity = PROMPT_CACHE_MODELS) {
    this.#capacity = capacity;
  }

  /**
   * Counts the prompt tokens of a request to `model`: its chat template renders the conversation (tools, template
   * options and generation prompt included) and its tokenizer encodes the text, as the engine does.
   * @returns the number of prompt tokens
   * @throws OpenAIError 400 `invalid_prompt` with the template's message when the messages cannot be rendered (what
   *   the chat path answers); 500 `model_load_failed` (param `model`) when the tokenizer or template cannot be read.
   */
  count(model: KnownModel, params: PromptParams): number {
    const prompt = this.#prompt(model);
    try {
      return renderPrompt(prompt, params).tokens.length;
    } catch (err) {
      throw engineError({ message: (err as Error).message, status: err instanceof ChatTemplateError ? 400 : 500 });
    }
  }

  /** Drops a model's tokenizer and template (the model was unloaded); a later count reads them again. */
  delete(id: string): void {
    this.#entries.delete(id);
  }

  /** Models whose tokenizer and template are held now. */
  get size(): number {
    return this.#entries.size;
  }

  #prompt(model: KnownModel): PromptModel {
    const stamp = fileStamp(model.path, PROMPT_FILES);
    let entry = this.#entries.get(model.id);
    this.#entries.delete(model.id);
    if (!entry || entry.path !== model.path || entry.stamp !== stamp) {
      try {
        entry = { path: model.path, stamp, prompt: loadPromptModel(model.path) };
      } catch (err) {
        const message = `loading model '${model.id}' from ${model.path}: ${(err as Error).message}`;
        throw new OpenAIError(500, message, { param: "model", code: "model_load_failed" });
      }
    }
    this.#entries.set(model.id, entry);
    for (const id of this.#entries.keys()) {
      if (this.#entries.size <= this.#capacity) break;
      this.#entries.delete(id);
    }
    return entry.prompt;
  }
}
