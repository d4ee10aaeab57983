/**
 * Non-streamed answers between the dialects (`chat.completion` ↔ `message`), table-driven with literal expectations:
 * blocks, every stop reason, usage with cached tokens.
 */
import { describe, expect, test } from "bun:test";
import type { AnthropicMessage } from "../../src/protocol/anthropic.ts";
import type { ChatCompletion } from "../../src/protocol/openai-wire.ts";
import { chatCompletionToMessage, messageToChatCompletion } from "../../src/translate/anthropic-response.ts";

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

const anthropicMessage = (content: unknown[], stop: string, extra: Record<string, unknown> = {}): AnthropicMessage =>
  ({
    id: "msg_01X",
    type: "message",
    role: "assistant",
    model: "claude-sonnet",
    content,
    stop_reason: stop,
    stop_sequence: null,
    usage: { input_tokens: 12, output_tokens: 4 },
    ...extra,
  }) as AnthropicMessage;

const chatCompletion = (
  assistant: Record<string, unknown>,
  finish: string,
  extra: { usage?: unknown; stop_reason?: string } = {},
) => ({
  id: "chatcmpl-01X",
  object: "chat.completion",
  created: 1700000000,
  model: "or:claude",
  choices: [
    {
      index: 0,
      message: { role: "assistant", ...assistant },
      finish_reason: finish,
      ...(extra.stop_reason ? { stop_reason: extra.stop_reason } : {}),
    },
  ],
  usage: extra.usage ?? {
    prompt_tokens: 12,
    completion_tokens: 4,
    total_tokens: 16,
    prompt_tokens_details: { cached_tokens: 0 },
  },
});

const toCompletion: Array<{ name: string; input: AnthropicMessage; expected: unknown }> = [
  {
    name: "text end_turn → stop",
    input: anthropicMessage([{ type: "text", text: "Hi!" }], "end_turn"),
    expected: chatCompletion({ content: "Hi!" }, "stop"),
  },
  {
    name: "thinking → reasoning_content; redacted_thinking dropped; text blocks concatenated",
    input: anthropicMessage(
      [
        { type: "thinking", thinking: "Let me see.", signature: "EqQB" },
        { type: "redacted_thinking", data: "xx" },
        { type: "text", text: "It is " },
        { type: "text", text: "4." },
      ],
      "end_turn",
    ),
    expected: chatCompletion({ content: "It is 4.", reasoning_content: "Let me see." }, "stop"),
  },
  {
    name: "tool_use only → content null, tool_calls, finish tool_calls",
    input: anthropicMessage(
      [{ type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Oslo" } }],
      "tool_use",
    ),
    expected: chatCompletion(
      {
        content: null,
        tool_calls: [
          { id: "toolu_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } },
        ],
      },
      "tool_calls",
    ),
  },
  {
    name: "parallel tool_use after text",
    input: anthropicMessage(
      [
        { type: "text", text: "Two lookups." },
        { type: "tool_use", id: "toolu_1", name: "a", input: {} },
        { type: "tool_use", id: "toolu_2", name: "b", input: { n: 1 } },
      ],
      "tool_use",
    ),
    expected: chatCompletion(
      {
        content: "Two lookups.",
        tool_calls: [
          { id: "toolu_1", type: "function", function: { name: "a", arguments: "{}" } },
          { id: "toolu_2", type: "function", function: { name: "b", arguments: '{"n":1}' } },
        ],
      },
      "tool_calls",
    ),
  },
  {
    name: "stop_sequence → stop, the sequence kept as the choice's stop_reason",
    input: anthropicMessage([{ type: "text", text: "a" }], "stop_sequence", { stop_sequence: "###" }),
    expected: chatCompletion({ content: "a" }, "stop", { stop_reason: "###" }),
  },
  {
    name: "max_tokens → length",
    input: anthropicMessage([{ type: "text", text: "a" }], "max_tokens"),
    expected: chatCompletion({ content: "a" }, "length"),
  },
  {
    name: "pause_turn → stop",
    input: anthropicMessage([{ type: "text", text: "a" }], "pause_turn"),
    expected: chatCompletion({ content: "a" }, "stop"),
  },
  {
    name: "refusal → content_filter, empty content ''",
    input: anthropicMessage([], "refusal"),
    expected: chatCompletion({ content: "" }, "content_filter"),
  },
  {
    name: "usage: prompt_tokens = input + cache reads + cache writes; cached_tokens = reads",
    input: anthropicMessage([{ type: "text", text: "a" }], "end_turn", {
      usage: { input_tokens: 5, output_tokens: 7, cache_read_input_tokens: 100, cache_creation_input_tokens: 20 },
    }),
    expected: chatCompletion({ content: "a" }, "stop", {
      usage: {
        prompt_tokens: 125,
        completion_tokens: 7,
        total_tokens: 132,
        prompt_tokens_details: { cached_tokens: 100 },
      },
    }),
  },
];

describe("messageToChatCompletion", () => {
  test.each(toCompletion.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    expect(messageToChatCompletion(c.input, { model: "or:claude", created: 1700000000 })).toEqual(
      c.expected as ChatCompletion,
    );
  });
});
