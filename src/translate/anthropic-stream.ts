/**
 * Canonical streamed answer → Anthropic stream: OpenAI chunks as the events of Anthropic's "Streaming Messages" (an
 * Anthropic client in front of an OpenAI-dialect backend). The reverse, for Anthropic upstreams, is
 * `anthropicEventsToChunks` (src/backends/anthropic/stream.ts); the id, stop-reason and usage mappings both use are
 * in src/protocol/anthropic-openai.ts.
 *
 * Anthropic's stream: `message_start` (the message with empty `content`); per content block, with `index` 0, 1, 2...,
 * `content_block_start`, its `content_block_delta`s and `content_block_stop`; `message_delta` (stop reason and
 * cumulative usage); `message_stop`. An `error` event ends a failed stream.
 */
import { anthropicStreamError } from "../protocol/anthropic-errors.ts";
import type { AnthropicContentBlock, AnthropicStreamEvent } from "../protocol/anthropic.ts";
import { anthropicStopReason, anthropicUsage, messageIdOf } from "../protocol/anthropic-openai.ts";
import { OpenAIError } from "../protocol/errors.ts";
import type { OpenAIDelta, OpenAIFinishReason, OpenAIStreamItem, OpenAIUsage } from "../protocol/openai-response.ts";
import type { NamedEvent } from "../protocol/sse.ts";

/** Options of {@link chunksToAnthropicEvents}. */
export interface ChunksToEventsOptions {
  /** The `model` to report (the id the client asked for). */
  model: string;
  /** The message id; default derived from the first chunk's id (`chatcmpl-x` → `msg_x`). */
  messageId?: string;
  /** The request's `stop_sequences` (to recognise `stop_sequence` stops). */
  stopSequences?: readonly string[];
}

const named = (event: AnthropicStreamEvent): NamedEvent => ({ event: event.type, data: event });

/** The `error` event of an OpenAI in-band error: its `type` is kept when it is an Anthropic one, else `api_error`. */
function errorEvent(item: {
  error: { message: string; type?: string | null; code?: string | number | null };
}): NamedEvent {
  const { message, type, code } = item.error;
  return anthropicStreamError(
    new OpenAIError(500, message, { type: type ?? undefined, code: code == null ? null : String(code) }),
  );
}

/**
 * Renders a stream of OpenAI chunks (first choice) as the Anthropic event sequence:
 * - `message_start` when the first chunk arrives (usage zeros unless that chunk carries usage);
 * - `reasoning_content` (or `reasoning`) deltas → a `thinking` block (`thinking_delta`; its `signature` stays "", as
 *   no Anthropic signature exists; the SDK does not need a `signature_delta`), `content` → a `text` block
 *   (`text_delta`), each tool call (by its OpenAI `index`) → a `tool_use` block (`id`, `name`, `input: {}`, then
 *   `input_json_delta` fragments). Switching kind closes the open block; a fragment of an earlier call (interleaved
 *   parallel calls) goes to that call's block;
 * - after the source ends (the usage chunk may follow the finish chunk): `content_block_stop` of the open block,
 *   `message_delta` (stop reason by `anthropicStopReason`, usage by `anthropicUsage`), `message_stop`.
 * An in-band `{error}` item yields an `error` event and ends the stream; a source that ends without a
 * `finish_reason` yields an `error` event ("upstream stream ended early"). Errors the source throws propagate (give
 * `namedSseResponse` `anthropicStreamError` as `onError`).
 */
export async function* chunksToAnthropicEvents(
  items: AsyncIterable<OpenAIStreamItem>,
  options: ChunksToEventsOptions,
): AsyncGenerator<NamedEvent> {
  let started = false;
  let index = -1;
  let openKey: string | undefined;
  const toolBlocks = new Map<number, number>();
  let finish: OpenAIFinishReason | undefined;
  let fired: string | number | null | undefined;
  let usage: OpenAIUsage | undefined;
  const out: AnthropicStreamEvent[] = [];

  /** Makes `key` the open block (closing the previous one), starting it as `block`. */
  const openBlock = (key: string, block: AnthropicContentBlock): number => {
    if (openKey !== key) {
      if (openKey !== undefined) out.push({ type: "content_block_stop", index });
      openKey = key;
      index += 1;
      out.push({ type: "content_block_start", index, content_block: block });
    }
    return index;
  };

  for await (const item of items) {
    if ("error" in item) {
      yield errorEvent(item);
      return;
    }
    if (item.usage) usage = item.usage;
    if (!started) {
      started = true;
      out.push({
        type: "message_start",
        message: {
          id: options.messageId ?? messageIdOf(item.id),
          type: "message",
          role: "assistant",
          model: options.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: anthropicUsage(usage),
        },
      });
    }
    const choice = item.choices?.[0];
    const delta: OpenAIDelta = choice?.delta ?? {};
    const reasoning = delta.reasoning_content ?? delta.reasoning;
    if (reasoning) {
      const at = openBlock("thinking", { type: "thinking", thinking: "", signature: "" });
      out.push({ type: "content_block_delta", index: at, delta: { type: "thinking_delta", thinking: reasoning } });
    }
    if (delta.content) {
      const at = openBlock("text", { type: "text", text: "" });
      out.push({ type: "content_block_delta", index: at, delta: { type: "text_delta", text: delta.content } });
    }
    for (const call of delta.tool_calls ?? []) {
      let at = toolBlocks.get(call.index);
      if (at === undefined) {
        const id = call.id ?? `toolu_${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`;
        at = openBlock(`tool:${call.index}`, { type: "tool_use", id, name: call.function?.name ?? "", input: {} });
        toolBlocks.set(call.index, at);
      }
      const fragment = call.function?.arguments;
      if (fragment) {
        out.push({
          type: "content_block_delta",
          index: at,
          delta: { type: "input_json_delta", partial_json: fragment },
        });
      }
    }
    if (choice?.finish_reason) {
      finish = choice.finish_reason;
      fired = choice.stop_reason;
    }
    for (const event of out.splice(0)) yield named(event);
  }
  if (finish === undefined) {
    yield anthropicStreamError(
      new OpenAIError(502, "upstream stream ended early (no finish_reason)", { code: "upstream_disconnected" }),
    );
    return;
  }
  if (openKey !== undefined) yield named({ type: "content_block_stop", index });
  const stop = anthropicStopReason(finish, {
    stopReason: fired,
    stopSequences: options.stopSequences,
    toolCalls: toolBlocks.size > 0,
  });
  yield named({ type: "message_delta", delta: stop, usage: anthropicUsage(usage) });
  yield named({ type: "message_stop" });
}
