/**
 * Streamed answers between the dialects (Anthropic API "Streaming Messages"; OpenAI "Chat Completions" chunk
 * objects): OpenAI chunks as Anthropic events, Anthropic events as OpenAI chunks, and the SSE readers that feed them
 * from an upstream body.
 *
 * Anthropic's stream: `message_start` (the message with empty `content`); per content block, with `index` 0, 1, 2...,
 * `content_block_start`, its `content_block_delta`s and `content_block_stop`; `message_delta` (stop reason and
 * cumulative usage); `message_stop`. An `error` event ends a failed stream.
 */
import { anthropicStreamError, openAICodeOfAnthropicType } from "../protocol/anthropic-errors.ts";
import type { AnthropicContentBlock, AnthropicStreamEvent, AnthropicUsage } from "../protocol/anthropic.ts";
import { OpenAIError } from "../protocol/errors.ts";
import type {
  ChatCompletionChunk,
  OpenAIDelta,
  OpenAIFinishReason,
  OpenAIStreamItem,
  OpenAIUsage,
} from "../protocol/openai-wire.ts";
import { sseJsonPayloads, type NamedEvent } from "../protocol/sse.ts";
import {
  anthropicStopReason,
  anthropicUsage,
  completionIdOf,
  messageIdOf,
  openAIFinishReason,
  openAIUsage,
} from "./anthropic-response.ts";

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

/** Options of {@link anthropicEventsToChunks}. */
export interface EventsToChunksOptions {
  /** The `model` to report (the id the client asked for). */
  model: string;
  /** `created` of every chunk (Unix seconds); default now. */
  created?: number;
}

/**
 * Renders Anthropic stream events as OpenAI stream items:
 * - `message_start` → the role chunk (`{role: "assistant", content: ""}`), id `chatcmpl-…` from the message id;
 * - `text_delta` → `content`, `thinking_delta` → `reasoning_content`; a `tool_use` block start → a `tool_calls` header
 *   (`index` counting tool calls from 0, `id`, `type: "function"`, `name`, `arguments` "" — or the JSON of a
 *   non-empty `input` given whole), `input_json_delta` → an `arguments` fragment; other blocks (redacted thinking,
 *   server tools) and `signature_delta` are dropped;
 * - `message_delta` → the finish chunk (`finish_reason` by `openAIFinishReason`; the stop sequence that fired as
 *   `stop_reason`); `message_stop` → the usage chunk (`choices: []`, usage of `message_start` updated by
 *   `message_delta`), then the end;
 * - `ping` is ignored; an `error` event → an in-band `{error}` item (`type` = the Anthropic type) and the end; a
 *   source that ends before `message_stop` → an `{error}` item ("upstream stream ended early").
 */
export async function* anthropicEventsToChunks(
  events: AsyncIterable<AnthropicStreamEvent>,
  options: EventsToChunksOptions,
): AsyncGenerator<OpenAIStreamItem> {
  const created = options.created ?? Math.floor(Date.now() / 1000);
  let id = "chatcmpl-";
  let usage: AnthropicUsage = { input_tokens: 0, output_tokens: 0 };
  const toolCalls = new Map<number, number>();
  let finished = false;
  const chunk = (delta: OpenAIDelta, finishReason: OpenAIFinishReason | null = null): ChatCompletionChunk => ({
    id,
    object: "chat.completion.chunk",
    created,
    model: options.model,
    choices: [{ index: 0, delta, finish_reason: finishReason }],
  });

  for await (const event of events) {
    switch (event.type) {
      case "message_start":
        id = completionIdOf(event.message.id);
        usage = { ...event.message.usage };
        yield chunk({ role: "assistant", content: "" });
        break;
      case "content_block_start": {
        const block = event.content_block;
        if (block.type === "tool_use") {
          const call = toolCalls.size;
          toolCalls.set(event.index, call);
          const whole = block.input && Object.keys(block.input).length > 0 ? JSON.stringify(block.input) : "";
          yield chunk({
            tool_calls: [
              { index: call, id: block.id, type: "function", function: { name: block.name, arguments: whole } },
            ],
          });
        } else if (block.type === "text" && block.text) yield chunk({ content: block.text });
        else if (block.type === "thinking" && block.thinking) yield chunk({ reasoning_content: block.thinking });
        break;
      }
      case "content_block_delta": {
        const delta = event.delta;
        const call = toolCalls.get(event.index);
        if (delta.type === "text_delta" && delta.text) yield chunk({ content: delta.text });
        else if (delta.type === "thinking_delta" && delta.thinking) yield chunk({ reasoning_content: delta.thinking });
        else if (delta.type === "input_json_delta" && delta.partial_json && call !== undefined) {
          yield chunk({ tool_calls: [{ index: call, function: { arguments: delta.partial_json } }] });
        }
        break;
      }
      case "message_delta": {
        usage = mergeUsage(usage, event.usage);
        const last = chunk({}, openAIFinishReason(event.delta.stop_reason));
        if (event.delta.stop_sequence != null) last.choices[0]!.stop_reason = event.delta.stop_sequence;
        finished = true;
        yield last;
        break;
      }
      case "message_stop":
        if (!finished) yield chunk({}, "stop");
        yield {
          id,
          object: "chat.completion.chunk",
          created,
          model: options.model,
          choices: [],
          usage: openAIUsage(usage),
        };
        return;
      case "error":
        yield {
          error: {
            message: event.error.message,
            type: event.error.type,
            code: openAICodeOfAnthropicType(event.error.type),
          },
        };
        return;
    }
  }
  yield {
    error: {
      message: "upstream stream ended early (no message_stop)",
      type: "server_error",
      code: "upstream_disconnected",
    },
  };
}

/** `message_delta` usage over `message_start`'s: output replaced, the other counts replaced when present. */
function mergeUsage(base: AnthropicUsage, update: Partial<AnthropicUsage> & { output_tokens: number }): AnthropicUsage {
  const merged: AnthropicUsage = { ...base, output_tokens: update.output_tokens };
  if (update.input_tokens != null) merged.input_tokens = update.input_tokens;
  if (update.cache_read_input_tokens != null) merged.cache_read_input_tokens = update.cache_read_input_tokens;
  if (update.cache_creation_input_tokens != null) {
    merged.cache_creation_input_tokens = update.cache_creation_input_tokens;
  }
  return merged;
}

/** Parses an Anthropic SSE body (an upstream's) into its events (payloads without a string `type` skipped). */
export async function* anthropicEventsFromSse(body: ReadableStream<Uint8Array>): AsyncGenerator<AnthropicStreamEvent> {
  for await (const payload of sseJsonPayloads(body)) {
    if (typeof payload.type === "string") yield payload as unknown as AnthropicStreamEvent;
  }
}
