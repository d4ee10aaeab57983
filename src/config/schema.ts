/**
 * The boot configuration (`ithaca.yaml`, DESIGN §5), as a valibot schema. Every object is strict: an unknown key is
 * an error that names it. Defaults are filled in by the schema, so a parsed config is complete.
 *
 * ```yaml
 * server: { host: 127.0.0.1, port: 8000, body_limit_bytes: 4194304, body_timeout_ms: 30000, allowed_hosts: [ithaca.lan] }
 * auth: { api_keys: [sk-local-1], api_keys_env: MY_KEYS, admin_token_env: MY_ADMIN_TOKEN }
 * models: [ { id: demo, path: ./models/demo, aliases: [tiny] } ]
 * upstreams:
 *   - { id: telemak1, kind: openai-http, base_url: "http://10.0.0.5:8003/v1", api_key_env: TELEMAK1_KEY,
 *       timeout_ms: { connect: 10000, first_byte: 300000, idle: 120000 }, forward_session_id: true }
 * plugins: [ ./plugins/examples/tools-need-support.ts ]
 * engine:
 *   { models_dir: ./models, load_on_demand: true, idle_ttl_s: 0, max_active: 4, max_queue: 16,
 *     memory: { budget_bytes: 24GiB, kv_reserve_bytes: 1GiB, cache_limit_bytes: 2GiB },
 *     prefix_cache: { enabled: true, shared: true, max_bytes: 2GiB, max_entries: 64, ttl_s: 3600, block_size: 64 } }
 * ```
 */
import * as v from "valibot";

const NonEmpty = v.pipe(v.string(), v.trim(), v.minLength(1));
const EnvName = v.pipe(v.string(), v.regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name"));
const Milliseconds = v.pipe(v.number(), v.integer(), v.minValue(1));
/** Model ids as clients send them: no whitespace. */
const ModelId = v.pipe(v.string(), v.regex(/^\S+$/, "must be a non-empty id without spaces"));
/** A DNS host name, lower-cased (`ithaca.lan`, `my-mac.local`). */
const HostName = v.pipe(
  v.string(),
  v.trim(),
  v.toLowerCase(),
  v.regex(
    /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*\.?$/,
    "must be a host name without port",
  ),
);
/** Upstream ids prefix model ids (`telemak1:qwen3`): a slug, as OdyssAI-X cluster ids (odyssai-x-wire §3.1). */
const UpstreamId = v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9-]{0,40}$/, "must match [a-z0-9][a-z0-9-]{0,40}"));

export const ServerSchema = v.strictObject({
  /** Interface to bind. Loopback by default: Ithaca is LAN-first and opens nothing without being told. */
  host: v.optional(NonEmpty, "127.0.0.1"),
  /** TCP port; 8000 is where Companion's LAN scan looks (telemak-companion-wire §9 #5). 0 picks a free port. */
  port: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(65535)), 8000),
  /** Largest request body accepted, in bytes; larger bodies get 413. */
  body_limit_bytes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1024)), 4 * 1024 * 1024),
  /**
   * Seconds a client connection may stay silent before it is closed (Bun's `idleTimeout`, at most 255, checked in
   * steps of a few seconds); 0 = never. Default 0: a long prefill on a local model, or a cloud model thinking, can hold
   * the first byte back for minutes, and Elysia's default of 30 s would cut such requests. Upstream deadlines
   * (`timeout_ms`) still bound every proxied request.
   */
  idle_timeout_s: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(255)), 0),
  /**
   * Milliseconds a client has to send a whole request body once its headers arrived; a body still incomplete then
   * gets 408 and the connection is closed (a stalled upload never holds a connection forever).
   */
  body_timeout_ms: v.optional(Milliseconds, 30_000),
  /**
   * Deepest nesting of arrays and objects accepted in a JSON body (`[[1]]` is 2), at most 1024; deeper bodies get 400
   * before they are parsed.
   */
  max_json_depth: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1024)), 64),
  /**
   * Host names this server answers for besides IP literals, `localhost` and `*.localhost` (e.g. `ithaca.lan`), as
   * clients put them in `Host`, without port; other names get 421 (DNS-rebinding protection). In open mode the same
   * rule applies to a browser's `Origin`.
   */
  allowed_hosts: v.optional(v.array(HostName), []),
  /**
   * Browser origins allowed to call Ithaca directly (CORS, telemak-companion-wire §9 #36), exactly as browsers send
   * them: `http://localhost:5173`. They get `Access-Control-Allow-Origin` and 204 preflights; none by default.
   */
  cors_origins: v.optional(
    v.array(v.pipe(v.string(), v.regex(/^https?:\/\/[^/\s]+$/, "must be an origin: scheme://host[:port], no path"))),
    [],
  ),
});

