/**
 * The backend interface: everything the router can send a chat request to.
 *
 * A backend answers in the OpenAI chat-completions wire format (DESIGN §2, canonical form): a JSON body for
 * `stream: false`, or an SSE stream of `chat.completion.chunk` objects ending in `data: [DONE]` for `stream: true`.
 * Returning a web `Response` lets an HTTP upstream's bytes pass through untouched (the same-dialect fast path) and
 * lets the local MLX backend stream from its Worker without an extra buffering layer.
 */

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
  /** Aborted when the client disconnects; backends cancel upstream work within one decode step / one read. */
  signal: AbortSignal;
  /** Request id for logs and error messages. */
  requestId: string;
  /** The client's `anthropic-beta` header, forwarded to Anthropic-dialect upstreams. */
  anthropicBeta?: string;
}

/** A chat-completions request body in canonical form (OpenAI shape plus `session_id`, `enable_thinking`, `reasoning_effort`). */
export type CanonicalChatRequest = Record<string, unknown> & {
  model: string;
  messages: unknown[];
  stream?: boolean;
};

export interface Backend {
  /** Stable id, unique in the app (`local`, `upstream:telemak1`). */
  readonly id: string;
  /** Backend family: `mlx` (in-process), `openai-http` (OpenAI-dialect upstream), `anthropic-http` (Anthropic). */
  readonly kind: "mlx" | "openai-http" | "anthropic-http";
  /** The models this backend serves now. May probe its upstream (cached); never throws for an unreachable upstream. */
  listModels(): Promise<BackendModel[]>;
  /**
   * Runs one chat completion. Resolves to an OpenAI-format `Response` (JSON or SSE).
   * Errors the client caused resolve to a 4xx in the OpenAI error shape; upstream failures to 502/503/504 naming the
   * upstream. Never rejects for a client abort: the stream simply ends.
   */
  chatCompletions(body: CanonicalChatRequest, ctx: BackendCallContext): Promise<Response>;
  /**
   * Anthropic Messages call in the backend's own dialect, for backends whose upstream speaks it (`anthropic-http`):
   * the same-dialect fast path. `body` is the validated Anthropic request; the answer is Anthropic JSON or SSE.
   * Backends without it are reached from `/v1/messages` through translation into {@link chatCompletions}.
   */
  messages?(body: Record<string, unknown>, ctx: BackendCallContext): Promise<Response>;
  /** `POST /v1/messages/count_tokens` in the Anthropic dialect, for backends whose upstream serves it. */
  countMessageTokens?(body: Record<string, unknown>, ctx: BackendCallContext): Promise<Response>;
  /**
   * Exact prompt size of a canonical request in tokens (the local engine: chat template + tokenizer, tools
   * included). Backends without it get an estimate from the route.
   * @throws OpenAIError 400 when the messages cannot be rendered.
   */
  countTokens?(body: CanonicalChatRequest, ctx: BackendCallContext): Promise<number>;
  /** `POST /v1/embeddings` in the OpenAI dialect (passthrough), for backends whose upstream serves embeddings. */
  embeddings?(body: Record<string, unknown>, ctx: BackendCallContext): Promise<Response>;
  /**
   * False while the backend is cooling down after repeated upstream failures: the router then tries other
   * candidates first. Absent means always available.
   */
  available?(): boolean;
  /** Counters for `/health` (requests, cancellations, tokens...). */
  stats(): Record<string, unknown>;
  /** Releases workers, sockets and MLX memory. */
  close(): Promise<void>;
}
