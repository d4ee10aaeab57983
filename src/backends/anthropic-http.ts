/**
 * Backend for Anthropic-dialect upstreams (Anthropic's Messages API; reference/odyssai-x-wire.md §4, improved):
 *
 * - `/v1/messages` and `/v1/messages/count_tokens` from an Anthropic client are a native passthrough: the body goes
 *   with `model` rewritten and Ithaca's own extensions (`session_id`, `enable_thinking`, `reasoning_effort`) removed,
 *   and the answer's bytes come back unchanged, streamed or not.
 * - `/v1/chat/completions` (and `/v1/responses`) reach it through translation (src/translate/anthropic-*.ts): the
 *   canonical request becomes a Messages request, the answer a `chat.completion` or a stream of chunks — thinking as
 *   `reasoning_content`, `tool_use` as `tool_calls`, cache reads as `prompt_tokens_details.cached_tokens`.
 * - Headers: `x-api-key` (from the variable `api_key_env` names; never logged or returned), `anthropic-version`
 *   (config, default 2023-06-01), `anthropic-beta` (the configured flags plus the client's own), configured extras.
 * - Deadlines, retries before the first byte (429, 5xx, 529 `overloaded_error`, honouring `retry-after`),
 *   cool-down and error mapping: ./http/upstream-client.ts. A failure after the stream started is sent as Anthropic's
 *   `event: error` (passthrough) or OpenAI's in-band error (translation), and the stream ends cleanly.
 */
import type { Backend, BackendCallContext, BackendModel, CanonicalChatRequest } from "./backend.ts";
import type { UpstreamConfig } from "../config/schema.ts";
import { UpstreamProbe } from "../catalog/upstream-probe.ts";
import { publishedModels, publishUpstreamModels } from "../catalog/upstream-models.ts";
import { anthropicStreamError, upstreamAnthropicError } from "../protocol/anthropic-errors.ts";
import type { AnthropicMessage, AnthropicUsage } from "../protocol/anthropic.ts";
import { sseNamed, sseObserver, sseResponse } from "../protocol/sse.ts";
import { chatToMessages } from "../translate/anthropic-request.ts";
import { messageToChatCompletion } from "../translate/anthropic-response.ts";
import { anthropicEventsFromSse, anthropicEventsToChunks } from "../translate/anthropic-stream.ts";
import { UpstreamClient } from "./http/upstream-client.ts";

/** Ithaca's request extensions, which Anthropic's API would reject as unknown fields. */
const ITHACA_EXTENSIONS = ["session_id", "enable_thinking", "reasoning_effort"];

class AnthropicHttpBackend implements Backend {
  readonly id: string;
  readonly kind = "anthropic-http" as const;
  private readonly probe: UpstreamProbe;
  private readonly client: UpstreamClient;

  constructor(private readonly upstream: UpstreamConfig) {
    this.id = `upstream:${upstream.id}`;
    const headers: Record<string, string> = { "anthropic-version": upstream.anthropic_version };
    for (const [name, value] of Object.entries(upstream.headers)) headers[name.toLowerCase()] = value;
    if (upstream.api_key) headers["x-api-key"] = upstream.api_key;
    this.probe = new UpstreamProbe({
      upstreamId: upstream.id,
      baseUrl: upstream.base_url.replace(/\/+$/, ""),
      headers,
      timeoutMs: upstream.timeout_ms.connect,
    });
    this.client = new UpstreamClient(upstream, { httpError: upstreamAnthropicError }, headers, () =>
      this.probe.invalidate(),
    );
  }

  async listModels(): Promise<BackendModel[]> {
    if (this.upstream.published) return publishedModels(this.upstream);
    const models = this.upstream.models?.map((id) => ({ id })) ?? (await this.probe.models());
    return publishUpstreamModels(this.upstream, models, null);
  }

  available(): boolean {
    return this.client.available();
  }

  async messages(body: Record<string, unknown>, ctx: BackendCallContext): Promise<Response> {
    const stream = body.stream === true;
    const opened = await this.client.open(
      { path: "/messages", body: this.outgoing(body, ctx), stream, headers: this.betaHeader(ctx) },
      ctx,
    );
    if (opened instanceof Response) return opened;
    if (!stream) {
      return this.client.passJson(opened, (message) => this.countUsage(message.usage));
    }
    const observe = sseObserver((event) => {
      // message_start carries the input count (its output count is a placeholder); message_delta the output count.
      if (event.type === "message_start") this.countUsage({ input_tokens: (event.message as AnthropicMessage).usage?.input_tokens });
      if (event.type === "message_delta") this.countUsage({ output_tokens: (event.usage as AnthropicUsage)?.output_tokens });
    });
    return this.client.relay(opened, (error) => sseNamed(anthropicStreamError(error)), observe);
  }

  async countMessageTokens(body: Record<string, unknown>, ctx: BackendCallContext): Promise<Response> {
    const outgoing = this.outgoing(body, ctx);
    delete outgoing.stream;
    delete outgoing.max_tokens;
    const opened = await this.client.open(
      { path: "/messages/count_tokens", body: outgoing, stream: false, headers: this.betaHeader(ctx) },
      ctx,
    );
    if (opened instanceof Response) return opened;
    return this.client.passJson(opened);
  }

  async chatCompletions(body: CanonicalChatRequest, ctx: BackendCallContext): Promise<Response> {
    const request = { ...chatToMessages(body), model: ctx.model.upstreamId } as Record<string, unknown>;
    const stream = body.stream === true;
    const opened = await this.client.open(
      { path: "/messages", body: request, stream, headers: this.betaHeader(ctx) },
      ctx,
    );
    if (opened instanceof Response) return opened;
    if (stream) {
      const events = anthropicEventsFromSse(this.client.body(opened));
      return sseResponse(anthropicEventsToChunks(events, { model: ctx.model.id }), ctx.signal);
    }
    const bytes = await this.client.readBody(opened);
    if (bytes instanceof Response) return bytes;
    const message = JSON.parse(new TextDecoder().decode(bytes)) as AnthropicMessage;
    this.countUsage(message.usage);
    return Response.json(messageToChatCompletion(message, { model: ctx.model.id }));
  }

  stats(): Record<string, unknown> {
    return { upstream: this.upstream.id, available: this.client.available(), ...this.client.counters };
  }

  async close(): Promise<void> {
    this.client.close();
  }

  /** Adds an Anthropic `usage` object's counts to the counters. */
  private countUsage(usage: unknown): void {
    const counts = usage as Partial<Pick<AnthropicUsage, "input_tokens" | "output_tokens">> | undefined;
    this.client.countUsage(counts?.input_tokens, counts?.output_tokens);
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

/** Creates the backend of one configured Anthropic-dialect upstream (id `upstream:<id>`). */
export function createAnthropicHttpBackend(upstream: UpstreamConfig): Backend {
  return new AnthropicHttpBackend(upstream);
}
