/**
 * Anthropic upstream events → OpenAI chunks (`anthropicEventsToChunks`), table-driven with the literal chunks, and the
 * SSE readers that feed the upstream stream conversions (`anthropicEventsFromSse` here, `chunksFromSse` of
 * src/protocol/sse.ts for OpenAI-dialect upstreams). The other direction is in test/translate/anthropic-stream.test.ts.
 */
import { describe, expect, test } from "bun:test";
import { anthropicEventsFromSse, anthropicEventsToChunks } from "../../../src/backends/anthropic/stream.ts";
import type { AnthropicStreamEvent } from "../../../src/protocol/anthropic.ts";
import { chunksFromSse } from "../../../src/protocol/sse.ts";
import { collect, from } from "../../translate/anthropic-fixtures.ts";

const messageStart = (
  usageIn: Record<string, number> = { input_tokens: 25, output_tokens: 1 },
): AnthropicStreamEvent => ({
  type: "message_start",
  message: {
    id: "msg_01Y",
    type: "message",
    role: "assistant",
    model: "claude-sonnet",
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: usageIn as never,
  },
});
const out = (d: Record<string, unknown>, finish: string | null = null, extra: Record<string, unknown> = {}) => ({
  id: "chatcmpl-01Y",
  object: "chat.completion.chunk",
  created: 1700000000,
  model: "or:claude",
  choices: [{ index: 0, delta: d, finish_reason: finish, ...extra }],
});
const usageOut = (prompt: number, completionTokens: number, cached = 0) => ({
  id: "chatcmpl-01Y",
  object: "chat.completion.chunk",
  created: 1700000000,
  model: "or:claude",
  choices: [],
  usage: {
    prompt_tokens: prompt,
    completion_tokens: completionTokens,
    total_tokens: prompt + completionTokens,
    prompt_tokens_details: { cached_tokens: cached },
  },
});
const role = out({ role: "assistant", content: "" });

