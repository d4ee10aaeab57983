/**
 * `/v1/responses` streamed answers (src/translate/responses-events.ts, via `chunksToResponseEvents` of
 * responses-output.ts): chat chunks → numbered Responses streaming events, their order, the lifecycle events and how
 * failures and early stops end the stream.
 */
import { describe, expect, test } from "bun:test";
import { upstreamBroken } from "../../src/protocol/errors.ts";
import type { OpenAIStreamItem } from "../../src/protocol/openai-response.ts";
import type { NamedEvent } from "../../src/protocol/sse.ts";
import { chunksToResponseEvents } from "../../src/translate/responses-output.ts";
import {
  BASE,
  BODY,
  ID,
  RICH,
  RICH_OUTPUT,
  chunk,
  functionCall,
  message,
  parse,
  reasoningItem,
  source,
  usageChunk,
} from "./responses-fixtures.ts";

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
