/**
 * `POST /v1/messages` and `POST /v1/messages/count_tokens` (Anthropic dialect; Anthropic API reference "Messages",
 * "Count message tokens"), for every backend:
 *
 * - An Anthropic-dialect backend gets the request natively and its bytes come back unchanged (the fast path).
 * - Any other backend gets the canonical translation (src/translate/anthropic-request.ts) and its canonical answer is
 *   rendered: a `message` object, or the Anthropic event stream (`message_start`, a `ping`, content blocks for
 *   `thinking`, `text` and `tool_use` with `input_json_delta`, `message_delta` with the stop reason and usage,
 *   `message_stop`), with a `ping` whenever the backend is silent for {@link PING_EVERY_MS}.
 * - Errors come in Anthropic's shape with the status of the failure (the app's error handler renders a thrown error
 *   in the caller's dialect); after a stream started, as `event: error`.
 * - count_tokens: the upstream's own count (Anthropic), the local engine's exact count (chat template + tokenizer),
 *   else an estimate of 4 characters per token, flagged by the `x-ithaca-token-count: estimate` header.
 */
import type { BytesAnswer, ChunksAnswer, CompletionAnswer, BackendCallContext } from "../backends/backend.ts";
import { canonicalAnswer } from "../backends/openai/read-answer.ts";
import type { CatalogEntry } from "../catalog/catalog.ts";
import { anthropicStreamError } from "../protocol/anthropic-errors.ts";
import type { MessagesRequest } from "../protocol/anthropic.ts";
import { namedSseResponse, type NamedEvent } from "../protocol/sse.ts";
import { messagesToChat } from "../translate/anthropic-request.ts";
import { chatCompletionToMessage } from "../translate/anthropic-response.ts";
import { chunksToAnthropicEvents } from "../translate/anthropic-stream.ts";
import { type RequestDefaults, withDefaults } from "./defaults.ts";
import { callContext, dispatch, labels, type RoutedRequest } from "./dispatch.ts";
import { observeAnswer } from "./observe.ts";
import { bytesResponse } from "./render.ts";

/** Idle time after which a `ping` event keeps a stream alive, in ms. */
export const PING_EVERY_MS = 5_000;
const PING: NamedEvent = { event: "ping", data: { type: "ping" } };

/** Answers a Messages request along its routing plan. */
export async function messages(body: MessagesRequest, routed: RoutedRequest): Promise<Response> {
  routed.run?.describe(body.model, body.stream === true);
  const dispatched = await dispatch(routed, (entry, ctx) => messagesVia(entry, body, ctx, routed.defaults));
  const { entry } = dispatched;
  const answer = observeAnswer(dispatched.answer, routed.run);
  const headers = labels(entry);
  const options = { model: body.model, stopSequences: body.stop_sequences ?? undefined };
  switch (answer.kind) {
    case "bytes":
      return bytesResponse(answer, headers);
    case "completion":
      return Response.json(chatCompletionToMessage(answer.completion, options), { headers });
    case "chunks":
      return namedSseResponse(pingAfterStart(chunksToAnthropicEvents(answer.chunks, options)), {
        signal: routed.request.signal,
        heartbeat: { everyMs: PING_EVERY_MS, event: PING },
        onError: anthropicStreamError,
        headers,
      });
  }
}

/** One entry's answer to a Messages request: native bytes, or the canonical answer to its translation. */
async function messagesVia(
  entry: CatalogEntry,
  body: MessagesRequest,
  ctx: BackendCallContext,
  defaults: RequestDefaults | undefined,
): Promise<BytesAnswer<"anthropic"> | CompletionAnswer | ChunksAnswer> {
  if (entry.backend.messages) return entry.backend.messages(body, ctx);
  const chat = withDefaults(messagesToChat(body), entry, defaults);
  return canonicalAnswer(await entry.backend.chatCompletions(chat, ctx));
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
  if (backend.countMessageTokens) return bytesResponse(await backend.countMessageTokens(body, ctx), labels(entry));
  const canonical = messagesToChat({ ...body, stream: false });
  if (backend.countTokens) return Response.json({ input_tokens: await backend.countTokens(canonical, ctx) });
  const text = JSON.stringify([canonical.messages, canonical.tools ?? []]);
  return Response.json(
    { input_tokens: Math.ceil(text.length / 4) },
    { headers: { "x-ithaca-token-count": "estimate" } },
  );
}