const toChunks: Array<{ name: string; events: AnthropicStreamEvent[]; expected: unknown[] }> = [
  {
    name: "text with ping; usage from message_start + message_delta",
    events: [
      messageStart(),
      { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
      { type: "ping" },
      { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hello" } },
      { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "!" } },
      { type: "content_block_stop", index: 0 },
      { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: 15 } },
      { type: "message_stop" },
    ],
    expected: [role, out({ content: "Hello" }), out({ content: "!" }), out({}, "stop"), usageOut(25, 15)],
  },
  {
    name: "thinking then text; signature_delta dropped; cache reads counted in prompt_tokens",
    events: [
      messageStart({ input_tokens: 5, output_tokens: 1, cache_read_input_tokens: 30, cache_creation_input_tokens: 0 }),
      { type: "content_block_start", index: 0, content_block: { type: "thinking", thinking: "", signature: "" } },
      { type: "content_block_delta", index: 0, delta: { type: "thinking_delta", thinking: "Hmm." } },
      { type: "content_block_delta", index: 0, delta: { type: "signature_delta", signature: "EqQBCg" } },
      { type: "content_block_stop", index: 0 },
      { type: "content_block_start", index: 1, content_block: { type: "text", text: "" } },
      { type: "content_block_delta", index: 1, delta: { type: "text_delta", text: "Yes." } },
      { type: "content_block_stop", index: 1 },
      { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: 9 } },
      { type: "message_stop" },
    ],
    expected: [
      role,
      out({ reasoning_content: "Hmm." }),
      out({ content: "Yes." }),
      out({}, "stop"),
      usageOut(35, 9, 30),
    ],
  },
  {
    name: "tool_use with input_json_delta fragments (empty fragment skipped)",
    events: [
      messageStart(),
      {
        type: "content_block_start",
        index: 0,
        content_block: { type: "tool_use", id: "toolu_1", name: "get_weather", input: {} },
      },
      { type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: "" } },
      { type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: '{"city": "Pa' } },
      { type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: 'ris"}' } },
      { type: "content_block_stop", index: 0 },
      { type: "message_delta", delta: { stop_reason: "tool_use", stop_sequence: null }, usage: { output_tokens: 30 } },
      { type: "message_stop" },
    ],
    expected: [
      role,
      out({
        tool_calls: [{ index: 0, id: "toolu_1", type: "function", function: { name: "get_weather", arguments: "" } }],
      }),
      out({ tool_calls: [{ index: 0, function: { arguments: '{"city": "Pa' } }] }),
      out({ tool_calls: [{ index: 0, function: { arguments: 'ris"}' } }] }),
      out({}, "tool_calls"),
      usageOut(25, 30),
    ],
  },
  {
    name: "parallel tool_use after text: tool call indexes count from 0; a whole input in the start is kept",
    events: [
      messageStart(),
      { type: "content_block_start", index: 0, content_block: { type: "text", text: "Both." } },
      { type: "content_block_stop", index: 0 },
      {
        type: "content_block_start",
        index: 1,
        content_block: { type: "tool_use", id: "toolu_a", name: "a", input: {} },
      },
      { type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json: "{}" } },
      { type: "content_block_stop", index: 1 },
      {
        type: "content_block_start",
        index: 2,
        content_block: { type: "tool_use", id: "toolu_b", name: "b", input: { n: 2 } },
      },
      { type: "content_block_stop", index: 2 },
      { type: "message_delta", delta: { stop_reason: "tool_use", stop_sequence: null }, usage: { output_tokens: 40 } },
      { type: "message_stop" },
    ],
    expected: [
      role,
      out({ content: "Both." }),
      out({ tool_calls: [{ index: 0, id: "toolu_a", type: "function", function: { name: "a", arguments: "" } }] }),
      out({ tool_calls: [{ index: 0, function: { arguments: "{}" } }] }),
      out({
        tool_calls: [{ index: 1, id: "toolu_b", type: "function", function: { name: "b", arguments: '{"n":2}' } }],
      }),
      out({}, "tool_calls"),
      usageOut(25, 40),
    ],
  },
  {
    name: "stop_sequence → stop with the sequence as stop_reason; message_delta input_tokens overrides",
    events: [
      messageStart({ input_tokens: 0, output_tokens: 0 }),
      { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
      { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "1 2" } },
      { type: "content_block_stop", index: 0 },
      {
        type: "message_delta",
        delta: { stop_reason: "stop_sequence", stop_sequence: "3" },
        usage: { output_tokens: 3, input_tokens: 11 },
      },
      { type: "message_stop" },
    ],
    expected: [role, out({ content: "1 2" }), out({}, "stop", { stop_reason: "3" }), usageOut(11, 3)],
  },
  {
    name: "max_tokens → length",
    events: [
      messageStart(),
      { type: "message_delta", delta: { stop_reason: "max_tokens", stop_sequence: null }, usage: { output_tokens: 1 } },
      { type: "message_stop" },
    ],
    expected: [role, out({}, "length"), usageOut(25, 1)],
  },
  {
    name: "an error event → an in-band error item, then the end",
    events: [
      messageStart(),
      { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
      { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hal" } },
      { type: "error", error: { type: "overloaded_error", message: "Overloaded" } },
      { type: "message_stop" },
    ],
    expected: [
      role,
      out({ content: "Hal" }),
      { error: { message: "Overloaded", type: "overloaded_error", code: "overloaded" } },
    ],
  },
  {
    name: "a stream that ends before message_stop → an in-band error item",
    events: [messageStart(), { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }],
    expected: [
      role,
      {
        error: {
          message: "upstream stream ended early (no message_stop)",
          type: "server_error",
          code: "upstream_disconnected",
        },
      },
    ],
  },
];

describe("anthropicEventsToChunks", () => {
  test.each(toChunks.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const chunks = await collect(anthropicEventsToChunks(from(c.events), { model: "or:claude", created: 1700000000 }));
    expect(chunks).toEqual(c.expected as never);
  });
});

describe("SSE readers", () => {
  const body = (text: string) => new Response(text).body!;

  test("anthropicEventsFromSse: named events, comments skipped, non-JSON and type-less payloads ignored", async () => {
    const sse =
      ": keep-alive\n\n" +
      'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1"}}\n\n' +
      'event: ping\ndata: {"type": "ping"}\n\n' +
      "data: not json\n\n" +
      'data: {"no":"type"}\n\n' +
      'event: message_stop\ndata: {"type":"message_stop"}\n\n';
    expect(await collect(anthropicEventsFromSse(body(sse)))).toEqual([
      { type: "message_start", message: { id: "msg_1" } },
      { type: "ping" },
      { type: "message_stop" },
    ] as never);
  });

  test("chunksFromSse: chunks and in-band errors, [DONE] skipped", async () => {
    const sse =
      'data: {"id":"c","object":"chat.completion.chunk","choices":[]}\n\n' +
      'data: {"error":{"message":"boom"}}\n\n' +
      "data: [DONE]\n\n";
    expect(await collect(chunksFromSse(body(sse)))).toEqual([
      { id: "c", object: "chat.completion.chunk", choices: [] },
      { error: { message: "boom" } },
    ] as never);
  });
});
