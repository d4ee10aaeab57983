/**
 * The backend interface: everything the router can send a request to, and the typed answers it gives back
 * (DESIGN §2, canonical form).
 *
 * A backend answers with a value, never with a web `Response`: a finished `chat.completion`, a stream of
 * `chat.completion.chunk` objects, or — when the upstream speaks the caller's dialect and nothing needs rewriting —
 * the upstream's own bytes with the dialect named (the same-dialect fast path). A failure before the first byte is
 * thrown as an `OpenAIError` (the canonical error; routes render it in the caller's dialect); a failure after a
 * stream started is thrown by the chunk iterator, or framed in-band by the byte relay. Routes render the HTTP answer
 * once (src/routes/render.ts); nothing is written as SSE and parsed back inside the process.
 */
import type { CanonicalChatRequest } from "../protocol/canonical.ts";
import type { ChatCompletion, OpenAIStreamItem } from "../protocol/openai-response.ts";

/** A finished chat completion in canonical (OpenAI) form. */
export interface CompletionAnswer {
  readonly kind: "completion";
  readonly completion: ChatCompletion;
}

/**
 * A streamed chat completion in canonical form: chunks in order, the usage chunk (`choices: []`) last when the
 * backend knows usage. A failure mid-stream is an OpenAI in-band `{error}` item that ends the stream, or an
 * `OpenAIError` the iterator throws; the iterator simply ends when the client went away, and `return()` cancels the
 * work behind it.
 */
export interface ChunksAnswer {
  readonly kind: "chunks";
  readonly chunks: AsyncIterable<OpenAIStreamItem>;
}

/** The wire dialects of upstream answers. */
export type WireDialect = "openai" | "anthropic";

/**
 * An upstream's own answer, passed on untouched (the same-dialect fast path).
 * - `stream: false`: `body` is the whole answer (read, bounded); `stream: true`: an SSE byte stream whose failures
 *   after the first byte are already framed in-band in `dialect`'s error shape.
 * - `status` and `headers` are the upstream's (2xx; content-type and a few others kept).
 */
export interface BytesAnswer<D extends WireDialect = WireDialect> {
  readonly kind: "bytes";
  readonly dialect: D;
  readonly stream: boolean;
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Uint8Array | ReadableStream<Uint8Array>;
  /** The upstream's config id, named in errors when its bytes must be read (e.g. translated for another dialect). */
  readonly upstream: string;
  /**
   * The backend reports this answer to the call's {@link BackendCallContext.meter}: its usage and, for a stream, its
   * first token and its end. Absent: whoever renders it must watch the bytes itself.
   */
  readonly metered?: boolean;
}

/** What `chatCompletions` answers: canonical values, or OpenAI-dialect bytes from an OpenAI-dialect upstream. */
export type ChatAnswer = CompletionAnswer | ChunksAnswer | BytesAnswer<"openai">;

/** One servable model as a backend publishes it to the catalog. */
export interface BackendModel {
  /** The id clients send as `model` (e.g. `demo`, `telemak1:qwen3-4b`). */
  id: string;
  /** The id this backend's upstream expects (for an HTTP backend: the upstream's own model id). */
  upstreamId: string;
  /** Other ids that resolve to this model (slugs, short names). */
  aliases?: string[];
  /** Largest prompt + completion the model accepts, in tokens, when known. */
  contextLength?: number;
  /** Whether the weights are loaded and the model can answer now. */
  ready: boolean;
  /** Free-form capability flags published in the contract (`tools`, `thinking`, `vision`, `embeddings`...). */
  capabilities?: string[];
  /** Architecture / quantization facts for `/v1/models` (`arch`, `dtype`, `bits`...), when known. */
  details?: Record<string, unknown>;
}

/** What the pipeline hands a backend along with the request body. */
export interface BackendCallContext {
  /** Resolved catalog entry: `model.upstreamId` is what goes on the wire. */
  model: BackendModel;
  /** Conversation id from the session plugin (`X-Session-Id` header or `session_id` body field), if any. */
  sessionId?: string;
  /**
   * Who may share cached state with this request (the caller's scope from the auth plugin: one per API key, one
   * for open mode). The local engine never reuses a KV prefix, nor reports `cached_tokens`, across scopes.
   */
  cacheScope?: string;
  /**
   * Aborted when the client disconnects, or when the operator cancels the request (`POST /admin/runs/{id}/cancel`);
   * backends cancel upstream work within one decode step / one read. An operator's cancellation has an
   * `OpenAIError` as the signal's `reason`: that is the answer (thrown before the first byte, in-band after), where a
   * client that left gets nothing.
   */
  signal: AbortSignal;
  /** Request id for logs and error messages. */
  requestId: string;
  /** The client's `anthropic-beta` header, forwarded to Anthropic-dialect upstreams. */
  anthropicBeta?: string;
  /**
   * The client's body bytes, when the body handed to the backend is the client's own (same dialect, untranslated):
   * a passthrough that would send it unchanged (same model id, no field to rewrite) forwards these bytes instead of
   * serializing the parsed body again.
   */
  rawBody?: Uint8Array;
  /** Where the answer's usage, first token and end are reported as they pass (the request log); absent: nowhere. */
  meter?: AnswerMeter;
}

