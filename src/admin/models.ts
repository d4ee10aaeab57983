/**
 * `/admin/models*`: model management for the local engine (behind the admin token, see src/access/authenticate.ts).
 *
 * - `GET /admin/models` — every local model (configured and inventory) with its state (`loaded`, `loading`,
 *   `unloading`, `unloaded`), sizes, KV reserve, requests in flight and last use; the memory budget and what is
 *   reserved; the engine settings.
 * - `POST /admin/models/load {"model": id}` — loads a configured or inventory model (id or alias). 200 with the
 *   model (`already_loaded: true` when it was: loading is idempotent); 404 `model_not_found`; 400 `model_too_large`
 *   when it does not fit in the memory budget (checked before any Worker starts); 400 `model_unloadable` when its
 *   directory cannot be read; 500 `model_load_failed` when the Worker fails to load it.
 * - `POST /admin/models/unload {"model": id}` — cancels the model's generations in flight (their clients get 503
 *   `model_unloaded`, in-band for streams), then frees its Worker. 200 with the model (`was_loaded: false` when it
 *   was not loaded: unloading is idempotent); 404 `model_not_found`.
 *
 * - `GET /admin/models/{id}/stats` — a loaded model's engine counters, from its Worker: requests (completed,
 *   cancelled, failed), tokens, queued and active generations, batch decode steps, MLX arrays alive (`liveArrays`: a
 *   leak shows here), prefix cache entries and bytes, MLX memory. 404 `model_not_found`; 409 `model_not_loaded`.
 *
 * Bad bodies get 400 in the OpenAI error shape naming the field.
 */
import type { AnyElysia } from "elysia";
import * as v from "valibot";
import type { LocalModels } from "../backends/mlx/registry.ts";
import { OpenAIError } from "../protocol/errors.ts";

/** Body of the load and unload requests. */
export const ModelActionSchema = v.strictObject({
  /** Model id (or alias) as `GET /admin/models` lists it. */
  model: v.pipe(v.string(), v.minLength(1, "must be a non-empty model id")),
});

type ModelAction = v.InferOutput<typeof ModelActionSchema>;

/** 404 for a model id when no local engine is configured. */
export const noEngine = (id: string) =>
  new OpenAIError(404, `model '${id}' is not a local model: no local engine is configured`, {
    param: "model",
    code: "model_not_found",
  });

/**
 * Adds the `/admin/models*` routes to `app` (a functional plugin: the app's error handler and auth apply).
 * @param models the local engine's registry; absent when no local engine is configured (empty list, 404s)
 */
export function adminModelsRoutes(models: LocalModels | undefined) {
  return (app: AnyElysia) =>
    app
      .get(
        "/admin/models",
        async () => {
          if (!models) return { object: "list", data: [], memory: null, engine: null };
          const known = await models.known(true);
          const { models_dir, load_on_demand, idle_ttl_s, max_active, max_queue } = models.settings;
          return {
            object: "list",
            data: known.map((model) => models.view(model)),
            memory: models.memory(),
            engine: { models_dir: models_dir ?? null, load_on_demand, idle_ttl_s, max_active, max_queue },
          };
        },
        { detail: { summary: "Local models: state, sizes, memory budget (admin)", tags: ["Admin"] } },
      )
      .get(
        "/admin/models/:id/stats",
        async ({ params }) => {
          if (!models) throw noEngine(params.id);
          const model = await models.resolve(params.id);
          const engine = models.engines().get(model.id);
          if (!engine) {
            throw new OpenAIError(409, `model '${model.id}' is not loaded`, { code: "model_not_loaded", param: "id" });
          }
          return { id: model.id, ...(await engine.stats()) };
        },
        {
          detail: {
            summary: "A loaded model's engine counters: arrays alive, batch, prefix cache (admin)",
            tags: ["Admin"],
          },
        },
      )
      .post(
        "/admin/models/load",
        async (context) => {
          const body = context.body as ModelAction; // validated against ModelActionSchema
          if (!models) throw noEngine(body.model);
          const model = await models.resolve(body.model);
          const { started } = await models.load(model);
          return { ...models.view(model), already_loaded: !started };
        },
        {
          body: ModelActionSchema,
          parse: "json",
          detail: { summary: "Load a local model (memory-fit checked; idempotent) (admin)", tags: ["Admin"] },
        },
      )
      .post(
        "/admin/models/unload",
        async (context) => {
          const body = context.body as ModelAction; // validated against ModelActionSchema
          if (!models) throw noEngine(body.model);
          const model = await models.resolve(body.model);
          const { unloaded } = await models.unload(model.id);
          return { ...models.view(model), was_loaded: unloaded };
        },
        {
          body: ModelActionSchema,
          parse: "json",
          detail: { summary: "Unload a local model, cancelling its requests in flight (admin)", tags: ["Admin"] },
        },
      );
}