export const AuthSchema = v.strictObject({
  /** API keys accepted on `/v1/*` (`Authorization: Bearer` or `x-api-key`). None configured: open mode. */
  api_keys: v.optional(v.array(NonEmpty), []),
  /** Name of an environment variable holding more API keys, comma-separated. */
  api_keys_env: v.optional(EnvName),
  /** Name of an environment variable holding the admin token for `/admin/*`. */
  admin_token_env: v.optional(EnvName),
  /**
   * Name of an environment variable holding the enrolment secret: a client presenting it (`X-Ithaca-Enroll`) may
   * pair while the discovery gate is closed. `ITHACA_ENROLL_SECRET` wins.
   */
  enroll_secret_env: v.optional(EnvName),
});

const BYTE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/**
 * A size in bytes: a non-negative integer, or a string with a unit (`512MiB`, `24 GiB`, `1.5GB`; binary `KiB`/`MiB`/
 * `GiB`/`TiB` are powers of 1024, decimal `KB`/`MB`/`GB`/`TB` powers of 1000).
 */
const Bytes = v.pipe(
  v.union(
    [
      v.pipe(v.number(), v.integer(), v.minValue(0)),
      v.pipe(
        v.string(),
        v.regex(/^\s*\d+(\.\d+)?\s*([kmgt]i?b|b)?\s*$/i, "must be a size in bytes, e.g. 1073741824 or '1GiB'"),
      ),
    ],
    "must be a size in bytes, e.g. 1073741824 or '1GiB'",
  ),
  v.transform((value) => {
    if (typeof value === "number") return value;
    const [, number = "0", , unit = "b"] = /^\s*(\d+(\.\d+)?)\s*([a-z]*)\s*$/i.exec(value) ?? [];
    return Math.round(Number(number) * (BYTE_UNITS[unit.toLowerCase()] ?? 1));
  }),
);

/** A size in bytes of at least one byte (see {@link Bytes}). */
const PositiveBytes = v.pipe(Bytes, v.minValue(1, "must be at least 1 byte"));

export const EngineMemorySchema = v.strictObject({
  /**
   * Memory the local models may use together: weights (from the safetensors headers) plus each model's KV reserve.
   * A load that would exceed it is refused before anything is allocated. Default: 75% of the machine's memory.
   */
  budget_bytes: v.optional(Bytes),
  /**
   * Memory set aside per loaded model for KV caches and activations. Default: computed per model as
   * `2 (K and V) × layers × kv_heads × head_dim × activation bytes × min(context_length, 4096) × max_active`.
   */
  kv_reserve_bytes: v.optional(Bytes),
  /** MLX buffer-cache limit of each engine Worker (`mlx_set_cache_limit`); absent: MLX's default. */
  cache_limit_bytes: v.optional(Bytes),
  /** MLX wired-memory limit (`mlx_set_wired_limit`, Metal only); absent: MLX's default. */
  wired_limit_bytes: v.optional(Bytes),
});

/** `engine.prefix_cache`: KV caches kept between requests (src/engine/prefix-cache.ts). */
export const PrefixCacheSchema = v.strictObject({
  /** Keep KV caches between requests; off: every request prefills its whole prompt. */
  enabled: v.optional(v.boolean(), true),
  /** Reuse prefixes across sessions and for requests without `session_id` (same system prompt and tools). */
  shared: v.optional(v.boolean(), true),
  /** KV cache bytes kept per loaded model (buffer capacity); least recently used entries go first. */
  max_bytes: v.optional(Bytes, 2 * 1024 ** 3),
  /** Entries kept per loaded model (sessions and shared prefixes). */
  max_entries: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 64),
  /** Seconds an entry is kept after its last use; 0 = until evicted. */
  ttl_s: v.optional(v.pipe(v.number(), v.minValue(0)), 3600),
  /** Tokens per hashed block of the shared-prefix index: shared reuse starts at one full block. */
  block_size: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(4096)), 64),
});

