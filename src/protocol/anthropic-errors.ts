/**
 * Errors in the Anthropic shape (Anthropic API reference, "Errors"): the body is
 * `{"type":"error","error":{"type","message"},"request_id"}` and the error `type` follows the HTTP status. Inside
 * Ithaca every error is an {@link OpenAIError}; this module renders one for the `/v1/messages` surface, and reads an
 * Anthropic upstream's error answer into one.
 */
import * as v from "valibot";
import { OpenAIError, upstreamHttpError } from "./errors.ts";
import type { AnthropicErrorBody } from "./anthropic.ts";
import type { NamedEvent } from "./sse.ts";

/** Anthropic's error types by status (the "Errors" reference and the SDK's `ErrorType`). */
const TYPE_BY_STATUS: Readonly<Record<number, string>> = {
  400: "invalid_request_error",
  401: "authentication_error",
  402: "billing_error",
  403: "permission_error",
  404: "not_found_error",
  409: "conflict_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  503: "overloaded_error",
  504: "timeout_error",
  529: "overloaded_error",
};

const ANTHROPIC_TYPES = new Set(Object.values(TYPE_BY_STATUS));

/**
 * The Anthropic error `type` for an HTTP status: 400 `invalid_request_error`, 401 `authentication_error`, 402
 * `billing_error`, 403 `permission_error`, 404 `not_found_error`, 409 `conflict_error`, 413 `request_too_large`, 429
 * `rate_limit_error`, 500 `api_error`, 503 and 529 `overloaded_error`, 504 `timeout_error`; any other 4xx
 * `invalid_request_error` (as Anthropic documents), any other status `api_error`.
 */
export function anthropicErrorType(status: number): string {
  return TYPE_BY_STATUS[status] ?? (status >= 400 && status < 500 ? "invalid_request_error" : "api_error");
}

/**
 * The Anthropic type of an error: its own `type` when that is a specific Anthropic one (an Anthropic upstream's
 * `overloaded_error`...), else by status. `invalid_request_error` says nothing: it is OpenAI's default for every 4xx.
 */
function typeOf(error: OpenAIError): string {
  const specific = error.type !== "invalid_request_error" && ANTHROPIC_TYPES.has(error.type);
  return specific ? error.type : anthropicErrorType(error.status);
}

/**
 * The Anthropic error body of an error.
 * @param requestId included as `request_id` when given (Anthropic sends its `req_…` id there).
 */
export function anthropicErrorBody(error: OpenAIError, requestId?: string): AnthropicErrorBody {
  const body: AnthropicErrorBody = { type: "error", error: { type: typeOf(error), message: error.message } };
  if (requestId !== undefined) body.request_id = requestId;
  return body;
}

/** An error as an Anthropic JSON `Response`: same status and extra headers (`retry-after`...), Anthropic body. */
export function toAnthropicErrorResponse(error: OpenAIError, requestId?: string): Response {
  return Response.json(anthropicErrorBody(error, requestId), { status: error.status, headers: error.headers });
}

/**
 * The `error` event that ends an Anthropic stream after its first byte (`event: error`,
 * `data: {"type":"error","error":{...}}`). Anything but an {@link OpenAIError} is an `api_error` ("stream aborted: …").
 * Use it as `namedSseResponse`'s `onError`.
 */
export function anthropicStreamError(error: unknown): NamedEvent {
  const known =
    error instanceof OpenAIError
      ? error
      : new OpenAIError(500, `stream aborted: ${error instanceof Error ? error.message : String(error)}`);
  return { event: "error", data: anthropicErrorBody(known) };
}

/**
 * The OpenAI `code` Ithaca gives an Anthropic error type: `overloaded` for `overloaded_error` (retry later, like a
 * 503), `upstream_error` otherwise (as {@link upstreamHttpError} does).
 */
export function openAICodeOfAnthropicType(type: string): string {
  return type === "overloaded_error" ? "overloaded" : "upstream_error";
}

const AnthropicErrorResponse = v.object({ error: v.object({ type: v.string() }) });

/**
 * An Anthropic upstream answered `status` ≥ 400: the error to pass on, naming the upstream
 * (`upstream 'claude' returned 529: Overloaded`). The Anthropic error type becomes the OpenAI `type` (from the status
 * when the body is not an Anthropic error); `code` is `overloaded` for overload, `upstream_error` otherwise.
 * Status: {@link gatewayStatus} — 529 (Anthropic's "overloaded") becomes 503 and other 5xx but 503/504 become 502,
 * since Ithaca answers upstream failures with 502/503/504; client errors are kept (429 with its `retry-after`).
 * @param headers response headers to pass on (e.g. `retry-after`).
 */
export function upstreamAnthropicError(
  upstreamId: string,
  status: number,
  bodyText: string,
  headers: Record<string, string> = {},
): OpenAIError {
  const quoted = upstreamHttpError(upstreamId, status, bodyText, headers);
  let type = anthropicErrorType(status);
  try {
    const parsed = v.safeParse(AnthropicErrorResponse, JSON.parse(bodyText));
    if (parsed.success) type = parsed.output.error.type;
  } catch {
    // Not JSON: the type follows the status.
  }
  return new OpenAIError(quoted.status, quoted.message, {
    type,
    code: openAICodeOfAnthropicType(type),
    headers,
  });
}
