/**
 * Maps an OpenAI chat-completions request (canonical form) onto the local engine's {@link GenerateParams}.
 *
 * Every sampling field reaches the engine or is refused with a 400 naming it (DESIGN §2: nothing is silently
 * dropped). Field names and defaults follow the OpenAI API reference and mlx-lm's server (`top_k`, `min_p`,
 * `repetition_penalty`, `repetition_context_size` are mlx-lm server extensions).
 */
import type { PromptParams } from "../../engine/prompt.ts";
import type { GenerateParams, GrammarSpec } from "../../engine/worker-messages.ts";
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

/** The request's `tools`, none with `tool_choice: "none"` (the template then shows no tool). */
function toolsFor(body: CanonicalChatRequest): unknown[] | undefined {
  const tools = Array.isArray(body.tools) && body.tools.length > 0 ? body.tools : undefined;
  return body.tool_choice === "none" ? undefined : tools;
}

const toolName = (tool: unknown): unknown => {
  const t = tool as { function?: { name?: unknown }; name?: unknown } | null;
  return t?.function?.name ?? t?.name;
};

/**
 * A forced tool call: `tool_choice` `required` (any of the tools; several when `parallel_tool_calls` is not false) or
 * `{type: "function", function: {name}}` (that one). `auto`, `none` or absent: undefined.
 * @throws OpenAIError 400 naming `tool_choice` when it forces a call without tools, names no given tool, or has
 *   another shape
 */
function forcedToolCall(body: CanonicalChatRequest): GrammarSpec | undefined {
  const choice = body.tool_choice as string | { type?: unknown; function?: { name?: unknown } } | null | undefined;
  if (choice === undefined || choice === null || choice === "auto" || choice === "none") return undefined;
  const tools = toolsFor(body) ?? [];
  if (tools.length === 0) throw bad("tool_choice", "tool_choice forces a tool call but the request has no tools");
  if (choice === "required") return { type: "tool_call", parallel: body.parallel_tool_calls !== false };
  const name = typeof choice === "object" && choice.type === "function" ? choice.function?.name : undefined;
  if (typeof name !== "string") {
    throw bad("tool_choice", "tool_choice must be 'auto', 'none', 'required' or {type: 'function', function: {name}}");
  }
  if (!tools.some((t) => toolName(t) === name))
    throw bad("tool_choice", `tool_choice names '${name}', not a given tool`);
  return { type: "tool_call", name, parallel: false };
}

/**
 * The structured output a request asks for (enforced by grammar-constrained decoding in the engine): `response_format`
 * `json_object` or `json_schema` (its `schema`; `strict` or not, it is enforced), or a forced tool call.
 * @throws OpenAIError 400 naming `response_format` when its schema is missing or not an object, or when it is combined
 *   with a forced tool call; what {@link forcedToolCall} throws
 */
function grammarFor(body: CanonicalChatRequest): GrammarSpec | undefined {
  const format = body.response_format as { type?: string; json_schema?: { schema?: unknown } } | null | undefined;
  const tool = forcedToolCall(body);
  if (format == null || format.type === "text") return tool;
  if (tool) throw bad("response_format", "response_format cannot be combined with a tool_choice that forces a call");
  if (format.type === "json_object") return { type: "json_object" };
  const schema = format.json_schema?.schema;
  if (format.type !== "json_schema" || typeof schema !== "object" || schema === null || Array.isArray(schema)) {
    throw bad("response_format", "response_format json_schema needs json_schema.schema, a JSON schema object");
  }
  return { type: "json_schema", schema: schema as Record<string, unknown> };
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
 * @throws OpenAIError 400 naming the field for values the local engine cannot honour (`n` > 1, a `tool_choice` or
 *   `response_format` it cannot read, see {@link grammarFor}) or that are out of range.
 */
export function toGenerateParams(
  body: CanonicalChatRequest,
  caller: Pick<BackendCallContext, "sessionId" | "cacheScope">,
  vocabSize?: number,
): GenerateParams {
  if (integer(body, "n", 1, 128, 1) !== 1) throw bad("n", "the local engine supports only n = 1");
  const grammar = grammarFor(body);
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
    ...(grammar ? { grammar } : {}),
  };
}
