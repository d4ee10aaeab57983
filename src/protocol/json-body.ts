/**
 * Reads a JSON request body under a byte limit. The limit is enforced twice: on a declared `Content-Length` before
 * anything is read, and while reading a chunked body (the read stops at the first byte past the limit). Either way
 * the client gets a 413 in the OpenAI error shape, and a body that is not JSON gets a 400 naming the parse problem.
 */
import { OpenAIError } from "./errors.ts";

/** 413; `declared` is the Content-Length when the client announced one. */
function tooLarge(limitBytes: number, declared?: string): OpenAIError {
  const size = declared === undefined ? "Request body exceeds" : `Request body of ${declared} bytes exceeds`;
  return new OpenAIError(413, `${size} the limit of ${limitBytes} bytes (server.body_limit_bytes).`, {
    code: "request_too_large",
  });
}

/** Reads the raw body, stopping with a 413 as soon as it exceeds `limitBytes`. */
async function readLimited(request: Request, limitBytes: number): Promise<Uint8Array> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limitBytes) throw tooLarge(limitBytes, declared);
  if (!request.body) return new Uint8Array(0);
  const parts: Uint8Array[] = [];
  let total = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limitBytes) {
      await reader.cancel();
      throw tooLarge(limitBytes);
    }
    parts.push(value);
  }
  const body = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    body.set(part, offset);
    offset += part.byteLength;
  }
  return body;
}

/**
 * Parses the request body as JSON.
 * @param limitBytes largest accepted body, in bytes.
 * @param emptyAs what an empty body reads as, for routes whose body is optional; absent: an empty body is an error.
 * @returns the parsed value (any JSON value; schemas check the shape afterwards).
 * @throws OpenAIError 413 `request_too_large` over the limit; 400 `invalid_json` for an empty body, invalid UTF-8 or
 *   invalid JSON (the message quotes the parser's complaint).
 */
export async function readJsonBody(request: Request, limitBytes: number, emptyAs?: object): Promise<unknown> {
  const bytes = await readLimited(request, limitBytes);
  if (bytes.byteLength === 0 && emptyAs !== undefined) return emptyAs;
  if (bytes.byteLength === 0) {
    throw new OpenAIError(400, "Request body is empty; expected a JSON object.", { code: "invalid_json" });
  }
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new OpenAIError(400, `Request body is not valid JSON: ${reason}`, { code: "invalid_json" });
  }
}
