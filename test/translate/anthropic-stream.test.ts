/**
 * OpenAI chunks → Anthropic events (`chunksToAnthropicEvents`), table-driven with the literal event sequences: text,
 * thinking, tool call fragments, parallel calls, usage after the finish chunk, errors mid-stream, early ends. The other
 * direction is in test/backends/anthropic/stream.test.ts.
 */
import { describe, expect, test } from "bun:test";
import type { OpenAIStreamItem } from "../../src/protocol/openai-response.ts";
import { chunksToAnthropicEvents } from "../../src/translate/anthropic-stream.ts";
import { chunk, collect, from, usageChunk } from "./anthropic-fixtures.ts";

const zeroCache = { cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
const start = {
  event: "message_start",
  data: {
    type: "message_start",
    message: {
      id: "msg_s1",
      type: "message",
      role: "assistant",
      model: "claude-x",
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 0, output_tokens: 0, ...zeroCache },
    },
  },
};
const blockStart = (index: number, content_block: unknown) => ({
  event: "content_block_start",
  data: { type: "content_block_start", index, content_block },
});
const delta = (index: number, d: unknown) => ({
  event: "content_block_delta",
  data: { type: "content_block_delta", index, delta: d },
});
const blockStop = (index: number) => ({ event: "content_block_stop", data: { type: "content_block_stop", index } });
const messageDelta = (stop: string, usage: Record<string, number>, stopSequence: string | null = null) => ({
  event: "message_delta",
  data: { type: "message_delta", delta: { stop_reason: stop, stop_sequence: stopSequence }, usage },
});
const stopEvent = { event: "message_stop", data: { type: "message_stop" } };
const usage = (input: number, output: number, cacheRead = 0) => ({
  input_tokens: input,
  output_tokens: output,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: cacheRead,
});

