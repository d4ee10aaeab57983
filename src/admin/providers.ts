/**
 * `/admin/providers*`: cloud providers managed while Ithaca runs (reference/odyssai-x-wire.md §1.2, §4; behind the
 * admin token). Keys are never returned: `api_key_set` and `api_key_source` (`stored`, `env`, `config`, `none`) say
 * what there is.
 *
 * - `GET /admin/providers/templates` — `{data: [custom, openai, anthropic, openrouter], count}`: `id, label, api_base,
 *   api_key_env` (a suggestion), `protocol`.
 * - `GET /admin/providers` — `{data: [provider], count}`: cloud upstreams of ithaca.yaml (`source: "config"`,
 *   read-only), then those added here (`source: "runtime"`): `id, api_base, api_key_env, api_key_set, api_key_source,
 *   published [{alias, upstream, caps}], enabled, protocol, source, available`.
 * - `GET /admin/providers/{id}` — one provider; 404 `provider_not_found`.
 * - `PUT /admin/providers/{id}` `{api_base, api_key?, api_key_env?, clear_api_key?, published?, enabled?, protocol?}`
 *   — saves the provider (replacing the one of that id) and serves it at once: the provider, redacted. `api_key` is
 *   stored in the secrets file (mode 0600); absent, empty or null keeps the stored key; `clear_api_key: true` removes
 *   it. 400 naming the field (`id` not a slug, `protocol` not `openai`/`anthropic`, `api_base` missing or not
 *   http(s)...); 409 `provider_read_only` for an id of ithaca.yaml, `id_taken` for an enrolled engine's.
 * - `DELETE /admin/providers/{id}` — `{ok: true, id}`: out of the catalog at once, its stored key removed; 404 when
 *   unknown, 409 for a configured one.
 * - `POST /admin/providers/{id}/test` (no body) — calls the provider's `GET {api_base}/models` with its key: `{ok,
 *   models_count, auth_used, api_key_source, sample (≤ 10 ids), error?}`; a failure (unreachable, key refused...) is
 *   `ok: false` with `error`, never a 5xx.
 * - `GET /admin/providers/{id}/upstream-models` — the provider's own list, `{data: [{id}], count}`; 502
 *   `provider_error` naming the provider when it fails.
 *
 * Provider ids are slugs, `[a-z0-9][a-z0-9-]{0,40}`: models without a published alias are served as `<id>:<model>`.
 */
import type { AnyElysia } from "elysia";
import * as v from "valibot";
import { PROVIDER_TEMPLATES } from "../fleet/provider-templates.ts";
import type { ProviderInput, Providers } from "../fleet/providers.ts";
import { OpenAIError } from "../protocol/errors.ts";
import { PROVIDER_PROTOCOLS } from "../store/providers.ts";

/** Path parameter of one provider. */
const ProviderParams = v.object({
  id: v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9-]{0,40}$/, "must be a slug: [a-z0-9][a-z0-9-]{0,40}")),
});

/** A key: printable ASCII without spaces (it goes in a header), at most 4096 characters; empty means "keep". */
const ApiKey = v.pipe(
  v.string("must be a string"),
  v.regex(/^[\x21-\x7e]{0,4096}$/, "must be printable ASCII without spaces (at most 4096 characters)"),
);

/** One published alias, OdyssAI-X's shape. */
const PublishedSchema = v.strictObject({
  alias: v.pipe(v.string("must be a string"), v.regex(/^\S+$/, "must be a non-empty id without spaces")),
  upstream: v.pipe(v.string("must be a string"), v.regex(/^\S+$/, "must be the provider's model id")),
  caps: v.optional(v.array(v.pipe(v.string(), v.minLength(1, "must be a capability name")))),
});

/** Body of `PUT /admin/providers/{id}`. */
export const ProviderInputSchema = v.strictObject({
  api_base: v.pipe(
    v.string("must be a string"),
    v.url("must be an absolute URL"),
    v.regex(/^https?:\/\//, "must be an http(s) URL"),
  ),
  api_key: v.optional(v.nullable(ApiKey)),
  api_key_env: v.optional(
    v.nullable(v.pipe(v.string(), v.regex(/^([A-Za-z_][A-Za-z0-9_]*)?$/, "must be a variable name"))),
  ),
  clear_api_key: v.optional(v.boolean("must be true or false")),
  published: v.optional(v.array(PublishedSchema, "must be a list of {alias, upstream, caps?}")),
  enabled: v.optional(v.boolean("must be true or false")),
  protocol: v.optional(v.picklist(PROVIDER_PROTOCOLS, `must be one of ${PROVIDER_PROTOCOLS.join(", ")}`)),
});

const notFound = (id: string) =>
  new OpenAIError(404, `no provider '${id}'`, { code: "provider_not_found", param: "id" });

/** The routes (see the module comment). */
export function adminProvidersRoutes(providers: Providers) {
  return (app: AnyElysia) =>
    app
      .get("/admin/providers/templates", () => ({ data: PROVIDER_TEMPLATES, count: PROVIDER_TEMPLATES.length }), {
        detail: { summary: "Starting points for a cloud provider (admin)", tags: ["Admin"] },
      })
      .get(
        "/admin/providers",
        () => {
          const data = providers.list();
          return { data, count: data.length };
        },
        {
          detail: {
            summary: "Cloud providers: configured and added at runtime, keys redacted (admin)",
            tags: ["Admin"],
          },
        },
      )
      .get("/admin/providers/:id", ({ params }) => providers.view(params.id) ?? Promise.reject(notFound(params.id)), {
        params: ProviderParams,
        detail: { summary: "One cloud provider, key redacted (admin)", tags: ["Admin"] },
      })
      .put("/admin/providers/:id", ({ params, body }) => providers.put(params.id, body as ProviderInput), {
        params: ProviderParams,
        body: ProviderInputSchema,
        parse: "json",
        detail: { summary: "Add or replace a cloud provider; served at once (admin)", tags: ["Admin"] },
      })
      .delete(
        "/admin/providers/:id",
        ({ params }) => {
          if (!providers.remove(params.id)) throw notFound(params.id);
          return { ok: true, id: params.id };
        },
        { params: ProviderParams, detail: { summary: "Remove a cloud provider (admin)", tags: ["Admin"] } },
      )
      .post("/admin/providers/:id/test", ({ params }) => providers.test(params.id), {
        params: ProviderParams,
        detail: { summary: "Call a provider's model list with its key (admin)", tags: ["Admin"] },
      })
      .get("/admin/providers/:id/upstream-models", ({ params }) => providers.upstreamModels(params.id), {
        params: ProviderParams,
        detail: { summary: "A provider's own model list (admin)", tags: ["Admin"] },
      });
}