export const EngineSchema = v.strictObject({
  /**
   * Model inventory: every subdirectory holding a `config.json` is a model whose id is the directory name, listed but
   * loaded only when asked (admin API or on demand). Relative to the config file. Absent: no inventory (the embedded
   * default uses the repository's `models/`).
   */
  models_dir: v.optional(NonEmpty),
  /** A request naming a known but unloaded model loads it first (memory-fit checked); off: 404 until loaded. */
  load_on_demand: v.optional(v.boolean(), true),
  /** Unload a model after this many seconds without a request in flight; 0 = never. */
  idle_ttl_s: v.optional(v.pipe(v.number(), v.minValue(0)), 0),
  /** Generations one model decodes together. */
  max_active: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 4),
  /** Requests allowed to wait per model beyond `max_active`; more get 503 with `Retry-After`. */
  max_queue: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 16),
  memory: v.optional(EngineMemorySchema, {}),
  prefix_cache: v.optional(PrefixCacheSchema, {}),
  /**
   * Cast bf16/f16 quantization scales and biases to float32 when a quantized model loads. MLX's CPU quantized matmul
   * is 12× (bf16 scales) to 40× (f16) faster with f32 scales, but the results are no longer bit-identical to
   * mlx-lm's, so greedy output may diverge from it: off by default (issue 16 item 5). For MLX on the CPU.
   */
  upcast_quantized_scales: v.optional(v.boolean(), false),
  /**
   * CPU threads each quantized matmul is spread over (MLX runs its CPU quantized matmul on one thread): its output
   * rows are cut into bands computed in parallel, bit-identical to the unsplit matmul. `auto`: the CPUs this process
   * may use, at most 8; 1: off. No effect on a GPU.
   */
  matmul_streams: v.optional(
    v.union([v.literal("auto"), v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(64))]),
    "auto",
  ),
});

export const LocalModelSchema = v.strictObject({
  /** The id clients send as `model`. */
  id: ModelId,
  /** Model directory in the mlx-community layout; relative paths are relative to the config file. */
  path: NonEmpty,
  /** Other ids that resolve to this model. */
  aliases: v.optional(v.array(ModelId), []),
});

export const TimeoutsSchema = v.strictObject({
  /**
   * Deadline for the upstream's response headers on streaming requests (engines send them before generating) and
   * for discovery probes (`/models`, the contract). Catches a dead or wedged host quickly.
   */
  connect: v.optional(Milliseconds, 10_000),
  /** Deadline for the first byte of the answer, headers included (a non-stream answer arrives only when done). */
  first_byte: v.optional(Milliseconds, 300_000),
  /** Longest silence between two body chunks once the answer started. */
  idle: v.optional(Milliseconds, 120_000),
});

export const RetrySchema = v.strictObject({
  /**
   * Tries per request, the first included (1 = no retry). Only failures before the first byte of the answer are
   * retried: connection errors, the `connect` deadline, 429, 500, 502, 503, 504 and 529.
   */
  attempts: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10)), 3),
  /** First backoff delay (ms); doubles per retry, with jitter, up to `max_delay_ms`. */
  base_delay_ms: v.optional(Milliseconds, 500),
  max_delay_ms: v.optional(Milliseconds, 8_000),
  /** A `Retry-After` longer than this (ms) is not waited for: the failure goes to the fallbacks or the client. */
  max_retry_after_ms: v.optional(Milliseconds, 30_000),
});

export const CooldownSchema = v.strictObject({
  /** Consecutive failed requests (after their retries) that put the upstream in cool-down. */
  failures: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 3),
  /** How long a cooling upstream is skipped (ms); then one trial request decides. */
  duration_ms: v.optional(Milliseconds, 30_000),
});

