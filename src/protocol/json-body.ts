/**
 * Reads a JSON request body under limits, answering in the OpenAI error shape (the app re-renders it in the caller's
 * dialect):
 * - media type: `application/json` or `application/*+json` only, else 415 before anything is read (a form or
 *   `text/plain` body is what a cross-site page can send without a CORS preflight; multipart is never read);
 * - size: on a declared `Content-Length` before anything is read, and while reading a chunked body (the read stops at
 *   the first byte past the limit) → 413;
 * - time: the whole body must arrive within a deadline (./deadline-sweep.ts) → 408 (a client that stalls mid-body is
 *   not waited on forever);
 * - nesting: arrays and objects nested deeper than a limit → 400 before parsing (deep values cost quadratic time and
 *   memory further down: validation messages, pretty-printing);
 * - syntax: a body that is not UTF-8 JSON → 400 naming the parse problem.
 */
import { withDeadline } from "./deadline-sweep.ts";
import { OpenAIError } from "./errors.ts";

/** Strict UTF-8 (invalid bytes are an error); stateless between calls, so shared. */
const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });

/** The limits a JSON body is read under (`server.*` in the configuration). */
export interface JsonBodyLimits {
  /** Largest accepted body, in bytes. */
  maxBytes: number;
  /** Time the whole body may take to arrive, in milliseconds. */
  timeoutMs: number;
  /** Deepest accepted nesting of arrays and objects (`[[1]]` nests 2 deep). */
  maxDepth: number;
}

/** 413; `declared` is the Content-Length when the client announced one. */
function tooLarge(limitBytes: number, declared?: string): OpenAIError {
  const size = declared === undefined ? "Request body exceeds" : `Request body of ${declared} bytes exceeds`;
  return new OpenAIError(413, `${size} the limit of ${limitBytes} bytes (server.body_limit_bytes).`, {
    code: "request_too_large",
  });
}

/** 408, closing the connection: what is left of the body is never read. */
function tooSlow(timeoutMs: number): OpenAIError {
  return new OpenAIError(408, `Request body did not arrive within ${timeoutMs} ms (server.body_timeout_ms).`, {
    code: "request_timeout",
    headers: { connection: "close" },
  });
}

/** 400 `invalid_json`. */
function invalidJson(message: string): OpenAIError {
  return new OpenAIError(400, message, { code: "invalid_json" });
}

/**
 * The media type of a `Content-Type` value, lower-cased, without parameters (`application/json; charset=utf-8` →
 * `application/json`); `undefined` when the header is absent or blank.
 */
export function mediaType(contentType: string | null): string | undefined {
  if (contentType === "application/json") return contentType; // what nearly every client sends: nothing to cut
  const type = contentType?.split(";", 1)[0]?.trim().toLowerCase();
  return type ? type : undefined;
}

/** Whether a media type is JSON: `application/json` or a `+json` suffix type (`application/merge-patch+json`). */
export function isJsonMediaType(type: string): boolean {
  return type === "application/json" || /^application\/[a-z0-9!#$&^_.+-]+\+json$/.test(type);
}

/**
 * 415 unless `request` declares a JSON media type. A request without `Content-Type` passes only when it has no body
 * (`Content-Length: 0` or none at all), which {@link readJsonBody} then reads as empty.
 * @throws OpenAIError 415 `unsupported_media_type`.
 */
export function requireJsonMediaType(request: Request): void {
  const type = mediaType(request.headers.get("content-type"));
  if (type === undefined) {
    if (request.body === null || request.headers.get("content-length") === "0") return;
    throw new OpenAIError(415, "Request body has no Content-Type; send it as 'application/json'.", {
      code: "unsupported_media_type",
    });
  }
  if (!isJsonMediaType(type)) {
    throw new OpenAIError(415, `Unsupported Content-Type '${type}'; send the request body as 'application/json'.`, {
      code: "unsupported_media_type",
    });
  }
}

/** What {@link readChunked} needs of a body's reader. */
interface ChunkReader {
  read(): Promise<{ done: true; value?: undefined } | { done: false; value: Uint8Array }>;
  cancel(): Promise<void>;
}

/** Reads a body without `Content-Length` (chunked) chunk by chunk, stopping at the first byte past the limit. */
async function readChunked(reader: ChunkReader, limitBytes: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > limitBytes) throw tooLarge(limitBytes);
      parts.push(value);
    }
  } catch (error) {
    reader.cancel().catch(() => {});
    throw error;
  }
  return Buffer.concat(parts, total);
}

