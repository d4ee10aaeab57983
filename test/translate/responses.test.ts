/**
 * `/v1/responses` translation: Responses request → canonical chat request, chat completion → Response object,
 * chat chunks → Responses streaming events; and the real `openai` SDK reading what Ithaca produces.
 */
import { describe, expect, test } from "bun:test";
import OpenAI from "openai";
import * as v from "valibot";
import { OpenAIError, upstreamBroken, validationError } from "../../src/protocol/errors.ts";
import type { ChatCompletion, ChatCompletionChunk, OpenAIAssistantMessage } from "../../src/protocol/openai-wire.ts";
import type { OpenAIDelta, OpenAIFinishReason, OpenAIStreamItem, OpenAIUsage } from "../../src/protocol/openai-wire.ts";
import {
  ResponsesRequestSchema,
  type ResponseFunctionToolCall,
  type ResponseItemStatus,
  type ResponseObject,
  type ResponseOutputMessage,
  type ResponseReasoningItem,
} from "../../src/protocol/responses.ts";
import { namedSseResponse, type NamedEvent } from "../../src/protocol/sse.ts";
import { responsesToChat } from "../../src/translate/responses-request.ts";
import {
  chatCompletionToResponse,
  chunksToResponseEvents,
  responseStreamError,
} from "../../src/translate/responses-output.ts";

const parse = (body: Record<string, unknown>) => v.parse(ResponsesRequestSchema, body);
const ID = { responseId: "resp_r1", createdAt: 1700000000 };
const BODY = { model: "m", input: "Hi" };

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

function completion(
  message: Partial<OpenAIAssistantMessage>,
  finish_reason: OpenAIFinishReason,
  usage?: OpenAIUsage,
): ChatCompletion {
  return {
    id: "chatcmpl-1",
    object: "chat.completion",
    created: 1,
    model: "m",
    choices: [{ index: 0, message: { role: "assistant", content: null, ...message }, finish_reason }],
    ...(usage ? { usage } : {}),
  };
}

/** The Response of `{model: "m", input: "Hi"}` in progress, as streamed first. */
const BASE: ResponseObject = {
  id: "resp_r1",
  object: "response",
  created_at: 1700000000,
  status: "in_progress",
  error: null,
  incomplete_details: null,
  instructions: null,
  max_output_tokens: null,
  model: "m",
  output: [],
  parallel_tool_calls: true,
  previous_response_id: null,
  reasoning: { effort: null, summary: null },
  store: false,
  temperature: null,
  text: { format: { type: "text" } },
  tool_choice: "auto",
  tools: [],
  top_p: null,
  truncation: "disabled",
  usage: null,
  user: null,
  metadata: {},
};
const message = (id: string, text: string, status: ResponseItemStatus = "completed"): ResponseOutputMessage => ({
  id,
  type: "message",
  role: "assistant",
  status,
  content: [{ type: "output_text", text, annotations: [] }],
});
const reasoningItem = (id: string, text: string, status: ResponseItemStatus = "completed"): ResponseReasoningItem => ({
  id,
  type: "reasoning",
  summary: [{ type: "summary_text", text }],
  status,
});
function functionCall(
  id: string,
  call_id: string,
  name: string,
  args: string,
  status: ResponseItemStatus = "completed",
): ResponseFunctionToolCall {
  return { id, type: "function_call", call_id, name, arguments: args, status };
}

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

function chunk(delta: OpenAIDelta, finish_reason: OpenAIFinishReason | null = null): ChatCompletionChunk {
  const choices = [{ index: 0, delta, finish_reason }];
  return { id: "c1", object: "chat.completion.chunk", created: 1, model: "m", choices };
}
function usageChunk(prompt_tokens: number, completion_tokens: number): ChatCompletionChunk {
  const usage = { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens };
  return { id: "c1", object: "chat.completion.chunk", created: 1, model: "m", choices: [], usage };
}
async function* source(items: Array<OpenAIStreamItem | Error>, cleanup?: () => void): AsyncGenerator<OpenAIStreamItem> {
  try {
    for (const item of items) {
      if (item instanceof Error) throw item;
      yield item;
    }
  } finally {
    cleanup?.();
  }
}
/** The events for `items` (their `data`), checking that each names its `event` and counts from 0. */
async function collect(items: OpenAIStreamItem[]) {
  const events: NamedEvent[] = [];
  for await (const event of chunksToResponseEvents(source(items), parse(BODY), ID)) events.push(event);
  events.forEach((event, index) => {
    expect(event.data).toMatchObject({ type: event.event, sequence_number: index });
  });
  return events.map((event) => event.data as Record<string, unknown> & { type: string });
}
const types = (events: Array<{ type: string }>) => events.map((event) => event.type);

