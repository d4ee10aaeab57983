/**
 * Renders a conversation with the model's Jinja chat template (`tokenizer_config.json` `chat_template`) through
 * `@huggingface/jinja`, with the variables transformers' `apply_chat_template` passes: `messages`, `tools`,
 * `add_generation_prompt`, the special tokens, and template options (`enable_thinking`, `reasoning_effort`).
 */
import { Template } from "@huggingface/jinja";
import { type ModelTokenizer, readTokenizerConfig } from "./tokenizer.ts";

/**
 * An error in the request's messages that keeps them from becoming a prompt (a 400 for the client): the template
 * rejected them, or they render to nothing.
 */
export class ChatTemplateError extends Error {
  override name = "ChatTemplateError";
}

export interface TemplateOptions {
  tools?: unknown[];
  enable_thinking?: boolean;
  reasoning_effort?: string;
}

export class ChatTemplate {
  /** The Jinja source (the `default` one when the config lists several), e.g. for `detectOutputFormat`. */
  readonly source: string;
  readonly #template: Template;
  readonly #tokenizer: ModelTokenizer;

  /** @throws Error when the tokenizer config has no chat template or it does not parse. */
  constructor(tokenizer: ModelTokenizer) {
    const source = selectTemplate(tokenizer.config.chat_template);
    if (!source) throw new Error("tokenizer_config.json has no chat_template");
    this.source = source;
    this.#template = new Template(source);
    this.#tokenizer = tokenizer;
  }

  /**
   * Renders `messages` to the prompt text, ending with the assistant generation prompt. Pass OpenAI messages through
   * `normalizeMessages` first (string contents, tool-call arguments as mappings); `tools` are the request's OpenAI
   * tools, given to the template only when non-empty (templates test `tools is defined` / `if tools`).
   * @throws ChatTemplateError with the template's message (e.g. `raise_exception` for an unsupported role).
   */
  render(messages: unknown[], options: TemplateOptions = {}): string {
    const vars: Record<string, unknown> = {
      messages,
      add_generation_prompt: true,
      ...this.#tokenizer.specialTokens(),
    };
    if (options.tools?.length) vars.tools = options.tools;
    if (options.enable_thinking !== undefined) vars.enable_thinking = options.enable_thinking;
    if (options.reasoning_effort !== undefined) vars.reasoning_effort = options.reasoning_effort;
    try {
      return this.#template.render(vars);
    } catch (err) {
      throw new ChatTemplateError(`chat template: ${(err as Error).message}`);
    }
  }
}

/** The template to use from a `chat_template` value: the string, or the `default` entry of a named list. */
function selectTemplate(raw: string | { name: string; template: string }[] | undefined): string | undefined {
  return Array.isArray(raw) ? (raw.find((t) => t.name === "default")?.template ?? raw[0]?.template) : raw;
}

/**
 * Reads a model directory's chat template source without loading its tokenizer (`tokenizer_config.json`
 * `chat_template`, else `chat_template.jinja`); undefined when there is none or the files are unreadable.
 */
export function readChatTemplateSource(dir: string): string | undefined {
  try {
    return selectTemplate(readTokenizerConfig(dir).chat_template);
  } catch {
    return undefined;
  }
}
