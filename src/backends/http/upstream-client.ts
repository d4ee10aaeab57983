/**
 * The HTTP client both upstream backends (`openai-http`, `anthropic-http`) use: one POST with deadlines
 * (`timeout_ms.connect`, `first_byte`, `idle`), retries with backoff and cool-down before the first byte
 * (./resilience.ts), a client disconnect aborting the upstream exchange, and failures mapped to the canonical
 * {@link OpenAIError} naming the upstream (unreachable → 502, deadline → 504, cooling down → 503, an upstream error
 * status → that status with the upstream's message, via the dialect's `httpError`). The upstream key lives in
 * `headers` and appears in no log, error or response.
 */
import type { UpstreamConfig } from "../../config/schema.ts";
import {
  OpenAIError,
  upstreamBroken,
  upstreamTimeout,
  upstreamUnreachable,
} from "../../protocol/errors.ts";
import type { BackendCallContext } from "../backend.ts";
import { RETRYABLE_STATUSES, retryAfterMs, UpstreamResilience, type AttemptOutcome } from "./resilience.ts";
import { describeFailure, UpstreamCall } from "./upstream-call.ts";

/** Upstream response headers worth passing on; the rest (length, encoding, hop-by-hop) no longer apply. */
const PASSED_HEADERS = ["content-type", "cache-control", "retry-after", "x-request-id", "request-id"];

/** The headers of `headers` that a relayed answer keeps. */
function passedHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of PASSED_HEADERS) {
    const value = headers.get(name);
    if (value !== null) out[name] = value;
  }
  return out;
}

/** How an upstream dialect words its error answers. */
export interface UpstreamDialect {
  /** An upstream error answer (`status` ≥ 400) as the canonical error naming the upstream. */
  httpError(upstreamId: string, status: number, bodyText: string, headers: Record<string, string>): OpenAIError;
}

/** One request to send. */
export interface UpstreamRequest {
  /** Appended to `base_url`: `/chat/completions`, `/messages`... */
  path: string;
  body: unknown;
  /** A streamed answer is expected (shorter header deadline; `accept: text/event-stream`). */
  stream: boolean;
  /** Per-request headers on top of the client's own (auth, configured headers). */
  headers?: Record<string, string>;
}

/** A successful (2xx) upstream answer whose body is still to be read; {@link UpstreamClient.finish} ends it. */
export interface Exchange {
  readonly response: Response;
  readonly call: UpstreamCall;
  finished: boolean;
}

/** Counters for `/health`. */
export interface UpstreamCounters {
  requests: number;
  attempts: number;
  errors: number;
  timeouts: number;
  aborted: number;
  cooling_rejections: number;
  in_flight: number;
  prompt_tokens: number;
  completion_tokens: number;
}

/** Sends requests to one upstream (see the module comment). */
export class UpstreamClient {
  readonly counters: UpstreamCounters = {
    requests: 0,
    attempts: 0,
    errors: 0,
    timeouts: 0,
    aborted: 0,
    cooling_rejections: 0,
    in_flight: 0,
    prompt_tokens: 0,
    completion_tokens: 0,
  };
  private readonly base: string;
  private readonly resilience: UpstreamResilience;
  private readonly active = new Set<UpstreamCall>();
  private closing = false;

  /**
   * @param headers sent with every request (auth, `anthropic-version`, configured extra headers).
   * @param onUpstreamFailure called when the upstream failed (unreachable, timeout, 5xx): e.g. re-probe its models.
   */
  constructor(
    readonly upstream: UpstreamConfig,
    private readonly dialect: UpstreamDialect,
    readonly headers: Record<string, string>,
    private readonly onUpstreamFailure: () => void = () => {},
  ) {
    if (upstream.api_key_env && !upstream.api_key) {
      console.warn(`[ithaca] upstream '${upstream.id}': environment variable ${upstream.api_key_env} is empty; sending no key`);
    }
    this.base = upstream.base_url.replace(/\/+$/, "");
    this.resilience = new UpstreamResilience(upstream);
  }

  /** False while the upstream cools down after repeated failures. */
  available(): boolean {
    return this.resilience.available();
  }

