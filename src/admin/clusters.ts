/**
 * `/admin/clusters*`: the engines of the fleet (reference/odyssai-x-wire.md §1.2, §3.1; behind the admin token).
 *
 * - `GET /admin/clusters` — `{data: [engine], count}`: engines from `ithaca.yaml` (`source: "config"`, read-only)
 *   and enrolled ones (`source: "enrolled"`), each with `available` and the catalog ids of its models.
 * - `GET /admin/clusters/{id}` — one engine; 404 `engine_not_found`.
 * - `PUT /admin/clusters/{id}` `{kind, upstream, name?, ssh?, credential_env?, api_key?, clear_api_key?, enabled?}`
 *   (and the SSH fields `ssh_key?, clear_ssh_key?, ssh_host_key?, repin_host_key?, ssh_commands?, ssh_log?`: see
 *   src/fleet/ssh-enrolment.ts and src/admin/ssh.ts) —
 *   probes the engine (reachability, latency, `/v1/models`, contract), then saves it and puts it in service at once:
 *   `{dry_run, probe, engine}`. `?dry_run=true` returns the probe and the engine as it would be, saving nothing. An
 *   engine that does not answer gets 502 `probe_failed` naming why, unless `?force=true`. 409 `engine_read_only` for
 *   a configured id. `api_key` is stored in the secrets file (mode 0600; kept when absent, removed by
 *   `clear_api_key`) and used before `credential_env`; views show `api_key_set` and `api_key_source`, never the key.
 * - `DELETE /admin/clusters/{id}` — out of service at once (requests in flight finish) and forgotten: `{ok, id}`;
 *   404 when not enrolled, 409 for a configured id.
 *
 * - `GET /admin/clusters/{id}/status` — its status gathered from its `/health`, `/admin/activity`, `/admin/sessions`,
 *   `/admin/memory` and `/v1/models` (odyssai-x-wire §3.3; `busy` from the phase; what it does not serve is null).
 * - `GET /admin/clusters/{id}/models` — its on-disk inventory (a Telemak's `/admin/models/available`).
 * - `POST /admin/clusters/{id}/load {model}`, `POST /admin/clusters/{id}/unload {model?}` (absent: all) — passed to
 *   its `/admin/load` and `/admin/unload`, its answer returned; the catalog follows at once. Its errors keep their
 *   status (`insufficient_memory` 400...); an engine that cannot be reached is a 502 naming it.
 *
 * Ring clusters (src/fleet/ring/clusters.ts; issue 17) share these routes and their ids:
 * - `PUT /admin/clusters/{id}` `{kind: "ring", models_dir, nodes: [{host, ssh, ip}], name?, ssh_key?,
 *   ithaca_command?}` — every node contacted over SSH and its host key pinned; `?force=true` saves unreachable nodes.
 * - `GET /admin/clusters/{id}/load-options?model=` — every node's memory and the model's presence there, and every
 *   (nodes, mode) choice with `fits` and a reason.
 * - `POST /admin/clusters/{id}/load {model, mode?, nodes?}` — the preflight of odyssai-x-wire §6.4 (400
 *   `invalid_mode_for_model`, `model_too_big_for_cluster`, `model_incomplete`, `invalid_nodes`); `?dry_run=true`
 *   answers the plan (each rank's layers and bytes); otherwise the ranks are spawned over SSH and rank 0 joins the
 *   catalog once ready (`{loaded, cluster, model, mode, nodes, url, load_s}`; 502 `load_failed` naming the rank).
 * - `GET …/status` (state, reason, each rank's phase), `POST …/unload`, `POST …/reset` (also kills leftovers).
 * - `DELETE /admin/clusters/{id}` forgets it.
 *
 * Engine ids are slugs, `[a-z0-9][a-z0-9-]{0,40}`: models are published as `<id>:<model>`.
 */
import type { AnyElysia } from "elysia";
import * as v from "valibot";
import type { Enrolment } from "../fleet/enrolment.ts";
import type { RingClusterInput, RingClusters } from "../fleet/ring/clusters.ts";
import { RING_MODES } from "../fleet/ring/plan.ts";
import { LoadOptionsQuery, RingClusterInputSchema, SshKeyPath, SshTarget } from "./ring-schemas.ts";
import { telemakInventory, telemakLoad, telemakStatus, telemakUnload } from "../fleet/telemak-ops.ts";
import { OpenAIError } from "../protocol/errors.ts";
import { ENGINE_KINDS } from "../store/engines.ts";
import { LOG_PATH_PATTERN } from "../fleet/ssh-logs.ts";
import { FINGERPRINT_PATTERN } from "../fleet/ssh-target.ts";

