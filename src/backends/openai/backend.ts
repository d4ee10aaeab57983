/**
 * Backend for OpenAI-dialect upstreams (Telemak, another Ithaca, mlx_lm.server, vLLM, Ollama, OpenAI, OpenRouter).
 * It improves on OdyssAI-X's proxy (reference/odyssai-x-wire.md §3.2, §4 and "do better"):
 *
 * - The request body is forwarded with only `model` rewritten to the upstream id; every other field, unknown ones
 *   included, goes as the client sent it. `session_id` is set from the session plugin (header or body) when
 *   `forward_session_id`, and removed otherwise (strict cloud APIs reject unknown parameters).
 * - The key comes from the environment variable named in the config and goes out as `Authorization: Bearer`;
 *   configured `headers` go along (OpenRouter's attribution `HTTP-Referer` / `X-Title`).
 * - Response bytes pass through untouched (the same-dialect fast path), streamed or not; so does `/v1/embeddings`.
 *   Usage is counted from what passes: the `usage` object near the end of the body or stream (./http/usage-scan.ts).
 * - A Telemak (the config or enrolment says so, or its contract) is the exception: its request is shaped and its
 *   answer read and repaired on the way (./telemak-path.ts; telemak-companion-wire §9).
 * - Deadlines, retries before the first byte, cool-down, bounds and error mapping: ./http/upstream-client.ts. After
 *   a stream started, a failure arrives in-band (protocol/sse.ts `sseError`) and the stream ends.
 */
import type { UpstreamConfig } from "../../config/schema.ts";
import { upstreamHttpError } from "../../protocol/errors.ts";
import { sseError } from "../../protocol/sse.ts";
import type { AnswerMeter, Backend, BackendCallContext, BackendModel, BytesAnswer, ChatAnswer } from "../backend.ts";
import type { CanonicalChatRequest } from "../../protocol/canonical.ts";
import { configuredHeaders, HttpBackend } from "../http/http-backend.ts";
import { publishedModels, publishUpstreamModels } from "../http/published-models.ts";
import type { UpstreamFailure } from "../http/upstream-client.ts";
import { inBandErrorCode, scanJsonObject } from "../http/usage-scan.ts";
import { TelemakPath } from "./telemak-path.ts";
import type { RepairContext } from "./telemak-repair.ts";

/** UTF-8 decoding of whole byte arrays (stateless between calls, so shared). */
const UTF8 = new TextDecoder();

/** Bytes at the end of a non-stream body searched for its `usage` object. */
const USAGE_TAIL_BYTES = 4096;

/** The headers every request to `upstream` carries: Bearer key, configured extras, OpenRouter's default title. */
function upstreamHeaders(upstream: UpstreamConfig): Record<string, string> {
  const headers: Record<string, string> = {};
  if (new URL(upstream.base_url).hostname.endsWith("openrouter.ai")) headers["x-title"] = "Ithaca";
  Object.assign(headers, configuredHeaders(upstream));
  if (upstream.api_key) headers.authorization = `Bearer ${upstream.api_key}`;
  return headers;
}

class OpenAIHttpBackend extends HttpBackend implements Backend {
  readonly kind = "openai-http" as const;
  /** Request shaping and answer repair, for when a Telemak answers here. */
  private readonly telemak: TelemakPath;

  constructor(upstream: UpstreamConfig, onFailure?: (failure: UpstreamFailure) => void) {
    super(upstream, upstreamHeaders(upstream), { httpError: upstreamHttpError }, onFailure);
    this.telemak = new TelemakPath(upstream.default_max_tokens);
  }

  async listModels(): Promise<BackendModel[]> {
    if (this.upstream.published) return publishedModels(this.upstream);
    const configured = this.upstream.models?.map((id) => ({ id }));
    const [models, contract] = await Promise.all([configured ?? this.probe.models(), this.probe.contract()]);
    return publishUpstreamModels(this.upstream, models, contract, !this.probe.down());
  }

