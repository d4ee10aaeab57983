/**
 * `GET /admin/catalog` (behind the admin token): every model of the unified catalog exactly as clients see it in
 * `GET /v1/models?include_unloaded=true` (the OpenAI list shape with `x_odyssai`: ready, capabilities, engine), for
 * the operator's dashboard. `/v1/models` itself cannot serve the operator once API keys are issued: the admin token
 * never serves `/v1/*`, and a key sees only its own models.
 */
import type { AnyElysia } from "elysia";
import type { Catalog } from "../catalog/catalog.ts";
import { toOpenAIModel } from "../catalog/openai-models.ts";

/**
 * The route (see the module comment).
 * @param created unix seconds published as each entry's `created` (the app's start, as `/v1/models` has it)
 */
export function adminCatalogRoutes(catalog: Catalog, created: number) {
  return (app: AnyElysia) =>
    app.get(
      "/admin/catalog",
      async () => {
        const data = (await catalog.entries()).map((entry) => toOpenAIModel(entry, created));
        return { object: "list", data, count: data.length };
      },
      {
        detail: {
          summary: "Every catalog model as /v1/models?include_unloaded=true lists it, for the operator (admin)",
          tags: ["Admin"],
        },
      },
    );
}
