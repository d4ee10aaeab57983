/**
 * Anthropic upstream message → canonical completion (`messageToChatCompletion`), table-driven with literal
 * expectations: blocks, every stop reason, usage with cache reads and writes. The other direction is in
 * test/translate/anthropic-response.test.ts.
 */
import { describe, expect, test } from "bun:test";
import { messageToChatCompletion } from "../../../src/backends/anthropic/response.ts";
import type { AnthropicMessage } from "../../../src/protocol/anthropic.ts";
import type { ChatCompletion } from "../../../src/protocol/openai-response.ts";

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
