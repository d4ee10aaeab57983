/**
 * The Ithaca HTTP app: the request pipeline of DESIGN §2, top to bottom.
 *
 *   Host/Origin check → openapi (/swagger) → errors in the caller's dialect → JSON body under the limits
 *   → auth → contract → session → router → user plugins → routes
 *
 * Routes (handlers in src/routes/): `/v1/chat/completions`, `/v1/messages` (+ `/count_tokens`), `/v1/responses`,
 * `/v1/embeddings`, `/v1/models`, `/health`; each routed request runs along the router's plan (fallbacks).
 *
 * Backends are built from the configuration (local models in one MLX backend, one passthrough backend per upstream)
 * unless the caller injects its own. `/admin/models*` manages the local engine's models (src/admin/models.ts).
 */
import { openapi } from "@elysiajs/openapi";
import { toJsonSchema } from "@valibot/to-json-schema";
import { Elysia } from "elysia";
import * as v from "valibot";
import packageJson from "../package.json" with { type: "json" };
import { authPlugin } from "../plugins/auth.ts";
import { contractPlugin } from "../plugins/contract.ts";
import { routerPlugin, routingPolicy } from "../plugins/router.ts";
import { Router } from "./routing/router.ts";
import { sessionAffinity } from "./routing/session-affinity.ts";
import { sessionPlugin } from "../plugins/session.ts";
import { corsPlugin } from "./access/cors.ts";
import { createHostCheck } from "./access/host-check.ts";
import { adminClustersRoutes } from "./admin/clusters.ts";
import { RingClusters } from "./fleet/ring/clusters.ts";
import { adminSshRoutes } from "./admin/ssh.ts";
import { SshPool } from "./fleet/ssh.ts";
import { SshOps } from "./fleet/ssh-ops.ts";
import { adminModelsRoutes } from "./admin/models.ts";
import { adminProvidersRoutes } from "./admin/providers.ts";
import { adminPairingRoutes } from "./admin/pairing.ts";
import { Pairing } from "./access/pairing.ts";
import { ApiKeys } from "./access/api-keys.ts";
import { KeyLimits } from "./access/key-limits.ts";
import { adminKeysRoutes } from "./admin/keys.ts";
import { adminCatalogRoutes } from "./admin/catalog.ts";
import { dashboardRoutes } from "./dashboard/routes.ts";
import { SWAGGER_ASSETS, swaggerAssetRoutes } from "./routes/swagger-assets.ts";
import { buildContract } from "./catalog/contract.ts";
import { adminSessionsRoutes } from "./admin/sessions.ts";
import type { Backend } from "./backends/backend.ts";
import type { LocalModels } from "./backends/mlx/registry.ts";
import { createAnthropicHttpBackend } from "./backends/anthropic/backend.ts";
import { createOpenAIHttpBackend } from "./backends/openai/backend.ts";
import { BackendRegistry } from "./backends/registry.ts";
import { Catalog } from "./catalog/catalog.ts";
import { toOpenAIModel } from "./catalog/openai-models.ts";
import { loadPlugins } from "./config/plugins.ts";
import type { Config } from "./config/schema.ts";
import { CountTokensRequestSchema, MessagesRequestSchema, type MessagesRequest } from "./protocol/anthropic.ts";
import { errorResponseFor, requestPath } from "./protocol/dialect.ts";
import { toOpenAIError } from "./protocol/errors.ts";
import { isJsonMediaType, mediaType, readJsonBody, requireJsonMediaType } from "./protocol/json-body.ts";
import { ChatCompletionRequestSchema } from "./protocol/openai-request.ts";
import { ResponsesRequestSchema } from "./protocol/responses.ts";
import { Store } from "./store/store.ts";
import { Enrolment } from "./fleet/enrolment.ts";
import { Providers } from "./fleet/providers.ts";
import { chatCompletions } from "./routes/chat.ts";
import { embeddings, EmbeddingsRequestSchema } from "./routes/embeddings.ts";
import { countTokens, messages } from "./routes/messages.ts";
import { responses } from "./routes/responses.ts";
import { runsPlugin } from "../plugins/runs.ts";
import { adminMetricsRoutes } from "./admin/metrics.ts";
import { prometheusRoutes } from "./admin/prometheus.ts";
import { adminRunsRoutes } from "./admin/runs.ts";
import { adminSettingsRoutes } from "./admin/settings.ts";
import { adminStatusRoutes } from "./admin/status.ts";
import { adminVersionRoutes } from "./admin/version.ts";
import { RequestMetrics } from "./routes/request-metrics.ts";
import { Runs } from "./routes/runs.ts";
import { RequestLog } from "./store/request-log.ts";
import { OperatorSettings } from "./store/settings.ts";

