/**
 * The HTTP client both upstream backends (`openai-http`, `anthropic-http`) use: one POST with deadlines
 * (`timeout_ms.connect`, `first_byte`, `idle`), retries with backoff and cool-down before the first byte
 * (./resilience.ts), a client disconnect aborting the upstream exchange, and failures thrown as the canonical
 * {@link OpenAIError} naming the upstream (unreachable → 502, deadline → 504, cooling down → 503, an upstream error
 * status → that status with the upstream's message, via the dialect's `httpError`).
 *
 * What an upstream sends is bounded (`limits`): a non-stream answer by `max_body_bytes`, an error body by
 * `max_error_body_bytes` (read that far, the rest dropped), an SSE line by `max_sse_line_bytes`; beyond, 502.
 * Redirects are not followed (a prompt is never re-POSTed elsewhere): a 3xx is a 502. The upstream key and any
 * credentials in `base_url` (./endpoint.ts) live in headers and appear in no log, error or response.
 */
import type { UpstreamConfig } from "../../config/schema.ts";
import {
  clientClosed,
  OpenAIError,
  shuttingDown,
  upstreamBroken,
  upstreamInvalid,
  upstreamTimeout,
  upstreamTooLarge,
  upstreamUnreachable,
} from "../../protocol/errors.ts";
import type { AnswerMeter, BackendCallContext, BytesAnswer, WireDialect } from "../backend.ts";
import { EdgeKeeper, type RelayEnds, readCapped, startsLikeJsonObject } from "./body-bytes.ts";
import { upstreamEndpoint } from "./endpoint.ts";
import { RETRYABLE_STATUSES, retryAfterMs, UpstreamResilience, type AttemptOutcome } from "./resilience.ts";
import { cancellationOf, describeFailure, UpstreamCall } from "./upstream-call.ts";
import { carriesToken, streamFinished } from "./usage-scan.ts";

/** UTF-8 decoding of whole byte arrays (stateless between calls, so shared). */
const UTF8 = new TextDecoder();

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
  /** The JSON body: a value (serialized here), or bytes already serialized (sent as they are). */
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
  /** Where a relay of it reports its first token and end (the call's {@link BackendCallContext.meter}). */
  readonly meter?: AnswerMeter;
}

