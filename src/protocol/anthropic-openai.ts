/**
 * The correspondences between the Anthropic and OpenAI dialects that both conversion directions rely on: ids, stop
 * reasons, usage and thinking budgets. src/translate/ uses them for an Anthropic client in front of an OpenAI-dialect
 * backend (canonical answers → Anthropic answers, `thinking` → `reasoning_effort`), src/backends/anthropic/ for an
 * OpenAI client in front of an Anthropic upstream (the reverse); each pair below is one mapping read both ways.
 * References: Anthropic API "Messages" (the message object, `stop_reason`, `usage`, "Extended thinking"), OpenAI
 * "Chat Completions" (the completion object), vLLM's choice `stop_reason` (the stop string that fired).
 *
 * Usage: Anthropic's `input_tokens` EXCLUDES prompt tokens read from or written to the cache
 * (`cache_read_input_tokens`, `cache_creation_input_tokens`), while OpenAI's `prompt_tokens` INCLUDES the cached ones
 * (`prompt_tokens_details.cached_tokens`). OpenAI engines report no cache writes: `cache_creation_input_tokens` is 0.
 */
import type { AnthropicStopReason, AnthropicUsage } from "./anthropic.ts";
import type { OpenAIFinishReason, OpenAIUsage } from "./openai-response.ts";

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

/**
 * Thinking budgets (tokens) of the `reasoning_effort` levels, used both ways: an effort becomes this Anthropic
 * `budget_tokens`, and a budget becomes the highest effort it reaches (below 4096 is `low`).
 */
export const THINKING_BUDGET_TOKENS: Readonly<Record<"low" | "medium" | "high", number>> = {
  low: 1024,
  medium: 4096,
  high: 16384,
};