/** Path parameter of one engine. */
const EngineParams = v.object({
  id: v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9-]{0,40}$/, "must be a slug: [a-z0-9][a-z0-9-]{0,40}")),
});

/** A configured shell command: one line of printable text (it runs in the SSH user's shell). */
const ShellCommand = v.pipe(
  v.string(),
  v.minLength(1, "must not be empty"),
  v.maxLength(2000, "must be at most 2000 characters"),
  v.check((command) => !/\p{Cc}/u.test(command), "must be one line, without control characters"),
);

/** Body of `PUT /admin/clusters/{id}`. */
export const EngineInputSchema = v.strictObject({
  kind: v.picklist(ENGINE_KINDS, `must be one of ${ENGINE_KINDS.join(", ")}`),
  upstream: v.pipe(v.string(), v.url("must be an absolute URL"), v.regex(/^https?:/i, "must be an http(s) URL")),
  name: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(100))),
  ssh: v.optional(SshTarget),
  ssh_key: v.optional(SshKeyPath),
  clear_ssh_key: v.optional(v.boolean("must be true or false")),
  ssh_host_key: v.optional(v.pipe(v.string(), v.regex(FINGERPRINT_PATTERN, "must be SHA256:<43 base64 characters>"))),
  repin_host_key: v.optional(v.boolean("must be true or false")),
  /** Shell commands run over SSH by `POST /admin/clusters/{id}/service` (a Linux host's service). */
  ssh_commands: v.optional(
    v.strictObject({
      start: v.optional(ShellCommand),
      stop: v.optional(ShellCommand),
      status: v.optional(ShellCommand),
    }),
  ),
  /** The engine's log on the SSH host: a file or glob, absolute or under ~/, of [A-Za-z0-9._/*-]. */
  ssh_log: v.optional(
    v.pipe(v.string(), v.regex(LOG_PATH_PATTERN, "must be a path (or glob) of [A-Za-z0-9._/*-], absolute or under ~/")),
  ),
  credential_env: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be a variable name"))),
  /** Stored in the secrets file (mode 0600), never returned; printable ASCII without spaces (it goes in a header). */
  api_key: v.optional(
    v.pipe(v.string("must be a string"), v.regex(/^[\x21-\x7e]{1,4096}$/, "must be printable ASCII without spaces")),
  ),
  clear_api_key: v.optional(v.boolean("must be true or false")),
  enabled: v.optional(v.boolean()),
});

/** `?dry_run=true&force=true`. */
const PutQuery = v.object({
  dry_run: v.optional(v.picklist(["true", "false", "1", "0"], "must be true or false")),
  force: v.optional(v.picklist(["true", "false", "1", "0"], "must be true or false")),
});

const yes = (flag: string | undefined) => flag === "true" || flag === "1";

/** Body of `PUT /admin/clusters/{id}`: an engine, or a ring cluster (`kind: "ring"`). */
const PutSchema = v.variant("kind", [RingClusterInputSchema, EngineInputSchema]);

/** Body of `POST /admin/clusters/{id}/load`; `mode` and `nodes` only for a ring cluster. */
const LoadSchema = v.strictObject({
  model: v.pipe(v.string(), v.minLength(1, "must be a model id")),
  mode: v.optional(v.picklist(RING_MODES, `must be one of ${RING_MODES.join(", ")}`)),
  nodes: v.optional(
    v.union(
      [
        v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(16)),
        v.pipe(v.array(v.string()), v.minLength(1), v.maxLength(16)),
      ],
      "must be a node count or a list of node hosts",
    ),
  ),
});
type LoadBody = v.InferOutput<typeof LoadSchema>;
/** Body of `POST /admin/clusters/{id}/unload` (no model: all). */
const UnloadSchema = v.strictObject({ model: v.optional(v.pipe(v.string(), v.minLength(1, "must be a model id"))) });

const notFound = (id: string) => new OpenAIError(404, `no engine '${id}'`, { code: "engine_not_found", param: "id" });

