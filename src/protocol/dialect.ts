/**
 * Which dialect a request speaks, by its path, so every error Ithaca answers comes in the caller's own shape
 * (DESIGN §2): Anthropic's `{"type":"error","error":{...}}` on `/v1/messages*`, OpenAI's `{"error":{...}}` elsewhere
 * (the Responses API and embeddings share OpenAI's error shape).
 */
import { toAnthropicErrorResponse } from "./anthropic-errors.ts";
import type { OpenAIError } from "./errors.ts";

/** The client dialects. */
export type Dialect = "openai" | "anthropic";

/** The dialect of a request path (`/v1/messages`, `/v1/messages/count_tokens` → anthropic). */
export function dialectOf(path: string): Dialect {
  return path === "/v1/messages" || path.startsWith("/v1/messages/") ? "anthropic" : "openai";
}

/** `error` as a response in the dialect `request` speaks. */
export function errorResponseFor(request: Request, error: OpenAIError): Response {
  return dialectOf(new URL(request.url).pathname) === "anthropic"
    ? toAnthropicErrorResponse(error)
    : error.toResponse();
}
