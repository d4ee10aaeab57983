/**
 * The parts of a Response object (OpenAI API reference, "The response object") that the JSON answer and the event
 * stream share: ids, the echo of the request's parameters, the outcome of a finish reason, usage and errors.
 */
import { OpenAIError } from "../protocol/errors.ts";
import type { OpenAIFinishReason, OpenAIStreamError, OpenAIUsage } from "../protocol/openai-response.ts";
import type {
  ResponseError,
  ResponseItemStatus,
  ResponseObject,
  ResponseStatus,
  ResponseUsage,
  ResponsesRequest,
} from "../protocol/responses.ts";

/** Options of the output translators; both default to fresh values and exist so tests can pin them. */
export interface ResponseIdentity {
  /** The Response id (`resp_…`); item ids are derived from it. Default: a random one. */
  responseId?: string;
  /** `created_at`, Unix seconds. Default: now. */
  createdAt?: number;
}

/** A fresh Response id: `resp_` and 32 hex digits. */
export function newResponseId(): string {
  return `resp_${crypto.randomUUID().replaceAll("-", "")}`;
}

/**
 * The id of output item `index` of a Response, unique across responses: `msg_…`, `rs_…`, `fc_…`, or `call_…`
 * for the `call_id` of a tool call the backend sent without an id.
 */
export function outputItemId(prefix: "msg" | "rs" | "fc" | "call", responseId: string, index: number): string {
  return `${prefix}_${responseId.replace(/^resp_/, "")}_${index}`;
}

/**
 * A Response in progress (no output, no usage) echoing the request's parameters as the API does: `model` is the
 * id the client named; unset sampling parameters are `null` (the backend's defaults apply). Never stored:
 * `store: false`, `previous_response_id: null`.
 */
export function baseResponse(request: ResponsesRequest, identity: ResponseIdentity): ResponseObject {
  return {
    id: identity.responseId ?? newResponseId(),
    object: "response",
    created_at: identity.createdAt ?? Math.floor(Date.now() / 1000),
    status: "in_progress",
    error: null,
    incomplete_details: null,
    instructions: request.instructions ?? null,
    max_output_tokens: request.max_output_tokens ?? null,
    model: request.model,
    output: [],
    parallel_tool_calls: request.parallel_tool_calls ?? true,
    previous_response_id: null,
    reasoning: { effort: request.reasoning?.effort ?? null, summary: request.reasoning?.summary ?? null },
    store: false,
    temperature: request.temperature ?? null,
    text: { ...request.text, format: request.text?.format ?? { type: "text" } },
    tool_choice: request.tool_choice ?? "auto",
    tools: request.tools ?? [],
    top_p: request.top_p ?? null,
    truncation: request.truncation ?? "disabled",
    usage: null,
    user: request.user ?? null,
    metadata: request.metadata ?? {},
  };
}

/** How a chat finish reason ends a Response: `length` and `content_filter` make it `incomplete`. */
export function responseOutcome(
  finishReason: OpenAIFinishReason | null | undefined,
): Pick<ResponseObject, "status" | "incomplete_details"> {
  if (finishReason === "length") return { status: "incomplete", incomplete_details: { reason: "max_output_tokens" } };
  if (finishReason === "content_filter") {
    return { status: "incomplete", incomplete_details: { reason: "content_filter" } };
  }
  return { status: "completed", incomplete_details: null };
}

/** The status of output item `index` of `count` items: the last one of an incomplete Response was cut short. */
export function itemStatus(status: ResponseStatus, index: number, count: number): ResponseItemStatus {
  return status === "incomplete" && index === count - 1 ? "incomplete" : "completed";
}

/** Chat usage → Responses usage (`prompt_tokens` → `input_tokens`...); details default to 0; none → `null`. */
export function responseUsage(usage: OpenAIUsage | null | undefined): ResponseUsage | null {
  if (!usage) return null;
  return {
    input_tokens: usage.prompt_tokens,
    input_tokens_details: { cached_tokens: usage.prompt_tokens_details?.cached_tokens ?? 0 },
    output_tokens: usage.completion_tokens,
    output_tokens_details: { reasoning_tokens: usage.completion_tokens_details?.reasoning_tokens ?? 0 },
    total_tokens: usage.total_tokens,
  };
}

/**
 * The `error` of a failed Response for what ended a stream: an in-band `{error}` item, a thrown error (an
 * {@link OpenAIError} keeps its code) or anything else (`server_error`).
 */
export function responseError(failure: unknown): ResponseError {
  if (failure instanceof OpenAIError) return { code: failure.code ?? "server_error", message: failure.message };
  if (failure instanceof Error) return { code: "server_error", message: failure.message };
  if (failure !== null && typeof failure === "object" && "error" in failure) {
    const { error } = failure as OpenAIStreamError;
    return { code: typeof error.code === "string" ? error.code : "server_error", message: error.message };
  }
  return { code: "server_error", message: String(failure) };
}