/** A model published under an alias of the operator's choice (`or:claude-haiku` → `anthropic/claude-3.5-haiku`). */
export const PublishedModelSchema = v.strictObject({
  /** The id clients send as `model`. */
  alias: ModelId,
  /** The upstream's own model id. */
  model: NonEmpty,
  /** Declared capability flags (`tools`, `vision`, `thinking`, `embeddings`...), published in the catalog. */
  capabilities: v.optional(v.array(NonEmpty), []),
  /** Context window in tokens, when known. */
  context_length: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
});

/** `upstreams[].limits`: the most Ithaca reads of what an upstream sends, in bytes. */
export const UpstreamLimitsSchema = v.strictObject({
  /** Largest non-stream answer body read from the upstream. */
  max_body_bytes: v.optional(PositiveBytes, 64 * 1024 ** 2),
  /** Largest error body read from the upstream (quoted in the error Ithaca answers). */
  max_error_body_bytes: v.optional(PositiveBytes, 64 * 1024),
  /** Longest SSE line, and longest SSE event, read from the upstream's stream. */
  max_sse_line_bytes: v.optional(PositiveBytes, 8 * 1024 ** 2),
});

export const UpstreamSchema = v.strictObject({
  /** Slug; model ids become `<id>:<short model name>`. */
  id: UpstreamId,
  /**
   * Wire protocol: `openai-http` (Telemak, Ithaca, mlx_lm.server, vLLM, Ollama, OpenAI, OpenRouter) or
   * `anthropic-http` (Anthropic's Messages API).
   */
  kind: v.optional(v.picklist(["openai-http", "anthropic-http"]), "openai-http"),
  /**
   * Base URL including the API prefix: `http://10.0.0.5:8003/v1`, `https://openrouter.ai/api/v1`,
   * `https://api.anthropic.com/v1` (`/chat/completions`, `/messages`, `/models`, `/embeddings` are appended).
   */
  base_url: v.pipe(NonEmpty, v.url("must be an absolute URL")),
  /**
   * Name of the environment variable holding the upstream's API key, sent as `Authorization: Bearer`
   * (`openai-http`) or `x-api-key` (`anthropic-http`); never logged or returned.
   */
  api_key_env: v.optional(EnvName),
  /**
   * Extra headers sent with every request, e.g. OpenRouter's attribution `HTTP-Referer` and `X-Title` (for an
   * `openrouter.ai` base URL, `X-Title: Ithaca` is sent unless set here).
   */
  headers: v.optional(
    v.record(v.pipe(v.string(), v.regex(/^[A-Za-z0-9-]+$/, "must be a header name")), v.string()),
    {},
  ),
  /** `anthropic-http`: the `anthropic-version` header. */
  anthropic_version: v.optional(NonEmpty, "2023-06-01"),
  /** `anthropic-http`: `anthropic-beta` flags always sent (the client's own `anthropic-beta` is added). */
  anthropic_beta: v.optional(v.array(NonEmpty), []),
  /**
   * Models published under chosen aliases. When present, exactly these are served (no discovery), with their
   * declared capabilities; otherwise the upstream's `GET /models` is used.
   */
  published: v.optional(v.array(PublishedModelSchema)),
  /** Upstream model ids to serve; absent: discovered from `GET {base_url}/models`. */
  models: v.optional(v.array(NonEmpty)),
  /** Display name (`x_odyssai.cluster_label`); defaults to `id`. */
  label: v.optional(NonEmpty),
  /**
   * What runs there, when its contract does not say: `telemak` publishes its models as OdyssAI-X publishes a
   * Telemak's (`x_odyssai.kind: "telemak"`, grouped under its label by Companion). Enrolment sets it.
   */
  engine: v.optional(v.picklist(["telemak", "ithaca", "odyssai-x", "openai-compatible"])),
  /** A cloud provider rather than a LAN engine: published as `owned_by: odyssai-cloud-<id>` so clients treat it so. */
  cloud: v.optional(v.boolean(), false),
  /**
   * `max_tokens` sent to an engine that has no cap of its own (a Telemak) when a request names none, in tokens;
   * `max_completion_tokens` is sent to it as `max_tokens` (telemak-companion-wire §9 #19).
   */
  default_max_tokens: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 4096),
  timeout_ms: v.optional(TimeoutsSchema, {}),
  /**
   * Send the conversation id upstream (`session_id` body field and `X-Session-Id`); off: `session_id` is removed.
   * Default: on for LAN engines, off for `cloud` upstreams and `anthropic-http` (strict APIs reject unknown fields).
   */
  forward_session_id: v.optional(v.boolean()),
  retry: v.optional(RetrySchema, {}),
  cooldown: v.optional(CooldownSchema, {}),
  limits: v.optional(UpstreamLimitsSchema, {}),
});