const toEvents: Array<{ name: string; items: OpenAIStreamItem[]; stopSequences?: string[]; expected: unknown[] }> = [
  {
    name: "text, with the usage chunk arriving after the finish chunk",
    items: [
      chunk({ role: "assistant", content: "" }),
      chunk({ content: "Hel" }),
      chunk({ content: "lo" }),
      chunk({}, "stop"),
      usageChunk(9, 2),
    ],
    expected: [
      start,
      blockStart(0, { type: "text", text: "" }),
      delta(0, { type: "text_delta", text: "Hel" }),
      delta(0, { type: "text_delta", text: "lo" }),
      blockStop(0),
      messageDelta("end_turn", usage(9, 2)),
      stopEvent,
    ],
  },
  {
    name: "thinking then text: two blocks, cached tokens reported",
    items: [
      chunk({ role: "assistant", reasoning_content: "Think" }),
      chunk({ reasoning_content: "ing." }),
      chunk({ content: "Done." }),
      chunk({}, "stop"),
      usageChunk(50, 6, 40),
    ],
    expected: [
      start,
      blockStart(0, { type: "thinking", thinking: "", signature: "" }),
      delta(0, { type: "thinking_delta", thinking: "Think" }),
      delta(0, { type: "thinking_delta", thinking: "ing." }),
      blockStop(0),
      blockStart(1, { type: "text", text: "" }),
      delta(1, { type: "text_delta", text: "Done." }),
      blockStop(1),
      messageDelta("end_turn", usage(10, 6, 40)),
      stopEvent,
    ],
  },
  {
    name: "text then a tool call in fragments → tool_use block with input_json_delta",
    items: [
      chunk({ content: "Checking." }),
      chunk({
        tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "get_weather", arguments: "" } }],
      }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
      chunk({}, "tool_calls"),
    ],
    expected: [
      start,
      blockStart(0, { type: "text", text: "" }),
      delta(0, { type: "text_delta", text: "Checking." }),
      blockStop(0),
      blockStart(1, { type: "tool_use", id: "call_1", name: "get_weather", input: {} }),
      delta(1, { type: "input_json_delta", partial_json: '{"city":' }),
      delta(1, { type: "input_json_delta", partial_json: '"Paris"}' }),
      blockStop(1),
      messageDelta("tool_use", usage(0, 0)),
      stopEvent,
    ],
  },
  {
    name: "parallel tool calls → one tool_use block each",
    items: [
      chunk({
        tool_calls: [{ index: 0, id: "call_a", type: "function", function: { name: "a", arguments: '{"x":1}' } }],
      }),
      chunk({ tool_calls: [{ index: 1, id: "call_b", type: "function", function: { name: "b", arguments: "{}" } }] }),
      chunk({}, "tool_calls"),
      usageChunk(20, 8),
    ],
    expected: [
      start,
      blockStart(0, { type: "tool_use", id: "call_a", name: "a", input: {} }),
      delta(0, { type: "input_json_delta", partial_json: '{"x":1}' }),
      blockStop(0),
      blockStart(1, { type: "tool_use", id: "call_b", name: "b", input: {} }),
      delta(1, { type: "input_json_delta", partial_json: "{}" }),
      blockStop(1),
      messageDelta("tool_use", usage(20, 8)),
      stopEvent,
    ],
  },
  {
    name: "a requested stop sequence → stop_sequence; length → max_tokens handled the same way",
    items: [chunk({ content: "1 2" }), chunk({}, "stop", "END")],
    stopSequences: ["END"],
    expected: [
      start,
      blockStart(0, { type: "text", text: "" }),
      delta(0, { type: "text_delta", text: "1 2" }),
      blockStop(0),
      messageDelta("stop_sequence", usage(0, 0), "END"),
      stopEvent,
    ],
  },
  {
    name: "length → max_tokens",
    items: [chunk({ content: "a" }), chunk({}, "length"), usageChunk(3, 1)],
    expected: [
      start,
      blockStart(0, { type: "text", text: "" }),
      delta(0, { type: "text_delta", text: "a" }),
      blockStop(0),
      messageDelta("max_tokens", usage(3, 1)),
      stopEvent,
    ],
  },
  {
    name: "empty answer still yields a valid sequence",
    items: [chunk({ role: "assistant", content: "" }), chunk({}, "stop"), usageChunk(4, 0)],
    expected: [start, messageDelta("end_turn", usage(4, 0)), stopEvent],
  },
  {
    name: "an error item mid-stream → error event, then the end",
    items: [
      chunk({ content: "Hal" }),
      { error: { message: "upstream 'x' broke off its answer", type: "server_error", code: "upstream_disconnected" } },
      chunk({ content: "never" }),
    ],
    expected: [
      start,
      blockStart(0, { type: "text", text: "" }),
      delta(0, { type: "text_delta", text: "Hal" }),
      {
        event: "error",
        data: { type: "error", error: { type: "api_error", message: "upstream 'x' broke off its answer" } },
      },
    ],
  },
  {
    name: "an error item carrying an Anthropic type keeps it",
    items: [{ error: { message: "Overloaded", type: "overloaded_error", code: "overloaded" } }],
    expected: [{ event: "error", data: { type: "error", error: { type: "overloaded_error", message: "Overloaded" } } }],
  },
  {
    name: "a source ending without finish_reason → error event",
    items: [chunk({ content: "Hal" })],
    expected: [
      start,
      blockStart(0, { type: "text", text: "" }),
      delta(0, { type: "text_delta", text: "Hal" }),
      {
        event: "error",
        data: {
          type: "error",
          error: { type: "api_error", message: "upstream stream ended early (no finish_reason)" },
        },
      },
    ],
  },
];

describe("chunksToAnthropicEvents", () => {
  test.each(toEvents.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const events = await collect(
      chunksToAnthropicEvents(from(c.items), { model: "claude-x", stopSequences: c.stopSequences }),
    );
    expect(events).toEqual(c.expected as never);
  });

  test("messageId option names the message", async () => {
    const [first] = await collect(
      chunksToAnthropicEvents(from([chunk({}, "stop")]), { model: "m", messageId: "msg_given" }),
    );
    expect((first!.data as { message: { id: string } }).message.id).toBe("msg_given");
  });
});
