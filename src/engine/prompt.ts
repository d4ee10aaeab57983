/**
 * A chat request as prompt tokens: the model's chat template renders the conversation (tools and template options
 * included, generation prompt appended) and its tokenizer encodes the text without adding special tokens (the
 * template writes BOS itself), as transformers' `apply_chat_template(tokenize=True)` does.
 *
 * One code path for the engine Worker, which generates from these tokens and reports their count as
 * `usage.prompt_tokens`, and for the main thread, which counts them without loading the weights (`countTokens`).
 */
import { ChatTemplate, ChatTemplateError } from "./chat-template.ts";
import { normalizeMessages } from "./messages.ts";
import type { GenerateParams } from "./worker-messages.ts";
import { ModelTokenizer } from "./tokenizer.ts";

/** The request fields that shape the prompt (OpenAI `messages` and `tools`, the template options). */
export type PromptParams = Pick<GenerateParams, "messages" | "tools" | "enable_thinking" | "reasoning_effort">;

/** What rendering a prompt needs: the model's tokenizer and chat template. */
export interface PromptModel {
  tokenizer: ModelTokenizer;
  template: ChatTemplate;
}

/** A rendered prompt: the template's text and its token ids. */
export interface RenderedPrompt {
  text: string;
  tokens: number[];
}

/**
 * Reads a model directory's tokenizer and chat template (`tokenizer.json`, `tokenizer_config.json`, optionally
 * `chat_template.jinja` and `generation_config.json`); pure JavaScript, no MLX.
 * @param configEos `eos_token_id` values from `config.json` (where generation stops; rendering does not use them)
 * @throws Error naming the file when one is missing or not valid JSON, or when there is no chat template.
 */
export function loadPromptModel(dir: string, configEos: number[] = []): PromptModel {
  const tokenizer = new ModelTokenizer(dir, configEos);
  return { tokenizer, template: new ChatTemplate(tokenizer) };
}

/**
 * Renders a request's conversation with the chat template (messages normalised by `normalizeMessages`) and encodes
 * it.
 * @throws ChatTemplateError (a 400 for the client) when the template rejects the messages or renders nothing
 */
export function renderPrompt(model: PromptModel, params: PromptParams): RenderedPrompt {
  const text = model.template.render(normalizeMessages(params.messages), params);
  const tokens = model.tokenizer.encode(text);
  if (tokens.length === 0) throw new ChatTemplateError("the rendered prompt is empty");
  return { text, tokens };
}
