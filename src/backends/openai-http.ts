/**
 * Passthrough backend for OpenAI-compatible upstreams (Telemak, another Ithaca, mlx_lm.server, vLLM, Ollama, OpenAI,
 * OpenRouter). It improves on OdyssAI-X's Telemak proxy (reference/odyssai-x-wire.md §3.2 and "do better"):
 *
 * - The request body is forwarded with only `model` rewritten to the upstream id; every other field, unknown ones
 *   included, goes as the client sent it. `session_id` is set from the session plugin (header or body) when
 *   `forward_session_id`, and removed otherwise (strict cloud APIs reject unknown parameters).
 * - The upstream key comes from the environment variable named in the config, goes out as `Authorization: Bearer`,
 *   and appears in no log, error or response.
 * - Response bytes pass through untouched (the same-dialect fast path), streamed or not.
 * - A client disconnect aborts the upstream fetch; so do the deadlines (`timeout_ms`: connect, first_byte, idle).
 * - Failures map to OpenAI errors naming the upstream: unreachable → 502, deadline → 504, an upstream status
 *   ≥ 400 → the same status. After the stream started, failures arrive in-band (`data: {"error":...}`, no `[DONE]`).
 */
import type { Backend, BackendCallContext, BackendModel, CanonicalChatRequest } from "./backend.ts";
import type { UpstreamConfig } from "../config/schema.ts";
import { UpstreamProbe } from "../catalog/upstream-probe.ts";
import { publishUpstreamModels } from "../catalog/upstream-models.ts";
import {
  OpenAIError,
  openAIErrorResponse,
  upstreamHttpError,
  upstreamBroken,
  upstreamTimeout,
  upstreamUnreachable,
} from "../protocol/errors.ts";
import { sseError, sseObserver } from "../protocol/sse.ts";

/** Upstream response headers worth passing on; the rest (length, encoding, hop-by-hop) no longer apply. */
const PASSED_HEADERS = ["content-type", "cache-control", "retry-after", "x-request-id"];

function passedHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of PASSED_HEADERS) {
    const value = headers.get(name);
    if (value !== null) out[name] = value;
  }
  return out;
}

/** One upstream exchange: a single AbortController fed by the client's signal, a deadline timer, and timing. */
class UpstreamCall {
  readonly controller = new AbortController();
  readonly startedAt = Date.now();
  /** Set when a deadline fired: what was awaited and the deadline in milliseconds. */
  timedOut: { what: string; ms: number } | undefined;
  /** The client went away (its request signal aborted, or it stopped reading the stream). */
  clientGone = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly onClientAbort = () => this.clientLeft();

  constructor(private readonly clientSignal: AbortSignal) {
    if (clientSignal.aborted) this.clientLeft();
    else clientSignal.addEventListener("abort", this.onClientAbort, { once: true });
  }

  /** Records the client's departure and aborts the upstream fetch. */
  clientLeft(): void {
    this.clientGone = true;
    this.controller.abort(new Error("client disconnected"));
  }

  /**
   * (Re)starts the deadline: `ms` milliseconds to get `what`, counted from now, or from the start of the exchange
   * when `fromStart`.
   */
  arm(what: string, ms: number, fromStart = false): void {
    this.disarm();
    const left = fromStart ? ms - (Date.now() - this.startedAt) : ms;
    this.timer = setTimeout(
      () => {
        this.timedOut = { what, ms };
        this.controller.abort(new Error(`deadline: ${what}`));
      },
      Math.max(0, left),
    );
  }

  disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Stops the deadline and detaches from the client signal. */
  dispose(): void {
    this.disarm();
    this.clientSignal.removeEventListener("abort", this.onClientAbort);
  }
}

/** Readable cause of a fetch failure (Bun adds a `code` such as `ECONNREFUSED`). */
function describe(error: unknown): Error {
  if (!(error instanceof Error)) return new Error(String(error));
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && !error.message.includes(code) ? new Error(`${error.message} (${code})`) : error;
}

