/**
 * `/v1/responses` request translation (src/translate/responses-request.ts): a Responses request → the canonical chat
 * request, and the 400s naming the field for what Ithaca's stateless, function-tools-only endpoint refuses.
 */
import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { OpenAIError, validationError } from "../../src/protocol/errors.ts";
import { ResponsesRequestSchema } from "../../src/protocol/responses.ts";
import { responsesToChat } from "../../src/translate/responses-request.ts";
import { parse } from "./responses-fixtures.ts";

/** The 400 a body gets: from validation (as the route's schema gives it) or from the translation. */
function rejection(body: Record<string, unknown>): OpenAIError {
  const result = v.safeParse(ResponsesRequestSchema, body);
  if (!result.success) return validationError(ResponsesRequestSchema, body);
  try {
    responsesToChat(result.output);
  } catch (error) {
    if (error instanceof OpenAIError) return error;
    throw error;
  }
  throw new Error("the request was accepted");
}

describe("responsesToChat", () => {
  const weatherCall = (id: string, city: string) => ({
    id,
    type: "function",
    function: { name: "weather", arguments: `{"city":"${city}"}` },
  });
  const cases: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
    [
      "string input after the instructions",
      { model: "m", instructions: "Be brief.", input: "Hi" },
      {
        model: "m",
        messages: [
          { role: "system", content: "Be brief." },
          { role: "user", content: "Hi" },
        ],
      },
    ],
    [
      "message items with and without type; input_text and input_image parts",
      {
        model: "m",
        input: [
          { role: "developer", content: "Rules" },
          {
            type: "message",
            role: "user",
            content: [
              { type: "input_text", text: "Look" },
              { type: "input_image", image_url: "data:image/png;base64,AAAA", detail: "low" },
              { type: "input_image", image_url: "https://example.com/cat.png" },
            ],
          },
        ],
      },
      {
        model: "m",
        messages: [
          { role: "developer", content: "Rules" },
          {
            role: "user",
            content: [
              { type: "text", text: "Look" },
              { type: "image_url", image_url: { url: "data:image/png;base64,AAAA", detail: "low" } },
              { type: "image_url", image_url: { url: "https://example.com/cat.png" } },
            ],
          },
        ],
      },
    ],
    [
      "parallel function calls join the assistant turn; outputs become tool messages; reasoning is skipped",
      {
        model: "m",
        input: [
          { role: "user", content: "Weather in Paris and Rome?" },
          { type: "reasoning", id: "rs_1", summary: [] },
          {
            type: "message",
            role: "assistant",
            content: [{ type: "output_text", text: "Checking.", annotations: [] }],
          },
          { type: "function_call", call_id: "call_1", name: "weather", arguments: '{"city":"Paris"}' },
          { type: "function_call", call_id: "call_2", name: "weather", arguments: '{"city":"Rome"}' },
          { type: "function_call_output", call_id: "call_1", output: "18C" },
          { type: "function_call_output", call_id: "call_2", output: [{ type: "input_text", text: "21C" }] },
        ],
      },
      {
        model: "m",
        messages: [
          { role: "user", content: "Weather in Paris and Rome?" },
          {
            role: "assistant",
            content: "Checking.",
            tool_calls: [weatherCall("call_1", "Paris"), weatherCall("call_2", "Rome")],
          },
          { role: "tool", tool_call_id: "call_1", content: "18C" },
          { role: "tool", tool_call_id: "call_2", content: [{ type: "text", text: "21C" }] },
        ],
      },
    ],
    [
      "a call with no text before it; an assistant refusal",
      {
        model: "m",
        input: [
          { role: "user", content: "Paris?" },
          { type: "function_call", call_id: "c1", name: "weather", arguments: '{"city":"Paris"}' },
          { type: "function_call_output", call_id: "c1", output: "18C" },
          { role: "assistant", content: [{ type: "refusal", refusal: "I cannot say more." }] },
          { role: "user", content: "Why?" },
        ],
      },
      {
        model: "m",
        messages: [
          { role: "user", content: "Paris?" },
          { role: "assistant", content: null, tool_calls: [weatherCall("c1", "Paris")] },
          { role: "tool", tool_call_id: "c1", content: "18C" },
          { role: "assistant", content: null, refusal: "I cannot say more." },
          { role: "user", content: "Why?" },
        ],
      },
    ],
    [
      "flat tools nested; tool_choice by name; parallel_tool_calls carried",
      {
        model: "m",
        input: "Paris?",
        tools: [
          {
            type: "function",
            name: "weather",
            description: "Weather now",
            parameters: { type: "object", properties: { city: { type: "string" } } },
            strict: true,
          },
          { type: "function", name: "clock" },
        ],
        tool_choice: { type: "function", name: "weather" },
        parallel_tool_calls: false,
      },
      {
        model: "m",
        messages: [{ role: "user", content: "Paris?" }],
        tools: [
          {
            type: "function",
            function: {
              name: "weather",
              description: "Weather now",
              parameters: { type: "object", properties: { city: { type: "string" } } },
              strict: true,
            },
          },
          { type: "function", function: { name: "clock" } },
        ],
        tool_choice: { type: "function", function: { name: "weather" } },
        parallel_tool_calls: false,
      },
    ],
    [
      "tool_choice required",
      { model: "m", input: "x", tools: [{ type: "function", name: "clock" }], tool_choice: "required" },
      {
        model: "m",
        messages: [{ role: "user", content: "x" }],
        tools: [{ type: "function", function: { name: "clock" } }],
        tool_choice: "required",
      },
    ],
    [
      "tool_choice none",
      { model: "m", input: "x", tool_choice: "none" },
      { model: "m", messages: [{ role: "user", content: "x" }], tool_choice: "none" },
    ],
    [
      "text.format json_schema nested under json_schema; verbosity",
      {
        model: "m",
        input: "x",
        text: {
          format: { type: "json_schema", name: "answer", schema: { type: "object" }, strict: true },
          verbosity: "low",
        },
      },
      {
        model: "m",
        messages: [{ role: "user", content: "x" }],
        response_format: {
          type: "json_schema",
          json_schema: { name: "answer", schema: { type: "object" }, strict: true },
        },
        verbosity: "low",
      },
    ],
    [
      "text.format json_object",
      { model: "m", input: "x", text: { format: { type: "json_object" } } },
      { model: "m", messages: [{ role: "user", content: "x" }], response_format: { type: "json_object" } },
    ],
    [
      "reasoning.effort, max_output_tokens, stream; sampling and extensions carried; stateless fields dropped",
      {
        model: "m",
        input: "x",
        reasoning: { effort: "high", summary: "auto" },
        max_output_tokens: 256,
        stream: true,
        temperature: 0.2,
        top_p: 0.9,
        top_k: 40,
        min_p: 0.05,
        session_id: "s1",
        enable_thinking: true,
        user: "u1",
        store: true,
        metadata: { team: "a" },
        truncation: "auto",
        include: ["reasoning.encrypted_content"],
        previous_response_id: null,
      },
      {
        model: "m",
        messages: [{ role: "user", content: "x" }],
        reasoning_effort: "high",
        max_tokens: 256,
        stream: true,
        stream_options: { include_usage: true },
        temperature: 0.2,
        top_p: 0.9,
        top_k: 40,
        min_p: 0.05,
        session_id: "s1",
        enable_thinking: true,
        user: "u1",
      },
    ],
  ];
  test.each(cases)("%s", (_name, body, expected) => {
    const chat: Record<string, unknown> = responsesToChat(parse(body));
    expect(chat).toStrictEqual(expected);
  });

  const rejected: Array<[string, Record<string, unknown>, string, string]> = [
    [
      "previous_response_id",
      { model: "m", input: "x", previous_response_id: "resp_1" },
      "previous_response_id",
      "stateless",
    ],
    ["conversation", { model: "m", input: "x", conversation: "conv_1" }, "conversation", "stateless"],
    [
      "a built-in tool",
      { model: "m", input: "x", tools: [{ type: "function", name: "f" }, { type: "web_search" }] },
      "tools.1.type",
      'function tools only; the built-in tool "web_search"',
    ],
    [
      "an unknown item type",
      { model: "m", input: [{ type: "item_reference", id: "msg_1" }] },
      "input.0.type",
      '"item_reference"',
    ],
    [
      "an unknown content part",
      { model: "m", input: [{ role: "user", content: [{ type: "input_audio" }] }] },
      "input.0.content.0.type",
      '"input_audio"',
    ],
    [
      "an image by file_id",
      { model: "m", input: [{ role: "user", content: [{ type: "input_image", file_id: "file_1" }] }] },
      "input.0.content.0.image_url",
      "no file store",
    ],
    [
      "an image in an assistant message",
      { model: "m", input: [{ role: "assistant", content: [{ type: "input_image", image_url: "https://x/y.png" }] }] },
      "input.0.content.0.type",
      "cannot hold an image",
    ],
    ["only reasoning items", { model: "m", input: [{ type: "reasoning", summary: [] }] }, "input", "holds no message"],
    ["no input", { model: "m" }, "input", "Missing required parameter: 'input'"],
    [
      "a hosted tool_choice",
      { model: "m", input: "x", tool_choice: { type: "web_search" } },
      "tool_choice.type",
      "function tools only",
    ],
    ["temperature out of range", { model: "m", input: "x", temperature: 3 }, "temperature", "Invalid"],
  ];
  test.each(rejected)("400 for %s, naming the field", (_name, body, param, fragment) => {
    const error = rejection(body);
    expect(error.status).toBe(400);
    expect(error.param).toBe(param);
    expect(error.message).toContain(fragment);
  });
});
