/**
 * OpenAI Server-Sent Events framing (reference/telemak-companion-wire.md §9 #20): every event is `data: <json>\n\n`,
 * no `event:` lines, and a successful stream ends with `data: [DONE]\n\n`. A failure after the first byte is sent
 * in-band so that every client surfaces it (§9 #27): `data: {"error":{...}}` (the `openai` SDK and the AI SDK raise
 * it), then the same message as a string, `data: {"error":"<message>"}` (Companion v1's browser reads only a string
 * `error`), then `data: [DONE]` (Companion's collector ends on it). Telemak and OpenAI send only the first and close.
 */
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { OpenAIError } from "./errors.ts";
import type { OpenAIStreamError, OpenAIStreamItem } from "./openai-response.ts";

/** Response headers of an OpenAI event stream. */
export const SSE_HEADERS: Readonly<Record<string, string>> = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  "x-accel-buffering": "no",
};

/** The terminating frame of a successful stream. */
export const SSE_DONE = "data: [DONE]\n\n";

/** Frames one JSON event: `data: <json>\n\n`. */
export function sseData(payload: object): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

/**
 * Frames an in-band error and the end of the stream (see the module comment): the error object, the message as a
 * string, `[DONE]`. `error` is an {@link OpenAIError}, an in-band error item read from an upstream
 * ({@link OpenAIStreamError}, passed on as it came), or anything else (a `server_error` quoting its message).
 */
export function sseError(error: unknown): string {
  const body = isStreamError(error)
    ? error
    : (error instanceof OpenAIError
        ? error
        : new OpenAIError(500, `stream aborted: ${error instanceof Error ? error.message : String(error)}`, {
            code: "stream_failed",
          })
      ).toBody();
  return `${sseData(body)}${sseData({ error: body.error.message })}${SSE_DONE}`;
}

/** Whether a stream item is an in-band error (`{"error":{"message":...}}`) rather than a chunk. */
function isStreamError(value: unknown): value is OpenAIStreamError {
  const error = (value as { error?: { message?: unknown } } | null)?.error;
  return typeof error === "object" && error !== null && typeof error.message === "string";
}

/**
 * Streams chunk objects as an OpenAI SSE `Response` (status 200): one `data:` frame per chunk, then `data: [DONE]`.
 *
 * - The iterable is pulled only as fast as the client reads (backpressure).
 * - Client disconnect (the response stream is cancelled) or `signal` abort closes the stream and calls the
 *   iterator's `return()`, so an async generator's `finally` runs. A generator suspended on an `await` only sees that
 *   at its next `yield`; to stop sooner it must watch the same `signal` itself.
 * - An error thrown by the iterable, or an in-band error item in it (`{"error":{...}}`), is framed by
 *   {@link sseError} and ends the stream.
 *
 * @param chunks `chat.completion.chunk` objects (or any JSON objects) in order.
 * @param signal usually the request's `AbortSignal` (aborted when the client goes away).
 * @param headers extra response headers.
 */
export function sseResponse(
  chunks: AsyncIterable<object>,
  signal?: AbortSignal,
  headers?: Record<string, string>,
): Response {
  return frameStream(chunks, {
    frame: sseData,
    end: SSE_DONE,
    onError: sseError,
    isError: isStreamError,
    signal,
    headers,
  });
}

/** A named server-sent event (`event: <event>` then `data: <json>`), as Anthropic and the Responses API send them. */
export interface NamedEvent {
  event: string;
  data: object;
}

/** Frames one named event: `event: <name>\ndata: <json>\n\n`. */
export function sseNamed(named: NamedEvent): string {
  return `event: ${named.event}\ndata: ${JSON.stringify(named.data)}\n\n`;
}

/** Options of {@link namedSseResponse}. */
export interface NamedSseOptions {
  /** Usually the request's `AbortSignal`: its abort ends the stream and calls the iterator's `return()`. */
  signal?: AbortSignal;
  /** Sent whenever the source has been silent this long (ms): Anthropic's periodic `ping`. Absent: no heartbeat. */
  heartbeat?: { everyMs: number; event: NamedEvent };
  /** The frame to send when the source throws (the dialect's in-stream error); the stream then ends cleanly. */
  onError(error: unknown): NamedEvent;
  /** Extra response headers. */
  headers?: Record<string, string>;
}

/**
 * Streams named events as an SSE `Response` (status 200), pulled only as fast as the client reads. A heartbeat
 * event is sent while the source is silent; an error thrown by the source becomes `onError(error)`'s frame and the
 * stream closes; a client disconnect or `signal` abort closes it and runs the iterator's `return()`.
 */
export function namedSseResponse(events: AsyncIterable<NamedEvent>, options: NamedSseOptions): Response {
  const { heartbeat, signal } = options;
  return frameStream(events, {
    frame: sseNamed,
    onError: (error) => sseNamed(options.onError(error)),
    heartbeat: heartbeat && { everyMs: heartbeat.everyMs, frame: sseNamed(heartbeat.event) },
    signal,
    headers: options.headers,
  });
}

