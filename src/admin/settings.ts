/**
 * `GET|PUT /admin/settings` (odyssai-x-wire §1.2, behind the admin token): the operator settings
 * (src/store/settings.ts), persisted in the runtime database and in effect at once.
 *
 * - `GET` — the effective settings: `{enable_thinking_default}`.
 * - `PUT {enable_thinking_default?}` — changes the fields given (others are kept) and answers the effective settings.
 *   A bad value or an unknown field is a 400 naming it.
 */
import type { AnyElysia } from "elysia";
import { type OperatorSettings, type SettingsPatch, SettingsPatchSchema } from "../store/settings.ts";

/** The routes (see the module comment). */
export function adminSettingsRoutes(settings: OperatorSettings) {
  return (app: AnyElysia) =>
    app
      .get("/admin/settings", () => settings.values(), {
        detail: { summary: "Operator settings: request defaults (admin)", tags: ["Admin"] },
      })
      .put("/admin/settings", ({ body }) => settings.update(body as SettingsPatch), {
        body: SettingsPatchSchema,
        parse: "json",
        detail: { summary: "Change operator settings; persisted, in effect at once (admin)", tags: ["Admin"] },
      });
}
