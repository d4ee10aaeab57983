/**
 * `GET /metrics`: the Prometheus text exposition of the request series (src/routes/request-metrics.ts). It is
 * operational data, decided by the auth plugin exactly as `/admin/*` is (src/access/authenticate.ts): the admin token
 * when one is configured (`Authorization: Bearer`, as Prometheus' `authorization` scrape setting sends it); without
 * one, open to this machine only in open mode, refused otherwise.
 */
import type { AnyElysia } from "elysia";
import type { RequestMetrics } from "../routes/request-metrics.ts";

/** The path Prometheus scrapes. */
export const METRICS_PATH = "/metrics";

/** The route (see the module comment). */
export function prometheusRoutes(metrics: RequestMetrics) {
  return (app: AnyElysia) =>
    app.get(
      METRICS_PATH,
      async () => new Response(await metrics.exposition(), { headers: { "content-type": metrics.contentType } }),
      { detail: { summary: "Prometheus exposition of the request series (admin)", tags: ["Admin"] } },
    );
}
