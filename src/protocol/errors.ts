/**
 * Errors in the OpenAI shape: `{"error":{"message","type","param","code"}}` (the shape OpenAI, Telemak and the
 * `openai` SDK agree on; reference/telemak-companion-wire.md §1.10). Every error Ithaca returns on the OpenAI surface
 * goes through this module, whether a client sent a bad request or an upstream failed.
 */
import { ValidationError } from "elysia";
import * as v from "valibot";

/** The body of an OpenAI error response. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/**
 * Optional parts of an OpenAI error: `type` defaults from the status (4xx `invalid_request_error`, 5xx
 * `server_error`).
 */
export interface OpenAIErrorFields {
  type?: string;
  param?: string | null;
  code?: string | null;
  /** Extra response headers (`retry-after`, `www-authenticate`). */
  headers?: Record<string, string>;
}

/** The OpenAI `type` for a status when the caller names none. */
function defaultType(status: number): string {
  return status >= 500 ? "server_error" : "invalid_request_error";
}

/**
 * An error that renders as an OpenAI error response. Throw it anywhere in the request pipeline (plugins, handlers,
 * routing policies); the app's `onError` turns it into `status` + {@link OpenAIErrorBody}.
 */
export class OpenAIError extends Error {
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  readonly code: string | null;
  readonly headers: Record<string, string>;

  constructor(status: number, message: string, fields: OpenAIErrorFields = {}) {
    super(message);
    this.name = "OpenAIError";
    this.status = status;
    this.type = fields.type ?? defaultType(status);
    this.param = fields.param ?? null;
    this.code = fields.code ?? null;
    this.headers = fields.headers ?? {};
  }

  /** The JSON body of this error. */
  toBody(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }

  /** This error as a JSON `Response`. */
  toResponse(): Response {
    return Response.json(this.toBody(), { status: this.status, headers: this.headers });
  }
}

/**
 * Turns the issues of a failed valibot validation into a 400 naming the first offending field by its dot path
 * (`messages.0.role`), e.g. `Invalid 'temperature': Invalid type: Expected number but received "hot"`; a missing
 * field gives `Missing required parameter: 'messages'.` (OpenAI's wording) with code `missing_required_parameter`.
 * @param schema the valibot schema the value failed.
 * @param value the rejected input.
 */
export function validationError(schema: v.GenericSchema, value: unknown): OpenAIError {
  const result = v.safeParse(schema, value);
  const issue = result.issues?.[0];
  if (!issue) return new OpenAIError(400, "Invalid request body", { code: "invalid_value" });
  const path = v.getDotPath(issue);
  if (path !== null && issue.input === undefined && issue.kind === "schema") {
    return new OpenAIError(400, `Missing required parameter: '${path}'.`, {
      param: path,
      code: "missing_required_parameter",
    });
  }
  const where = path === null ? "request body" : `'${path}'`;
  const extra = result.issues.length > 1 ? ` (and ${result.issues.length - 1} more problem(s))` : "";
  return new OpenAIError(400, `Invalid ${where}: ${issue.message}${extra}`, { param: path, code: "invalid_value" });
}

/** Upstream identity used in error messages: `upstream 'telemak1'`. */
function upstreamName(upstreamId: string): string {
  return `upstream '${upstreamId}'`;
}

/** 502: the upstream could not be reached (connection refused, DNS, reset before a response). */
export function upstreamUnreachable(upstreamId: string, cause: unknown): OpenAIError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new OpenAIError(502, `${upstreamName(upstreamId)} is unreachable: ${reason}`, {
    code: "upstream_unreachable",
  });
}

/** 502: the upstream's connection failed after its answer started. */
export function upstreamBroken(upstreamId: string, cause: unknown): OpenAIError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new OpenAIError(502, `${upstreamName(upstreamId)} broke off its answer: ${reason}`, {
    code: "upstream_disconnected",
  });
}

/** 502: the upstream sent more than Ithaca reads (`upstreams[].limits`): an answer, an error body, an SSE line. */
export function upstreamTooLarge(upstreamId: string, what: string, limit: number): OpenAIError {
  return new OpenAIError(502, `${upstreamName(upstreamId)} sent an ${what} over ${limit} bytes (upstreams[].limits)`, {
    code: "upstream_response_too_large",
  });
}

/** 502: the upstream's answer cannot be read as its dialect says (`what` says how). */
export function upstreamInvalid(upstreamId: string, what: string): OpenAIError {
  return new OpenAIError(502, `${upstreamName(upstreamId)} sent an invalid answer: ${what}`, {
    code: "upstream_invalid_response",
  });
}

/** 499: the client went away; nobody reads it, but a routing plan stops there. */
export function clientClosed(): OpenAIError {
  return new OpenAIError(499, "The client closed the request.", { code: "client_closed" });
}

/** 503: Ithaca is shutting down and cancels what it still runs. */
export function shuttingDown(): OpenAIError {
  return new OpenAIError(503, "Ithaca is shutting down.", { code: "shutting_down" });
}

/** 504: the upstream did not answer within `ms` milliseconds while waiting for `what` (`response headers`...). */
export function upstreamTimeout(upstreamId: string, what: string, ms: number): OpenAIError {
  return new OpenAIError(504, `${upstreamName(upstreamId)} timed out after ${ms} ms waiting for ${what}`, {
    code: "upstream_timeout",
  });
}

const UpstreamErrorBody = v.object({
  error: v.union([
    v.string(),
    v.object({
      message: v.optional(v.string()),
      type: v.optional(v.nullable(v.string())),
      param: v.optional(v.nullable(v.string())),
      code: v.optional(v.nullable(v.union([v.string(), v.number()]))),
    }),
  ]),
});