  /**
   * POSTs `request` with retries and cool-down.
   * @returns the 2xx exchange to read, or the answer for a failure: the error in the OpenAI shape (502/503/504
   *   naming the upstream, or the upstream's client error), 499 when the client went away.
   */
  async open(request: UpstreamRequest, ctx: BackendCallContext): Promise<Exchange | Response> {
    this.counters.requests++;
    this.counters.in_flight++;
    let outcome: AttemptOutcome<Exchange | OpenAIError | null> | "cooling";
    try {
      outcome = await this.resilience.run(() => this.attempt(request, ctx), ctx.signal);
    } catch {
      outcome = { kind: "ok", value: null }; // The client left during a backoff wait.
    }
    if (outcome === "cooling") {
      this.counters.cooling_rejections++;
      this.counters.in_flight--;
      return failedAnswer(new OpenAIError(
        503,
        `upstream '${this.upstream.id}' is cooling down after repeated failures; try again shortly`,
        { code: "upstream_cooling_down", headers: { "retry-after": String(Math.ceil(this.upstream.cooldown.duration_ms / 1000)) } },
      ));
    }
    const value = outcome.value;
    if (value !== null && !(value instanceof OpenAIError)) return value;
    this.counters.in_flight--;
    if (value === null) this.counters.aborted++;
    else this.counters.errors++;
    return failedAnswer(value);
  }

  /** One try: the fetch under the header deadline, and an error answer read and mapped. */
  private async attempt(
    request: UpstreamRequest,
    ctx: BackendCallContext,
  ): Promise<AttemptOutcome<Exchange | OpenAIError | null>> {
    this.counters.attempts++;
    const call = new UpstreamCall(ctx.signal);
    this.active.add(call);
    const { connect, first_byte, idle } = this.upstream.timeout_ms;
    // Engines send stream headers before generating; a non-stream answer's headers come when it is done.
    const headerDeadline = request.stream ? Math.min(connect, first_byte) : first_byte;
    try {
      call.arm("response headers", headerDeadline);
      const response = await fetch(`${this.base}${request.path}`, {
        method: "POST",
        headers: {
          ...this.headers,
          ...request.headers,
          "content-type": "application/json",
          accept: request.stream ? "text/event-stream" : "application/json",
          "x-request-id": ctx.requestId,
        },
        body: JSON.stringify(request.body),
        signal: call.controller.signal,
      });
      call.disarm();
      if (response.ok) return { kind: "ok", value: { response, call, finished: false } };
      call.arm("the error body", idle);
      const text = await response.text().catch(() => "");
      this.release(call);
      const after = response.headers.get("retry-after");
      const error = this.dialect.httpError(this.upstream.id, response.status, text, after ? { "retry-after": after } : {});
      if (!RETRYABLE_STATUSES.has(response.status)) return { kind: "ok", value: error };
      if (response.status >= 500) this.onUpstreamFailure();
      const wait = retryAfterMs(after);
      const retryable = wait === undefined || wait <= this.upstream.retry.max_retry_after_ms;
      return { kind: "failed", value: error, retryable, retryAfterMs: wait };
    } catch (error) {
      this.release(call);
      if (call.clientGone) return { kind: "ok", value: null };
      if (this.closing) return { kind: "ok", value: shuttingDown() };
      this.onUpstreamFailure();
      if (call.timedOut) {
        this.counters.timeouts++;
        const { what, ms } = call.timedOut;
        // Waiting for stream headers is the connect phase: worth another try. A non-stream answer is not retried.
        return { kind: "failed", value: upstreamTimeout(this.upstream.id, what, ms), retryable: request.stream };
      }
      return { kind: "failed", value: upstreamUnreachable(this.upstream.id, describeFailure(error)), retryable: true };
    }
  }

  /**
   * Reads a 2xx answer whole, under the idle deadline, and ends the exchange.
   * @returns the body bytes, or the answer for a failure: 502/504 naming the upstream when the read fails or
   *   stalls, 499 when the client went away.
   */
  async readBody(exchange: Exchange): Promise<Uint8Array | Response> {
    const reader = exchange.response.body?.getReader();
    const parts: Uint8Array[] = [];
    try {
      for (let first = true; reader; first = false) {
        exchange.call.arm(first ? "the response body" : "the rest of the response body", this.upstream.timeout_ms.idle);
        const { done, value } = await reader.read();
        if (done) break;
        parts.push(value);
      }
      return Buffer.concat(parts);
    } catch (error) {
      return failedAnswer(this.brokenOff(error, exchange.call));
    } finally {
      this.finish(exchange);
    }
  }

  /**
   * Passes a non-stream answer on byte for byte, once read whole ({@link readBody}); `onJson` sees the parsed body
   * when it is JSON (usage counting). A failed read gives the failure's answer.
   */
  async passJson(exchange: Exchange, onJson?: (payload: Record<string, unknown>) => void): Promise<Response> {
    const bytes = await this.readBody(exchange);
    if (bytes instanceof Response) return bytes;
    if (onJson) {
      try {
        const payload: unknown = JSON.parse(new TextDecoder().decode(bytes));
        if (payload !== null && typeof payload === "object") onJson(payload as Record<string, unknown>);
      } catch {
        // Not JSON: passed on as is.
      }
    }
    return new Response(bytes, { status: exchange.response.status, headers: passedHeaders(exchange.response.headers) });
  }

