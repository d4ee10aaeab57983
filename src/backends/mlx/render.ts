/**
 * Renders the engine's generation events as OpenAI chat-completions output (API reference "The chat completion
 * object" and "The chat completion chunk object"): a `chat.completion` with `content`, `reasoning_content`,
 * `tool_calls` and `logprobs.content`, or a stream of chunks — role chunk, deltas, finish chunk, then a usage chunk
 * with `choices: []`. The choice of the completion and of the finish chunk also carries vLLM's `stop_reason`: the
 * request's stop string that ended the answer (`finish_reason: "stop"`), else null.
 */
import type { GenerationEvent } from "../../engine/client.ts";
import type { FinishReason, TokenLogprob, ToolCallDelta, Usage } from "../../engine/worker-messages.ts";
import { OpenAIError } from "../../protocol/errors.ts";
import type { ChatCompletion, ChatCompletionChunk } from "../../protocol/openai-response.ts";

/** `id`, `created` and `model` shared by every object of one answer. */
export interface CompletionMeta {
  id: string;
  created: number;
  model: string;
}

export function openAIUsage(u: Usage) {
  return {
    prompt_tokens: u.prompt_tokens,
    completion_tokens: u.completion_tokens,
    total_tokens: u.prompt_tokens + u.completion_tokens,
    prompt_tokens_details: { cached_tokens: u.cached_tokens },
  };
}

/** A client-side cancellation is reported as `stop` (the client is gone; nobody reads it). */
const openAIFinish = (r: FinishReason) => (r === "cancelled" ? "stop" : r);

/** `finish_reason` and vLLM's `stop_reason` (the matched stop string, else null) of a finished choice. */
const finishFields = (e: Extract<GenerationEvent, { type: "done" }>) => ({
  finish_reason: openAIFinish(e.finishReason),
  stop_reason: e.stopString ?? null,
});

/**
 * An engine `error` event as an OpenAI error: 400 `invalid_prompt` (template, context length), 400
 * `unsupported_schema` naming `param` (a structured output the engine cannot enforce), 503, else 500.
 */
export function engineError(e: { message: string; status: number; param?: string }): OpenAIError {
  if (e.status === 400 && e.param)
    return new OpenAIError(400, e.message, { code: "unsupported_schema", param: e.param });
  const code = e.status === 400 ? "invalid_prompt" : e.status === 503 ? "engine_overloaded" : "engine_error";
  return new OpenAIError(e.status, e.message, { code });
}

/**
 * Collects a whole answer into a `chat.completion`.
 * @throws OpenAIError with the engine's status when generation fails
 */
export async function renderCompletion(
  events: AsyncIterable<GenerationEvent>,
  meta: CompletionMeta,
  withLogprobs: boolean,
): Promise<ChatCompletion> {
  let content = "";
  let reasoning = "";
  const toolCalls: ToolCallDelta[] = [];
  const logprobs: TokenLogprob[] = [];
  for await (const e of events) {
    if (e.type === "delta") {
      content += e.delta.content ?? "";
      reasoning += e.delta.reasoning_content ?? "";
      toolCalls.push(...(e.delta.tool_calls ?? []));
      if (e.logprobs) logprobs.push(...e.logprobs);
    } else if (e.type === "error") {
      throw engineError(e);
    } else if (e.type === "done") {
      const message: ChatCompletion["choices"][number]["message"] = {
        role: "assistant",
        content: content || (toolCalls.length ? null : ""),
      };
      if (reasoning) message.reasoning_content = reasoning;
      if (toolCalls.length) message.tool_calls = toolCalls.map(({ index: _index, ...call }) => call);
      return {
        ...meta,
        object: "chat.completion",
        choices: [{ index: 0, message, logprobs: withLogprobs ? { content: logprobs } : null, ...finishFields(e) }],
        usage: openAIUsage(e.usage),
      };
    }
  }
  throw new OpenAIError(500, "engine ended without finishing", { code: "engine_error" });
}

/**
 * Yields the chunk objects of a streamed answer. Stops silently when the generation was cancelled (client gone).
 * @throws OpenAIError when generation fails mid-stream (the SSE layer sends it as an in-band error event)
 */
export async function* renderChunks(
  events: AsyncIterable<GenerationEvent>,
  meta: CompletionMeta,
  withLogprobs: boolean,
): AsyncGenerator<ChatCompletionChunk> {
  const chunk = (
    delta: ChatCompletionChunk["choices"][number]["delta"],
    logprobs?: TokenLogprob[],
    finish?: ReturnType<typeof finishFields>,
  ): ChatCompletionChunk => ({
    ...meta,
    object: "chat.completion.chunk",
    choices: [
      {
        index: 0,
        delta,
        logprobs: withLogprobs && logprobs ? { content: logprobs } : null,
        finish_reason: null,
        ...finish,
      },
    ],
  });
  yield chunk({ role: "assistant", content: "" });
  for await (const e of events) {
    if (e.type === "delta") yield chunk(e.delta, e.logprobs);
    else if (e.type === "error") throw engineError(e);
    else if (e.type === "done") {
      if (e.finishReason === "cancelled") return;
      yield chunk({}, undefined, finishFields(e));
      yield { ...meta, object: "chat.completion.chunk" as const, choices: [], usage: openAIUsage(e.usage) };
      return;
    }
  }
}
