/**
 * Backend for Anthropic-dialect upstreams (Anthropic's Messages API; reference/odyssai-x-wire.md §4, improved):
 *
 * - `/v1/messages` and `/v1/messages/count_tokens` from an Anthropic client are a native passthrough: the body goes
 *   with `model` rewritten and Ithaca's own extensions (`session_id`, `enable_thinking`, `reasoning_effort`) removed,
 *   and the answer's bytes come back unchanged, streamed or not.
 * - `/v1/chat/completions` (and `/v1/responses`) reach it through this folder's outbound conversion: the canonical
 *   request becomes a Messages request (./request.ts), the answer a `chat.completion` (./response.ts) or a stream of
 *   chunks (./stream.ts) — thinking as `reasoning_content`, `tool_use` as `tool_calls`, cache reads as
 *   `prompt_tokens_details.cached_tokens`.
 * - Headers: `x-api-key` (from the variable `api_key_env` names; never logged or returned), `anthropic-version`
 *   (config, default 2023-06-01), `anthropic-beta` (the configured flags plus the client's own), configured extras.
 * - Deadlines, retries before the first byte (429, 5xx, 529 `overloaded_error`, honouring `retry-after`),
 *   cool-down and error mapping: ../http/upstream-client.ts. A failure after the stream started is sent as Anthropic's
 *   `event: error` (passthrough) or OpenAI's in-band error (translation), and the stream ends cleanly.
 */
import type { UpstreamConfig } from "../../config/schema.ts";
import { anthropicStreamError, upstreamAnthropicError } from "../../protocol/anthropic-errors.ts";
import type { AnthropicMessage } from "../../protocol/anthropic.ts";
import { sseNamed } from "../../protocol/sse.ts";
import type {
  AnswerMeter,
  Backend,
  BackendCallContext,
  BackendModel,
  BytesAnswer,
  ChunksAnswer,
  CompletionAnswer,
} from "../backend.ts";
import type { CanonicalChatRequest } from "../../protocol/canonical.ts";
import { configuredHeaders, HttpBackend } from "../http/http-backend.ts";
import { publishedModels, publishUpstreamModels } from "../http/published-models.ts";
import { inBandErrorCode, scanJsonObject } from "../http/usage-scan.ts";
import { chatToMessages } from "./request.ts";
import { messageToChatCompletion } from "./response.ts";
import { anthropicEventsFromSse, anthropicEventsToChunks } from "./stream.ts";

/** UTF-8 decoding of whole byte arrays (stateless between calls, so shared). */
const UTF8 = new TextDecoder();

/** Ithaca's request extensions, which Anthropic's API would reject as unknown fields. */
const ITHACA_EXTENSIONS = ["session_id", "enable_thinking", "reasoning_effort"];

class AnthropicHttpBackend extends HttpBackend implements Backend {
  readonly kind = "anthropic-http" as const;

  constructor(upstream: UpstreamConfig) {
    const headers: Record<string, string> = {
      "anthropic-version": upstream.anthropic_version,
      ...configuredHeaders(upstream),
    };
    if (upstream.api_key) headers["x-api-key"] = upstream.api_key;
    super(upstream, headers, { httpError: upstreamAnthropicError });
  }

  async listModels(): Promise<BackendModel[]> {
    if (this.upstream.published) return publishedModels(this.upstream);
    const models = this.upstream.models?.map((id) => ({ id })) ?? (await this.probe.models());
    return publishUpstreamModels(this.upstream, models, null, !this.probe.down());
  }

  async messages(body: Record<string, unknown>, ctx: BackendCallContext): Promise<BytesAnswer<"anthropic">> {
    this.checkReady(ctx);
    const stream = body.stream === true;
    const exchange = await this.client.open(
      { path: "/messages", body: this.outgoing(body, ctx), stream, headers: this.betaHeader(ctx) },
      ctx,
    );
    const meter = ctx.meter;
    if (!stream) {
      return this.client.bytes(exchange, "anthropic", (bytes) => this.countUsage(UTF8.decode(bytes), "last", meter));
    }
    // message_start (the stream's head) carries the input count; the last message_delta (its tail) the output count.
    return this.client.relay(
      exchange,
      "anthropic",
      (error) => sseNamed(anthropicStreamError(error)),
      ({ head, tail }) => {
        this.countUsage(head, "first", meter, "input");
        this.countUsage(tail, "last", meter, "output");
        const error = meter && inBandErrorCode(tail);
        if (error) meter?.streamEnded(error); // the upstream's own `event: error`, relayed as it came
      },
    );
  }

