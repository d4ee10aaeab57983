/**
 * The real `openai` SDK reading what Ithaca's `/v1/responses` sends: the SSE stream (`namedSseResponse` with
 * `responseStreamError`) and the JSON Response object, answered through the client's `fetch`.
 */
import { describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { OpenAIError } from "../../src/protocol/errors.ts";
import type { OpenAIStreamItem } from "../../src/protocol/openai-response.ts";
import { namedSseResponse, type NamedEvent } from "../../src/protocol/sse.ts";
import {
  chatCompletionToResponse,
  chunksToResponseEvents,
  responseStreamError,
} from "../../src/translate/responses-output.ts";
import { BODY, ID, RICH, chunk, completion, parse, source } from "./responses-fixtures.ts";

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