/**
 * What a backend reports about an answer it relays without reading it into canonical values (the request log and
 * metrics, src/routes/runs.ts). Calls may repeat: the first token and the end count once, usage merges.
 */
export interface AnswerMeter {
  /**
   * Token usage as the answer states it, in tokens; undefined where it does not say.
   * @param promptTokens the whole prompt, cached tokens included.
   * @param cachedTokens the prompt tokens read from a cache.
   */
  usage(promptTokens: number | undefined, completionTokens: number | undefined, cachedTokens?: number): void;
  /** The first generated token (content, reasoning or a tool call) is on its way to the client. */
  firstToken(): void;
  /**
   * A relayed stream ended.
   * @param error the code of the failure sent in-band, or `client_closed` when the client went away; absent: it
   *   ended normally.
   */
  streamEnded(error?: string): void;
}

export interface Backend {
  /** Stable id, unique in the app (`local`, `upstream:telemak1`). */
  readonly id: string;
  /** Backend family: `mlx` (in-process), `openai-http` (OpenAI-dialect upstream), `anthropic-http` (Anthropic). */
  readonly kind: "mlx" | "openai-http" | "anthropic-http";
  /** The models this backend serves now. May probe its upstream (cached); never throws for an unreachable upstream. */
  listModels(): Promise<BackendModel[]>;
  /**
   * Runs one chat completion.
   * @returns a {@link ChatAnswer}: canonical values, or the upstream's bytes when it speaks the OpenAI dialect.
   * @throws OpenAIError before the first byte: 4xx for what the client caused, 502/503/504 naming the upstream for
   *   upstream failures, 499 `client_closed` when the client went away.
   */
  chatCompletions(body: CanonicalChatRequest, ctx: BackendCallContext): Promise<ChatAnswer>;
  /**
   * Anthropic Messages call in the backend's own dialect, for backends whose upstream speaks it (`anthropic-http`):
   * the same-dialect fast path. `body` is the validated Anthropic request; the answer is the upstream's bytes.
   * Backends without it are reached from `/v1/messages` through translation into {@link chatCompletions}.
   * @throws OpenAIError as {@link chatCompletions}.
   */
  messages?(body: Record<string, unknown>, ctx: BackendCallContext): Promise<BytesAnswer<"anthropic">>;
  /** `POST /v1/messages/count_tokens` in the Anthropic dialect, for backends whose upstream serves it. */
  countMessageTokens?(body: Record<string, unknown>, ctx: BackendCallContext): Promise<BytesAnswer<"anthropic">>;
  /**
   * Exact prompt size of a canonical request in tokens (the local engine: chat template + tokenizer, tools
   * included). Backends without it get an estimate from the route.
   * @throws OpenAIError 400 when the messages cannot be rendered.
   */
  countTokens?(body: CanonicalChatRequest, ctx: BackendCallContext): Promise<number>;
  /** `POST /v1/embeddings` in the OpenAI dialect (passthrough), for backends whose upstream serves embeddings. */
  embeddings?(body: Record<string, unknown>, ctx: BackendCallContext): Promise<BytesAnswer<"openai">>;
  /**
   * False while the backend is cooling down after repeated upstream failures: the router then tries other
   * candidates first. Absent means always available.
   */
  available?(): boolean;
  /**
   * Subscribes to changes of this backend's model list that it notices on its own (a local model loaded or
   * unloaded, an upstream's probe answering differently), so the catalog can drop its cached copy. Absent: the catalog's max age covers it.
   * @returns a function that ends the subscription.
   */
  onModelsChanged?(listener: () => void): () => void;
  /**
   * Resolves once no request to this backend is in flight (streams included), for a removal that fails nothing.
   * Absent: the backend is closed at once on removal.
   */
  drain?(): Promise<void>;
  /** Counters for `/health` (requests, cancellations, tokens...). */
  stats(): Record<string, unknown>;
  /** Releases workers, sockets and MLX memory. */
  close(): Promise<void>;
}
