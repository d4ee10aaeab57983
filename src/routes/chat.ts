/**
 * `POST /v1/chat/completions` (OpenAI dialect). The canonical form itself: every backend answers it, an
 * Anthropic-dialect upstream through translation inside its backend (src/backends/anthropic/backend.ts). The
 * operator's defaults apply to what the local engine gets (./defaults.ts); the answer is observed for the request's
 * run (./observe.ts).
 */
import type { CanonicalChatRequest } from "../protocol/canonical.ts";
import { rawJsonBody } from "../protocol/json-body.ts";
import { withDefaults } from "./defaults.ts";
import { dispatch, labels, type RoutedRequest } from "./dispatch.ts";
import { observeAnswer } from "./observe.ts";
import { renderChat } from "./render.ts";

/** Answers a chat-completions request along its routing plan (fallbacks included). */
export async function chatCompletions(body: CanonicalChatRequest, routed: RoutedRequest): Promise<Response> {
  routed.run?.describe(body.model, body.stream === true);
  const rawBody = rawJsonBody(routed.request);
  const { answer, entry } = await dispatch(routed, (entry, ctx) => {
    const sent = withDefaults(body, entry, routed.defaults);
    return entry.backend.chatCompletions(sent, sent === body ? { ...ctx, rawBody } : ctx);
  });
  return renderChat(observeAnswer(answer, routed.run), labels(entry), routed.request.signal);
}
