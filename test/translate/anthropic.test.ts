/**
 * Anthropic client → canonical request (`messagesToChat`), table-driven: every expected value is written out
 * literally. Refusals are in anthropic-refusals.test.ts, errors in anthropic-errors.test.ts, canonical answers → Anthropic
 * answers in anthropic-response / anthropic-stream.test.ts, the real-SDK checks in anthropic-sdk.test.ts. The outbound
 * direction (canonical → Anthropic upstream and its answers back) is in test/backends/anthropic/.
 */
import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { CountTokensRequestSchema } from "../../src/protocol/anthropic.ts";
import { messagesToChat } from "../../src/translate/anthropic-request.ts";
import { type Case, parse, user, weatherFunction, weatherTool } from "./anthropic-fixtures.ts";

const anthropicToCanonical: Case[] = [
  {
    name: "plain text",
    input: { model: "m", max_tokens: 100, messages: [user("Hi")] },
    expected: { model: "m", max_tokens: 100, messages: [user("Hi")] },
  },
  {
    name: "system string, sampling fields and stop sequences",
    input: {
      model: "m",
      max_tokens: 50,
      system: "Be brief.",
      temperature: 0.5,
      top_p: 0.9,
      top_k: 40,
      stop_sequences: ["END"],
      messages: [user("Hi")],
    },
    expected: {
      model: "m",
      max_tokens: 50,
      messages: [{ role: "system", content: "Be brief." }, user("Hi")],
      temperature: 0.5,
      top_p: 0.9,
      top_k: 40,
      stop: ["END"],
    },
  },
  {
    name: "system text blocks (cache_control dropped)",
    input: {
      model: "m",
      max_tokens: 10,
      system: [
        { type: "text", text: "A", cache_control: { type: "ephemeral" } },
        { type: "text", text: "B" },
      ],
      messages: [user("Hi")],
    },
    expected: {
      model: "m",
      max_tokens: 10,
      messages: [
        {
          role: "system",
          content: [
            { type: "text", text: "A" },
            { type: "text", text: "B" },
          ],
        },
        user("Hi"),
      ],
    },
  },
  {
    name: "images: base64 → data URL, url → image_url",
    input: {
      model: "m",
      max_tokens: 10,
      messages: [
        user([
          { type: "text", text: "What is this?" },
          { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
          { type: "image", source: { type: "url", url: "https://example.com/cat.jpg" } },
        ]),
      ],
    },
    expected: {
      model: "m",
      max_tokens: 10,
      messages: [
        user([
          { type: "text", text: "What is this?" },
          { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
          { type: "image_url", image_url: { url: "https://example.com/cat.jpg" } },
        ]),
      ],
    },
  },
  {
    name: "tools and tool_choice auto with disable_parallel_tool_use",
    input: {
      model: "m",
      max_tokens: 10,
      messages: [user("Weather?")],
      tools: [{ ...weatherTool, cache_control: { type: "ephemeral" } }],
      tool_choice: { type: "auto", disable_parallel_tool_use: true },
    },
    expected: {
      model: "m",
      max_tokens: 10,
      messages: [user("Weather?")],
      tools: [weatherFunction],
      tool_choice: "auto",
      parallel_tool_calls: false,
    },
  },
  {
    name: "tool_choice any → required",
    input: { model: "m", max_tokens: 10, messages: [user("x")], tools: [weatherTool], tool_choice: { type: "any" } },
    expected: { model: "m", max_tokens: 10, messages: [user("x")], tools: [weatherFunction], tool_choice: "required" },
  },
  {
    name: "tool_choice tool → the named function",
    input: {
      model: "m",
      max_tokens: 10,
      messages: [user("x")],
      tools: [weatherTool],
      tool_choice: { type: "tool", name: "get_weather" },
    },
    expected: {
      model: "m",
      max_tokens: 10,
      messages: [user("x")],
      tools: [weatherFunction],
      tool_choice: { type: "function", function: { name: "get_weather" } },
    },
  },
  {
    name: "tool_choice none → none",
    input: { model: "m", max_tokens: 10, messages: [user("x")], tools: [weatherTool], tool_choice: { type: "none" } },
    expected: { model: "m", max_tokens: 10, messages: [user("x")], tools: [weatherFunction], tool_choice: "none" },
  },
  {
    name: "assistant tool_use history and a single tool_result",
    input: {
      model: "m",
      max_tokens: 10,
      messages: [
        user("Weather in Paris?"),
        {
          role: "assistant",
          content: [
            { type: "text", text: "Let me check." },
            { type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Paris" } },
          ],
        },
        user([{ type: "tool_result", tool_use_id: "toolu_1", content: "18°C" }]),
      ],
    },
    expected: {
      model: "m",
      max_tokens: 10,
      messages: [
        user("Weather in Paris?"),
        {
          role: "assistant",
          content: "Let me check.",
          tool_calls: [
            { id: "toolu_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
          ],
        },
        { role: "tool", tool_call_id: "toolu_1", content: "18°C" },
      ],
    },
  },
  {
    name: "parallel tool results become tool messages BEFORE the turn's text",
    input: {
      model: "m",
      max_tokens: 10,
      messages: [
        user("Paris and Rome?"),
        {
          role: "assistant",
          content: [
            { type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Paris" } },
            { type: "tool_use", id: "toolu_2", name: "get_weather", input: { city: "Rome" } },
          ],
        },
        user([
          { type: "text", text: "Compare them." },
          { type: "tool_result", tool_use_id: "toolu_1", content: [{ type: "text", text: "18°C" }] },
          { type: "tool_result", tool_use_id: "toolu_2", content: "22°C" },
        ]),
      ],
    },
    expected: {
      model: "m",
      max_tokens: 10,
      messages: [
        user("Paris and Rome?"),
        {
          role: "assistant",
          content: null,
          tool_calls: [
            { id: "toolu_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
            { id: "toolu_2", type: "function", function: { name: "get_weather", arguments: '{"city":"Rome"}' } },
          ],
        },
        { role: "tool", tool_call_id: "toolu_1", content: [{ type: "text", text: "18°C" }] },
        { role: "tool", tool_call_id: "toolu_2", content: "22°C" },
        user([{ type: "text", text: "Compare them." }]),
      ],
    },
  },
  {
    name: "is_error tool results are prefixed with 'Error: ' (string and blocks); empty content is ''",
    input: {
      model: "m",
      max_tokens: 10,
      messages: [
        user([
          { type: "tool_result", tool_use_id: "a", content: "city not found", is_error: true },
          { type: "tool_result", tool_use_id: "b", content: [{ type: "text", text: "timeout" }], is_error: true },
          { type: "tool_result", tool_use_id: "c" },
        ]),
      ],
    },
    expected: {
      model: "m",
      max_tokens: 10,
      messages: [
        { role: "tool", tool_call_id: "a", content: "Error: city not found" },
        {
          role: "tool",
          tool_call_id: "b",
          content: [
            { type: "text", text: "Error: " },
            { type: "text", text: "timeout" },
          ],
        },
        { role: "tool", tool_call_id: "c", content: "" },
      ],
    },
  },
  {
    name: "tool result holding an image keeps it as an image_url part",
    input: {
      model: "m",
      max_tokens: 10,
      messages: [
        user([
          {
            type: "tool_result",
            tool_use_id: "r",
            content: [{ type: "image", source: { type: "base64", media_type: "image/jpeg", data: "/9j/" } }],
          },
        ]),
      ],
    },
    expected: {
      model: "m",
      max_tokens: 10,
      messages: [
        {
          role: "tool",
          tool_call_id: "r",
          content: [{ type: "image_url", image_url: { url: "data:image/jpeg;base64,/9j/" } }],
        },
      ],
    },
  },
  {
    name: "assistant thinking → reasoning_content, redacted_thinking dropped",
    input: {
      model: "m",
      max_tokens: 10,
      messages: [
        user("2+2?"),
        {
          role: "assistant",
          content: [
            { type: "thinking", thinking: "Easy.", signature: "sig" },
            { type: "redacted_thinking", data: "EnCrYpTeD" },
            { type: "text", text: "4" },
          ],
        },
        user("Thanks"),
      ],
    },
    expected: {
      model: "m",
      max_tokens: 10,
      messages: [user("2+2?"), { role: "assistant", content: "4", reasoning_content: "Easy." }, user("Thanks")],
    },
  },
  {
    name: "thinking enabled → enable_thinking + reasoning_effort from the budget",
    input: {
      model: "m",
      max_tokens: 20000,
      messages: [user("x")],
      thinking: { type: "enabled", budget_tokens: 10000 },
    },
    expected: {
      model: "m",
      max_tokens: 20000,
      messages: [user("x")],
      enable_thinking: true,
      reasoning_effort: "medium",
    },
  },
  {
    name: "thinking disabled → enable_thinking false",
    input: { model: "m", max_tokens: 10, messages: [user("x")], thinking: { type: "disabled" } },
    expected: { model: "m", max_tokens: 10, messages: [user("x")], enable_thinking: false },
  },
  {
    name: "thinking adaptive → enable_thinking true, no effort",
    input: { model: "m", max_tokens: 10, messages: [user("x")], thinking: { type: "adaptive" } },
    expected: { model: "m", max_tokens: 10, messages: [user("x")], enable_thinking: true },
  },
  {
    name: "explicit enable_thinking / reasoning_effort win over thinking",
    input: {
      model: "m",
      max_tokens: 4000,
      messages: [user("x")],
      thinking: { type: "enabled", budget_tokens: 1024 },
      enable_thinking: false,
      reasoning_effort: "high",
    },
    expected: { model: "m", max_tokens: 4000, messages: [user("x")], enable_thinking: false, reasoning_effort: "high" },
  },
  {
    name: "stream, metadata.user_id → user; extensions kept; service_tier and cache_control dropped",
    input: {
      model: "m",
      max_tokens: 10,
      messages: [user("x")],
      stream: true,
      metadata: { user_id: "u-1" },
      service_tier: "auto",
      cache_control: { type: "ephemeral" },
      session_id: "s-1",
      min_p: 0.05,
    },
    expected: {
      model: "m",
      max_tokens: 10,
      messages: [user("x")],
      stream: true,
      stream_options: { include_usage: true },
      user: "u-1",
      session_id: "s-1",
      min_p: 0.05,
    },
  },
];

describe("messagesToChat (Anthropic client → canonical)", () => {
  test.each(anthropicToCanonical.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    expect(messagesToChat(parse(c.input))).toEqual(c.expected as never);
  });

  test("count_tokens bodies (no max_tokens) translate too", () => {
    const body = v.parse(CountTokensRequestSchema, { model: "m", messages: [user("x")], system: "S" });
    expect(messagesToChat(body)).toEqual({ model: "m", messages: [{ role: "system", content: "S" }, user("x")] });
  });
});
