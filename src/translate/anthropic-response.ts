/**
 * Canonical non-streamed answer → Anthropic answer: an OpenAI `chat.completion` as an Anthropic `message` (an
 * Anthropic client in front of an OpenAI-dialect backend). The reverse, for Anthropic upstreams, is
 * `messageToChatCompletion` (src/backends/anthropic/response.ts); the id, stop-reason and usage mappings both use are
 * in src/protocol/anthropic-openai.ts.
 * References: Anthropic API "Messages" (the message object, `stop_reason`, `usage`), OpenAI "Chat Completions" (the
 * completion object), vLLM's choice `stop_reason` (the stop string that fired).
 */
import type { AnthropicContentBlock, AnthropicMessage } from "../protocol/anthropic.ts";
import { anthropicStopReason, anthropicUsage, messageIdOf } from "../protocol/anthropic-openai.ts";
import type { ChatCompletion } from "../protocol/openai-response.ts";

/** OpenAI `arguments` as a `tool_use` input: a JSON object, else `{}` (Anthropic requires an object). */
function toolInput(args: string): Record<string, unknown> {
  try {
    const input: unknown = JSON.parse(args);
    if (input !== null && typeof input === "object" && !Array.isArray(input)) return input as Record<string, unknown>;
  } catch {
    // Not JSON (or cut off by max_tokens): no usable input.
  }
  return {};
}

/** Options of {@link chatCompletionToMessage}. */
export interface ToMessageOptions {
  /** The `model` to report (the id the client asked for). */
  model: string;
  /** The request's `stop_sequences` (to recognise `stop_sequence` stops). */
  stopSequences?: readonly string[];
}

/**
 * A `chat.completion` (first choice) as an Anthropic message: `reasoning_content` (or `reasoning`) → a `thinking`
 * block with an empty `signature`, `content` → a `text` block, each tool call → a `tool_use` block (arguments that are
 * not a JSON object become `{}`); stop reason and usage by {@link anthropicStopReason} and {@link anthropicUsage}.
 */
export function chatCompletionToMessage(completion: ChatCompletion, options: ToMessageOptions): AnthropicMessage {
  const choice = completion.choices[0];
  const message = choice?.message;
  const content: AnthropicContentBlock[] = [];
  const reasoning = message?.reasoning_content ?? message?.reasoning;
  if (reasoning) content.push({ type: "thinking", thinking: reasoning, signature: "" });
  if (message?.content) content.push({ type: "text", text: message.content });
  for (const call of message?.tool_calls ?? []) {
    content.push({
      type: "tool_use",
      id: call.id,
      name: call.function.name,
      input: toolInput(call.function.arguments),
    });
  }
  const stop = anthropicStopReason(choice?.finish_reason, {
    stopReason: choice?.stop_reason,
    stopSequences: options.stopSequences,
    toolCalls: (message?.tool_calls?.length ?? 0) > 0,
  });
  return {
    id: messageIdOf(completion.id),
    type: "message",
    role: "assistant",
    model: options.model,
    content,
    ...stop,
    usage: anthropicUsage(completion.usage),
  };
}
