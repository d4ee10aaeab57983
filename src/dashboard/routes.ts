/**
 * The web dashboard's routes (issue 14 item 1; DESIGN §3, §7): the page and its bundled assets (./bundle.ts). Public
 * like `/swagger` (src/access/public-routes.ts): the page holds no data; everything it shows comes from the admin API,
 * which the page calls with the admin token in an `Authorization` header (kept in the tab's `sessionStorage`, never in
 * a cookie or a URL), or without one in open mode on loopback.
 *
 * - `GET /dashboard` — the page. Its Content-Security-Policy allows only this origin's scripts, styles and requests
 *   (no inline script, no `eval`, no other host), and no framing (`frame-ancestors 'none'`, `X-Frame-Options: DENY`):
 *   another site can neither load code into it nor frame it to steer a click.
 * - `GET /dashboard/assets/{name}` — a script or stylesheet of the bundle (content-hashed names, cached for a year).
 * - `GET /` — a browser (`Accept: text/html`) is sent to `/dashboard`; any other client gets the 404 it always got.
 */
import type { AnyElysia } from "elysia";
import { OpenAIError } from "../protocol/errors.ts";
import { ASSET_PREFIX, dashboardBundle } from "./bundle.ts";

/** The page's Content-Security-Policy (see the module comment). */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

const notFound = (path: string) => new OpenAIError(404, `Invalid URL (GET ${path})`, { code: "unknown_url" });

/** Whether a request comes from a browser navigating (it asks for HTML). */
const wantsHtml = (request: Request) => /\btext\/html\b/i.test(request.headers.get("accept") ?? "");

/** The routes (see the module comment). */
export function dashboardRoutes() {
  return (app: AnyElysia) =>
    app
      .get(
        "/",
        ({ request }) => {
          if (!wantsHtml(request)) throw notFound("/");
          return new Response(null, { status: 302, headers: { location: "/dashboard", "cache-control": "no-store" } });
        },
        { detail: { hide: true } },
      )
      .get(
        "/dashboard",
        async () => {
          const { html } = await dashboardBundle();
          return new Response(html, {
            headers: {
              "content-type": "text/html;charset=utf-8",
              "cache-control": "no-store",
              "content-security-policy": DASHBOARD_CSP,
              "x-frame-options": "DENY",
              ...SECURITY_HEADERS,
            },
          });
        },
        {
          detail: {
            summary: "The web dashboard (public page; its data comes from the admin API)",
            tags: ["Discovery"],
          },
        },
      )
      .get(
        `${ASSET_PREFIX}:name`,
        async ({ params }) => {
          const asset = (await dashboardBundle()).assets.get(params.name);
          if (!asset) throw notFound(`${ASSET_PREFIX}${params.name}`);
          return new Response(asset.body, {
            headers: {
              "content-type": asset.type,
              "cache-control": "public, max-age=31536000, immutable",
              ...SECURITY_HEADERS,
            },
          });
        },
        { detail: { hide: true } },
      );
}
