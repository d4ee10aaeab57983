/** Requests that cannot be translated (both directions) and what the request schema rejects: a 400 naming the field. */
import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { MessagesRequestSchema } from "../../src/protocol/anthropic.ts";
import { validationError } from "../../src/protocol/errors.ts";
import { chatToMessages, messagesToChat } from "../../src/translate/anthropic-request.ts";
import { parse, thrown, user } from "./anthropic-fixtures.ts";

/** Requests Ithaca cannot translate: a 400 naming the field. */
const refusals: Array<{ name: string; run: () => unknown; param: string }> = [
  { name: "n > 1", run: () => chatToMessages({ model: "m", messages: [user("x")], n: 2 }), param: "n" },
  {
    name: "logprobs",
    run: () => chatToMessages({ model: "m", messages: [user("x")], logprobs: true }),
    param: "logprobs",
  },
  {
    name: "top_logprobs",
    run: () => chatToMessages({ model: "m", messages: [user("x")], top_logprobs: 3 }),
    param: "top_logprobs",
  },
  {
    name: "response_format json_object",
    run: () => chatToMessages({ model: "m", messages: [user("x")], response_format: { type: "json_object" } }),
    param: "response_format",
  },
  {
    name: "logit_bias",
    run: () => chatToMessages({ model: "m", messages: [user("x")], logit_bias: { "50256": -100 } }),
    param: "logit_bias",
  },
  {
    name: "non-zero presence_penalty",
    run: () => chatToMessages({ model: "m", messages: [user("x")], presence_penalty: 0.5 }),
    param: "presence_penalty",
  },
  {
    name: "non-zero frequency_penalty",
    run: () => chatToMessages({ model: "m", messages: [user("x")], frequency_penalty: -1 }),
    param: "frequency_penalty",
  },
  {
    name: "repetition_penalty ≠ 1",
    run: () => chatToMessages({ model: "m", messages: [user("x")], repetition_penalty: 1.1 }),
    param: "repetition_penalty",
  },
  {
    name: "audio part",
    run: () =>
      chatToMessages({
        model: "m",
        messages: [
          user([
            { type: "text", text: "hear" },
            { type: "input_audio", input_audio: { data: "AA", format: "wav" } },
          ]),
        ],
      }),
    param: "messages.0.content.1",
  },
  {
    name: "file part in a tool message",
    run: () =>
      chatToMessages({
        model: "m",
        messages: [user("x"), { role: "tool", tool_call_id: "c", content: [{ type: "file", file: { file_id: "f" } }] }],
      }),
    param: "messages.1.content.0",
  },
  {
    name: "tool call arguments that are not JSON",
    run: () =>
      chatToMessages({
        model: "m",
        messages: [
          user("x"),
          {
            role: "assistant",
            content: null,
            tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{oops" } }],
          },
        ],
      }),
    param: "messages.1.tool_calls.0.function.arguments",
  },
  {
    name: "tool call arguments that are a JSON array",
    run: () =>
      chatToMessages({
        model: "m",
        messages: [
          user("x"),
          {
            role: "assistant",
            content: null,
            tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "[1]" } }],
          },
        ],
      }),
    param: "messages.1.tool_calls.0.function.arguments",
  },
  {
    name: "an ftp image URL",
    run: () =>
      chatToMessages({ model: "m", messages: [user([{ type: "image_url", image_url: { url: "ftp://x/y.png" } }])] }),
    param: "messages.0.content.0.image_url.url",
  },
  {
    name: "thinking with max_tokens too small for Anthropic's 1024 minimum",
    run: () => chatToMessages({ model: "m", messages: [user("x")], enable_thinking: true, max_tokens: 1000 }),
    param: "max_tokens",
  },
  {
    name: "max_completion_tokens 0",
    run: () => chatToMessages({ model: "m", messages: [user("x")], max_completion_tokens: 0 }),
    param: "max_completion_tokens",
  },
  {
    name: "unknown reasoning_effort",
    run: () => chatToMessages({ model: "m", messages: [user("x")], reasoning_effort: "extreme" }),
    param: "reasoning_effort",
  },
  {
    name: "only system messages",
    run: () => chatToMessages({ model: "m", messages: [{ role: "system", content: "S" }] }),
    param: "messages",
  },
  {
    name: "an invalid canonical field (validated like the OpenAI route does)",
    run: () => chatToMessages({ model: "m", messages: [user("x")], temperature: 3 }),
    param: "temperature",
  },
  {
    name: "Anthropic document block",
    run: () =>
      messagesToChat(
        parse({
          model: "m",
          max_tokens: 10,
          messages: [
            user([
              { type: "text", text: "Sum up" },
              { type: "document", source: { type: "base64", media_type: "application/pdf", data: "JVBE" } },
            ]),
          ],
        }),
      ),
    param: "messages.0.content.1",
  },
  {
    name: "Anthropic server tool (web search)",
    run: () =>
      messagesToChat(
        parse({
          model: "m",
          max_tokens: 10,
          messages: [user("x")],
          tools: [{ type: "web_search_20250305", name: "web_search" }],
        }),
      ),
    param: "tools.0.type",
  },
  {
    name: "Anthropic Files-API image",
    run: () =>
      messagesToChat(
        parse({
          model: "m",
          max_tokens: 10,
          messages: [user([{ type: "image", source: { type: "file", file_id: "file_1" } }])],
        }),
      ),
    param: "messages.0.content.0.source",
  },
  {
    name: "Anthropic tool_use block in a user turn",
    run: () =>
      messagesToChat(
        parse({ model: "m", max_tokens: 10, messages: [user([{ type: "tool_use", id: "t", name: "f", input: {} }])] }),
      ),
    param: "messages.0.content.0",
  },
  {
    name: "Anthropic image in an assistant turn",
    run: () =>
      messagesToChat(
        parse({
          model: "m",
          max_tokens: 10,
          messages: [
            user("x"),
            { role: "assistant", content: [{ type: "image", source: { type: "url", url: "https://a/b.png" } }] },
          ],
        }),
      ),
    param: "messages.1.content.0",
  },
];

