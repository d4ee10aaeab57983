/**
 * `/admin/sessions*`: the local engine's prefix cache (behind the admin token, see src/access/authenticate.ts;
 * reference/odyssai-x-wire.md §5.4 names the routes).
 *
 * - `GET /admin/sessions[?model=id]` — every kept KV cache of the loaded models: `data[]` of `{id, kind, model,
 *   cache_scope, scope, tokens, bytes, last_use}` (`id` is the session id, null for an unowned shared prefix; `kind`
 *   `session` or `shared`; `cache_scope` the caller scope it belongs to — `open`, `admin` or `key:<hex>`, only that
 *   caller's requests reuse it —; `scope` the hash of its template options; `tokens` cached; `bytes` of KV buffers;
 *   `last_use` unix seconds), most recently used first; `models[]` the per-model totals against the configured limits.
 * - `POST /admin/sessions/clear` `{session_id?, model?}` — drops one session id's caches (with `session_id`, in every
 *   caller scope) or every kept cache (without), on one model (`model`) or all; an empty body clears everything.
 *   Answers `{cleared: N}`.
 *
 * Bad bodies get 400 in the OpenAI error shape naming the field; an unknown `model` 404 `model_not_found`.
 */
import type { AnyElysia } from "elysia";
import * as v from "valibot";
import type { EngineClient, LocalModels } from "../backends/mlx/registry.ts";
import { noEngine } from "./models.ts";

const NonEmpty = v.pipe(v.string(), v.minLength(1, "must be a non-empty string"));

/** Body of `POST /admin/sessions/clear` (absent or `{}`: everything). */
export const ClearSessionsSchema = v.optional(
  v.strictObject({
    /** The session whose caches to drop (in every caller scope); absent: every entry. */
    session_id: v.optional(NonEmpty),
    /** Only this local model (id or alias); absent: every loaded model. */
    model: v.optional(NonEmpty),
  }),
  {},
);

const SessionsQuerySchema = v.object({ model: v.optional(NonEmpty) });

/**
 * The loaded engines to act on: all, or the one `model` names (a known but unloaded model has nothing cached).
 * @throws OpenAIError 404 `model_not_found` for an id no local model has
 */
async function enginesOf(
  models: LocalModels | undefined,
  model: string | undefined,
): Promise<[string, EngineClient][]> {
  const engines = [...(models?.engines() ?? [])];
  if (model === undefined) return engines;
  if (!models) throw noEngine(model);
  const { id } = await models.resolve(model);
  return engines.filter(([loaded]) => loaded === id);
}

/**
 * Adds the `/admin/sessions*` routes to `app` (a functional plugin: the app's error handler and auth apply).
 * @param models the local engine's registry; absent when no local engine is configured (empty lists)
 */
export function adminSessionsRoutes(models: LocalModels | undefined) {
  return (app: AnyElysia) =>
    app
      .get(
        "/admin/sessions",
        async ({ query }) => {
          const engines = await enginesOf(models, (query as v.InferOutput<typeof SessionsQuerySchema>).model);
          const perModel = await Promise.all(
            engines.map(async ([model, engine]) => ({ model, entries: await engine.sessions() })),
          );
          const data = perModel
            .flatMap(({ model, entries }) =>
              entries.map((entry) => ({
                id: entry.session_id,
                kind: entry.session_id === null ? "shared" : "session",
                model,
                cache_scope: entry.cache_scope,
                scope: entry.scope,
                tokens: entry.tokens,
                bytes: entry.bytes,
                last_use: Math.floor(entry.last_use / 1000),
              })),
            )
            .sort((a, b) => b.last_use - a.last_use);
          const limits = models?.settings.prefix_cache;
          return {
            object: "list",
            data,
            models: perModel.map(({ model, entries }) => ({
              model,
              entries: entries.length,
              bytes: entries.reduce((sum, entry) => sum + entry.bytes, 0),
              max_bytes: limits?.max_bytes ?? null,
              max_entries: limits?.max_entries ?? null,
            })),
          };
        },
        {
          query: SessionsQuerySchema,
          detail: { summary: "Prefix cache: kept KV caches by session and model (admin)", tags: ["Admin"] },
        },
      )
      .post(
        "/admin/sessions/clear",
        async ({ body }) => {
          const { session_id: sessionId, model } = body as v.InferOutput<typeof ClearSessionsSchema>;
          const engines = await enginesOf(models, model);
          const counts = await Promise.all(engines.map(([, engine]) => engine.clearSessions(sessionId)));
          return { cleared: counts.reduce((sum, n) => sum + n, 0) };
        },
        {
          body: ClearSessionsSchema,
          detail: { summary: "Drop one session's KV cache or all of them (admin)", tags: ["Admin"] },
        },
      );
}