/**
 * Reads the raw body under the size limit and the deadline. A declared `Content-Length` is checked before reading
 * and the body is then read natively in one piece; a chunked body is read chunk by chunk to enforce the limit, and
 * its read is cancelled when the deadline passes.
 */
async function readLimited(request: Request, limits: JsonBodyLimits): Promise<Uint8Array> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limits.maxBytes) throw tooLarge(limits.maxBytes, declared);
  if (!request.body) return new Uint8Array(0);
  const late = () => tooSlow(limits.timeoutMs);
  if (declared !== null) return new Uint8Array(await withDeadline(request.arrayBuffer(), limits.timeoutMs, late));
  const reader = request.body.getReader();
  return withDeadline(readChunked(reader, limits.maxBytes), limits.timeoutMs, () => {
    reader.cancel().catch(() => {});
    return late();
  });
}

/**
 * Whether JSON text nests arrays and objects deeper than `maxDepth`: one linear pass over the bytes counting `[`
 * and `{` outside strings (escapes honoured). Malformed text is left for the parser to name.
 */
function nestsDeeperThan(bytes: Uint8Array, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (inString) {
      if (byte === 0x5c) {
        i++; // backslash: skip the escaped character
      } else if (byte === 0x22) {
        inString = false;
      }
    } else if (byte === 0x22) {
      inString = true;
    } else if (byte === 0x5b || byte === 0x7b) {
      if (++depth > maxDepth) return true;
    } else if (byte === 0x5d || byte === 0x7d) {
      depth--;
    }
  }
  return false;
}

/** The bytes of each body {@link readJsonBody} read, for a passthrough that forwards them unchanged. */
const RAW_BODIES = new WeakMap<Request, Uint8Array>();

/** The bytes of `request`'s JSON body as the client sent them, once {@link readJsonBody} has read it. */
export function rawJsonBody(request: Request): Uint8Array | undefined {
  return RAW_BODIES.get(request);
}

/**
 * Reads and parses the request body as JSON, under {@link JsonBodyLimits}. The media type is checked by
 * {@link requireJsonMediaType}, not here.
 * @param emptyAs what an empty body reads as, for routes whose body is optional; absent: an empty body is an error.
 * @returns the parsed value (any JSON value; schemas check the shape afterwards).
 * @throws OpenAIError 413 `request_too_large` over `maxBytes`; 408 `request_timeout` past `timeoutMs`; 400
 *   `invalid_json` for an empty body, nesting deeper than `maxDepth`, invalid UTF-8 or invalid JSON (the message
 *   quotes the parser's complaint).
 */
export async function readJsonBody(request: Request, limits: JsonBodyLimits, emptyAs?: object): Promise<unknown> {
  const bytes = await readLimited(request, limits);
  RAW_BODIES.set(request, bytes);
  if (bytes.byteLength === 0 && emptyAs !== undefined) return emptyAs;
  if (bytes.byteLength === 0) throw invalidJson("Request body is empty; expected a JSON object.");
  if (nestsDeeperThan(bytes, limits.maxDepth)) {
    throw invalidJson(
      `Request body nests arrays and objects deeper than the limit of ${limits.maxDepth} levels (server.max_json_depth).`,
    );
  }
  try {
    return JSON.parse(STRICT_UTF8.decode(bytes));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw invalidJson(`Request body is not valid JSON: ${reason}`);
  }
}