  /**
   * The answer's body as a stream guarded by the deadlines (`first_byte` from the start, then `idle` between
   * chunks). It errors with the canonical {@link OpenAIError} when the upstream breaks off or stalls, closes quietly
   * when the client went away, and ends the exchange either way; cancelling it aborts the upstream read.
   */
  body(exchange: Exchange): ReadableStream<Uint8Array> {
    const reader = exchange.response.body?.getReader();
    let first = true;
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        if (!reader) return void (this.finish(exchange), controller.close());
        const { first_byte, idle } = this.upstream.timeout_ms;
        if (first) exchange.call.arm("the first event", first_byte, true);
        else exchange.call.arm("the next event", idle);
        try {
          const { done, value } = await reader.read();
          exchange.call.disarm();
          if (done) return void (this.finish(exchange), controller.close());
          first = false;
          controller.enqueue(value);
        } catch (error) {
          const failure = this.brokenOff(error, exchange.call);
          this.finish(exchange);
          if (failure) controller.error(failure);
          else closeQuietly(controller);
        }
      },
      cancel: () => {
        exchange.call.clientLeft();
        this.finish(exchange);
      },
    });
  }

  /**
   * Relays a streamed answer's bytes unchanged (the same-dialect fast path). A failure after the first byte is sent
   * as `errorFrame(error)` (the dialect's in-stream error) and the stream then ends cleanly.
   * @param observe sees each chunk of bytes as it passes (usage counting).
   */
  relay(exchange: Exchange, errorFrame: (error: OpenAIError) => string, observe?: (bytes: Uint8Array) => void): Response {
    const source = this.body(exchange).getReader();
    const encoder = new TextEncoder();
    const relayed = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        try {
          const { done, value } = await source.read();
          if (done) return controller.close();
          observe?.(value);
          controller.enqueue(value);
        } catch (error) {
          controller.enqueue(encoder.encode(errorFrame(error as OpenAIError)));
          controller.close();
        }
      },
      cancel: (reason) => source.cancel(reason),
    });
    return new Response(relayed, { status: exchange.response.status, headers: passedHeaders(exchange.response.headers) });
  }

  /** Ends an exchange once: stops its deadline, counts it, forgets it. */
  finish(exchange: Exchange): void {
    if (exchange.finished) return;
    exchange.finished = true;
    this.release(exchange.call);
    this.counters.in_flight--;
    if (exchange.call.clientGone) this.counters.aborted++;
  }

  /** Adds an answer's token usage to the counters. */
  countUsage(promptTokens: unknown, completionTokens: unknown): void {
    if (typeof promptTokens === "number") this.counters.prompt_tokens += promptTokens;
    if (typeof completionTokens === "number") this.counters.completion_tokens += completionTokens;
  }

  /** Aborts every exchange in flight (their clients get 503 `shutting_down`). */
  close(): void {
    this.closing = true;
    for (const call of this.active) call.controller.abort(new Error("ithaca is shutting down"));
  }

  private release(call: UpstreamCall): void {
    call.dispose();
    this.active.delete(call);
  }

  /** A failure while reading a started answer; null when the client went away (nobody to tell). */
  private brokenOff(error: unknown, call: UpstreamCall): OpenAIError | null {
    if (call.clientGone) return null;
    this.counters.errors++;
    if (call.timedOut) {
      this.counters.timeouts++;
      this.onUpstreamFailure();
      return upstreamTimeout(this.upstream.id, call.timedOut.what, call.timedOut.ms);
    }
    if (this.closing) return shuttingDown();
    this.onUpstreamFailure();
    return upstreamBroken(this.upstream.id, describeFailure(error));
  }
}

/** The answer for a failed exchange: the error, or 499 when the client left (nobody reads it). */
function failedAnswer(error: OpenAIError | null): Response {
  return (error ?? new OpenAIError(499, "The client closed the request.", { code: "client_closed" })).toResponse();
}

function shuttingDown(): OpenAIError {
  return new OpenAIError(503, "Ithaca is shutting down.", { code: "shutting_down" });
}

function closeQuietly(controller: ReadableStreamDefaultController<Uint8Array>): void {
  try {
    controller.close();
  } catch {
    // Already closed by a cancel.
  }
}
