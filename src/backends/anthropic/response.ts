/**
 * An Anthropic upstream's non-streamed answer as the canonical one: a Messages API `message` as an OpenAI
 * `chat.completion` (an OpenAI client in front of an Anthropic upstream). The reverse, for Anthropic clients, is
 * `chatCompletionToMessage` (src/translate/anthropic-response.ts); the id, stop-reason and usage mappings both use are
 * in src/protocol/anthropic-openai.ts.
 * References: Anthropic API "Messages" (the message object, `stop_reason`, `usage`), OpenAI "Chat Completions" (the
 * completion object), vLLM's choice `stop_reason` (the stop string that fired).
 */
import type { AnthropicMessage } from "../../protocol/anthropic.ts";
import { completionIdOf, openAIFinishReason, openAIUsage } from "../../protocol/anthropic-openai.ts";
import type { ChatCompletion, OpenAIAssistantMessage, OpenAIToolCall } from "../../protocol/openai-response.ts";

/** Options of {@link messageToChatCompletion}. */
export interface ToCompletionOptions {
  /** The `model` to report (the id the client asked for). */
  model: string;
  /** `created` (Unix seconds); default now. */
  created?: number;
}

/**
 * An Anthropic message as a `chat.completion`: text blocks → `content` (concatenated; null when the answer only calls
 * tools), `thinking` → `reasoning_content`, `tool_use` → `tool_calls` (`arguments` = JSON of `input`);
 * `redacted_thinking` and server-tool blocks are dropped. The stop sequence that fired is kept as the choice's
 * `stop_reason` (vLLM's convention); usage by {@link openAIUsage}.
 */
export function messageToChatCompletion(message: AnthropicMessage, options: ToCompletionOptions): ChatCompletion {
  const texts: string[] = [];
  const reasoning: string[] = [];
  const calls: OpenAIToolCall[] = [];
  for (const block of message.content ?? []) {
    if (block.type === "text") texts.push(block.text);
    else if (block.type === "thinking") reasoning.push(block.thinking);
    else if (block.type === "tool_use") {
      calls.push({
        id: block.id,
        type: "function",
        function: { name: block.name, arguments: JSON.stringify(block.input) },
      });
    }
  }
  const assistant: OpenAIAssistantMessage = {
    role: "assistant",
    content: texts.length > 0 ? texts.join("") : calls.length > 0 ? null : "",
  };
  if (reasoning.length > 0) assistant.reasoning_content = reasoning.join("");
  if (calls.length > 0) assistant.tool_calls = calls;
  const choice: ChatCompletion["choices"][number] = {
    index: 0,
    message: assistant,
    finish_reason: openAIFinishReason(message.stop_reason),
  };
  if (message.stop_sequence != null) choice.stop_reason = message.stop_sequence;
  return {
    id: completionIdOf(message.id),
    object: "chat.completion",
    created: options.created ?? Math.floor(Date.now() / 1000),
    model: options.model,
    choices: [choice],
    usage: openAIUsage(message.usage),
  };
}
