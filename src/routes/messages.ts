/**
 * `POST /v1/messages` and `POST /v1/messages/count_tokens` (Anthropic dialect; Anthropic API reference "Messages",
 * "Count message tokens"), for every backend:
 *
 * - An Anthropic-dialect backend gets the request natively and its bytes come back unchanged (the fast path).
 * - Any other backend gets the canonical translation (src/translate/anthropic-request.ts) and its OpenAI answer is
 *   rendered back: a `message` object, or the Anthropic event stream (`message_start`, a `ping`, content blocks for
 *   `thinking`, `text` and `tool_use` with `input_json_delta`, `message_delta` with the stop reason and usage,
 *   `message_stop`), with a `ping` whenever the backend is silent for {@link PING_EVERY_MS}.
 * - Errors come in Anthropic's shape with the status of the failure; after a stream started, as `event: error`.
 * - count_tokens: the upstream's own count (Anthropic), the local engine's exact count (chat template + tokenizer),
 *   else an estimate of 4 characters per token, flagged by the `x-ithaca-token-count: estimate` header.
 */
import type { BackendCallContext } from "../backends/backend.ts";
import type { CatalogEntry } from "../catalog/catalog.ts";
import { anthropicStreamError, toAnthropicErrorResponse } from "../protocol/anthropic-errors.ts";
import type { MessagesRequest } from "../protocol/anthropic.ts";
import { openAIErrorFromResponse } from "../protocol/errors.ts";
import type { ChatCompletion } from "../protocol/openai-wire.ts";
import { chunksFromSse, namedSseResponse, type NamedEvent } from "../protocol/sse.ts";
import { messagesToChat } from "../translate/anthropic-request.ts";
import { chatCompletionToMessage } from "../translate/anthropic-response.ts";
import { chunksToAnthropicEvents } from "../translate/anthropic-stream.ts";
import { callContext, dispatch, type RoutedRequest } from "./dispatch.ts";

/** Idle time after which a `ping` event keeps a stream alive, in ms. */
export const PING_EVERY_MS = 5_000;
const PING: NamedEvent = { event: "ping", data: { type: "ping" } };

/** Answers a Messages request along its routing plan; errors in Anthropic's shape. */
export async function messages(body: MessagesRequest, routed: RoutedRequest): Promise<Response> {
  const response = await dispatch(routed, (entry, ctx) => messagesVia(entry, body, ctx));
  return response.ok ? response : toAnthropicErrorResponse(await openAIErrorFromResponse(response));
}

/** One entry's answer to a Messages request: native, or translated through the canonical form. */
async function messagesVia(entry: CatalogEntry, body: MessagesRequest, ctx: BackendCallContext): Promise<Response> {
  if (entry.backend.messages) return entry.backend.messages(body, ctx);
  const stopSequences = body.stop_sequences ?? undefined;
  const answer = await entry.backend.chatCompletions(messagesToChat(body), ctx);
  if (!answer.ok || !answer.body) return answer;
  if (body.stream !== true) {
    const completion = (await answer.json()) as ChatCompletion;
    return Response.json(chatCompletionToMessage(completion, { model: body.model, stopSequences }));
  }
  const events = chunksToAnthropicEvents(chunksFromSse(answer.body), { model: body.model, stopSequences });
  return namedSseResponse(pingAfterStart(events), {
    signal: ctx.signal,
    heartbeat: { everyMs: PING_EVERY_MS, event: PING },
    onError: anthropicStreamError,
  });
}

/** Anthropic sends a `ping` right after `message_start`; so does Ithaca. */
async function* pingAfterStart(events: AsyncIterable<NamedEvent>): AsyncGenerator<NamedEvent> {
  for await (const event of events) {
    yield event;
    if (event.event === "message_start") yield PING;
  }
}

/** Answers count_tokens with the first entry of the plan (counting needs no fallback). */
export async function countTokens(body: MessagesRequest, routed: RoutedRequest): Promise<Response> {
  const entry = routed.plan[0] as CatalogEntry;
  const ctx = callContext(entry, routed);
  const { backend } = entry;
  if (backend.countMessageTokens) {
    const response = await backend.countMessageTokens(body, ctx);
    return response.ok ? response : toAnthropicErrorResponse(await openAIErrorFromResponse(response));
  }
  const canonical = messagesToChat({ ...body, stream: false });
  if (backend.countTokens) return Response.json({ input_tokens: await backend.countTokens(canonical, ctx) });
  const text = JSON.stringify([canonical.messages, canonical.tools ?? []]);
  return Response.json({ input_tokens: Math.ceil(text.length / 4) }, { headers: { "x-ithaca-token-count": "estimate" } });
}
