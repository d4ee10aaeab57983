/**
 * Shared inputs of the `/v1/responses` translation tests (test/translate/responses-*.test.ts): the request parser, the
 * pinned Response identity, the in-progress Response, output-item and chat-completion builders, chat chunk builders and
 * an async source of stream items.
 */
import * as v from "valibot";
import type {
  ChatCompletion,
  ChatCompletionChunk,
  OpenAIAssistantMessage,
} from "../../src/protocol/openai-response.ts";
import type {
  OpenAIDelta,
  OpenAIFinishReason,
  OpenAIStreamItem,
  OpenAIUsage,
} from "../../src/protocol/openai-response.ts";
import {
  ResponsesRequestSchema,
  type ResponseFunctionToolCall,
  type ResponseItemStatus,
  type ResponseObject,
  type ResponseOutputMessage,
  type ResponseReasoningItem,
} from "../../src/protocol/responses.ts";

/** A Responses request body validated as the route does. */
export const parse = (body: Record<string, unknown>) => v.parse(ResponsesRequestSchema, body);
/** Pins the Response id (item ids derive from it) and `created_at`. */
export const ID = { responseId: "resp_r1", createdAt: 1700000000 };
/** The smallest request: the one {@link BASE} echoes. */
export const BODY = { model: "m", input: "Hi" };

/** A chat completion with one choice (`content: null` unless `message` sets it). */
export function completion(
  message: Partial<OpenAIAssistantMessage>,
  finish_reason: OpenAIFinishReason,
  usage?: OpenAIUsage,
): ChatCompletion {
  return {
    id: "chatcmpl-1",
    object: "chat.completion",
    created: 1,
    model: "m",
    choices: [{ index: 0, message: { role: "assistant", content: null, ...message }, finish_reason }],
    ...(usage ? { usage } : {}),
  };
}

/** The Response of `{model: "m", input: "Hi"}` in progress, as streamed first. */
export const BASE: ResponseObject = {
  id: "resp_r1",
  object: "response",
  created_at: 1700000000,
  status: "in_progress",
  error: null,
  incomplete_details: null,
  instructions: null,
  max_output_tokens: null,
  model: "m",
  output: [],
  parallel_tool_calls: true,
  previous_response_id: null,
  reasoning: { effort: null, summary: null },
  store: false,
  temperature: null,
  text: { format: { type: "text" } },
  tool_choice: "auto",
  tools: [],
  top_p: null,
  truncation: "disabled",
  usage: null,
  user: null,
  metadata: {},
};
/** A message output item holding one `output_text` part. */
export const message = (id: string, text: string, status: ResponseItemStatus = "completed"): ResponseOutputMessage => ({
  id,
  type: "message",
  role: "assistant",
  status,
  content: [{ type: "output_text", text, annotations: [] }],
});
/** A reasoning output item holding one `summary_text` part. */
export const reasoningItem = (
  id: string,
  text: string,
  status: ResponseItemStatus = "completed",
): ResponseReasoningItem => ({
  id,
  type: "reasoning",
  summary: [{ type: "summary_text", text }],
  status,
});
/** A function_call output item. */
export function functionCall(
  id: string,
  call_id: string,
  name: string,
  args: string,
  status: ResponseItemStatus = "completed",
): ResponseFunctionToolCall {
  return { id, type: "function_call", call_id, name, arguments: args, status };
}

/** A chat chunk with one choice. */
export function chunk(delta: OpenAIDelta, finish_reason: OpenAIFinishReason | null = null): ChatCompletionChunk {
  const choices = [{ index: 0, delta, finish_reason }];
  return { id: "c1", object: "chat.completion.chunk", created: 1, model: "m", choices };
}
/** A chunk with no choices, only usage. */
export function usageChunk(prompt_tokens: number, completion_tokens: number): ChatCompletionChunk {
  const usage = { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens };
  return { id: "c1", object: "chat.completion.chunk", created: 1, model: "m", choices: [], usage };
}
/** Yields `items` in order (throwing the `Error`s among them) and calls `cleanup` when it ends or is stopped. */
export async function* source(
  items: Array<OpenAIStreamItem | Error>,
  cleanup?: () => void,
): AsyncGenerator<OpenAIStreamItem> {
  try {
    for (const item of items) {
      if (item instanceof Error) throw item;
      yield item;
    }
  } finally {
    cleanup?.();
  }
}

/** The events of one reasoning chain, a text and two interleaved tool calls, with usage after the finish. */
export const RICH: OpenAIStreamItem[] = [
  chunk({ role: "assistant", content: "" }),
  chunk({ reasoning_content: "Two " }),
  chunk({ reasoning_content: "cities." }),
  chunk({ content: "Checking." }),
  chunk({ tool_calls: [{ index: 0, id: "call_a", type: "function", function: { name: "weather", arguments: "" } }] }),
  chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
  chunk({ tool_calls: [{ index: 1, id: "call_b", type: "function", function: { name: "weather", arguments: "{}" } }] }),
  chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
  chunk({}, "tool_calls"),
  usageChunk(20, 15),
];
/** The output items {@link RICH} ends with. */
export const RICH_OUTPUT = [
  reasoningItem("rs_r1_0", "Two cities."),
  message("msg_r1_1", "Checking."),
  functionCall("fc_r1_2", "call_a", "weather", '{"city":"Paris"}'),
  functionCall("fc_r1_3", "call_b", "weather", "{}"),
];
