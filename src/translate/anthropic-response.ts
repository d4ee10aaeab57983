/**
 * Non-streamed answers between the dialects: an OpenAI `chat.completion` as an Anthropic `message` (an Anthropic
 * client in front of an OpenAI-dialect backend) and back (an OpenAI client in front of an Anthropic upstream), plus
 * the id, stop-reason and usage mappings the stream translation (anthropic-stream.ts) shares.
 * References: Anthropic API "Messages" (the message object, `stop_reason`, `usage`), OpenAI "Chat Completions" (the
 * completion object), vLLM's choice `stop_reason` (the stop string that fired).
 *
 * Usage: Anthropic's `input_tokens` EXCLUDES prompt tokens read from or written to the cache
 * (`cache_read_input_tokens`, `cache_creation_input_tokens`), while OpenAI's `prompt_tokens` INCLUDES the cached ones
 * (`prompt_tokens_details.cached_tokens`). OpenAI engines report no cache writes: `cache_creation_input_tokens` is 0.
 */
import type {
  AnthropicContentBlock,
  AnthropicMessage,
  AnthropicStopReason,
  AnthropicUsage,
} from "../protocol/anthropic.ts";
import type {
  ChatCompletion,
  OpenAIAssistantMessage,
  OpenAIFinishReason,
  OpenAIToolCall,
  OpenAIUsage,
} from "../protocol/openai-wire.ts";

/** The Anthropic message id of a completion id: `chatcmpl-abc` → `msg_abc`, any other id `x` → `msg_x`. */
export function messageIdOf(completionId: string): string {
  return `msg_${completionId.replace(/^chatcmpl-/, "")}`;
}

/** The completion id of an Anthropic message id: `msg_abc` → `chatcmpl-abc`, any other id `x` → `chatcmpl-x`. */
export function completionIdOf(messageId: string): string {
  return `chatcmpl-${messageId.replace(/^msg_/, "")}`;
}

/** What decides the Anthropic stop reason besides the OpenAI `finish_reason`. */
export interface StopContext {
  /** vLLM's choice `stop_reason`: the stop string (or token id) that ended the answer. */
  stopReason?: string | number | null;
  /** The request's `stop_sequences`. */
  stopSequences?: readonly string[];
  /** Whether the answer holds tool calls. */
  toolCalls?: boolean;
}

/**
 * `finish_reason` → Anthropic `stop_reason` / `stop_sequence`: `length` → `max_tokens`; `tool_calls` (and the
 * deprecated `function_call`) → `tool_use`; `content_filter` → `refusal`; `stop` (or none) → `tool_use` when the
 * answer holds tool calls (engines that report `stop` there), `stop_sequence` when vLLM's `stop_reason` names one of
 * the request's stop sequences, else `end_turn`.
 */
export function anthropicStopReason(
  finishReason: OpenAIFinishReason | null | undefined,
  context: StopContext = {},
): { stop_reason: AnthropicStopReason; stop_sequence: string | null } {
  const mapped = (stop_reason: AnthropicStopReason) => ({ stop_reason, stop_sequence: null });
  if (finishReason === "length") return mapped("max_tokens");
  if (finishReason === "content_filter") return mapped("refusal");
  if (finishReason === "tool_calls" || finishReason === "function_call" || context.toolCalls) return mapped("tool_use");
  const fired = context.stopReason;
  if (typeof fired === "string" && context.stopSequences?.includes(fired)) {
    return { stop_reason: "stop_sequence", stop_sequence: fired };
  }
  return mapped("end_turn");
}

/**
 * Anthropic `stop_reason` → `finish_reason`: `max_tokens` and `model_context_window_exceeded` → `length`, `tool_use`
 * → `tool_calls`, `refusal` → `content_filter`, anything else (`end_turn`, `stop_sequence`, `pause_turn`) → `stop`.
 */
export function openAIFinishReason(stopReason: AnthropicStopReason | null | undefined): OpenAIFinishReason {
  switch (stopReason) {
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length";
    case "tool_use":
      return "tool_calls";
    case "refusal":
      return "content_filter";
    default:
      return "stop";
  }
}

/** OpenAI usage → Anthropic usage (all four counts; zeros when the backend reported none). */
export function anthropicUsage(usage: OpenAIUsage | null | undefined): Required<AnthropicUsage> {
  const cached = usage?.prompt_tokens_details?.cached_tokens ?? 0;
  return {
    input_tokens: (usage?.prompt_tokens ?? 0) - cached,
    output_tokens: usage?.completion_tokens ?? 0,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: cached,
  };
}

/** Anthropic usage → OpenAI usage: `prompt_tokens` = input + cache reads + cache writes; `cached_tokens` = reads. */
export function openAIUsage(usage: AnthropicUsage | null | undefined): OpenAIUsage {
  const cached = usage?.cache_read_input_tokens ?? 0;
  const prompt = (usage?.input_tokens ?? 0) + cached + (usage?.cache_creation_input_tokens ?? 0);
  const completion = usage?.output_tokens ?? 0;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: cached },
  };
}

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
