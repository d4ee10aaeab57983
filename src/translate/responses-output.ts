/**
 * Renders a canonical chat-completions answer as a Responses API answer (OpenAI API reference, "Responses"):
 * a `chat.completion` as a Response object, a stream of `chat.completion.chunk` as Responses streaming events.
 *
 * Output items, in order: a `reasoning` item for `reasoning_content` (as one `summary_text` part), a `message`
 * item for the text, one `function_call` item per tool call. `finish_reason: "length"` makes the Response
 * `incomplete` (`incomplete_details.reason: "max_output_tokens"`).
 */
import type { ChatCompletion, OpenAIFinishReason, OpenAIStreamItem, OpenAIUsage } from "../protocol/openai-response.ts";
import type { ResponseObject, ResponseOutputItem, ResponsesRequest } from "../protocol/responses.ts";
import type { NamedEvent } from "../protocol/sse.ts";
import { ResponseEventWriter } from "./responses-events.ts";
import {
  baseResponse,
  itemStatus,
  outputItemId,
  responseError,
  responseOutcome,
  responseUsage,
  type ResponseIdentity,
} from "./responses-object.ts";

/**
 * The Response object for a non-streamed chat completion (its first choice): id `resp_…`, `status` `completed`
 * (or `incomplete` for `length`/`content_filter`, the last item then `incomplete` too), the output items, usage
 * (`cached_tokens` and `reasoning_tokens` carried over) and the echo of the request's parameters.
 * @param options pins `responseId` and `createdAt` (defaults: random, now).
 */
export function chatCompletionToResponse(
  completion: ChatCompletion,
  request: ResponsesRequest,
  options: ResponseIdentity = {},
): ResponseObject {
  const response = baseResponse(request, options);
  const choice = completion.choices[0];
  const message = choice?.message;
  const outcome = responseOutcome(choice?.finish_reason);
  const output: ResponseOutputItem[] = [];
  const next = () => output.length;
  const reasoning = message?.reasoning_content ?? message?.reasoning;
  if (reasoning) {
    const id = outputItemId("rs", response.id, next());
    output.push({ id, type: "reasoning", summary: [{ type: "summary_text", text: reasoning }], status: "completed" });
  }
  if (message?.content) {
    output.push({
      id: outputItemId("msg", response.id, next()),
      type: "message",
      role: "assistant",
      status: "completed",
      content: [{ type: "output_text", text: message.content, annotations: [] }],
    });
  }
  for (const call of message?.tool_calls ?? []) {
    output.push({
      id: outputItemId("fc", response.id, next()),
      type: "function_call",
      call_id: call.id || outputItemId("call", response.id, next()),
      name: call.function.name,
      arguments: call.function.arguments,
      status: "completed",
    });
  }
  output.forEach((item, index) => {
    item.status = itemStatus(outcome.status, index, output.length);
  });
  return { ...response, ...outcome, output, usage: responseUsage(completion.usage) };
}

/**
 * Translates a stream of chat-completion chunks (choice 0) into Responses streaming events, each a
 * {@link NamedEvent} whose `data.type` equals its `event` and whose `sequence_number` counts from 0:
 * `response.created`, `response.in_progress`, the events of each output item as it appears (reasoning summary,
 * message text, function-call arguments, see {@link ResponseEventWriter}), then `response.completed` (or
 * `response.incomplete` for `length`) carrying the whole Response with usage, sent once the source has ended (the
 * usage chunk comes after the finish chunk).
 *
 * Never throws for a failing source: an in-band `{error}` item, an error thrown by the source, or a source that
 * ends without a `finish_reason` ends the stream with `response.failed` (status `failed`, `error {code, message}`,
 * the items so far with the open ones `incomplete`), which is how the API reports a failed generation and what the
 * `openai` SDK's `ResponseStream` accumulates.
 * @param options pins `responseId` and `createdAt` (defaults: random, now).
 */
export async function* chunksToResponseEvents(
  items: AsyncIterable<OpenAIStreamItem>,
  request: ResponsesRequest,
  options: ResponseIdentity = {},
): AsyncGenerator<NamedEvent> {
  const writer = new ResponseEventWriter(request, options);
  yield writer.lifecycle("response.created");
  yield writer.lifecycle("response.in_progress");
  let finishReason: OpenAIFinishReason | null = null;
  let usage: OpenAIUsage | null = null;
  let failure: unknown;
  try {
    for await (const item of items) {
      if ("error" in item) {
        failure = item;
        break;
      }
      usage = item.usage ?? usage;
      const choice = item.choices.find((candidate) => candidate.index === 0);
      if (!choice) continue;
      const { delta } = choice;
      const reasoning = delta.reasoning_content ?? delta.reasoning;
      if (reasoning) yield* writer.textDelta("reasoning", reasoning);
      if (delta.content) yield* writer.textDelta("message", delta.content);
      for (const fragment of delta.tool_calls ?? []) yield* writer.toolCallDelta(fragment);
      finishReason = choice.finish_reason ?? finishReason;
    }
  } catch (error) {
    failure = error;
  }
  if (failure === undefined && finishReason === null) {
    failure = new Error("the backend's stream ended before the answer was finished (no finish_reason)");
  }
  if (failure === undefined) yield* writer.finish(responseOutcome(finishReason), responseUsage(usage));
  else yield* writer.fail(responseError(failure), responseUsage(usage));
}

/**
 * The frame for `namedSseResponse`'s `onError` on `/v1/responses`: an `error` event (`code`, `message`, `param`),
 * which the `openai` SDK raises as an `APIError`. {@link chunksToResponseEvents} reports source failures itself
 * (`response.failed`), so this only frames a failure of the translation itself, whose position in the stream is
 * unknown: `sequence_number` is `sequenceNumber` (default 0).
 */
export function responseStreamError(error: unknown, sequenceNumber = 0): NamedEvent {
  const { code, message } = responseError(error);
  const param = error instanceof Error && "param" in error && typeof error.param === "string" ? error.param : null;
  return { event: "error", data: { type: "error", sequence_number: sequenceNumber, code, message, param } };
}
