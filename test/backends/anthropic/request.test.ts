/**
 * Canonical request → Anthropic upstream (`chatToMessages`), table-driven with literal expectations, and the round
 * trip Anthropic → canonical → Anthropic (with `messagesToChat` of src/translate/) over the lossless subset. Refusals
 * are in request-refusals.test.ts; the client-side direction in test/translate/anthropic.test.ts.
 */
import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { chatToMessages } from "../../../src/backends/anthropic/request.ts";
import { MessagesRequestSchema } from "../../../src/protocol/anthropic.ts";
import { messagesToChat } from "../../../src/translate/anthropic-request.ts";
import { type Case, parse, user, weatherFunction, weatherTool } from "../../translate/anthropic-fixtures.ts";

interface CanonicalCase extends Case {
  options?: { defaultMaxTokens?: number };
}

const canonicalToAnthropic: CanonicalCase[] = [
  {
    name: "plain text gets the default max_tokens 4096",
    input: { model: "m", messages: [user("Hi")] },
    expected: { model: "m", max_tokens: 4096, messages: [user("Hi")] },
  },
  {
    name: "defaultMaxTokens option",
    input: { model: "m", messages: [user("Hi")] },
    options: { defaultMaxTokens: 1000 },
    expected: { model: "m", max_tokens: 1000, messages: [user("Hi")] },
  },
  {
    name: "max_completion_tokens wins over max_tokens",
    input: { model: "m", messages: [user("Hi")], max_tokens: 50, max_completion_tokens: 70 },
    expected: { model: "m", max_tokens: 70, messages: [user("Hi")] },
  },
  {
    name: "system and developer messages hoisted and joined by a blank line",
    input: {
      model: "m",
      messages: [
        { role: "system", content: "A" },
        user("Hi"),
        { role: "developer", content: [{ type: "text", text: "B" }] },
      ],
    },
    expected: { model: "m", max_tokens: 4096, system: "A\n\nB", messages: [user("Hi")] },
  },
  {
    name: "a lone system message with text parts → system text blocks",
    input: { model: "m", messages: [{ role: "system", content: [{ type: "text", text: "A" }] }, user("Hi")] },
    expected: { model: "m", max_tokens: 4096, system: [{ type: "text", text: "A" }], messages: [user("Hi")] },
  },
  {
    name: "images: data URL → base64 source, https URL → url source (detail dropped)",
    input: {
      model: "m",
      messages: [
        user([
          { type: "image_url", image_url: { url: "data:image/webp;base64,UklGR", detail: "high" } },
          { type: "image_url", image_url: { url: "https://example.com/a.png" } },
          { type: "text", text: "Same?" },
        ]),
      ],
    },
    expected: {
      model: "m",
      max_tokens: 4096,
      messages: [
        user([
          { type: "image", source: { type: "base64", media_type: "image/webp", data: "UklGR" } },
          { type: "image", source: { type: "url", url: "https://example.com/a.png" } },
          { type: "text", text: "Same?" },
        ]),
      ],
    },
  },
  {
    name: "tools and tool_choice required → any",
    input: { model: "m", messages: [user("x")], tools: [weatherFunction], tool_choice: "required" },
    expected: {
      model: "m",
      max_tokens: 4096,
      messages: [user("x")],
      tools: [weatherTool],
      tool_choice: { type: "any" },
    },
  },
  {
    name: "tool_choice naming a function → tool",
    input: {
      model: "m",
      messages: [user("x")],
      tools: [weatherFunction],
      tool_choice: { type: "function", function: { name: "get_weather" } },
    },
    expected: {
      model: "m",
      max_tokens: 4096,
      messages: [user("x")],
      tools: [weatherTool],
      tool_choice: { type: "tool", name: "get_weather" },
    },
  },
  {
    name: "parallel_tool_calls false → auto with disable_parallel_tool_use; tool without parameters",
    input: {
      model: "m",
      messages: [user("x")],
      tools: [{ type: "function", function: { name: "now" } }],
      parallel_tool_calls: false,
    },
    expected: {
      model: "m",
      max_tokens: 4096,
      messages: [user("x")],
      tools: [{ name: "now", input_schema: { type: "object", properties: {} } }],
      tool_choice: { type: "auto", disable_parallel_tool_use: true },
    },
  },
  {
    name: "tool_choice none → none; tool_choice without tools is dropped",
    input: { model: "m", messages: [user("x")], tools: [weatherFunction], tool_choice: "none" },
    expected: {
      model: "m",
      max_tokens: 4096,
      messages: [user("x")],
      tools: [weatherTool],
      tool_choice: { type: "none" },
    },
  },
  {
    name: "tool calls → tool_use; consecutive tool messages and the next user text → ONE user turn",
    input: {
      model: "m",
      messages: [
        user("Paris and Rome?"),
        {
          role: "assistant",
          content: null,
          reasoning_content: "Two calls.",
          tool_calls: [
            { id: "c1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
            { id: "c2", type: "function", function: { name: "get_weather", arguments: "" } },
          ],
        },
        { role: "tool", tool_call_id: "c1", content: "18°C" },
        { role: "tool", tool_call_id: "c2", content: [{ type: "text", text: "22°C" }] },
        user("Which is warmer?"),
      ],
    },
    expected: {
      model: "m",
      max_tokens: 4096,
      messages: [
        user("Paris and Rome?"),
        {
          role: "assistant",
          content: [
            { type: "tool_use", id: "c1", name: "get_weather", input: { city: "Paris" } },
            { type: "tool_use", id: "c2", name: "get_weather", input: {} },
          ],
        },
        user([
          { type: "tool_result", tool_use_id: "c1", content: "18°C" },
          { type: "tool_result", tool_use_id: "c2", content: [{ type: "text", text: "22°C" }] },
          { type: "text", text: "Which is warmer?" },
        ]),
      ],
    },
  },
  {
    name: "a user message before tool results: merged with the tool results first",
    input: {
      model: "m",
      messages: [
        {
          role: "assistant",
          content: "",
          tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: "{}" } }],
        },
        user("(meanwhile)"),
        { role: "tool", tool_call_id: "c1", content: "done" },
      ],
    },
    expected: {
      model: "m",
      max_tokens: 4096,
      messages: [
        { role: "assistant", content: [{ type: "tool_use", id: "c1", name: "f", input: {} }] },
        user([
          { type: "tool_result", tool_use_id: "c1", content: "done" },
          { type: "text", text: "(meanwhile)" },
        ]),
      ],
    },
  },
  {
    name: "reasoning_content in history dropped, empty assistant turn skipped, same-role turns merged",
    input: {
      model: "m",
      messages: [
        user("a"),
        { role: "assistant", content: "", reasoning_content: "nothing to say" },
        user("b"),
        { role: "assistant", content: "c", reasoning_content: "why c" },
      ],
    },
    expected: {
      model: "m",
      max_tokens: 4096,
      messages: [
        user([
          { type: "text", text: "a" },
          { type: "text", text: "b" },
        ]),
        { role: "assistant", content: "c" },
      ],
    },
  },
  {
    name: "stop string → stop_sequences; temperature 1.6 clamped to 1; top_p and top_k copied",
    input: { model: "m", messages: [user("x")], stop: "###", temperature: 1.6, top_p: 0.8, top_k: 20 },
    expected: {
      model: "m",
      max_tokens: 4096,
      messages: [user("x")],
      stop_sequences: ["###"],
      temperature: 1,
      top_p: 0.8,
      top_k: 20,
    },
  },
  {
    name: "enable_thinking → medium budget 4096, added to the default max_tokens",
    input: { model: "m", messages: [user("x")], enable_thinking: true },
    expected: {
      model: "m",
      max_tokens: 8192,
      messages: [user("x")],
      thinking: { type: "enabled", budget_tokens: 4096 },
    },
  },
  {
    name: "reasoning_effort high with max_tokens 8000 → budget capped at 7999",
    input: { model: "m", messages: [user("x")], reasoning_effort: "high", max_tokens: 8000 },
    expected: {
      model: "m",
      max_tokens: 8000,
      messages: [user("x")],
      thinking: { type: "enabled", budget_tokens: 7999 },
    },
  },
  {
    name: "reasoning_effort low → budget 1024",
    input: { model: "m", messages: [user("x")], reasoning_effort: "low", max_tokens: 2000 },
    expected: {
      model: "m",
      max_tokens: 2000,
      messages: [user("x")],
      thinking: { type: "enabled", budget_tokens: 1024 },
    },
  },
  {
    name: "enable_thinking false overrides reasoning_effort; effort none → no thinking",
    input: { model: "m", messages: [user("x")], enable_thinking: false, reasoning_effort: "high" },
    expected: { model: "m", max_tokens: 4096, messages: [user("x")] },
  },
  {
    name: "user → metadata.user_id; harmless fields dropped (stream_options, seed, session_id, zero penalties)",
    input: {
      model: "m",
      messages: [user("x")],
      stream: true,
      stream_options: { include_usage: true },
      seed: 7,
      session_id: "s-1",
      user: "u-1",
      presence_penalty: 0,
      frequency_penalty: 0,
      n: 1,
      logprobs: false,
      metadata: { team: "a" },
      response_format: { type: "text" },
    },
    expected: { model: "m", max_tokens: 4096, messages: [user("x")], stream: true, metadata: { user_id: "u-1" } },
  },
];

