/**
 * `POST /v1/chat/completions` (OpenAI dialect). The canonical form itself: every backend answers it, an
 * Anthropic-dialect upstream through translation inside its backend (src/backends/anthropic/backend.ts).
 */
import type { CanonicalChatRequest } from "../protocol/canonical.ts";
import { rawJsonBody } from "../protocol/json-body.ts";
import { dispatch, labels, type RoutedRequest } from "./dispatch.ts";
import { renderChat } from "./render.ts";

/** Answers a chat-completions request along its routing plan (fallbacks included). */
export async function chatCompletions(body: CanonicalChatRequest, routed: RoutedRequest): Promise<Response> {
  const rawBody = rawJsonBody(routed.request);
  const { answer, entry } = await dispatch(routed, (entry, ctx) =>
    entry.backend.chatCompletions(body, { ...ctx, rawBody }),
  );
  return renderChat(answer, labels(entry), routed.request.signal);
}