/** How an upstream failed, as {@link UpstreamClient}'s failure callback hears it. */
export type UpstreamFailure = "status" | "timeout" | "unreachable" | "broken";

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
  /** The upstream's id, as errors name it. */
  readonly name: string;
  private readonly base: string;
  private readonly headers: Record<string, string>;
  private readonly resilience: UpstreamResilience;
  private readonly active = new Set<UpstreamCall>();
  private closing = false;
  private readonly drained = new Set<() => void>();

  /**
   * @param headers sent with every request (auth, `anthropic-version`, configured extra headers); credentials from
   *   the `base_url` are added unless `headers` already carry an `authorization`.
   * @param onUpstreamFailure called when the upstream failed (a 5xx status, a missed deadline, unreachable, a body
   *   broken off), with how: e.g. re-probe its models.
   */
  constructor(
    readonly upstream: UpstreamConfig,
    private readonly dialect: UpstreamDialect,
    headers: Record<string, string>,
    private readonly onUpstreamFailure: (failure: UpstreamFailure) => void = () => {},
  ) {
    if (upstream.api_key_env && !upstream.api_key) {
      console.warn(
        `[ithaca] upstream '${upstream.id}': environment variable ${upstream.api_key_env} is empty; sending no key`,
      );
    }
    const endpoint = upstreamEndpoint(upstream.base_url);
    this.name = upstream.id;
    this.base = endpoint.base;
    this.headers = { ...endpoint.headers, ...headers };
    this.resilience = new UpstreamResilience(upstream);
  }

  /** False while the upstream cools down after repeated failures. */
  available(): boolean {
    return this.resilience.available();
  }

  /**
   * POSTs `request` with retries and cool-down.
   * @returns the 2xx exchange to read.
   * @throws OpenAIError 502/503/504 naming the upstream, the upstream's own client error, 499 `client_closed` when
   *   the client went away, the operator's cancellation (the signal's reason) when the request was cancelled.
   */
  async open(request: UpstreamRequest, ctx: BackendCallContext): Promise<Exchange> {
    this.counters.requests++;
    this.counters.in_flight++;
    let outcome: AttemptOutcome<Exchange | OpenAIError | null> | "cooling";
    try {
      outcome = await this.resilience.run(() => this.attempt(request, ctx), ctx.signal);
    } catch {
      // The client left, or the operator cancelled, during a backoff wait.
      outcome = { kind: "ok", value: cancellationOf(ctx.signal) ?? null };
    }
    if (outcome !== "cooling" && outcome.value !== null && !(outcome.value instanceof OpenAIError)) {
      return outcome.value;
    }
    this.leave();
    if (outcome === "cooling") {
      this.counters.cooling_rejections++;
      throw new OpenAIError(503, `upstream '${this.name}' is cooling down after repeated failures; try again shortly`, {
        code: "upstream_cooling_down",
        headers: { "retry-after": String(Math.ceil(this.upstream.cooldown.duration_ms / 1000)) },
      });
    }
    if (outcome.value === null) {
      this.counters.aborted++;
      throw clientClosed();
    }
    if (outcome.value === cancellationOf(ctx.signal)) this.counters.aborted++;
    else this.counters.errors++;
    throw outcome.value;
  }

  /** One try: the fetch under the header deadline, and an error answer read (bounded) and mapped. */
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
        body: request.body instanceof Uint8Array ? request.body : JSON.stringify(request.body),
        redirect: "manual",
        signal: call.controller.signal,
      });
      call.disarm();
      if (response.ok) return { kind: "ok", value: { response, call, finished: false, meter: ctx.meter } };
      if (response.status >= 300 && response.status < 400) {
        await response.body?.cancel().catch(() => {});
        this.release(call);
        const error = new OpenAIError(
          502,
          `upstream '${this.name}' answered ${response.status} (a redirect); redirects are not followed`,
          {
            code: "upstream_redirect",
          },
        );
        return { kind: "ok", value: error };
      }
      call.arm("the error body", idle);
      const text = await readCapped(response, this.upstream.limits.max_error_body_bytes);
      this.release(call);
      const after = response.headers.get("retry-after");
      const error = this.dialect.httpError(this.name, response.status, text, after ? { "retry-after": after } : {});
      if (!RETRYABLE_STATUSES.has(response.status)) return { kind: "ok", value: error };
      if (response.status >= 500) this.onUpstreamFailure("status");
      const wait = retryAfterMs(after);
      const retryable = wait === undefined || wait <= this.upstream.retry.max_retry_after_ms;
      return { kind: "failed", value: error, retryable, retryAfterMs: wait };
    } catch (error) {
      this.release(call);
      if (call.cancelled) return { kind: "ok", value: call.cancelled };
      if (call.clientGone) return { kind: "ok", value: null };
      if (this.closing) return { kind: "ok", value: shuttingDown() };
      this.onUpstreamFailure(call.timedOut ? "timeout" : "unreachable");
      if (call.timedOut) {
        this.counters.timeouts++;
        const { what, ms } = call.timedOut;
        // Waiting for stream headers is the connect phase: worth another try. A non-stream answer is not retried.
        return { kind: "failed", value: upstreamTimeout(this.name, what, ms), retryable: request.stream };
      }
      return { kind: "failed", value: upstreamUnreachable(this.name, describeFailure(error)), retryable: true };
    }
  }

  /**
   * Reads a 2xx answer whole, under the idle deadline and `limits.max_body_bytes`, and ends the exchange. A body with
   * a `Content-Length` is read natively in one go; a chunked one chunk by chunk, stopping at the limit.
   * @throws OpenAIError 502 naming the upstream when the read fails or the body is over the limit, 504 when it
   *   stalls, 499 when the client went away.
   */
  async readBody(exchange: Exchange): Promise<Uint8Array> {
    const limit = this.upstream.limits.max_body_bytes;
    const { response, call } = exchange;
    try {
      const declared = Number(response.headers.get("content-length") ?? Number.NaN);
      if (declared > limit) throw upstreamTooLarge(this.name, "answer", limit);
      call.arm("the response body", this.upstream.timeout_ms.idle);
      if (Number.isFinite(declared)) return new Uint8Array(await response.arrayBuffer());
      const parts: Uint8Array[] = [];
      let total = 0;
      for await (const part of response.body ?? []) {
        total += part.byteLength;
        if (total > limit) throw upstreamTooLarge(this.name, "answer", limit);
        parts.push(part);
        call.arm("the rest of the response body", this.upstream.timeout_ms.idle);
      }
      return Buffer.concat(parts);
    } catch (error) {
      if (error instanceof OpenAIError) {
        this.counters.errors++;
        await response.body?.cancel().catch(() => {});
        throw error;
      }
      throw this.brokenOff(error, call) ?? clientClosed();
    } finally {
      this.finish(exchange);
    }
  }

  /**
   * A non-stream answer passed on as the upstream's bytes, once read whole ({@link readBody}). A body that is not a
   * JSON object is a 502: nothing else is a valid answer of either dialect.
   * @param onBody sees the bytes (usage counting).
   * @throws OpenAIError as {@link readBody}; 502 `upstream_invalid_response` for a non-JSON body.
   */
  async bytes<D extends WireDialect>(
    exchange: Exchange,
    dialect: D,
    onBody?: (body: Uint8Array) => void,
  ): Promise<BytesAnswer<D>> {
    const body = await this.readBody(exchange);
    if (!startsLikeJsonObject(body)) {
      this.counters.errors++;
      throw upstreamInvalid(this.name, "its answer is not a JSON object");
    }
    onBody?.(body);
    const { status, headers } = exchange.response;
    return {
      kind: "bytes",
      dialect,
      stream: false,
      status,
      headers: passedHeaders(headers),
      body,
      upstream: this.name,
    };
  }

  /**
   * Relays a streamed answer's bytes unchanged (the same-dialect fast path): one stream, read straight from the
   * upstream under the deadlines and the SSE line bound. A failure after the first byte is sent as
   * `errorFrame(error)` (the dialect's in-stream error) and the stream then ends cleanly; cancelling it (client gone)
   * aborts the upstream read.
   *
   * The exchange's meter, when it has one, learns the first chunk that carries a generated token (the chunks before
   * it are read as text; none after) and how the stream ended; the answer is then `metered`. A client that stops
   * reading once the whole answer passed (the openai SDK cancels the body on `[DONE]`) ended it normally.
   * @param onEnd sees the first and last 8 KiB of a stream that ended normally or that its client left (usage
   *   counting: what passed), before the meter hears of the end.
   */
  relay<D extends WireDialect>(
    exchange: Exchange,
    dialect: D,
    errorFrame: (error: OpenAIError) => string,
    onEnd?: (ends: RelayEnds) => void,
  ): BytesAnswer<D> {
    const edges = onEnd ? new EdgeKeeper() : undefined;
    const meter = exchange.meter;
    let awaitingToken = meter !== undefined;
    const body = this.guardedStream(exchange, {
      onChunk: (bytes) => {
        edges?.add(bytes);
        if (awaitingToken && carriesToken(UTF8.decode(bytes))) {
          awaitingToken = false;
          meter?.firstToken();
        }
      },
      onDone: () => edges && onEnd?.(edges.ends()),
      onFailure: (error) => new TextEncoder().encode(errorFrame(error)),
      onEnd: (error) => {
        if (error === "client_closed" && edges) {
          const ends = edges.ends();
          onEnd?.(ends);
          if (streamFinished(ends.tail, dialect)) error = undefined;
        }
        meter?.streamEnded(error);
      },
    });
    const { status, headers } = exchange.response;
    const answer = { status, headers: passedHeaders(headers), body, upstream: this.name };
    return { kind: "bytes", dialect, stream: true, ...answer, metered: meter !== undefined };
  }

  /**
   * The answer's body as a stream guarded by the deadlines (`first_byte` from the start, then `idle` between chunks)
   * and the SSE line bound, for reading it (translation). It errors with the canonical {@link OpenAIError} when the
   * upstream breaks off, stalls or overflows, closes quietly when the client went away, and ends the exchange either
   * way; cancelling it aborts the upstream read.
   */
  stream(exchange: Exchange): ReadableStream<Uint8Array> {
    return this.guardedStream(exchange, {});
  }

  /**
   * The one stream behind {@link relay} and {@link stream}: a direct stream (Bun's `type: "direct"`) whose single
   * `pull` reads the upstream chunk by chunk and writes each on, awaiting the destination when it pushes back. Bun's
   * server drains it without a queue or a promise per chunk; a JavaScript reader reads it like any stream.
   */
  private guardedStream(
    exchange: Exchange,
    hooks: {
      onChunk?(bytes: Uint8Array): void;
      onDone?(): void;
      /** The last bytes to send for a failure; absent: the stream errors with it. */
      onFailure?(error: OpenAIError): Uint8Array;
      /**
       * Called once, however the stream ends: with nothing when it ended normally (after `onDone`), the failure's
       * code, or `client_closed` when the client went away.
       */
      onEnd?(error?: string): void;
    },
  ): ReadableStream<Uint8Array> {
    const reader = exchange.response.body?.getReader();
    const maxLine = this.upstream.limits.max_sse_line_bytes;
    const { first_byte, idle } = this.upstream.timeout_ms;
    let ended = false;
    const end = (error?: string) => {
      if (ended) return;
      ended = true;
      hooks.onEnd?.(error);
    };
    const fail = (controller: ReadableStreamDirectController, failure: OpenAIError | null) => {
      this.finish(exchange);
      end(failure ? (failure.code ?? failure.type) : "client_closed");
      if (failure && hooks.onFailure) {
        controller.write(hooks.onFailure(failure));
        controller.close();
      } else if (failure) controller.close(failure);
      else controller.close();
    };
    const pump = async (controller: ReadableStreamDirectController): Promise<void> => {
      if (!reader) {
        this.finish(exchange);
        end();
        return controller.close();
      }
      let lineBytes = 0;
      exchange.call.arm("the first event", first_byte, true);
      for (;;) {
        let chunk: Awaited<ReturnType<typeof reader.read>>;
        try {
          chunk = await reader.read();
        } catch (error) {
          if (ended) return; // cancelled meanwhile: the cancel ended it
          return fail(controller, this.brokenOff(error, exchange.call));
        }
        // The deadlines are the upstream's: waiting for the destination below is not under one.
        exchange.call.disarm();
        if (ended) return;
        if (chunk.done) {
          this.finish(exchange);
          hooks.onDone?.();
          end();
          return controller.close();
        }
        const bytes = chunk.value;
        const lastNewline = bytes.lastIndexOf(10);
        lineBytes = lastNewline === -1 ? lineBytes + bytes.byteLength : bytes.byteLength - lastNewline - 1;
        if (lineBytes > maxLine) {
          this.counters.errors++;
          await reader.cancel().catch(() => {});
          return fail(controller, upstreamTooLarge(this.name, "SSE line", maxLine));
        }
        hooks.onChunk?.(bytes);
        const written = controller.write(bytes);
        if (written instanceof Promise) await written;
        const flushed = controller.flush();
        if (flushed instanceof Promise) await flushed;
        if (ended) return; // cancelled while the destination held the chunk: its call is released, not re-armed
        exchange.call.arm("the next event", idle);
      }
    };
    return new ReadableStream<Uint8Array>({
      type: "direct",
      pull: pump,
      cancel: async (reason) => {
        exchange.call.clientLeft();
        this.finish(exchange);
        end("client_closed");
        await reader?.cancel(reason).catch(() => {});
      },
    });
  }

  /** Ends an exchange once: stops its deadline, counts it, forgets it. */
  finish(exchange: Exchange): void {
    if (exchange.finished) return;
    exchange.finished = true;
    this.release(exchange.call);
    this.leave();
    if (exchange.call.clientGone || exchange.call.cancelled) this.counters.aborted++;
  }

  /** Adds an answer's token usage to the counters. */
  countUsage(promptTokens: unknown, completionTokens: unknown): void {
    if (typeof promptTokens === "number") this.counters.prompt_tokens += promptTokens;
    if (typeof completionTokens === "number") this.counters.completion_tokens += completionTokens;
  }

  /**
   * A 502 for an upstream answer that cannot be read as its dialect says (not JSON, a chunk without its fields),
   * counted as an error.
   */
  invalid(what: string): OpenAIError {
    this.counters.errors++;
    return upstreamInvalid(this.name, what);
  }

  /** Resolves once no exchange is in flight (opening, or being read or relayed). */
  drain(): Promise<void> {
    if (this.counters.in_flight === 0) return Promise.resolve();
    return new Promise((resolve) => this.drained.add(resolve));
  }

  /** Aborts every exchange in flight (their clients get 503 `shutting_down`). */
  close(): void {
    this.closing = true;
    for (const call of this.active) call.controller.abort(new Error("ithaca is shutting down"));
  }

  /** One exchange fewer in flight; the last one wakes {@link drain}'s waiters. */
  private leave(): void {
    this.counters.in_flight--;
    if (this.counters.in_flight > 0) return;
    for (const resolve of this.drained) resolve();
    this.drained.clear();
  }

  private release(call: UpstreamCall): void {
    call.dispose();
    this.active.delete(call);
  }

  /**
   * A failure while reading a started answer: the operator's cancellation, the upstream's failure; null when the
   * client went away (nobody to tell).
   */
  private brokenOff(error: unknown, call: UpstreamCall): OpenAIError | null {
    if (call.cancelled) return call.cancelled;
    if (call.clientGone) return null;
    this.counters.errors++;
    if (call.timedOut) {
      this.counters.timeouts++;
      this.onUpstreamFailure("timeout");
      return upstreamTimeout(this.name, call.timedOut.what, call.timedOut.ms);
    }
    if (this.closing) return shuttingDown();
    this.onUpstreamFailure("broken");
    return upstreamBroken(this.name, describeFailure(error));
  }
}
