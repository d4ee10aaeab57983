/**
 * Canonical completion → Anthropic message (`chatCompletionToMessage`), table-driven with literal expectations:
 * blocks, every stop reason, usage with cached tokens. The other direction is in
 * test/backends/anthropic/response.test.ts.
 */
import { describe, expect, test } from "bun:test";
import type { AnthropicMessage } from "../../src/protocol/anthropic.ts";
import type { ChatCompletion } from "../../src/protocol/openai-response.ts";
import { chatCompletionToMessage } from "../../src/translate/anthropic-response.ts";

const completion = (
  message: Record<string, unknown>,
  finish: string | null,
  usage?: Record<string, unknown>,
  stopReason?: string,
): ChatCompletion =>
  ({
    id: "chatcmpl-abc",
    object: "chat.completion",
    created: 1,
    model: "up",
    choices: [{ index: 0, message: { role: "assistant", ...message }, finish_reason: finish, stop_reason: stopReason }],
    usage: usage ?? { prompt_tokens: 10, completion_tokens: 3, total_tokens: 13 },
  }) as unknown as ChatCompletion;

const zeroCache = { cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
const message = (content: unknown[], stop: string, extra: Record<string, unknown> = {}) => ({
  id: "msg_abc",
  type: "message",
  role: "assistant",
  model: "claude-x",
  content,
  stop_reason: stop,
  stop_sequence: null,
  usage: { input_tokens: 10, output_tokens: 3, ...zeroCache },
  ...extra,
});

const toMessage: Array<{ name: string; input: ChatCompletion; stopSequences?: string[]; expected: unknown }> = [
  {
    name: "text, stop → end_turn",
    input: completion({ content: "Hello" }, "stop"),
    expected: message([{ type: "text", text: "Hello" }], "end_turn"),
  },
  {
    name: "reasoning_content → thinking block before the text",
    input: completion({ content: "4", reasoning_content: "2+2" }, "stop"),
    expected: message(
      [
        { type: "thinking", thinking: "2+2", signature: "" },
        { type: "text", text: "4" },
      ],
      "end_turn",
    ),
  },
  {
    name: "OpenRouter's reasoning read as reasoning_content",
    input: completion({ content: "ok", reasoning: "hm" }, "stop"),
    expected: message(
      [
        { type: "thinking", thinking: "hm", signature: "" },
        { type: "text", text: "ok" },
      ],
      "end_turn",
    ),
  },
  {
    name: "tool call → tool_use with parsed input",
    input: completion(
      {
        content: null,
        tool_calls: [
          { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
        ],
      },
      "tool_calls",
    ),
    expected: message([{ type: "tool_use", id: "call_1", name: "get_weather", input: { city: "Paris" } }], "tool_use"),
  },
  {
    name: "parallel tool calls after text; invalid JSON arguments → {}",
    input: completion(
      {
        content: "Both:",
        tool_calls: [
          { id: "call_1", type: "function", function: { name: "a", arguments: "{}" } },
          { id: "call_2", type: "function", function: { name: "b", arguments: '{"cut":' } },
        ],
      },
      "tool_calls",
    ),
    expected: message(
      [
        { type: "text", text: "Both:" },
        { type: "tool_use", id: "call_1", name: "a", input: {} },
        { type: "tool_use", id: "call_2", name: "b", input: {} },
      ],
      "tool_use",
    ),
  },
  {
    name: "finish stop with tool calls → tool_use",
    input: completion(
      { content: null, tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{}" } }] },
      "stop",
    ),
    expected: message([{ type: "tool_use", id: "c", name: "f", input: {} }], "tool_use"),
  },
  {
    name: "length → max_tokens",
    input: completion({ content: "Once upon" }, "length"),
    expected: message([{ type: "text", text: "Once upon" }], "max_tokens"),
  },
  {
    name: "vLLM stop_reason naming a requested stop sequence → stop_sequence",
    input: completion({ content: "1, 2" }, "stop", undefined, "END"),
    stopSequences: ["END", "STOP"],
    expected: message([{ type: "text", text: "1, 2" }], "stop_sequence", { stop_sequence: "END" }),
  },
  {
    name: "a stop_reason that is not a requested stop sequence → end_turn",
    input: completion({ content: "x" }, "stop", undefined, "</s>"),
    stopSequences: ["END"],
    expected: message([{ type: "text", text: "x" }], "end_turn"),
  },
  {
    name: "content_filter → refusal",
    input: completion({ content: "" }, "content_filter"),
    expected: message([], "refusal"),
  },
  {
    name: "cached tokens: input_tokens excludes them, cache_read_input_tokens holds them",
    input: completion({ content: "hi" }, "stop", {
      prompt_tokens: 100,
      completion_tokens: 5,
      total_tokens: 105,
      prompt_tokens_details: { cached_tokens: 80 },
    }),
    expected: message([{ type: "text", text: "hi" }], "end_turn", {
      usage: { input_tokens: 20, output_tokens: 5, cache_creation_input_tokens: 0, cache_read_input_tokens: 80 },
    }),
  },
];

describe("chatCompletionToMessage", () => {
  test.each(toMessage.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    expect(chatCompletionToMessage(c.input, { model: "claude-x", stopSequences: c.stopSequences })).toEqual(
      c.expected as AnthropicMessage,
    );
  });
});
