/**
 * A backend's typed answer rendered as the HTTP response, once: canonical values as the OpenAI dialect's JSON or SSE,
 * an upstream's bytes as they came. Routes of the other dialects translate the canonical values first.
 */
import type { BytesAnswer, ChatAnswer } from "../backends/backend.ts";
import { sseResponse } from "../protocol/sse.ts";

/** An upstream's own bytes as the response: its status and kept headers, plus `headers`. */
export function bytesResponse(answer: BytesAnswer, headers: Record<string, string>): Response {
  return new Response(answer.body, { status: answer.status, headers: { ...answer.headers, ...headers } });
}

/**
 * A chat answer in the OpenAI dialect: a `chat.completion` JSON body, an SSE stream of chunks ending in
 * `data: [DONE]`, or the upstream's bytes.
 * @param signal the request's: its abort ends a stream and cancels the work behind it.
 */
export function renderChat(answer: ChatAnswer, headers: Record<string, string>, signal: AbortSignal): Response {
  switch (answer.kind) {
    case "completion":
      return Response.json(answer.completion, { headers });
    case "chunks":
      return sseResponse(answer.chunks, signal, headers);
    case "bytes":
      return bytesResponse(answer, headers);
  }
}