class OpenAIHttpBackend implements Backend {
  readonly id: string;
  readonly kind = "openai-http" as const;
  private readonly chatUrl: string;
  private readonly authHeaders: Record<string, string>;
  private readonly probe: UpstreamProbe;
  private readonly active = new Set<UpstreamCall>();
  private closing = false;
  private readonly counters = {
    requests: 0,
    errors: 0,
    timeouts: 0,
    aborted: 0,
    in_flight: 0,
    prompt_tokens: 0,
    completion_tokens: 0,
  };

  constructor(private readonly upstream: UpstreamConfig) {
    this.id = `upstream:${upstream.id}`;
    const base = upstream.base_url.replace(/\/+$/, "");
    this.chatUrl = `${base}/chat/completions`;
    this.authHeaders = upstream.api_key ? { authorization: `Bearer ${upstream.api_key}` } : {};
    this.probe = new UpstreamProbe({
      upstreamId: upstream.id,
      baseUrl: base,
      headers: this.authHeaders,
      timeoutMs: upstream.timeout_ms.connect,
    });
  }

  async listModels(): Promise<BackendModel[]> {
    const configured = this.upstream.models?.map((id) => ({ id }));
    const [models, contract] = await Promise.all([configured ?? this.probe.models(), this.probe.contract()]);
    return publishUpstreamModels(this.upstream, models, contract);
  }

