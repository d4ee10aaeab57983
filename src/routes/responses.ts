/**
 * `POST /v1/responses` (OpenAI Responses API, stateless; reference/odyssai-x-wire.md §1.5, improved): the request is
 * translated into the canonical chat form (src/translate/responses-request.ts), dispatched like a chat request
 * (any backend, fallbacks included), and the canonical answer rendered as a Response object or as the typed event
 * stream (`response.created` … `response.completed`, each with its `sequence_number`). Errors use OpenAI's shape.
 */
import { canonicalAnswer } from "../backends/openai/read-answer.ts";
import type { ResponsesRequest } from "../protocol/responses.ts";
import { namedSseResponse } from "../protocol/sse.ts";
import { responsesToChat } from "../translate/responses-request.ts";
import {
  chatCompletionToResponse,
  chunksToResponseEvents,
  responseStreamError,
} from "../translate/responses-output.ts";
import { withDefaults } from "./defaults.ts";
import { dispatch, labels, type RoutedRequest } from "./dispatch.ts";
import { observeAnswer } from "./observe.ts";

/** Answers a Responses request along its routing plan. */
export async function responses(body: ResponsesRequest, routed: RoutedRequest): Promise<Response> {
  routed.run?.describe(body.model, body.stream === true);
  const chat = responsesToChat(body);
  const dispatched = await dispatch(routed, async (entry, ctx) =>
    canonicalAnswer(await entry.backend.chatCompletions(withDefaults(chat, entry, routed.defaults), ctx)),
  );
  const { entry } = dispatched;
  const answer = observeAnswer(dispatched.answer, routed.run);
  const headers = labels(entry);
  if (answer.kind === "completion")
    return Response.json(chatCompletionToResponse(answer.completion, body), { headers });
  return namedSseResponse(chunksToResponseEvents(answer.chunks, body), {
    signal: routed.request.signal,
    onError: responseStreamError,
    headers,
  });
}
