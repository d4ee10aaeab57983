/**
 * `GET /admin/metrics` (odyssai-x-wire §1.2, behind the admin token): the request log's latest rows and per-model sums.
 *
 * Query: `limit` (1–1000, default 50) rows, newest first; `model` (served or asked for) and `cluster` (`local` or an
 * upstream id) narrow the rows; `window_s` limits the per-model sums to the last so many seconds (default: the whole
 * log, which `request_log` bounds). Answers `{data: [row], count, models: [sum], in_flight, log}`: rows as
 * ./request-view.ts shows them; sums with `requests`, `errors`, `streams`, token totals, `ttft_ms_p50`, `ttft_ms_p95`
 * (streamed answers), `tokens_per_s_mean`, `duration_ms_mean`; `log` the log's size and bounds. Rows still queued in
 * memory are written first, so every request that ended is there. A bad parameter is a 400 naming it.
 */
import type { AnyElysia } from "elysia";
import * as v from "valibot";
import type { Runs } from "../routes/runs.ts";
import type { RequestLog, RequestLogOptions } from "../store/request-log.ts";
import type { ModelAggregate, RequestTable } from "../store/requests.ts";
import { requestView } from "./request-view.ts";

/** A whole number in a query string, within `[min, max]`. */
export const QueryInt = (min: number, max: number) =>
  v.pipe(
    v.string(),
    v.regex(/^\d{1,9}$/, `must be a whole number from ${min} to ${max}`),
    v.transform(Number),
    v.number(),
    v.minValue(min, `must be at least ${min}`),
    v.maxValue(max, `must be at most ${max}`),
  );

const MetricsQuery = v.object({
  limit: v.optional(QueryInt(1, 1000)),
  model: v.optional(v.pipe(v.string(), v.minLength(1))),
  cluster: v.optional(v.pipe(v.string(), v.minLength(1))),
  window_s: v.optional(QueryInt(1, 10 * 365 * 86_400)),
});

const round = (value: number | null, digits: number) =>
  value === null ? null : Math.round(value * 10 ** digits) / 10 ** digits;

/** A per-model sum as shown: times to 0.1 ms, rates to 0.01 token/s. */
function aggregateView(sum: ModelAggregate): ModelAggregate {
  return {
    ...sum,
    ttft_ms_p50: round(sum.ttft_ms_p50, 1),
    ttft_ms_p95: round(sum.ttft_ms_p95, 1),
    tokens_per_s_mean: round(sum.tokens_per_s_mean, 2),
    duration_ms_mean: round(sum.duration_ms_mean, 1) as number,
  };
}

/** What the route reads. */
export interface MetricsDeps {
  table: RequestTable;
  log: RequestLog;
  options: RequestLogOptions;
  runs: Runs;
}

/** The route (see the module comment). */
export function adminMetricsRoutes({ table, log, options, runs }: MetricsDeps) {
  return (app: AnyElysia) =>
    app.get(
      "/admin/metrics",
      ({ query }) => {
        const q = query as v.InferOutput<typeof MetricsQuery>;
        log.flush();
        const backend = q.cluster === undefined ? undefined : q.cluster === "local" ? "local" : `upstream:${q.cluster}`;
        const rows = table.recent({ limit: q.limit ?? 50, model: q.model, backend });
        return {
          data: rows.map(requestView),
          count: rows.length,
          models: table.perModel(q.window_s === undefined ? 0 : Date.now() - q.window_s * 1000).map(aggregateView),
          in_flight: runs.size,
          log: {
            enabled: options.enabled,
            rows: table.count(),
            max_rows: options.max_rows,
            max_age_days: options.max_age_days,
          },
        };
      },
      {
        query: MetricsQuery,
        detail: { summary: "Latest requests and per-model sums from the request log (admin)", tags: ["Admin"] },
      },
    );
}