  async countMessageTokens(body: Record<string, unknown>, ctx: BackendCallContext): Promise<BytesAnswer<"anthropic">> {
    this.checkReady(ctx);
    const outgoing = this.outgoing(body, ctx);
    delete outgoing.stream;
    delete outgoing.max_tokens;
    const exchange = await this.client.open(
      { path: "/messages/count_tokens", body: outgoing, stream: false, headers: this.betaHeader(ctx) },
      ctx,
    );
    return this.client.bytes(exchange, "anthropic");
  }

  async chatCompletions(body: CanonicalChatRequest, ctx: BackendCallContext): Promise<CompletionAnswer | ChunksAnswer> {
    this.checkReady(ctx);
    const request = { ...chatToMessages(body), model: ctx.model.upstreamId } as Record<string, unknown>;
    const stream = body.stream === true;
    const exchange = await this.client.open(
      { path: "/messages", body: request, stream, headers: this.betaHeader(ctx) },
      ctx,
    );
    if (stream) {
      const events = anthropicEventsFromSse(this.client.stream(exchange));
      return { kind: "chunks", chunks: anthropicEventsToChunks(events, { model: ctx.model.id }) };
    }
    const bytes = await this.client.readBody(exchange);
    let message: AnthropicMessage;
    try {
      message = JSON.parse(UTF8.decode(bytes)) as AnthropicMessage;
      if (message === null || typeof message !== "object" || !Array.isArray(message.content))
        throw new TypeError("no content");
    } catch {
      throw this.client.invalid("its answer is not an Anthropic message");
    }
    this.client.countUsage(message.usage?.input_tokens, message.usage?.output_tokens);
    return { kind: "completion", completion: messageToChatCompletion(message, { model: ctx.model.id }) };
  }

  /**
   * Adds the counts of the `usage` object nearest the start or end of `text` to the counters (`only`: just the input
   * or the output count), and reports them to `meter`: the prompt as Ithaca counts it (input tokens, cache reads and
   * cache writes together), the cache reads as cached tokens.
   */
  private countUsage(text: string, from: "first" | "last", meter: AnswerMeter | undefined, only?: "input" | "output") {
    const usage = scanJsonObject(text, "usage", from);
    const input = only === "output" ? undefined : count(usage?.input_tokens);
    const output = only === "input" ? undefined : count(usage?.output_tokens);
    this.client.countUsage(input, output);
    if (!usage || !meter) return;
    const cacheRead = input === undefined ? undefined : (count(usage.cache_read_input_tokens) ?? 0);
    const cacheWrite = count(usage.cache_creation_input_tokens) ?? 0;
    meter.usage(input === undefined ? undefined : input + (cacheRead ?? 0) + cacheWrite, output, cacheRead);
  }

  /** The client's Anthropic body for the wire: the upstream's model id, Ithaca's extensions removed. */
  private outgoing(body: Record<string, unknown>, ctx: BackendCallContext): Record<string, unknown> {
    const outgoing: Record<string, unknown> = { ...body, model: ctx.model.upstreamId };
    for (const field of ITHACA_EXTENSIONS) delete outgoing[field];
    return outgoing;
  }

  /** `anthropic-beta`: the configured flags and the client's, without repeats. */
  private betaHeader(ctx: BackendCallContext): Record<string, string> {
    const flags = [...this.upstream.anthropic_beta, ...(ctx.anthropicBeta?.split(",") ?? [])]
      .map((flag) => flag.trim())
      .filter((flag) => flag.length > 0);
    return flags.length > 0 ? { "anthropic-beta": [...new Set(flags)].join(",") } : {};
  }
}

/** A token count read from an answer: a number, else undefined. */
function count(value: unknown): number | undefined {
  return typeof value === "number" ? value : undefined;
}

/** Creates the backend of one configured Anthropic-dialect upstream (id `upstream:<id>`). */
export function createAnthropicHttpBackend(upstream: UpstreamConfig): Backend {
  return new AnthropicHttpBackend(upstream);
}
