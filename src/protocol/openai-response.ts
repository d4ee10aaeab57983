/**
 * Types of what OpenAI-dialect backends answer: the chat completion object and the chat completion chunk object
 * (OpenAI API reference, "Chat"), with the extensions the engines Ithaca fronts add and that translation keeps:
 * - `reasoning_content` on messages and deltas (DeepSeek, vLLM, mlx-lm, Telemak, the local engine); OpenRouter's
 *   `reasoning` is read as a synonym;
 * - `stop_reason` on a choice (vLLM): the stop string that ended the answer, when one did;
 * - `usage.prompt_tokens_details.cached_tokens`: prompt tokens served from a prefix cache (included in
 *   `prompt_tokens`).
 */

/** A tool call in a complete assistant message. */
export interface OpenAIToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

/** A fragment of a tool call in a stream; `index` identifies the call across fragments. */
export interface OpenAIToolCallDelta {
  index: number;
  id?: string;
  type?: "function";
  function?: { name?: string; arguments?: string };
}

/** Token counts; `prompt_tokens` includes the cached ones. */
export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
  completion_tokens_details?: { reasoning_tokens?: number } | null;
}

/** OpenAI finish reasons (`function_call` is the deprecated form of `tool_calls`). */
export type OpenAIFinishReason = "stop" | "length" | "tool_calls" | "content_filter" | "function_call";

/** An assistant message as a completion returns it. */
export interface OpenAIAssistantMessage {
  role: "assistant";
  content: string | null;
  reasoning_content?: string | null;
  /** OpenRouter's name for `reasoning_content`. */
  reasoning?: string | null;
  tool_calls?: OpenAIToolCall[] | null;
  refusal?: string | null;
}

/** `object: "chat.completion"`. */
export interface ChatCompletion {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  choices: Array<{
    index: number;
    message: OpenAIAssistantMessage;
    finish_reason: OpenAIFinishReason | null;
    /** vLLM: the stop string (or token id) that ended the answer. */
    stop_reason?: string | number | null;
    logprobs?: unknown;
  }>;
  usage?: OpenAIUsage | null;
  system_fingerprint?: string | null;
}

/** The `delta` of a chunk. */
export interface OpenAIDelta {
  role?: "assistant";
  content?: string | null;
  reasoning_content?: string | null;
  reasoning?: string | null;
  tool_calls?: OpenAIToolCallDelta[] | null;
  refusal?: string | null;
}

/** `object: "chat.completion.chunk"`; the usage chunk (with `stream_options.include_usage`) has `choices: []`. */
export interface ChatCompletionChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  choices: Array<{
    index: number;
    delta: OpenAIDelta;
    finish_reason: OpenAIFinishReason | null;
    stop_reason?: string | number | null;
    logprobs?: unknown;
  }>;
  usage?: OpenAIUsage | null;
}

/** An in-band stream error as OpenAI-dialect servers send it: `data: {"error":{...}}`. */
export interface OpenAIStreamError {
  error: { message: string; type?: string | null; param?: string | null; code?: string | number | null };
}

/** One parsed `data:` payload of an OpenAI-dialect stream. */
export type OpenAIStreamItem = ChatCompletionChunk | OpenAIStreamError;