export const VERSION: string = packageJson.version;

export interface AppDeps {
  /**
   * The backends to serve, replacing those the config describes (tests inject upstream-only or recording backends).
   * Default: one MLX backend for `config.models` and `config.engine.models_dir` (when any) followed by one
   * passthrough backend per upstream. The admin model API manages the first `mlx` backend's models, if any.
   */
  backends?: Backend[];
}

/**
 * Builds the backends `config` describes; the local one first, so local ids win a clash. The local backend exists
 * when models are configured or an inventory directory is set; its registry (`local`) serves the admin API.
 */
async function createBackends(config: Config): Promise<{ backends: Backend[]; local?: LocalModels }> {
  const upstreams = config.upstreams.map((upstream) =>
    upstream.kind === "anthropic-http" ? createAnthropicHttpBackend(upstream) : createOpenAIHttpBackend(upstream),
  );
  if (config.models.length === 0 && config.engine.models_dir === undefined) return { backends: upstreams };
  const { createMlxBackend } = await import("./backends/mlx/backend.ts");
  const local = await createMlxBackend({ models: config.models, engine: config.engine });
  return { backends: [local, ...upstreams], local: local.models };
}

/**
 * Action routes whose body is optional: an empty body reads as `{}` (`POST /admin/sessions/clear` clears all,
 * `POST /admin/clusters/{id}/unload` unloads all, `…/reset` takes none, `POST /admin/providers/{id}/test` takes
 * none). A `DELETE` may carry none either.
 */
const OPTIONAL_BODY =
  /^\/admin\/(sessions\/clear|clusters\/[^/]+\/(unload|reset)|providers\/[^/]+\/test|discovery\/(enable|disable)|keys\/[^/]+\/rotate|runs\/([^/]+\/cancel|cancel-all))$/;

/** Routes whose bodies are JSON and nothing else (`/v1/*`, `/admin/*`): any other media type gets 415. */
const JSON_ROUTES = /^\/(v1|admin)(\/|$)/;

/** `GET /v1/models` query: `include_unloaded=true` also lists known local models that are not loaded. */
const ModelsQuerySchema = v.object({
  include_unloaded: v.optional(v.picklist(["true", "false", "1", "0"], "must be true or false")),
});

/**
 * Creates the app (not listening yet).
 * @returns `app` (Elysia; `app.listen({ hostname, port })`, `app.handle(request)`), the `catalog`, the `router` (for
 *   `registerPolicy`), the backend `registry`, and `close(graceMs = 10000)`: stops accepting connections, lets requests in
 *   flight finish for up to `graceMs` milliseconds, then closes every backend (which cancels what is still running).
 * @throws ConfigError when a configured plugin cannot be loaded; whatever backend construction throws (e.g. a local
 *   model directory that cannot be loaded).
 */
