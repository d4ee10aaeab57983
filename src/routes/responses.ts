/**
 * `POST /v1/responses` (OpenAI Responses API, stateless; reference/odyssai-x-wire.md §1.5, improved): the request is
 * translated into the canonical chat form (src/translate/responses-request.ts), dispatched like a chat request
 * (any backend, fallbacks included), and the answer rendered as a Response object or as the typed event stream
 * (`response.created` … `response.completed`, each with its `sequence_number`). Errors use OpenAI's shape.
 */
import type { ResponsesRequest } from "../protocol/responses.ts";
import type { ChatCompletion } from "../protocol/openai-wire.ts";
import { chunksFromSse, namedSseResponse } from "../protocol/sse.ts";
import { responsesToChat } from "../translate/responses-request.ts";
import { chatCompletionToResponse, chunksToResponseEvents, responseStreamError } from "../translate/responses-output.ts";
import { dispatch, type RoutedRequest } from "./dispatch.ts";

/** Answers a Responses request along its routing plan. */
export async function responses(body: ResponsesRequest, routed: RoutedRequest): Promise<Response> {
  const chat = responsesToChat(body);
  const answer = await dispatch(routed, (entry, ctx) => entry.backend.chatCompletions(chat, ctx));
  if (!answer.ok || !answer.body) return answer;
  if (chat.stream !== true) {
    return Response.json(chatCompletionToResponse((await answer.json()) as ChatCompletion, body));
  }
  return namedSseResponse(chunksToResponseEvents(chunksFromSse(answer.body), body), {
    signal: routed.request.signal,
    onError: responseStreamError,
  });
}