describe("chatToMessages (canonical → Anthropic upstream)", () => {
  test.each(canonicalToAnthropic.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const out = chatToMessages({ ...(c.input as { model: string; messages: unknown[] }) }, c.options);
    expect(out).toEqual(c.expected as never);
    // What goes upstream is itself a valid Anthropic request.
    expect(v.safeParse(MessagesRequestSchema, out).success).toBe(true);
  });
});

/** Anthropic requests that survive Anthropic → canonical → Anthropic unchanged (the lossless subset). */
const roundTrips: Array<{ name: string; input: Record<string, unknown> }> = [
  {
    name: "text with system string and sampling",
    input: {
      model: "m",
      max_tokens: 300,
      system: "You are terse.",
      temperature: 0.2,
      top_p: 0.9,
      top_k: 10,
      stop_sequences: ["\n\nHuman:"],
      messages: [user("Hi"), { role: "assistant", content: "Hello." }, user("Bye")],
    },
  },
  {
    name: "system blocks and images",
    input: {
      model: "m",
      max_tokens: 300,
      system: [
        { type: "text", text: "One." },
        { type: "text", text: "Two." },
      ],
      messages: [
        user([
          { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBOR" } },
          { type: "image", source: { type: "url", url: "https://example.com/x.png" } },
          { type: "text", text: "Differences?" },
        ]),
      ],
    },
  },
  {
    name: "tool conversation with parallel results, tools, tool_choice, stream and user id",
    input: {
      model: "m",
      max_tokens: 300,
      stream: true,
      metadata: { user_id: "u-9" },
      tools: [weatherTool],
      tool_choice: { type: "tool", name: "get_weather", disable_parallel_tool_use: true },
      messages: [
        user("Paris and Rome?"),
        {
          role: "assistant",
          content: [
            { type: "text", text: "Checking both." },
            { type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Paris" } },
            { type: "tool_use", id: "toolu_2", name: "get_weather", input: { city: "Rome" } },
          ],
        },
        user([
          { type: "tool_result", tool_use_id: "toolu_1", content: "18°C" },
          { type: "tool_result", tool_use_id: "toolu_2", content: [{ type: "text", text: "22°C" }] },
          { type: "text", text: "Warmer?" },
        ]),
      ],
    },
  },
  {
    name: "thinking budgets 1024 / 4096 / 16384",
    input: {
      model: "m",
      max_tokens: 30000,
      messages: [user("x")],
      thinking: { type: "enabled", budget_tokens: 16384 },
    },
  },
  {
    name: "thinking budget 4096",
    input: { model: "m", max_tokens: 9000, messages: [user("x")], thinking: { type: "enabled", budget_tokens: 4096 } },
  },
];

describe("round trip Anthropic → canonical → Anthropic", () => {
  test.each(roundTrips.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    expect(chatToMessages(messagesToChat(parse(c.input)))).toEqual(c.input as never);
  });
});
