/**
 * What the translated answers look like to a real Anthropic client: `@anthropic-ai/sdk` accumulating a stream rendered
 * by `chunksToAnthropicEvents` + `namedSseResponse` (and reading a `chatCompletionToMessage` body). The client gets a
 * `fetch` that returns the response under test. The `openai` SDK reading an Anthropic upstream's converted stream is
 * in test/backends/anthropic/sdk.test.ts.
 */
import { describe, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import { anthropicStreamError } from "../../src/protocol/anthropic-errors.ts";
import type { ChatCompletion, OpenAIStreamItem } from "../../src/protocol/openai-response.ts";
import { namedSseResponse } from "../../src/protocol/sse.ts";
import { chatCompletionToMessage } from "../../src/translate/anthropic-response.ts";
import { chunksToAnthropicEvents } from "../../src/translate/anthropic-stream.ts";
import { chunk, from, usageChunk } from "./anthropic-fixtures.ts";

/** An Anthropic client whose every request is answered by `respond`. */
const anthropicClient = (respond: () => Response) =>
  new Anthropic({ apiKey: "x", maxRetries: 0, fetch: async () => respond() });

/** The message the Anthropic SDK accumulates from our rendering of `items`. */
async function sdkFinalMessage(items: OpenAIStreamItem[], stopSequences?: string[]) {
  const client = anthropicClient(() =>
    namedSseResponse(chunksToAnthropicEvents(from(items), { model: "claude-x", stopSequences }), {
      onError: anthropicStreamError,
    }),
  );
  const stream = client.messages.stream({
    model: "claude-x",
    max_tokens: 100,
    messages: [{ role: "user", content: "Hi" }],
  });
  return JSON.parse(JSON.stringify(await stream.finalMessage()));
}

const sdkMessage = (
  content: unknown[],
  stop: string,
  usage: Record<string, number>,
  stopSequence: string | null = null,
) => ({
  id: "msg_s1",
  type: "message",
  role: "assistant",
  model: "claude-x",
  content,
  stop_reason: stop,
  stop_sequence: stopSequence,
  usage,
  // The SDK's structured-output helper adds this to every streamed final message.
  parsed_output: null,
});

const streamCases: Array<{ name: string; items: OpenAIStreamItem[]; stopSequences?: string[]; expected: unknown }> = [
  {
    name: "text; usage after the finish chunk",
    items: [
      chunk({ role: "assistant", content: "" }),
      chunk({ content: "Hello" }),
      chunk({ content: " world" }),
      chunk({}, "stop"),
      usageChunk(12, 2),
    ],
    expected: sdkMessage([{ type: "text", text: "Hello world" }], "end_turn", {
      input_tokens: 12,
      output_tokens: 2,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    }),
  },
  {
    name: "thinking then text, cached prompt tokens",
    items: [
      chunk({ reasoning_content: "Let me " }),
      chunk({ reasoning_content: "think." }),
      chunk({ content: "42" }),
      chunk({}, "stop"),
      usageChunk(100, 7, 64),
    ],
    expected: sdkMessage(
      [
        { type: "thinking", thinking: "Let me think.", signature: "" },
        { type: "text", text: "42" },
      ],
      "end_turn",
      { input_tokens: 36, output_tokens: 7, cache_creation_input_tokens: 0, cache_read_input_tokens: 64 },
    ),
  },
  {
    name: "parallel tool calls: input parsed from the input_json_delta fragments",
    items: [
      chunk({ content: "Looking up." }),
      chunk({
        tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "get_weather", arguments: "" } }],
      }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city": ' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris", "days": 2}' } }] }),
      chunk({
        tool_calls: [
          { index: 1, id: "call_2", type: "function", function: { name: "get_time", arguments: '{"tz":"CET"}' } },
        ],
      }),
      chunk({}, "tool_calls"),
      usageChunk(30, 25),
    ],
    expected: sdkMessage(
      [
        { type: "text", text: "Looking up." },
        { type: "tool_use", id: "call_1", name: "get_weather", input: { city: "Paris", days: 2 } },
        { type: "tool_use", id: "call_2", name: "get_time", input: { tz: "CET" } },
      ],
      "tool_use",
      { input_tokens: 30, output_tokens: 25, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    ),
  },
  {
    name: "stop sequence",
    items: [chunk({ content: "a b" }), chunk({}, "stop", "STOP"), usageChunk(5, 2)],
    stopSequences: ["STOP"],
    expected: sdkMessage(
      [{ type: "text", text: "a b" }],
      "stop_sequence",
      {
        input_tokens: 5,
        output_tokens: 2,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      },
      "STOP",
    ),
  },
  {
    name: "max_tokens",
    items: [chunk({ content: "Once" }), chunk({}, "length"), usageChunk(5, 1)],
    expected: sdkMessage([{ type: "text", text: "Once" }], "max_tokens", {
      input_tokens: 5,
      output_tokens: 1,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    }),
  },
];

describe("@anthropic-ai/sdk reads chunksToAnthropicEvents", () => {
  test.each(streamCases.map((c) => [c.name, c] as const))("messages.stream().finalMessage(): %s", async (_name, c) => {
    expect(await sdkFinalMessage(c.items, c.stopSequences)).toEqual(c.expected);
  });

  test("an error item mid-stream surfaces as the SDK's APIError with the Anthropic type", async () => {
    const items: OpenAIStreamItem[] = [
      chunk({ content: "Hal" }),
      { error: { message: "Overloaded", type: "overloaded_error", code: "overloaded" } },
    ];
    const error = await sdkFinalMessage(items).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect((error as InstanceType<typeof Anthropic.APIError>).error).toEqual({
      type: "error",
      error: { type: "overloaded_error", message: "Overloaded" },
    });
  });

  test("messages.create() returns chatCompletionToMessage's object as is", async () => {
    const completion: ChatCompletion = {
      id: "chatcmpl-nonstream",
      object: "chat.completion",
      created: 1,
      model: "up",
      choices: [
        {
          index: 0,
          message: {
            role: "assistant",
            content: "Sunny.",
            reasoning_content: "Check the tool output.",
            tool_calls: [{ id: "call_9", type: "function", function: { name: "log", arguments: '{"level":"info"}' } }],
          },
          finish_reason: "tool_calls",
        },
      ],
      usage: {
        prompt_tokens: 40,
        completion_tokens: 9,
        total_tokens: 49,
        prompt_tokens_details: { cached_tokens: 32 },
      },
    };
    const rendered = chatCompletionToMessage(completion, { model: "claude-x" });
    const client = anthropicClient(() => Response.json(rendered));
    const message = await client.messages.create({
      model: "claude-x",
      max_tokens: 50,
      messages: [{ role: "user", content: "?" }],
    });
    expect(JSON.parse(JSON.stringify(message))).toEqual({
      id: "msg_nonstream",
      type: "message",
      role: "assistant",
      model: "claude-x",
      content: [
        { type: "thinking", thinking: "Check the tool output.", signature: "" },
        { type: "text", text: "Sunny." },
        { type: "tool_use", id: "call_9", name: "log", input: { level: "info" } },
      ],
      stop_reason: "tool_use",
      stop_sequence: null,
      usage: { input_tokens: 8, output_tokens: 9, cache_creation_input_tokens: 0, cache_read_input_tokens: 32 },
    });
  });
});