describe("refused with a 400 naming the field", () => {
  test.each(refusals.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const error = thrown(c.run);
    expect(error.status).toBe(400);
    expect(error.param).toBe(c.param);
  });
});

describe("MessagesRequestSchema", () => {
  const invalid: Array<[string, Record<string, unknown>, string]> = [
    ["max_tokens missing", { model: "m", messages: [user("x")] }, "max_tokens"],
    ["max_tokens 0", { model: "m", max_tokens: 0, messages: [user("x")] }, "max_tokens"],
    ["temperature above 1", { model: "m", max_tokens: 5, temperature: 1.5, messages: [user("x")] }, "temperature"],
    ["empty messages", { model: "m", max_tokens: 5, messages: [] }, "messages"],
    [
      "system role in messages",
      { model: "m", max_tokens: 5, messages: [{ role: "system", content: "x" }] },
      "messages.0.role",
    ],
    [
      "client tool without input_schema",
      { model: "m", max_tokens: 5, messages: [user("x")], tools: [{ name: "f" }] },
      "tools.0.input_schema",
    ],
    [
      "tool_choice tool without name",
      { model: "m", max_tokens: 5, messages: [user("x")], tool_choice: { type: "tool" } },
      "tool_choice.name",
    ],
  ];
  test.each(invalid)("rejects %s (param %s)", (_name, body, param) => {
    expect(v.safeParse(MessagesRequestSchema, body).success).toBe(false);
    expect(validationError(MessagesRequestSchema, body).param).toBe(param);
  });

  test("keeps unknown fields and accepts typed server tools", () => {
    const body = {
      model: "m",
      max_tokens: 5,
      messages: [user("x")],
      tools: [{ type: "bash_20250124", name: "bash" }],
      x_custom: { a: 1 },
    };
    expect(v.parse(MessagesRequestSchema, body)).toEqual(body as never);
  });
});