/** The events of one reasoning chain, a text and two interleaved tool calls, with usage after the finish. */
const RICH: OpenAIStreamItem[] = [
  chunk({ role: "assistant", content: "" }),
  chunk({ reasoning_content: "Two " }),
  chunk({ reasoning_content: "cities." }),
  chunk({ content: "Checking." }),
  chunk({ tool_calls: [{ index: 0, id: "call_a", type: "function", function: { name: "weather", arguments: "" } }] }),
  chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
  chunk({ tool_calls: [{ index: 1, id: "call_b", type: "function", function: { name: "weather", arguments: "{}" } }] }),
  chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
  chunk({}, "tool_calls"),
  usageChunk(20, 15),
];
const RICH_OUTPUT = [
  reasoningItem("rs_r1_0", "Two cities."),
  message("msg_r1_1", "Checking."),
  functionCall("fc_r1_2", "call_a", "weather", '{"city":"Paris"}'),
  functionCall("fc_r1_3", "call_b", "weather", "{}"),
];

describe("chunksToResponseEvents", () => {
  test("a text answer: every event, numbered from 0", async () => {
    const events = await collect([
      chunk({ role: "assistant", content: "Hel" }),
      chunk({ content: "lo" }),
      chunk({}, "stop"),
      usageChunk(5, 2),
    ]);
    const ref = { item_id: "msg_r1_0", output_index: 0 };
    const part = { type: "output_text", text: "", annotations: [] };
    expect(events).toStrictEqual([
      { type: "response.created", sequence_number: 0, response: BASE },
      { type: "response.in_progress", sequence_number: 1, response: BASE },
      {
        type: "response.output_item.added",
        sequence_number: 2,
        output_index: 0,
        item: { id: "msg_r1_0", type: "message", role: "assistant", status: "in_progress", content: [] },
      },
      { type: "response.content_part.added", sequence_number: 3, ...ref, content_index: 0, part },
      { type: "response.output_text.delta", sequence_number: 4, ...ref, content_index: 0, delta: "Hel", logprobs: [] },
      { type: "response.output_text.delta", sequence_number: 5, ...ref, content_index: 0, delta: "lo", logprobs: [] },
      { type: "response.output_text.done", sequence_number: 6, ...ref, content_index: 0, text: "Hello", logprobs: [] },
      {
        type: "response.content_part.done",
        sequence_number: 7,
        ...ref,
        content_index: 0,
        part: { ...part, text: "Hello" },
      },
      { type: "response.output_item.done", sequence_number: 8, output_index: 0, item: message("msg_r1_0", "Hello") },
      {
        type: "response.completed",
        sequence_number: 9,
        response: {
          ...BASE,
          status: "completed",
          output: [message("msg_r1_0", "Hello")],
          usage: {
            input_tokens: 5,
            input_tokens_details: { cached_tokens: 0 },
            output_tokens: 2,
            output_tokens_details: { reasoning_tokens: 0 },
            total_tokens: 7,
          },
        },
      },
    ]);
  });

  test("reasoning, text and two interleaved tool calls", async () => {
    const events = await collect(RICH);
    expect(events.map((event) => [event.type, event.output_index ?? null])).toEqual([
      ["response.created", null],
      ["response.in_progress", null],
      ["response.output_item.added", 0],
      ["response.reasoning_summary_part.added", 0],
      ["response.reasoning_summary_text.delta", 0],
      ["response.reasoning_summary_text.delta", 0],
      ["response.reasoning_summary_text.done", 0],
      ["response.reasoning_summary_part.done", 0],
      ["response.output_item.done", 0],
      ["response.output_item.added", 1],
      ["response.content_part.added", 1],
      ["response.output_text.delta", 1],
      ["response.output_text.done", 1],
      ["response.content_part.done", 1],
      ["response.output_item.done", 1],
      ["response.output_item.added", 2],
      ["response.function_call_arguments.delta", 2],
      ["response.output_item.added", 3],
      ["response.function_call_arguments.delta", 3],
      ["response.function_call_arguments.delta", 2],
      ["response.function_call_arguments.done", 2],
      ["response.output_item.done", 2],
      ["response.function_call_arguments.done", 3],
      ["response.output_item.done", 3],
      ["response.completed", null],
    ]);
    expect(events[4]).toStrictEqual({
      type: "response.reasoning_summary_text.delta",
      sequence_number: 4,
      item_id: "rs_r1_0",
      output_index: 0,
      summary_index: 0,
      delta: "Two ",
    });
    expect(events[15]).toStrictEqual({
      type: "response.output_item.added",
      sequence_number: 15,
      output_index: 2,
      item: functionCall("fc_r1_2", "call_a", "weather", "", "in_progress"),
    });
    const argumentDeltas = events.filter((event) => event.type === "response.function_call_arguments.delta");
    expect(argumentDeltas.map((event) => [event.item_id, event.delta])).toEqual([
      ["fc_r1_2", '{"city":'],
      ["fc_r1_3", "{}"],
      ["fc_r1_2", '"Paris"}'],
    ]);
    expect(events[20]).toMatchObject({ type: "response.function_call_arguments.done", arguments: '{"city":"Paris"}' });
    expect(events.at(-1)?.response).toStrictEqual({
      ...BASE,
      status: "completed",
      output: RICH_OUTPUT,
      usage: {
        input_tokens: 20,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: 15,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: 35,
      },
    });
  });

  test("a tool call without id or name in its first fragment gets a call_id and its later name", async () => {
    const events = await collect([
      chunk({ tool_calls: [{ index: 0, function: { arguments: "{" } }] }),
      chunk({ tool_calls: [{ index: 0, function: { name: "clock", arguments: "}" } }] }),
      chunk({}, "tool_calls"),
    ]);
    expect(events.at(-1)?.response).toMatchObject({ output: [functionCall("fc_r1_0", "call_r1_0", "clock", "{}")] });
  });

  test("length: response.incomplete, the last item incomplete", async () => {
    const events = await collect([
      chunk({ reasoning_content: "Hm." }),
      chunk({ content: "Once" }),
      chunk({}, "length"),
    ]);
    expect(types(events).slice(-3)).toEqual([
      "response.content_part.done",
      "response.output_item.done",
      "response.incomplete",
    ]);
    expect(events.at(-2)?.item).toStrictEqual(message("msg_r1_1", "Once", "incomplete"));
    expect(events.at(-1)?.response).toStrictEqual({
      ...BASE,
      status: "incomplete",
      incomplete_details: { reason: "max_output_tokens" },
      output: [reasoningItem("rs_r1_0", "Hm."), message("msg_r1_1", "Once", "incomplete")],
    });
  });

  const failures: Array<[string, Array<OpenAIStreamItem | Error>, { code: string; message: string }]> = [
    [
      "an in-band error item",
      [
        chunk({ content: "Hal" }),
        { error: { message: "engine died", type: "server_error", code: "generation_failed" } },
        chunk({ content: "never read" }),
      ],
      { code: "generation_failed", message: "engine died" },
    ],
    [
      "an error thrown by the source",
      [chunk({ content: "Hal" }), upstreamBroken("t1", new Error("socket reset"))],
      { code: "upstream_disconnected", message: "upstream 't1' broke off its answer: socket reset" },
    ],
    [
      "a source ending without finish_reason",
      [chunk({ content: "Hal" })],
      { code: "server_error", message: "the backend's stream ended before the answer was finished (no finish_reason)" },
    ],
  ];
  test.each(failures)("%s: response.failed with the partial output, then the end", async (_name, items, error) => {
    let closed = false;
    const events: Array<Record<string, unknown>> = [];
    const chunks = source(items, () => (closed = true));
    for await (const event of chunksToResponseEvents(chunks, parse(BODY), ID)) {
      events.push(event.data as Record<string, unknown>);
    }
    expect(closed).toBe(true);
    expect(events.map((event) => event.type)).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.failed",
    ]);
    expect(events.at(-1)).toStrictEqual({
      type: "response.failed",
      sequence_number: 5,
      response: { ...BASE, status: "failed", error, output: [message("msg_r1_0", "Hal", "incomplete")] },
    });
  });

  test("stopping the consumer stops the source", async () => {
    let closed = false;
    const items = source([chunk({ content: "a" }), chunk({ content: "b" })], () => (closed = true));
    const events = chunksToResponseEvents(items, parse(BODY), ID);
    for await (const event of events) if (event.event === "response.output_text.delta") break;
    expect(closed).toBe(true);
  });
});