  async chatCompletions(body: CanonicalChatRequest, ctx: BackendCallContext): Promise<Response> {
    this.counters.requests++;
    this.counters.in_flight++;
    const call = new UpstreamCall(ctx.signal);
    this.active.add(call);
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      call.dispose();
      this.active.delete(call);
      this.counters.in_flight--;
      if (call.clientGone) this.counters.aborted++;
    };
    let answered = false;
    let streaming = false;
    try {
      const response = await this.send(body, ctx, call);
      answered = true;
      if (!response.ok) return await this.passError(response, call);
      if (body.stream !== true) return await this.relayJson(response, call);
      streaming = true; // From here the relay settles when the stream ends.
      return this.relayStream(response, call, settle);
    } catch (error) {
      return (
        this.classify(error, call, answered)?.toResponse() ??
        openAIErrorResponse(499, "The client closed the request.", "invalid_request_error", null, "client_closed")
      );
    } finally {
      if (!streaming) settle();
    }
  }

  stats(): Record<string, unknown> {
    return { upstream: this.upstream.id, ...this.counters };
  }

  /** Aborts in-flight exchanges (their clients get a 503 `shutting_down`); fetch's pool needs no release. */
  async close(): Promise<void> {
    this.closing = true;
    for (const call of this.active) call.controller.abort(new Error("ithaca is shutting down"));
  }

  /** POSTs the request; resolves at the response headers. */
  private async send(body: CanonicalChatRequest, ctx: BackendCallContext, call: UpstreamCall): Promise<Response> {
    const outgoing: Record<string, unknown> = { ...body, model: ctx.model.upstreamId };
    const headers: Record<string, string> = {
      ...this.authHeaders,
      "content-type": "application/json",
      accept: body.stream === true ? "text/event-stream" : "application/json",
      "x-request-id": ctx.requestId,
    };
    if (!this.upstream.forward_session_id) delete outgoing.session_id;
    else if (ctx.sessionId !== undefined) {
      outgoing.session_id = ctx.sessionId;
      headers["x-session-id"] = ctx.sessionId;
    }
    const { connect, first_byte } = this.upstream.timeout_ms;
    // Engines send stream headers before generating; a non-stream answer's headers come when it is done.
    call.arm("response headers", body.stream === true ? Math.min(connect, first_byte) : first_byte);
    const response = await fetch(this.chatUrl, {
      method: "POST",
      headers,
      body: JSON.stringify(outgoing),
      signal: call.controller.signal,
    });
    call.disarm();
    return response;
  }

  /** An upstream status ≥ 400, passed on in the OpenAI shape naming the upstream. */
  private async passError(response: Response, call: UpstreamCall): Promise<Response> {
    this.counters.errors++;
    if (response.status >= 500) this.probe.invalidate();
    call.arm("the error body", this.upstream.timeout_ms.idle);
    const text = await response.text().catch(() => "");
    call.disarm();
    const retryAfter = response.headers.get("retry-after");
    return upstreamHttpError(
      this.upstream.id,
      response.status,
      text,
      retryAfter ? { "retry-after": retryAfter } : {},
    ).toResponse();
  }

  /**
   * Maps a fetch or read failure to the error the client gets, counting it; null when the client is gone (nobody to
   * tell). A failure of the connection is "unreachable" before the answer started and "broke off" after.
   */
  private classify(error: unknown, call: UpstreamCall, answerStarted: boolean): OpenAIError | null {
    if (call.timedOut) {
      this.counters.timeouts++;
      this.probe.invalidate();
      return upstreamTimeout(this.upstream.id, call.timedOut.what, call.timedOut.ms);
    }
    if (call.clientGone) return null;
    if (this.closing) return new OpenAIError(503, "Ithaca is shutting down.", { code: "shutting_down" });
    this.counters.errors++;
    this.probe.invalidate();
    return answerStarted
      ? upstreamBroken(this.upstream.id, describe(error))
      : upstreamUnreachable(this.upstream.id, describe(error));
  }

  /** Reads a non-stream answer whole (under the deadlines), then returns its bytes unchanged. */
  private async relayJson(response: Response, call: UpstreamCall): Promise<Response> {
    const reader = response.body?.getReader();
    const parts: Uint8Array[] = [];
    for (let first = true; reader; first = false) {
      call.arm(first ? "the response body" : "the rest of the response body", this.upstream.timeout_ms.idle);
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
    }
    call.disarm();
    const bytes = Buffer.concat(parts);
    try {
      this.countUsage(JSON.parse(bytes.toString("utf8")));
    } catch {
      // Not JSON: passed on as is.
    }
    return new Response(bytes, { status: response.status, headers: passedHeaders(response.headers) });
  }

  /** Relays SSE bytes as they come; deadlines and disconnects end the upstream exchange. */
  private relayStream(response: Response, call: UpstreamCall, settle: () => void): Response {
    const reader = response.body?.getReader();
    const observe = sseObserver((payload) => {
      if (payload.error !== undefined) this.counters.errors++;
      this.countUsage(payload);
    });
    const encoder = new TextEncoder();
    let first = true;
    const relay = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        if (!reader) return void (settle(), controller.close());
        if (first) call.arm("the first event", this.upstream.timeout_ms.first_byte, true);
        else call.arm("the next event", this.upstream.timeout_ms.idle);
        try {
          const { done, value } = await reader.read();
          call.disarm();
          if (done) return void (settle(), controller.close());
          first = false;
          observe(value);
          controller.enqueue(value);
        } catch (error) {
          settle();
          if (call.clientGone) return; // cancel() below ran: the stream is already closed.
          const failure = this.classify(error, call, true);
          if (failure) controller.enqueue(encoder.encode(sseError(failure)));
          controller.close();
        }
      },
      cancel: () => {
        call.clientLeft();
        settle();
      },
    });
    return new Response(relay, { status: response.status, headers: passedHeaders(response.headers) });
  }

  private countUsage(payload: unknown): void {
    if (payload === null || typeof payload !== "object") return;
    const usage = (payload as { usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } }).usage;
    if (typeof usage?.prompt_tokens === "number") this.counters.prompt_tokens += usage.prompt_tokens;
    if (typeof usage?.completion_tokens === "number") this.counters.completion_tokens += usage.completion_tokens;
  }
}

/** Creates the passthrough backend of one configured upstream (id `upstream:<id>`). */
export function createOpenAIHttpBackend(upstream: UpstreamConfig): Backend {
  if (upstream.api_key_env && !upstream.api_key) {
    console.warn(
      `[ithaca] upstream '${upstream.id}': environment variable ${upstream.api_key_env} is empty; sending no key`,
    );
  }
  return new OpenAIHttpBackend(upstream);
}
