/**
 * Which dialect a request speaks, by its path, so every error Ithaca answers comes in the caller's own shape
 * (DESIGN §2): Anthropic's `{"type":"error","error":{...}}` on `/v1/messages*`, OpenAI's `{"error":{...}}` elsewhere
 * (the Responses API and embeddings share OpenAI's error shape).
 */
import { toAnthropicErrorResponse } from "./anthropic-errors.ts";
import type { OpenAIError } from "./errors.ts";

/** The client dialects. */
export type Dialect = "openai" | "anthropic";

/**
 * The path of a request (`/v1/models` for `http://host/v1/models?x=1`), read from `request.url` without parsing it:
 * Bun hands over URLs that `new URL` rejects (`/health` for an HTTP/1.0 request without `Host`, `example.com:443`
 * for `CONNECT`), so this never throws. Bun has already resolved dot segments; the path is not percent-decoded.
 * @returns the text from the first `/` after the authority up to `?` or `#`; `/` when there is none.
 */
export function requestPath(request: Request): string {
  const url = request.url;
  const scheme = url.indexOf("://");
  const start = url.indexOf("/", scheme === -1 ? 0 : scheme + 3);
  if (start === -1) return "/";
  let end = url.length;
  for (const mark of ["?", "#"]) {
    const index = url.indexOf(mark, start);
    if (index !== -1 && index < end) end = index;
  }
  return url.slice(start, end);
}

/** The dialect of a request path (`/v1/messages`, `/v1/messages/count_tokens` → anthropic). */
export function dialectOf(path: string): Dialect {
  return path === "/v1/messages" || path.startsWith("/v1/messages/") ? "anthropic" : "openai";
}

/** `error` as a response in the dialect `request` speaks. */
export function errorResponseFor(request: Request, error: OpenAIError): Response {
  return dialectOf(requestPath(request)) === "anthropic" ? toAnthropicErrorResponse(error) : error.toResponse();
}