/** The routes (see the module comment). */
export function adminClustersRoutes(enrolment: Enrolment, rings: RingClusters) {
  /** 409 when `id` is taken by the other sort of cluster. */
  const taken = (id: string, ring: boolean) => {
    if (ring ? enrolment.knows(id) : rings.has(id)) {
      throw new OpenAIError(409, `'${id}' is already ${ring ? "an engine" : "a ring cluster"}: pick another id`, {
        code: "id_taken",
        param: "id",
      });
    }
  };
  const load = async (id: string, body: LoadBody, dryRun: boolean) => {
    if (!rings.has(id)) {
      if (body.mode !== undefined || body.nodes !== undefined) {
        throw new OpenAIError(400, "mode and nodes apply to ring clusters only", { code: "invalid_request_error" });
      }
      const answer = await telemakLoad(enrolment.target(id), body.model);
      await enrolment.refresh(id);
      return answer;
    }
    return dryRun ? rings.plan(id, body) : rings.load(id, body);
  };
  return (app: AnyElysia) =>
    app
      .get(
        "/admin/clusters",
        async () => {
          const data = [...(await enrolment.list()), ...rings.list()];
          return { data, count: data.length };
        },
        { detail: { summary: "Engines of the fleet: configured and enrolled (admin)", tags: ["Admin"] } },
      )
      .get(
        "/admin/clusters/:id",
        async ({ params }) =>
          rings.view(params.id) ?? (await enrolment.view(params.id)) ?? Promise.reject(notFound(params.id)),
        { params: EngineParams, detail: { summary: "One engine (admin)", tags: ["Admin"] } },
      )
      .put(
        "/admin/clusters/:id",
        ({ params, body, query }) => {
          const input = body as v.InferOutput<typeof PutSchema>;
          taken(params.id, input.kind === "ring");
          if (input.kind === "ring")
            return rings.put(params.id, input as RingClusterInput, { force: yes(query.force) });
          return enrolment.put(params.id, input, { dryRun: yes(query.dry_run), force: yes(query.force) });
        },
        {
          params: EngineParams,
          body: PutSchema,
          query: PutQuery,
          parse: "json",
          detail: {
            summary: "Enrol an engine: probe, save, serve at once (dry_run: preview; force: save unreachable) (admin)",
            tags: ["Admin"],
          },
        },
      )
      .get(
        "/admin/clusters/:id/status",
        ({ params }) => (rings.has(params.id) ? rings.status(params.id) : telemakStatus(enrolment.target(params.id))),
        {
          params: EngineParams,
          detail: { summary: "An engine's status: health, activity, memory, sessions (admin)", tags: ["Admin"] },
        },
      )
      .get("/admin/clusters/:id/models", ({ params }) => telemakInventory(enrolment.target(params.id)), {
        params: EngineParams,
        detail: { summary: "An engine's on-disk model inventory (admin)", tags: ["Admin"] },
      })
      .post(
        "/admin/clusters/:id/load",
        ({ params, body, query }) => load(params.id, body as LoadBody, yes(query.dry_run)),
        {
          params: EngineParams,
          body: LoadSchema,
          query: v.object({ dry_run: PutQuery.entries.dry_run }),
          parse: "json",
          detail: {
            summary: "Load a model on an engine, or across a ring cluster (dry_run: the preflight's plan) (admin)",
            tags: ["Admin"],
          },
        },
      )
      .post(
        "/admin/clusters/:id/reset",
        ({ params }) => {
          if (!rings.has(params.id)) {
            if (enrolment.knows(params.id)) {
              throw new OpenAIError(409, `'${params.id}' is an engine: reset applies to ring clusters`, {
                code: "not_a_ring_cluster",
              });
            }
            throw notFound(params.id);
          }
          return rings.reset(params.id);
        },
        {
          params: EngineParams,
          detail: { summary: "Stop a ring cluster's ranks, kill leftovers on every node (admin)", tags: ["Admin"] },
        },
      )
      .get("/admin/clusters/:id/load-options", ({ params, query }) => rings.loadOptions(params.id, query.model), {
        params: EngineParams,
        query: LoadOptionsQuery,
        detail: { summary: "A ring cluster's (nodes, mode) choices for a model, with fits (admin)", tags: ["Admin"] },
      })
      .post(
        "/admin/clusters/:id/unload",
        async ({ params, body }) => {
          if (rings.has(params.id)) return rings.unload(params.id);
          const answer = await telemakUnload(enrolment.target(params.id), (body as { model?: string }).model);
          await enrolment.refresh(params.id);
          return answer;
        },
        {
          params: EngineParams,
          body: UnloadSchema,
          parse: "json",
          detail: { summary: "Unload a model (or all) on an engine (admin)", tags: ["Admin"] },
        },
      )
      .delete(
        "/admin/clusters/:id",
        async ({ params }) => {
          if (!(await rings.remove(params.id)) && !enrolment.remove(params.id)) throw notFound(params.id);
          return { ok: true, id: params.id };
        },
        { params: EngineParams, detail: { summary: "Remove an enrolled engine (admin)", tags: ["Admin"] } },
      );
}
