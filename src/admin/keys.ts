/**
 * `/admin/keys*`: API keys issued while Ithaca runs (issue 13 item 2; src/access/api-keys.ts), behind the admin token.
 *
 * - `POST /admin/keys {name, models?, rpm?, tpm?, max_concurrent?, expires_at?}` — issues a key: its view plus `key`
 *   (`sk-ith-…`), shown this once. `models`: catalog id patterns (`*` every model, `[]` none; default `["*"]`);
 *   `rpm`/`tpm`: requests/tokens per minute; `max_concurrent`: requests at once; `expires_at`: ISO 8601 (future).
 * - `GET /admin/keys` — `{data: [view], count}`, previews only; `GET /admin/keys/{id}` — one.
 * - `PATCH /admin/keys/{id}` — changes any of those fields (`null` lifts a limit or the expiry); the key stays.
 * - `POST /admin/keys/{id}/rotate` — a new secret (shown once); the old one stops working at once.
 * - `DELETE /admin/keys/{id}` — revokes it at once: `{ok, id}`.
 * Unknown ids are 404 `key_not_found`; bad fields 400 naming the field.
 */
import type { AnyElysia } from "elysia";
import * as v from "valibot";
import type { ApiKeys, KeyInput } from "../access/api-keys.ts";
import { OpenAIError } from "../protocol/errors.ts";

const Limit = v.nullable(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1e9)));
const Models = v.pipe(
  v.array(v.pipe(v.string(), v.trim(), v.minLength(1, "must not be empty"), v.maxLength(200))),
  v.maxLength(100),
);
const Expiry = v.nullable(
  v.pipe(
    v.string(),
    v.isoTimestamp("must be an ISO 8601 time with a zone, e.g. 2027-01-31T00:00:00Z"),
    v.check((text) => Date.parse(text) > Date.now(), "must be in the future"),
  ),
);
const Name = v.pipe(v.string(), v.trim(), v.minLength(1, "must not be empty"), v.maxLength(100));

/** Body of `POST /admin/keys`. */
const CreateSchema = v.strictObject({
  name: Name,
  models: v.optional(Models),
  rpm: v.optional(Limit),
  tpm: v.optional(Limit),
  max_concurrent: v.optional(Limit),
  expires_at: v.optional(Expiry),
});

/** Body of `PATCH /admin/keys/{id}`. */
const PatchSchema = v.strictObject({
  name: v.optional(Name),
  models: v.optional(Models),
  rpm: v.optional(Limit),
  tpm: v.optional(Limit),
  max_concurrent: v.optional(Limit),
  expires_at: v.optional(Expiry),
});

const KeyParams = v.object({ id: v.pipe(v.string(), v.regex(/^key-[0-9a-f]{12}$/, "must be a key id")) });

/** The routes (see the module comment). */
export function adminKeysRoutes(keys: ApiKeys) {
  return (app: AnyElysia) =>
    app
      .post(
        "/admin/keys",
        ({ body }) => {
          const { key, view } = keys.create(body as KeyInput);
          return { ...view, key };
        },
        {
          body: CreateSchema,
          parse: "json",
          detail: { summary: "Issue an API key, shown once (admin)", tags: ["Keys"] },
        },
      )
      .get(
        "/admin/keys",
        () => {
          const data = keys.list();
          return { data, count: data.length };
        },
        { detail: { summary: "Issued API keys, previews only (admin)", tags: ["Keys"] } },
      )
      .get("/admin/keys/:id", ({ params }) => keys.get(params.id), {
        params: KeyParams,
        detail: { summary: "One API key (admin)", tags: ["Keys"] },
      })
      .patch("/admin/keys/:id", ({ params, body }) => keys.update(params.id, body as Partial<KeyInput>), {
        params: KeyParams,
        body: PatchSchema,
        parse: "json",
        detail: { summary: "Change an API key's models, limits or expiry (admin)", tags: ["Keys"] },
      })
      .post(
        "/admin/keys/:id/rotate",
        ({ params }) => {
          const { key, view } = keys.rotate(params.id);
          return { ...view, key };
        },
        {
          params: KeyParams,
          detail: { summary: "Rotate an API key: a new secret, shown once (admin)", tags: ["Keys"] },
        },
      )
      .delete(
        "/admin/keys/:id",
        ({ params }) => {
          if (!keys.revoke(params.id)) {
            throw new OpenAIError(404, `no API key '${params.id}'`, { code: "key_not_found", param: "id" });
          }
          return { ok: true, id: params.id };
        },
        { params: KeyParams, detail: { summary: "Revoke an API key (admin)", tags: ["Keys"] } },
      );
}