/** An `openai` client whose every request is answered by `answer`. */
function client(answer: () => Response): OpenAI {
  return new OpenAI({ apiKey: "x", baseURL: "http://ithaca.test/v1", fetch: async () => answer() });
}
const streamed = (items: OpenAIStreamItem[]) => () =>
  namedSseResponse(chunksToResponseEvents(source(items), parse(BODY), ID), { onError: responseStreamError });

describe("the openai SDK reads what Ithaca sends", () => {
  test("responses.stream(): finalResponse() and output_text; deltas with snapshots", async () => {
    const stream = client(streamed(RICH)).responses.stream({
      model: "m",
      input: "Hi",
      tools: [{ type: "function", name: "weather", parameters: { type: "object" }, strict: true }],
    });
    const snapshots: string[] = [];
    stream.on("response.function_call_arguments.delta", (event) => snapshots.push(event.snapshot));
    const response = await stream.finalResponse();
    expect(response.status).toBe("completed");
    expect(response.output_text).toBe("Checking.");
    expect(response.output.map((item) => [item.type, item.id])).toEqual([
      ["reasoning", "rs_r1_0"],
      ["message", "msg_r1_1"],
      ["function_call", "fc_r1_2"],
      ["function_call", "fc_r1_3"],
    ]);
    const call = response.output[2];
    expect(call?.type === "function_call" && [call.call_id, call.arguments, call.parsed_arguments]).toEqual([
      "call_a",
      '{"city":"Paris"}',
      { city: "Paris" },
    ]);
    expect(snapshots).toEqual(['{"city":', "{}", '{"city":"Paris"}']);
    expect(response.usage?.total_tokens).toBe(35);
  });

  test("responses.create({stream: true}): the typed events in order", async () => {
    const events = await client(streamed([chunk({ content: "Hi!" }), chunk({}, "stop")])).responses.create({
      model: "m",
      input: "Hi",
      stream: true,
    });
    const seen: string[] = [];
    for await (const event of events) seen.push(`${event.sequence_number}:${event.type}`);
    expect(seen).toEqual([
      "0:response.created",
      "1:response.in_progress",
      "2:response.output_item.added",
      "3:response.content_part.added",
      "4:response.output_text.delta",
      "5:response.output_text.done",
      "6:response.content_part.done",
      "7:response.output_item.done",
      "8:response.completed",
    ]);
  });

  test("a failed stream: finalResponse() resolves with status failed and the error", async () => {
    const failing = [chunk({ content: "Hal" }), { error: { message: "engine died", code: "generation_failed" } }];
    const response = await client(streamed(failing)).responses.stream({ model: "m", input: "Hi" }).finalResponse();
    expect([response.status, response.error?.code, response.error?.message, response.output_text]).toEqual([
      "failed",
      "generation_failed",
      "engine died",
      "Hal",
    ]);
  });

  test("length: finalResponse() is incomplete with its reason", async () => {
    const items = [chunk({ content: "Once" }), chunk({}, "length")];
    const response = await client(streamed(items)).responses.stream({ model: "m", input: "Hi" }).finalResponse();
    expect([response.status, response.incomplete_details?.reason, response.output_text]).toEqual([
      "incomplete",
      "max_output_tokens",
      "Once",
    ]);
  });

  test("responseStreamError: the SDK raises the error event as an APIError", async () => {
    async function* broken(): AsyncGenerator<NamedEvent> {
      const created = await chunksToResponseEvents(source([]), parse(BODY), ID).next();
      if (!created.done) yield created.value;
      throw new OpenAIError(500, "translation bug", { code: "internal_error" });
    }
    const answer = () => namedSseResponse(broken(), { onError: responseStreamError });
    const failure = client(answer).responses.stream({ model: "m", input: "Hi" }).finalResponse();
    await expect(failure).rejects.toThrow("translation bug");
  });

  test("responses.create(): output_text from the Response object", async () => {
    const chat = completion({ content: "Paris.", reasoning_content: "Capital of France." }, "stop", {
      prompt_tokens: 9,
      completion_tokens: 3,
      total_tokens: 12,
    });
    const body = chatCompletionToResponse(chat, parse(BODY), ID);
    const response = await client(() => Response.json(body)).responses.create({ model: "m", input: "Hi" });
    expect(response.id).toBe("resp_r1");
    expect(response.output_text).toBe("Paris.");
    expect(response.output.map((item) => item.type)).toEqual(["reasoning", "message"]);
    expect(response.usage?.input_tokens).toBe(9);
    expect("output_text" in body).toBe(false);
  });
});
