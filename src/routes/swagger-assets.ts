/**
 * Swagger UI's script and stylesheet served by Ithaca itself, from the pinned `swagger-ui-dist` package, so that
 * `/swagger` renders on a LAN without internet (the plugin's default loads them from a CDN at `@latest`). Imported as
 * files, they are embedded by `bun build --compile` (issue 15).
 */
import type { AnyElysia } from "elysia";
import bundle from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "file" };
import stylesheet from "swagger-ui-dist/swagger-ui.css" with { type: "file" };

/** Where the page finds them (under `/swagger`, public like the page). */
export const SWAGGER_ASSETS = {
  script: "/swagger/assets/swagger-ui-bundle.js",
  stylesheet: "/swagger/assets/swagger-ui.css",
} as const;

/** A day: the files change only with the pinned package. */
const CACHE = "public, max-age=86400";

/** The two asset routes. */
export function swaggerAssetRoutes() {
  const serve = (path: string, type: string) => () =>
    new Response(Bun.file(path), { headers: { "content-type": type, "cache-control": CACHE } });
  return (app: AnyElysia) =>
    app
      .get(SWAGGER_ASSETS.script, serve(bundle, "text/javascript; charset=utf-8"), { detail: { hide: true } })
      .get(SWAGGER_ASSETS.stylesheet, serve(stylesheet, "text/css; charset=utf-8"), { detail: { hide: true } });
}