export async function createApp(config: Config, deps: AppDeps = {}) {
  const userPlugins = await loadPlugins(config.plugins);
  const store = Store.open(config.home);
  const built = deps.backends ? { backends: deps.backends } : await createBackends(config);
  const backends = built.backends;
  const localModels =
    built.local ?? (backends.find((backend) => backend.kind === "mlx") as { models?: LocalModels } | undefined)?.models;
  const registry = new BackendRegistry(backends);
  const catalog = new Catalog(registry);
  const ssh = new SshPool();
  const enrolment = new Enrolment(store, registry, config.upstreams, process.env, ssh);
  enrolment.restore();
  const rings = new RingClusters(store, ssh, registry);
  const providers = new Providers(store, registry, config.upstreams);
  providers.restore();
  const pairing = new Pairing(store.crew, config.auth.enroll_secret);
  const apiKeys = new ApiKeys(store.apiKeys);
  const keyLimits = new KeyLimits();
  const router = new Router(catalog, { fallbacks: config.fallbacks, aliases: config.aliases });
  const runs = new Runs();
  const requestLog = new RequestLog(store.requests, config.request_log);
  const requestMetrics = new RequestMetrics(runs);
  runs.onEnd((row) => requestLog.add(row));
  runs.onEnd((row) => requestMetrics.observe(row));
  // An issued key's tokens per minute are charged once the answer's usage is known.
  runs.onEnd((row) => {
    const key = row.caller?.startsWith("key:") ? apiKeys.issued(row.caller.slice(4)) : undefined;
    if (key) void keyLimits.spend(key, (row.prompt_tokens ?? 0) + (row.completion_tokens ?? 0));
  });
  const settings = new OperatorSettings(store);
  const startedAt = Date.now();
  const bodyLimit = config.server.body_limit_bytes;
  const bodyLimits = {
    maxBytes: bodyLimit,
    timeoutMs: config.server.body_timeout_ms,
    maxDepth: config.server.max_json_depth,
  };
  const apiKeysRequired = config.auth.api_keys.length > 0;
  const adminTokenRequired = config.auth.admin_token !== undefined;
  const contractContext = {
    version: VERSION,
    /** Configured keys, or any issued at runtime. */
    get apiKeysRequired() {
      return apiKeysRequired || apiKeys.count > 0;
    },
    adminTokenRequired,
    bodyLimitBytes: bodyLimit,
  };
  const hostCheck = createHostCheck({
    allowedHosts: config.server.allowed_hosts,
    checkOrigin: !apiKeysRequired,
    corsOrigins: config.server.cors_origins,
  });

  const pipeline = new Elysia({
    name: "ithaca",
    // Bodies over the limit get an OpenAI-shaped 413 from readJsonBody (declared or chunked). Bun's own limit, well
    // above, answers a bare 413 and only backstops routes that never read their body.
    // idleTimeout: see server.idle_timeout_s. reusePort off (Elysia turns it on): a second server on a port already in
    // use must fail, not silently share the port. development off whatever NODE_ENV says: Bun's development error
    // page shows source paths and stacks. (Elysia reads NODE_ENV once, when loaded: src/main.ts sets it first.)
    serve: {
      maxRequestBodySize: bodyLimit + 64 * 1024 * 1024,
      idleTimeout: config.server.idle_timeout_s,
      reusePort: false,
      development: false,
    },
  })
    .onRequest(({ request }) => {
      const refusal = hostCheck(request);
      if (refusal) return errorResponseFor(request, refusal);
    })
    .use(
      openapi({
        path: "/swagger",
        provider: "swagger-ui",
        // Served by Ithaca, not a CDN: the page works without internet.
        swagger: { cdn: SWAGGER_ASSETS.script, theme: SWAGGER_ASSETS.stylesheet } as never,
        mapJsonSchema: { valibot: toJsonSchema },
        documentation: { info: { title: "Ithaca", version: VERSION, description: "Local-first LLM gateway" } },
      }),
    )
    .onError(({ code, error, request }) =>
      errorResponseFor(request, toOpenAIError(code, error, request.method, requestPath(request))),
    )
    .onParse(({ request }) => {
      const path = requestPath(request);
      // A route a user plugin adds may take other media types: Elysia parses those by their Content-Type.
      if (!JSON_ROUTES.test(path) && !isJsonMediaType(mediaType(request.headers.get("content-type")) ?? "")) {
        return undefined;
      }
      requireJsonMediaType(request);
      const optional = OPTIONAL_BODY.test(path) || request.method === "DELETE";
      return readJsonBody(request, bodyLimits, optional ? {} : undefined);
    })
    // Preflights are answered before auth (they carry no credentials); only configured origins get CORS headers.
    .use(corsPlugin(config.server.cors_origins))
    .use(
      authPlugin({
        apiKeys: config.auth.api_keys,
        adminToken: config.auth.admin_token,
        crewMember: (token) => pairing.member(token)?.id,
        issuedKey: (secret) => apiKeys.verify(secret),
        issuedKeyCount: () => apiKeys.count,
        limits: keyLimits,
      }),
    )
    .use(runsPlugin(runs))
    .use(contractPlugin({ catalog, context: contractContext }))
    .use(sessionPlugin())
    .use(routerPlugin(router))
    .use(routingPolicy(sessionAffinity));

  for (const plugin of userPlugins) pipeline.use(plugin);
  pipeline
    .use(adminModelsRoutes(localModels))
    .use(adminSessionsRoutes(localModels))
    .use(adminClustersRoutes(enrolment, rings))
    .use(adminSshRoutes(new SshOps(enrolment, ssh)))
    .use(adminProvidersRoutes(providers))
    .use(adminMetricsRoutes({ table: store.requests, log: requestLog, options: config.request_log, runs }))
    .use(prometheusRoutes(requestMetrics))
    .use(adminRunsRoutes(runs, store.requests, requestLog))
    .use(adminVersionRoutes({ version: VERSION, registry }))
    .use(adminStatusRoutes(catalog, runs))
    .use(adminSettingsRoutes(settings))
    .use(adminPairingRoutes(pairing, async () => buildContract(await catalog.entries(), contractContext)))
    .use(adminKeysRoutes(apiKeys))
    .use(adminCatalogRoutes(catalog, Math.floor(startedAt / 1000)))
    .use(dashboardRoutes())
    .use(swaggerAssetRoutes());

  const created = Math.floor(startedAt / 1000);
  const app = pipeline
    .post(
      "/v1/chat/completions",
      ({ body, plan, sessionId, caller, request, run }) =>
        chatCompletions(body, { plan, sessionId, cacheScope: caller.scope, request, run, defaults: settings }),
      {
        body: ChatCompletionRequestSchema,
        parse: "json",
        routed: true,
        detail: { summary: "Create a chat completion (OpenAI dialect; stream or not)", tags: ["OpenAI"] },
      },
    )
    .post(
      "/v1/messages",
      ({ body, plan, sessionId, caller, request, run }) =>
        messages(body, { plan, sessionId, cacheScope: caller.scope, request, run, defaults: settings }),
      {
        body: MessagesRequestSchema,
        parse: "json",
        routed: true,
        detail: { summary: "Create a message (Anthropic dialect; stream or not)", tags: ["Anthropic"] },
      },
    )
    .post(
      "/v1/messages/count_tokens",
      ({ body, plan, sessionId, caller, request }) =>
        countTokens(body as MessagesRequest, { plan, sessionId, cacheScope: caller.scope, request }),
      {
        body: CountTokensRequestSchema,
        parse: "json",
        routed: true,
        detail: { summary: "Count the input tokens of a Messages request (Anthropic dialect)", tags: ["Anthropic"] },
      },
    )
    .post(
      "/v1/responses",
      ({ body, plan, sessionId, caller, request, run }) =>
        responses(body, { plan, sessionId, cacheScope: caller.scope, request, run, defaults: settings }),
      {
        body: ResponsesRequestSchema,
        parse: "json",
        routed: true,
        detail: { summary: "Create a model response (OpenAI Responses API, stateless)", tags: ["OpenAI"] },
      },
    )
    .post(
      "/v1/embeddings",
      ({ body, plan, sessionId, caller, request, run }) =>
        embeddings(body, { plan, sessionId, cacheScope: caller.scope, request, run, defaults: settings }),
      {
        body: EmbeddingsRequestSchema,
        parse: "json",
        routed: true,
        detail: { summary: "Create embeddings (passed through to upstreams that serve them)", tags: ["OpenAI"] },
      },
    )
    .get(
      "/v1/models",
      async ({ query, caller }) => {
        const all = query.include_unloaded === "true" || query.include_unloaded === "1";
        // An issued key sees the models it may use.
        const entries = (await catalog.entries()).filter(
          (entry) => (all || entry.model.ready) && (caller.key?.allows(entry.model.id) ?? true),
        );
        return { object: "list", data: entries.map((entry) => toOpenAIModel(entry, created)) };
      },
      {
        query: ModelsQuerySchema,
        detail: {
          summary: "List servable models (OpenAI list + x_odyssai); include_unloaded=true adds local models not loaded",
          tags: ["OpenAI"],
        },
      },
    )
    .get(
      "/health",
      () => ({
        status: "ok",
        version: VERSION,
        uptime_s: Math.round((Date.now() - startedAt) / 1000),
        admin_auth_enabled: adminTokenRequired,
        api_keys_required: apiKeysRequired,
        backends: Object.fromEntries(
          registry.list().map((backend) => [backend.id, { kind: backend.kind, ...backend.stats() }]),
        ),
      }),
      { detail: { summary: "Liveness and per-backend counters", tags: ["Discovery"] } },
    );

  return {
    app,
    catalog,
    router,
    /** The live backends: `registry.add(backend)` / `registry.remove(id)` change what is served while it runs. */
    registry,
    /** The local engine's model registry (load, unload, inventory), when there is a local backend. */
    localModels,
    /** The runtime database under `config.home` (src/store/), open and migrated. */
    store,
    /** The inference requests in flight (`/admin/runs`), and who hears of those that end. */
    runs,
    /** The request log's writer (`flush()` writes what is queued). */
    requestLog,
    async close(graceMs = 10_000): Promise<void> {
      const stopped = app.server ? app.stop() : Promise.resolve(app);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      });
      await Promise.race([stopped, grace]).finally(() => clearTimeout(timer));
      await rings.close();
      await registry.close();
      await stopped;
      ssh.close();
      requestLog.close();
      store.close();
    },
  };
}

/** What {@link createApp} returns. */
export type Ithaca = Awaited<ReturnType<typeof createApp>>;