  async chatCompletions(body: CanonicalChatRequest, ctx: BackendCallContext): Promise<ChatAnswer> {
    this.checkReady(ctx);
    const headers: Record<string, string> = {};
    const forward = this.upstream.forward_session_id;
    const sessionKept = forward
      ? ctx.sessionId === undefined || body.session_id === ctx.sessionId
      : !("session_id" in body);
    const telemak = this.isTelemak();
    let outgoing: Record<string, unknown> | Uint8Array;
    let repair: RepairContext | undefined;
    if (ctx.rawBody && sessionKept && !telemak && body.model === ctx.model.upstreamId) outgoing = ctx.rawBody;
    else {
      outgoing = { ...body, model: ctx.model.upstreamId };
      if (!forward) delete outgoing.session_id;
      else if (ctx.sessionId !== undefined) outgoing.session_id = ctx.sessionId;
      if (telemak) repair = this.telemak.prepare(outgoing, body, ctx.model.id);
    }
    if (forward && ctx.sessionId !== undefined) {
      headers["x-session-id"] = outgoing instanceof Uint8Array ? ctx.sessionId : String(outgoing.session_id);
    }
    const stream = body.stream === true;
    // A Telemak's answer is metered once repaired (its raw usage lacks the cached tokens): not as it is relayed.
    const meter = repair ? undefined : ctx.meter;
    const exchange = await this.client.open(
      { path: "/chat/completions", body: outgoing, stream, headers },
      meter === ctx.meter ? ctx : { ...ctx, meter },
    );
    const answer = stream
      ? this.client.relay(exchange, "openai", sseError, ({ tail }) => {
          this.countUsage(tail, meter);
          reportInBandError(tail, meter);
        })
      : await this.client.bytes(exchange, "openai", (bytes) => this.countUsage(tailText(bytes), meter));
    // A Telemak's answer is repaired on the way: read into canonical values, fixed chunk by chunk.
    return repair ? this.telemak.repair(answer, repair) : answer;
  }

  /**
   * Whether a Telemak answers here: the config (or enrolment) says so, else its contract as last probed does (the
   * catalog probes it before any request is routed here; nothing is awaited on the request path).
   */
  private isTelemak(): boolean {
    if (this.upstream.engine !== undefined) return this.upstream.engine === "telemak";
    return this.probe.knownContract()?.engine === "telemak";
  }

  async embeddings(body: Record<string, unknown>, ctx: BackendCallContext): Promise<BytesAnswer<"openai">> {
    this.checkReady(ctx);
    const outgoing = { ...body, model: ctx.model.upstreamId };
    const exchange = await this.client.open({ path: "/embeddings", body: outgoing, stream: false }, ctx);
    return this.client.bytes(exchange, "openai", (bytes) => this.countUsage(tailText(bytes), ctx.meter));
  }

  /** Adds the last `usage` object in `text` (an answer's end) to the counters, and reports it to `meter`. */
  private countUsage(text: string, meter: AnswerMeter | undefined): void {
    const usage = scanJsonObject(text, "usage", "last");
    this.client.countUsage(usage?.prompt_tokens, usage?.completion_tokens);
    if (usage && meter) {
      const details = usage.prompt_tokens_details as { cached_tokens?: unknown } | null | undefined;
      meter.usage(count(usage.prompt_tokens), count(usage.completion_tokens), count(details?.cached_tokens));
    }
  }
}

/** Ends `meter`'s stream with the code of the in-band error that ended `tail` (an upstream's own), if any. */
function reportInBandError(tail: string, meter: AnswerMeter | undefined): void {
  const code = meter && inBandErrorCode(tail);
  if (code) meter?.streamEnded(code);
}

/** A token count read from an answer: a number, else undefined. */
function count(value: unknown): number | undefined {
  return typeof value === "number" ? value : undefined;
}

/** The last {@link USAGE_TAIL_BYTES} of a body as text. */
function tailText(bytes: Uint8Array): string {
  return UTF8.decode(bytes.subarray(Math.max(0, bytes.byteLength - USAGE_TAIL_BYTES)));
}

/**
 * Creates the backend of one configured OpenAI-dialect upstream (id `upstream:<id>`).
 * @param onFailure told when the upstream fails (a ring cluster's watchdog), besides the re-probe.
 */
export function createOpenAIHttpBackend(
  upstream: UpstreamConfig,
  onFailure?: (failure: UpstreamFailure) => void,
): Backend {
  return new OpenAIHttpBackend(upstream, onFailure);
}