/** How {@link frameStream} frames a source. */
interface Framing<T> {
  frame(value: T): string;
  /** The frame after the last value (OpenAI's `[DONE]`), if any. */
  end?: string;
  /** The frame for an error thrown by the source (or a value {@link isError} picks); the stream then closes. */
  onError(error: unknown): string;
  /** Whether a value is an in-band error: framed by `onError`, and the source is stopped. */
  isError?(value: T): boolean;
  /** Sent whenever the source has been silent `everyMs`. */
  heartbeat?: { everyMs: number; frame: string };
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

/**
 * The SSE `Response` both writers share: pulls `source` only as fast as the client reads, frames each value, sends
 * the heartbeat while the source is silent (the pending read is kept), ends with `end` or the error frame, and on a
 * client disconnect or `signal` abort closes the stream and calls the iterator's `return()`.
 */
function frameStream<T>(source: AsyncIterable<T>, framing: Framing<T>): Response {
  const encoder = new TextEncoder();
  const iterator = source[Symbol.asyncIterator]();
  const { signal, heartbeat } = framing;
  let finished = false;
  let pending: Promise<IteratorResult<T>> | undefined;
  let streamController: ReadableStreamDefaultController<Uint8Array> | undefined;

  const stop = (): void => {
    if (finished) return;
    finished = true;
    signal?.removeEventListener("abort", onAbort);
    iterator.return?.()?.catch(() => {});
  };
  const onAbort = (): void => {
    if (finished) return;
    stop();
    try {
      streamController?.close();
    } catch {
      // Already closed or errored by the runtime.
    }
  };
  /** The next value, or "heartbeat" when the source stays silent `everyMs`. */
  const next = async (): Promise<IteratorResult<T> | "heartbeat"> => {
    pending ??= iterator.next();
    const read = pending;
    if (!heartbeat) return read.finally(() => (pending = undefined));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const beat = new Promise<"heartbeat">(
      (resolve) => (timer = setTimeout(() => resolve("heartbeat"), heartbeat.everyMs)),
    );
    const winner = await Promise.race([read, beat]).finally(() => clearTimeout(timer));
    if (winner !== "heartbeat") pending = undefined;
    return winner;
  };

  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      streamController = controller;
      if (signal?.aborted) onAbort();
      else signal?.addEventListener("abort", onAbort, { once: true });
    },
    async pull(controller) {
      let frame: string | undefined;
      let last = false;
      try {
        const result = await next();
        if (result === "heartbeat") frame = heartbeat!.frame;
        else if (result.done) {
          frame = framing.end;
          last = true;
        } else if (framing.isError?.(result.value)) {
          frame = framing.onError(result.value);
          last = true;
          iterator.return?.()?.catch(() => {});
        } else frame = framing.frame(result.value);
      } catch (error) {
        frame = framing.onError(error);
        last = true;
      }
      if (finished) return;
      if (frame !== undefined) controller.enqueue(encoder.encode(frame));
      if (last) {
        finished = true;
        signal?.removeEventListener("abort", onAbort);
        controller.close();
      }
    },
    cancel() {
      stop();
    },
  });
  return new Response(body, { status: 200, headers: { ...SSE_HEADERS, ...framing.headers } });
}

/**
 * Parses an SSE byte stream (e.g. an upstream response body) into events, with `eventsource-parser`.
 * Comment lines are skipped; `data` is the raw text (`[DONE]` or JSON).
 */
export async function* parseSSE(body: ReadableStream<Uint8Array>): AsyncGenerator<EventSourceMessage> {
  const events: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (event) => events.push(event) });
  const decoder = new TextDecoder();
  for await (const bytes of body) {
    parser.feed(decoder.decode(bytes, { stream: true }));
    yield* events.splice(0);
  }
}

/** The JSON object an SSE `data` field carries; undefined for `[DONE]` and anything that is not a JSON object. */
function jsonObjectOf(data: string): Record<string, unknown> | undefined {
  if (data === "[DONE]") return undefined;
  try {
    const payload: unknown = JSON.parse(data);
    if (payload !== null && typeof payload === "object" && !Array.isArray(payload)) {
      return payload as Record<string, unknown>;
    }
  } catch {
    // Not JSON.
  }
  return undefined;
}

/** The JSON objects of an SSE body's `data` fields, in order (`[DONE]` and non-objects skipped). */
export async function* sseJsonPayloads(body: ReadableStream<Uint8Array>): AsyncGenerator<Record<string, unknown>> {
  for await (const event of parseSSE(body)) {
    const payload = jsonObjectOf(event.data);
    if (payload) yield payload;
  }
}

/** Parses an OpenAI SSE body (a backend's answer) into chunks and in-band errors. */
export async function* chunksFromSse(body: ReadableStream<Uint8Array>): AsyncGenerator<OpenAIStreamItem> {
  for await (const payload of sseJsonPayloads(body)) yield payload as unknown as OpenAIStreamItem;
}
