/**
 * `/admin/runs*` (odyssai-x-wire §1.2, behind the admin token): the inference requests in flight, and cancelling them.
 *
 * - `GET /admin/runs[?history=N]` — `{data: [run], count, history: [row]}`: every request in flight, oldest first
 *   (`id`, `started_at`, `age_ms`, `route`, `caller`, `model`, `served_model`, `backend`, `stream`, `state`
 *   `waiting`/`generating`/`cancelling`, `ttft_ms`), and the latest `N` (0–500, default 0) ended ones from the request
 *   log, newest first (./request-view.ts). `history` over 500 is a 400 naming it.
 * - `POST /admin/runs/{id}/cancel` — cancels one: its upstream exchange or local generation is aborted; its client
 *   gets 499 `request_cancelled` in its dialect, or, when its stream had started, the dialect's in-band error. Answers
 *   `{ok, id, cancelled}` (`cancelled: false` when it was already being cancelled); 404 `run_not_found` when no
 *   request of that id is in flight.
 * - `POST /admin/runs/cancel-all[?model=&cluster=]` — cancels every request in flight (of one model or engine):
 *   `{ok, cancelled: N}`.
 */
import type { AnyElysia } from "elysia";
import * as v from "valibot";
import { OpenAIError } from "../protocol/errors.ts";
import type { Run, Runs } from "../routes/runs.ts";
import type { RequestLog } from "../store/request-log.ts";
import type { RequestTable } from "../store/requests.ts";
import { QueryInt } from "./metrics.ts";
import { requestView } from "./request-view.ts";

/** Most ended requests `?history=` returns. */
export const MAX_HISTORY = 500;

const RunsQuery = v.object({ history: v.optional(QueryInt(0, MAX_HISTORY)) });
const RunParams = v.object({ id: v.pipe(v.string(), v.minLength(1)) });
const CancelAllQuery = v.object({
  model: v.optional(v.pipe(v.string(), v.minLength(1))),
  cluster: v.optional(v.pipe(v.string(), v.minLength(1))),
});

const notFound = (id: string) =>
  new OpenAIError(404, `no request '${id}' is in flight`, { code: "run_not_found", param: "id" });

/** Whether `run` is one `cancel-all` narrowed to `model` and `cluster` covers. */
function covers(run: Run, model: string | undefined, cluster: string | undefined): boolean {
  if (model !== undefined && run.servedModel !== model && run.model !== model) return false;
  if (cluster === undefined) return true;
  return run.backend === (cluster === "local" ? "local" : `upstream:${cluster}`);
}

/** The routes (see the module comment). */
export function adminRunsRoutes(runs: Runs, table: RequestTable, log: RequestLog) {
  return (app: AnyElysia) =>
    app
      .get(
        "/admin/runs",
        ({ query }) => {
          const history = (query as v.InferOutput<typeof RunsQuery>).history ?? 0;
          const data = runs.inFlight().map((run) => run.view());
          if (history > 0) log.flush();
          const rows = history > 0 ? table.recent({ limit: history }) : [];
          return { data, count: data.length, history: rows.map(requestView) };
        },
        {
          query: RunsQuery,
          detail: { summary: "Requests in flight, and the latest ended ones (?history=N) (admin)", tags: ["Admin"] },
        },
      )
      .post(
        "/admin/runs/cancel-all",
        ({ query }) => {
          const { model, cluster } = query as v.InferOutput<typeof CancelAllQuery>;
          let cancelled = 0;
          for (const run of runs.inFlight()) if (covers(run, model, cluster) && run.cancel()) cancelled++;
          return { ok: true, cancelled };
        },
        {
          query: CancelAllQuery,
          detail: { summary: "Cancel every request in flight (of a model or engine) (admin)", tags: ["Admin"] },
        },
      )
      .post(
        "/admin/runs/:id/cancel",
        ({ params }) => {
          const run = runs.get(params.id);
          if (!run) throw notFound(params.id);
          return { ok: true, id: run.id, cancelled: run.cancel() };
        },
        {
          params: RunParams,
          detail: {
            summary: "Cancel a request in flight: its client gets 499 request_cancelled (admin)",
            tags: ["Admin"],
          },
        },
      );
}
