/**
 * `/v1/responses` non-streamed answers (src/translate/responses-output.ts, responses-object.ts): a chat completion →
 * the Response object, with its output items, outcome, usage and the echo of the request's parameters.
 */
import { describe, expect, test } from "bun:test";
import type { ChatCompletion } from "../../src/protocol/openai-response.ts";
import type { ResponseObject } from "../../src/protocol/responses.ts";
import { chatCompletionToResponse } from "../../src/translate/responses-output.ts";
import { BASE, BODY, ID, completion, functionCall, message, parse, reasoningItem } from "./responses-fixtures.ts";

describe("chatCompletionToResponse", () => {
  test("a text answer: the whole Response, echoing the request's parameters", () => {
    const request = parse({
      model: "m",
      input: "Hi",
      instructions: "Be brief.",
      temperature: 0.5,
      top_p: 0.8,
      max_output_tokens: 100,
      metadata: { team: "a" },
      tools: [{ type: "function", name: "clock", parameters: { type: "object" } }],
      tool_choice: "required",
      parallel_tool_calls: false,
      reasoning: { effort: "low" },
      text: { format: { type: "json_object" } },
      store: true,
      user: "u1",
    });
    const usage = {
      prompt_tokens: 10,
      completion_tokens: 2,
      total_tokens: 12,
      prompt_tokens_details: { cached_tokens: 8 },
    };
    expect(chatCompletionToResponse(completion({ content: "Hello!" }, "stop", usage), request, ID)).toStrictEqual({
      ...BASE,
      status: "completed",
      instructions: "Be brief.",
      max_output_tokens: 100,
      output: [message("msg_r1_0", "Hello!")],
      parallel_tool_calls: false,
      reasoning: { effort: "low", summary: null },
      temperature: 0.5,
      text: { format: { type: "json_object" } },
      tool_choice: "required",
      tools: [{ type: "function", name: "clock", parameters: { type: "object" } }],
      top_p: 0.8,
      usage: {
        input_tokens: 10,
        input_tokens_details: { cached_tokens: 8 },
        output_tokens: 2,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: 12,
      },
      user: "u1",
      metadata: { team: "a" },
    });
  });

  const calls = [
    { id: "call_a", type: "function" as const, function: { name: "weather", arguments: '{"city":"Paris"}' } },
    { id: "call_b", type: "function" as const, function: { name: "weather", arguments: '{"city":"Rome"}' } },
  ];
  const outputs: Array<[string, ChatCompletion, Partial<ResponseObject>]> = [
    [
      "reasoning then text",
      completion({ content: "4", reasoning_content: "2+2" }, "stop"),
      { status: "completed", output: [reasoningItem("rs_r1_0", "2+2"), message("msg_r1_1", "4")] },
    ],
    [
      "OpenRouter's reasoning field",
      completion({ content: "4", reasoning: "2+2" }, "stop"),
      { status: "completed", output: [reasoningItem("rs_r1_0", "2+2"), message("msg_r1_1", "4")] },
    ],
    [
      "text and two tool calls",
      completion({ content: "Checking.", tool_calls: calls }, "tool_calls"),
      {
        status: "completed",
        output: [
          message("msg_r1_0", "Checking."),
          functionCall("fc_r1_1", "call_a", "weather", '{"city":"Paris"}'),
          functionCall("fc_r1_2", "call_b", "weather", '{"city":"Rome"}'),
        ],
      },
    ],
    [
      "length: incomplete, the last item cut short",
      completion({ content: "Once upon", reasoning_content: "story" }, "length"),
      {
        status: "incomplete",
        incomplete_details: { reason: "max_output_tokens" },
        output: [reasoningItem("rs_r1_0", "story"), message("msg_r1_1", "Once upon", "incomplete")],
      },
    ],
    [
      "length while thinking",
      completion({ content: "", reasoning_content: "hmm" }, "length"),
      {
        status: "incomplete",
        incomplete_details: { reason: "max_output_tokens" },
        output: [reasoningItem("rs_r1_0", "hmm", "incomplete")],
      },
    ],
    [
      "content_filter: incomplete",
      completion({ content: "" }, "content_filter"),
      { status: "incomplete", incomplete_details: { reason: "content_filter" }, output: [] },
    ],
  ];
  test.each(outputs)("%s", (_name, chat, expected) => {
    const response = chatCompletionToResponse(chat, parse(BODY), ID);
    expect(response).toStrictEqual({ ...BASE, status: "completed", ...expected });
  });

  test("usage: cached and reasoning tokens carried over", () => {
    const usage = {
      prompt_tokens: 120,
      completion_tokens: 40,
      total_tokens: 160,
      prompt_tokens_details: { cached_tokens: 96 },
      completion_tokens_details: { reasoning_tokens: 30 },
    };
    const response = chatCompletionToResponse(completion({ content: "ok" }, "stop", usage), parse(BODY), ID);
    expect(response.usage).toStrictEqual({
      input_tokens: 120,
      input_tokens_details: { cached_tokens: 96 },
      output_tokens: 40,
      output_tokens_details: { reasoning_tokens: 30 },
      total_tokens: 160,
    });
  });

  test("default ids: resp_ and item ids derived from it", () => {
    const response = chatCompletionToResponse(completion({ content: "ok" }, "stop"), parse(BODY));
    expect(response.id).toMatch(/^resp_[0-9a-f]{32}$/);
    expect(response.output[0]?.id).toBe(`msg_${response.id.slice(5)}_0`);
    expect(Math.abs(response.created_at - Date.now() / 1000)).toBeLessThan(5);
  });
});
