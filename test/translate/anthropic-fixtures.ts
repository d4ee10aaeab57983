/**
 * Shared inputs of the Anthropic ↔ OpenAI conversion tests, both directions (test/translate/anthropic*.test.ts and
 * test/backends/anthropic/): request pieces, OpenAI chunk builders, async-iterable helpers.
 */
import * as v from "valibot";
import { MessagesRequestSchema } from "../../src/protocol/anthropic.ts";
import { OpenAIError } from "../../src/protocol/errors.ts";
import type { ChatCompletionChunk, OpenAIDelta } from "../../src/protocol/openai-response.ts";

/** An Anthropic request body validated as the route does. */
export const parse = (body: Record<string, unknown>) => v.parse(MessagesRequestSchema, body);
/** A user message (same shape in both dialects). */
export const user = (content: unknown) => ({ role: "user", content });
/** A JSON Schema with one required string property. */
export const weatherSchema = { type: "object", properties: { city: { type: "string" } }, required: ["city"] };
/** The same tool in Anthropic's shape and OpenAI's. */
export const weatherTool = { name: "get_weather", description: "Current weather", input_schema: weatherSchema };
export const weatherFunction = {
  type: "function",
  function: { name: "get_weather", description: "Current weather", parameters: weatherSchema },
};

/** A translation case: input body, literal expected output. */
export interface Case {
  name: string;
  input: Record<string, unknown>;
  expected: Record<string, unknown>;
}

/** Throws what `run` throws, or fails. */
export function thrown(run: () => unknown): OpenAIError {
  try {
    run();
  } catch (error) {
    if (error instanceof OpenAIError) return error;
    throw error;
  }
  throw new Error("expected an OpenAIError");
}

/** A `chat.completion.chunk` (id `chatcmpl-s1`) with one choice. */
export const chunk = (delta: OpenAIDelta, finish: string | null = null, stopReason?: string): ChatCompletionChunk =>
  ({
    id: "chatcmpl-s1",
    object: "chat.completion.chunk",
    created: 1,
    model: "up",
    choices: [{ index: 0, delta, finish_reason: finish, ...(stopReason ? { stop_reason: stopReason } : {}) }],
  }) as ChatCompletionChunk;
/** The usage chunk (`choices: []`); `cached` adds `prompt_tokens_details`. */
export const usageChunk = (prompt: number, completionTokens: number, cached?: number): ChatCompletionChunk => ({
  id: "chatcmpl-s1",
  object: "chat.completion.chunk",
  created: 1,
  model: "up",
  choices: [],
  usage: {
    prompt_tokens: prompt,
    completion_tokens: completionTokens,
    total_tokens: prompt + completionTokens,
    ...(cached === undefined ? {} : { prompt_tokens_details: { cached_tokens: cached } }),
  },
});

/** Yields `items` one by one. */
export async function* from<T>(items: T[]): AsyncGenerator<T> {
  for (const item of items) yield item;
}
/** Every item of `source`. */
export async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}