/** How much of a non-JSON upstream error body is quoted in the message. */
const QUOTED_BODY_CHARS = 300;

/**
 * The status Ithaca answers for an upstream's error status: a client error (4xx, 429 included) is passed on as is;
 * 503 and 504 too; Anthropic's 529 "overloaded" becomes 503; any other 5xx becomes 502 Bad Gateway (the upstream
 * failed, not Ithaca; its own status stays in the message).
 */
export function gatewayStatus(upstreamStatus: number): number {
  if (upstreamStatus < 500 || upstreamStatus === 503 || upstreamStatus === 504) return upstreamStatus;
  return upstreamStatus === 529 ? 503 : 502;
}

/**
 * An upstream answered `status` ≥ 400: the {@link gatewayStatus} is passed on, in the OpenAI shape, with a message naming the
 * upstream (`upstream 'telemak1' returned 500: <its message>`). When the upstream body is itself an OpenAI error its
 * `type`/`param`/`code` are kept; otherwise its first 300 characters are quoted.
 * @param headers response headers to pass on (e.g. `retry-after` on 429).
 */
export function upstreamHttpError(
  upstreamId: string,
  status: number,
  bodyText: string,
  headers: Record<string, string> = {},
): OpenAIError {
  const detail = errorDetail(bodyText, "(empty body)");
  return new OpenAIError(gatewayStatus(status), `${upstreamName(upstreamId)} returned ${status}: ${detail.message}`, {
    type: detail.type,
    param: detail.param,
    code: detail.code ?? "upstream_error",
    headers,
  });
}

/**
 * The parts of an OpenAI-shaped error body (`{"error":{message,type,param,code}}`, or `{"error":"<message>"}`);
 * `message` is the body's first 300 characters when it is not such a body, `emptyBody` when that is empty.
 */
function errorDetail(
  bodyText: string,
  emptyBody: string,
): { message: string; type?: string; param: string | null; code: string | null } {
  let detail: v.InferOutput<typeof UpstreamErrorBody>["error"] | undefined;
  try {
    const result = v.safeParse(UpstreamErrorBody, JSON.parse(bodyText));
    if (result.success) detail = result.output.error;
  } catch {
    // Not JSON: quoted.
  }
  if (typeof detail === "string") return { message: detail, param: null, code: null };
  return {
    message: detail?.message ?? (bodyText.trim().slice(0, QUOTED_BODY_CHARS) || emptyBody),
    type: detail?.type ?? undefined,
    param: detail?.param ?? null,
    code: detail?.code === undefined || detail.code === null ? null : String(detail.code),
  };
}

function isValibotSchema(value: unknown): value is v.GenericSchema {
  return (
    value !== null &&
    typeof value === "object" &&
    "~standard" in value &&
    (value["~standard"] as { vendor?: unknown }).vendor === "valibot"
  );
}

/**
 * Whether an error message would disclose the server's insides: a file path (`/work/…`, `C:\\…`, `file://`,
 * `node_modules`) or a stack frame (`at fn (file:1:2)`).
 */
function disclosesInternals(message: string): boolean {
  return /(^|[\s("'`=])(\/|~\/|\.\.?\/)[^\s/]+\/|[A-Za-z]:\\|file:\/\/|node_modules|^\s*at\s.+:\d+(:\d+)?\)?\s*$/m.test(
    message,
  );
}

/**
 * Maps whatever the request pipeline threw to an OpenAI error, given Elysia's error `code`:
 * - `OpenAIError` as is (also when a body parser threw it);
 * - `VALIDATION` → 400 naming the field ({@link validationError}); `PARSE` → 400;
 * - `NOT_FOUND` → 404 naming the route (OpenAI's "Invalid URL" wording);
 * - anything else → 500 `internal_error`, and a log line: it is a bug. The message quotes the error's own only when
 *   that discloses no file path or stack frame.
 * @param method the request's method; @param path its path (`requestPath`), both named in a 404.
 */
export function toOpenAIError(code: string | number, error: unknown, method: string, path: string): OpenAIError {
  if (error instanceof OpenAIError) return error;
  if (code === "VALIDATION" && error instanceof ValidationError) {
    const schema = (error.validator as { schema?: unknown }).schema;
    if (isValibotSchema(schema)) return validationError(schema, error.value);
    // Not Elysia's message: it quotes the whole rejected value.
    const first = (error.valueError as { message?: unknown } | undefined)?.message;
    const detail = typeof first === "string" ? `: ${first}` : "";
    return new OpenAIError(400, `Invalid ${error.type}${detail}`, { code: "invalid_value" });
  }
  if (code === "PARSE") {
    // Elysia wraps what a body parser throws: our parser's 413/400 come back as the cause.
    if (error instanceof Error && error.cause instanceof OpenAIError) return error.cause;
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : "";
    const detail = cause && !disclosesInternals(cause) ? `: ${cause}` : "";
    return new OpenAIError(400, `Request body could not be parsed${detail}`, { code: "invalid_json" });
  }
  if (code === "NOT_FOUND") {
    return new OpenAIError(404, `Invalid URL (${method} ${path})`, { code: "unknown_url" });
  }
  console.error("[ithaca] unhandled error:", error);
  const message = error instanceof Error ? error.message : String(error);
  const detail = message && !disclosesInternals(message) ? `: ${message}` : "";
  return new OpenAIError(500, `Internal error${detail}`, { code: "internal_error" });
}
