/**
 * Maps an OpenAI chat-completions request (canonical form) onto the local engine's {@link GenerateParams}.
 *
 * Every sampling field reaches the engine or is refused with a 400 naming it (DESIGN §2: nothing is silently
 * dropped). Field names and defaults follow the OpenAI API reference and mlx-lm's server (`top_k`, `min_p`,
 * `repetition_penalty`, `repetition_context_size` are mlx-lm server extensions).
 */
import type { PromptParams } from "../../engine/prompt.ts";
import type { GenerateParams } from "../../engine/worker-messages.ts";
import { OpenAIError } from "../../protocol/errors.ts";
import type { BackendCallContext } from "../backend.ts";
import type { CanonicalChatRequest } from "../../protocol/canonical.ts";

/** Completion budget when the request names none (tokens), as OdyssAI-X and mlx-lm's server default. */
export const DEFAULT_MAX_TOKENS = 512;
/** mlx-lm's default look-back for repetition, presence and frequency penalties (tokens). */
export const DEFAULT_REPETITION_CONTEXT = 20;

const bad = (param: string, message: string) => new OpenAIError(400, message, { param });

function number(body: CanonicalChatRequest, field: string): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value)) throw bad(field, `${field} must be a number`);
  return value;
}

function ranged(body: CanonicalChatRequest, field: string, min: number, max: number, fallback: number): number {
  const value = number(body, field) ?? fallback;
  if (value < min || value > max) throw bad(field, `${field} must be between ${min} and ${max}`);
  return value;
}

function integer(body: CanonicalChatRequest, field: string, min: number, max: number, fallback: number): number {
  const value = ranged(body, field, min, max, fallback);
  if (!Number.isInteger(value)) throw bad(field, `${field} must be an integer`);
  return value;
}

/** `tool_choice`: `auto` (default) and `none` are honoured; forcing a call is not (no constrained decoding yet). */
function toolsFor(body: CanonicalChatRequest): unknown[] | undefined {
  const tools = Array.isArray(body.tools) && body.tools.length > 0 ? body.tools : undefined;
  const choice = body.tool_choice;
  if (choice === undefined || choice === null || choice === "auto") return tools;
  if (choice === "none") return undefined;
  throw bad(
    "tool_choice",
    "the local engine supports tool_choice 'auto' and 'none' only (it cannot force a tool call)",
  );
}

function logitBias(body: CanonicalChatRequest, vocabSize: number | undefined): Record<string, number> | undefined {
  const bias = body.logit_bias as Record<string, number> | null | undefined;
  if (!bias || Object.keys(bias).length === 0) return undefined;
  for (const [token, value] of Object.entries(bias)) {
    const id = Number(token);
    if (!Number.isInteger(id) || id < 0 || (vocabSize !== undefined && id >= vocabSize)) {
      throw bad("logit_bias", `logit_bias key '${token}' is not a token id of this model`);
    }
    if (value < -100 || value > 100) throw bad("logit_bias", "logit_bias values must be between -100 and 100");
  }
  return bias;
}

/**
 * The fields of a request that shape its prompt: `messages`, the `tools` the template shows (none with
 * `tool_choice: "none"`), `enable_thinking` and `reasoning_effort` (when of the right type). The prompt that
 * {@link toGenerateParams} sends to the engine is rendered from exactly these.
 * @throws OpenAIError 400 naming `tool_choice` when it forces a call (the local engine cannot).
 */
export function toPromptParams(body: CanonicalChatRequest): PromptParams {
  return {
    messages: body.messages,
    tools: toolsFor(body),
    enable_thinking: typeof body.enable_thinking === "boolean" ? body.enable_thinking : undefined,
    reasoning_effort: typeof body.reasoning_effort === "string" ? body.reasoning_effort : undefined,
  };
}

/**
 * Builds engine parameters from a request.
 * @param caller the request's `sessionId` and `cacheScope` (whose prefix cache entries it may reuse; absent = open)
 * @param vocabSize the model's vocabulary size (checks `logit_bias` keys), when known
 * @throws OpenAIError 400 naming the field for values the local engine cannot honour (`n` > 1, a forced
 *   `tool_choice`, `response_format` other than text) or that are out of range.
 */
export function toGenerateParams(
  body: CanonicalChatRequest,
  caller: Pick<BackendCallContext, "sessionId" | "cacheScope">,
  vocabSize?: number,
): GenerateParams {
  if (integer(body, "n", 1, 128, 1) !== 1) throw bad("n", "the local engine supports only n = 1");
  const format = (body.response_format as { type?: string } | null | undefined)?.type;
  if (format !== undefined && format !== "text") {
    throw bad(
      "response_format",
      `response_format '${format}' is not supported by the local engine (no constrained decoding yet)`,
    );
  }
  const maxField = body.max_completion_tokens != null ? "max_completion_tokens" : "max_tokens";
  const maxTokens = integer(body, maxField, 1, Number.MAX_SAFE_INTEGER, DEFAULT_MAX_TOKENS);
  const logprobs = body.logprobs === true;
  const topLogprobs = integer(body, "top_logprobs", 0, 20, 0);
  if (topLogprobs > 0 && !logprobs) throw bad("top_logprobs", "top_logprobs requires logprobs: true");
  const seed = number(body, "seed");
  if (seed !== undefined && (!Number.isSafeInteger(seed) || seed < 0))
    throw bad("seed", "seed must be a non-negative integer");
  const repetitionPenalty = number(body, "repetition_penalty");
  if (repetitionPenalty !== undefined && repetitionPenalty <= 0)
    throw bad("repetition_penalty", "repetition_penalty must be positive");
  const topP = ranged(body, "top_p", 0, 1, 1);
  if (topP === 0) throw bad("top_p", "top_p must be in (0, 1]");
  const stop = body.stop == null ? [] : Array.isArray(body.stop) ? (body.stop as string[]) : [body.stop as string];
  if (stop.length > 4) throw bad("stop", "at most 4 stop sequences are allowed");
  return {
    ...toPromptParams(body),
    max_tokens: maxTokens,
    temperature: ranged(body, "temperature", 0, 2, 1),
    top_p: topP,
    top_k: integer(body, "top_k", 0, Number.MAX_SAFE_INTEGER, 0),
    min_p: ranged(body, "min_p", 0, 1, 0),
    repetition_penalty: repetitionPenalty === 1 ? undefined : repetitionPenalty,
    repetition_context_size: integer(body, "repetition_context_size", 1, 1 << 20, DEFAULT_REPETITION_CONTEXT),
    presence_penalty: ranged(body, "presence_penalty", -2, 2, 0),
    frequency_penalty: ranged(body, "frequency_penalty", -2, 2, 0),
    logit_bias: logitBias(body, vocabSize),
    logprobs,
    top_logprobs: topLogprobs,
    seed,
    stop: stop.filter((s) => s.length > 0),
    session_id: caller.sessionId,
    cache_scope: caller.cacheScope,
  };
}
