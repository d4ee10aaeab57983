/**
 * The token-count Worker of the local backend (DESIGN §1: nothing CPU-heavy on the main thread): renders a request
 * with a model's chat template and encodes it with its tokenizer, off the main thread, for `count_tokens`. One Worker
 * serves every model; it keeps the tokenizer and template of the models the main thread's {@link PromptCounter} tells
 * it to hold (`count` reads them on first use or when the model's files changed, `drop` lets them go).
 *
 * Rendering and encoding are the engine Worker's own ({@link renderPrompt}), so a count equals the
 * `usage.prompt_tokens` of the same request. Only plain data crosses (structured clone).
 */
declare const self: Worker;

import { ChatTemplateError } from "./chat-template.ts";
import { loadPromptModel, type PromptModel, renderPrompt } from "./prompt.ts";
import type { CountedModel, FromTokenCounter, ToTokenCounter } from "./token-count-messages.ts";

/** Held tokenizers and templates, by model id. */
const held = new Map<string, CountedModel & { prompt: PromptModel }>();

const send = (m: FromTokenCounter) => self.postMessage(m);

/**
 * The model's tokenizer and template, read now unless held for the same directory and files.
 * @throws Error naming the file when one cannot be read
 */
function promptOf(model: CountedModel): PromptModel {
  const entry = held.get(model.id);
  if (entry?.path === model.path && entry.stamp === model.stamp) return entry.prompt;
  held.delete(model.id);
  const prompt = loadPromptModel(model.path);
  held.set(model.id, { ...model, prompt });
  return prompt;
}

self.onmessage = (event: MessageEvent<ToTokenCounter>) => {
  const msg = event.data;
  if (msg.type === "drop") {
    held.delete(msg.model);
    return;
  }
  let prompt: PromptModel;
  try {
    prompt = promptOf(msg.model);
  } catch (err) {
    send({ type: "count_failed", id: msg.id, stage: "load", message: (err as Error).message });
    return;
  }
  try {
    send({ type: "counted", id: msg.id, tokens: renderPrompt(prompt, msg.params).tokens.length });
  } catch (err) {
    const status = err instanceof ChatTemplateError ? 400 : 500;
    send({ type: "count_failed", id: msg.id, stage: "render", message: (err as Error).message, status });
  }
};
