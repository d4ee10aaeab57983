/**
 * What an Anthropic upstream's converted stream looks like to a real OpenAI client: the `openai` SDK accumulating
 * chunks rendered by `anthropicEventsToChunks` + `sseResponse`. The client gets a `fetch` that returns the response
 * under test. The `@anthropic-ai/sdk` side (canonical answers rendered for Anthropic clients) is in
 * test/translate/anthropic-sdk.test.ts.
 */
import { describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { anthropicEventsToChunks } from "../../../src/backends/anthropic/stream.ts";
import type { AnthropicStreamEvent } from "../../../src/protocol/anthropic.ts";
import { sseResponse } from "../../../src/protocol/sse.ts";
import { from } from "../../translate/anthropic-fixtures.ts";

describe("openai SDK reads anthropicEventsToChunks", () => {
  test("chat.completions.stream().finalChatCompletion(): thinking, text and a tool call", async () => {
    const events: AnthropicStreamEvent[] = [
      {
        type: "message_start",
        message: {
          id: "msg_up",
          type: "message",
          role: "assistant",
          model: "claude-sonnet",
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: 10, output_tokens: 1, cache_read_input_tokens: 90 },
        },
      },
      { type: "content_block_start", index: 0, content_block: { type: "thinking", thinking: "", signature: "" } },
      { type: "content_block_delta", index: 0, delta: { type: "thinking_delta", thinking: "Use the tool." } },
      { type: "content_block_stop", index: 0 },
      { type: "content_block_start", index: 1, content_block: { type: "text", text: "" } },
      { type: "content_block_delta", index: 1, delta: { type: "text_delta", text: "One moment." } },
      { type: "content_block_stop", index: 1 },
      {
        type: "content_block_start",
        index: 2,
        content_block: { type: "tool_use", id: "toolu_7", name: "search", input: {} },
      },
      { type: "content_block_delta", index: 2, delta: { type: "input_json_delta", partial_json: '{"q":' } },
      { type: "content_block_delta", index: 2, delta: { type: "input_json_delta", partial_json: '"bun"}' } },
      { type: "content_block_stop", index: 2 },
      { type: "message_delta", delta: { stop_reason: "tool_use", stop_sequence: null }, usage: { output_tokens: 20 } },
      { type: "message_stop" },
    ];
    const client = new OpenAI({
      apiKey: "x",
      maxRetries: 0,
      fetch: async () => sseResponse(anthropicEventsToChunks(from(events), { model: "or:claude" })),
    });
    const stream = client.chat.completions.stream({
      model: "or:claude",
      messages: [{ role: "user", content: "Search bun" }],
      stream_options: { include_usage: true },
    });
    const final = await stream.finalChatCompletion();
    expect(final.id).toBe("chatcmpl-up");
    expect(final.model).toBe("or:claude");
    expect(final.choices[0]?.finish_reason).toBe("tool_calls");
    expect(final.choices[0]?.message).toMatchObject({
      role: "assistant",
      content: "One moment.",
      tool_calls: [{ id: "toolu_7", type: "function", function: { name: "search", arguments: '{"q":"bun"}' } }],
    });
    expect((final.choices[0]!.message as { reasoning_content?: string }).reasoning_content).toBe("Use the tool.");
    expect(final.usage).toEqual({
      prompt_tokens: 100,
      completion_tokens: 20,
      total_tokens: 120,
      prompt_tokens_details: { cached_tokens: 90 },
    });
  });
});
