/**
 * Canonical requests that an Anthropic upstream cannot take (`chatToMessages`): a 400 naming the field. Anthropic
 * client requests that cannot be translated are in test/translate/anthropic-refusals.test.ts.
 */
import { describe, expect, test } from "bun:test";
import { chatToMessages } from "../../../src/backends/anthropic/request.ts";
import { thrown, user } from "../../translate/anthropic-fixtures.ts";

/** Canonical requests Ithaca cannot send to an Anthropic upstream: a 400 naming the field. */
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
];

describe("refused with a 400 naming the field", () => {
  test.each(refusals.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const error = thrown(c.run);
    expect(error.status).toBe(400);
    expect(error.param).toBe(c.param);
  });
});