/** `request_log`: every inference request recorded in the runtime database (src/store/request-log.ts). */
export const RequestLogSchema = v.strictObject({
  /** Record requests (the in-flight list, `/admin/runs` and `/metrics` work either way). */
  enabled: v.optional(v.boolean(), true),
  /** Rows older than this many days are deleted; 0 = no age bound. */
  max_age_days: v.optional(v.pipe(v.number(), v.minValue(0)), 30),
  /** At most this many rows are kept, the oldest deleted first; 0 = no row bound. */
  max_rows: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 100_000),
  /** Rows wait in memory at most this long (ms) before they are written, in one transaction. */
  flush_ms: v.optional(Milliseconds, 1_000),
  /** A batch this large is written at once, without waiting for `flush_ms`. */
  batch_rows: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 500),
});

export const ConfigSchema = v.strictObject({
  server: v.optional(ServerSchema, {}),
  auth: v.optional(AuthSchema, {}),
  /** Data directory (SQLite state); `ITHACA_HOME`, default `~/.ithaca`. */
  home: v.optional(NonEmpty),
  /** Local MLX models. */
  models: v.optional(v.array(LocalModelSchema), []),
  /** OpenAI-compatible upstream engines. */
  upstreams: v.optional(v.array(UpstreamSchema), []),
  /**
   * Model id patterns (globs, case-insensitive) → the id that serves them, consulted when no model matches the
   * request: `{ "claude-*": qwen3-4b }` lets Claude Code run on a local model without setting `ANTHROPIC_MODEL`.
   * First matching pattern wins, in file order.
   */
  aliases: v.optional(v.record(v.pipe(v.string(), v.minLength(1)), ModelId), {}),
  /**
   * Fallback lists: a model id (or alias) → the ids tried, in order, when it fails before its answer starts
   * (unreachable, timeout, 429 or 5xx after retries, or cooling down). `{ "or:claude-haiku": [claude-haiku, demo] }`.
   */
  fallbacks: v.optional(v.record(ModelId, v.array(ModelId)), {}),
  /** Modules whose default export is an Elysia plugin (e.g. a routing policy); relative to the config file. */
  plugins: v.optional(v.array(NonEmpty), []),
  /** The local engine: model inventory, on-demand loading, idle unloading, concurrency and memory limits. */
  engine: v.optional(EngineSchema, {}),
  /** The request log: retention (age, rows) and batching. */
  request_log: v.optional(RequestLogSchema, {}),
});

export type LocalModelConfig = v.InferOutput<typeof LocalModelSchema>;

/** The `engine:` section as the app gets it: `models_dir` absolute, `memory.budget_bytes` resolved. */
export type EngineConfig = Omit<v.InferOutput<typeof EngineSchema>, "memory"> & {
  memory: Omit<v.InferOutput<typeof EngineMemorySchema>, "budget_bytes"> & { budget_bytes: number };
};

/**
 * An upstream as the app gets it: `api_key` is read from the variable `api_key_env` names (never logged);
 * `forward_session_id` is resolved.
 */
export type UpstreamConfig = Omit<v.InferOutput<typeof UpstreamSchema>, "forward_session_id"> & {
  api_key?: string;
  forward_session_id: boolean;
};

/**
 * A complete, resolved configuration: defaults filled, paths absolute, secrets named by `*_env` read
 * (`auth.api_keys` merged, `auth.admin_token`, `upstreams[].api_key`), the memory budget defaulted.
 */
export type Config = Omit<v.InferOutput<typeof ConfigSchema>, "home" | "auth" | "upstreams" | "engine"> & {
  home: string;
  engine: EngineConfig;
  auth: v.InferOutput<typeof AuthSchema> & { admin_token?: string; enroll_secret?: string };
  upstreams: UpstreamConfig[];
};
