/**
 * `POST /v1/chat/completions` (OpenAI dialect). The canonical form itself: every backend answers it, an
 * Anthropic-dialect upstream through translation inside its backend (src/backends/anthropic-http.ts).
 */
import type { CanonicalChatRequest } from "../backends/backend.ts";
import { dispatch, type RoutedRequest } from "./dispatch.ts";

/** Answers a chat-completions request along its routing plan (fallbacks included). */
export function chatCompletions(body: CanonicalChatRequest, routed: RoutedRequest): Promise<Response> {
  return dispatch(routed, (entry, ctx) => entry.backend.chatCompletions(body, ctx));
}
