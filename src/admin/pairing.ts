/**
 * Pairing routes (reference/odyssai-x-wire.md §1.2, §7; telemak-companion-wire §6.2, §9 #6-#8):
 *
 * - `POST /admin/discovery/enable {duration_s?}` (admin; default 300 s, at most 3600) and `POST
 *   /admin/discovery/disable` — open or close the gate: `{active, started_at, expires_at}`.
 * - `GET /admin/discovery/state` — the gate (public: a discovery watcher polls it).
 * - `POST /admin/pair {client_id, client_name, user_label?}` — public while the gate is open (or with the enrolment
 *   secret in `X-Ithaca-Enroll` / `X-Codeos-Enroll`): `{ok: true, token: "crew_…", crew_id, engine: <contract>,
 *   expires: null}`, the token shown this once; the gate closes. 403 `gate_closed` otherwise.
 * - `GET /admin/crew` (admin) — paired clients, token previews only: `{data, count}`.
 * - `DELETE /admin/crew/self` (the crew token itself) — the client disconnects: `{ok: true, revoked: <crew id>}`.
 * - `DELETE /admin/crew/{id}` (admin) — revoke one: `{ok: true, revoked: id}`; 404 `crew_not_found`.
 */
import type { AnyElysia } from "elysia";
import * as v from "valibot";
import { MAX_GATE_S, type Pairing } from "../access/pairing.ts";
import { OpenAIError } from "../protocol/errors.ts";

const Text = (max: number) => v.pipe(v.string(), v.trim(), v.minLength(1, "must not be empty"), v.maxLength(max));

/** Body of `POST /admin/pair`. */
const PairSchema = v.object({
  client_id: Text(200),
  client_name: Text(200),
  user_label: v.optional(Text(200)),
});

/** Body of `POST /admin/discovery/enable`. */
const GateSchema = v.strictObject({
  duration_s: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_GATE_S))),
});

const CrewParams = v.object({ id: v.pipe(v.string(), v.regex(/^crew-[0-9a-f]{16}$/, "must be a crew id")) });

/**
 * The routes (see the module comment).
 * @param contract the capability contract document, as `/.well-known/inference-engine.json` serves it.
 */
export function adminPairingRoutes(pairing: Pairing, contract: () => Promise<Record<string, unknown>>) {
  return (app: AnyElysia) =>
    app
      .post(
        "/admin/discovery/enable",
        ({ body }) => pairing.openGate((body as v.InferOutput<typeof GateSchema>).duration_s),
        {
          body: GateSchema,
          parse: "json",
          detail: { summary: "Open the pairing gate for a while (admin)", tags: ["Pairing"] },
        },
      )
      .post("/admin/discovery/disable", () => pairing.closeGate(), {
        detail: { summary: "Close the pairing gate (admin)", tags: ["Pairing"] },
      })
      .get("/admin/discovery/state", () => pairing.state(), {
        detail: { summary: "The pairing gate (public)", tags: ["Pairing"] },
      })
      .post(
        "/admin/pair",
        async ({ body, request }) => {
          const secret = request.headers.get("x-ithaca-enroll") ?? request.headers.get("x-codeos-enroll") ?? undefined;
          const paired = pairing.pair(body as v.InferOutput<typeof PairSchema>, secret);
          return { ok: true, ...paired, engine: await contract(), expires: null };
        },
        {
          body: PairSchema,
          parse: "json",
          detail: {
            summary: "Pair a client while the gate is open: a crew token, shown once (public)",
            tags: ["Pairing"],
          },
        },
      )
      .get(
        "/admin/crew",
        () => {
          const data = pairing.list();
          return { data, count: data.length };
        },
        { detail: { summary: "Paired clients, token previews only (admin)", tags: ["Pairing"] } },
      )
      .delete(
        "/admin/crew/self",
        ({ caller }) => {
          const id = (caller as { crewId?: string }).crewId as string;
          pairing.revoke(id);
          return { ok: true, revoked: id };
        },
        { detail: { summary: "A paired client revokes its own token (crew token)", tags: ["Pairing"] } },
      )
      .delete(
        "/admin/crew/:id",
        ({ params }) => {
          if (!pairing.revoke(params.id)) {
            throw new OpenAIError(404, `no paired client '${params.id}'`, { code: "crew_not_found", param: "id" });
          }
          return { ok: true, revoked: params.id };
        },
        { params: CrewParams, detail: { summary: "Revoke a paired client (admin)", tags: ["Pairing"] } },
      );
}
