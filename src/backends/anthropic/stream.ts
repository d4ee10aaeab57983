/**
 * An Anthropic upstream's streamed answer as the canonical one: its SSE body read as Anthropic "Streaming Messages"
 * events, and those events as OpenAI "Chat Completions" chunks (an OpenAI client in front of an Anthropic upstream).
 * The reverse, for Anthropic clients, is `chunksToAnthropicEvents` (src/translate/anthropic-stream.ts); the id,
 * stop-reason and usage mappings both use are in src/protocol/anthropic-openai.ts.
 *
 * Anthropic's stream: `message_start` (the message with empty `content`); per content block, with `index` 0, 1, 2...,
 * `content_block_start`, its `content_block_delta`s and `content_block_stop`; `message_delta` (stop reason and
 * cumulative usage); `message_stop`. An `error` event ends a failed stream.
 */
import { openAICodeOfAnthropicType } from "../../protocol/anthropic-errors.ts";
import type { AnthropicStreamEvent, AnthropicUsage } from "../../protocol/anthropic.ts";
import { completionIdOf, openAIFinishReason, openAIUsage } from "../../protocol/anthropic-openai.ts";
import type {
  ChatCompletionChunk,
  OpenAIDelta,
  OpenAIFinishReason,
  OpenAIStreamItem,
} from "../../protocol/openai-response.ts";
import { sseJsonPayloads } from "../../protocol/sse.ts";

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
