/**
 * Activity: the requests in flight (`/admin/runs`, with cancel), the request log and its per-model sums
 * (`/admin/metrics`), and charts over time of tokens per second, time to first token and requests per model.
 */
import { useMemo, useState } from "preact/hooks";
import { api, seg } from "../api.ts";
import { type ChartData, TimeChart } from "../charts.tsx";
import { useAction, usePoll } from "../hooks.ts";
import { useShell } from "../shell.ts";
import type { MetricsAnswer, RequestRow, RunsAnswer } from "../types.ts";
import { Badge, Card, ConfirmButton, clock, duration, Empty, ErrorNote, num } from "../ui.tsx";

/** Rows the charts and the log read. */
const LOG_ROWS = 500;
/** Models drawn as their own series; the rest are summed as "other". */
const MAX_SERIES = 8;

/** The models of `rows`, most requested first, at most {@link MAX_SERIES}. */
function topModels(rows: RequestRow[]): string[] {
  const counts = new Map<string, number>();
  for (const row of rows) counts.set(row.model ?? "?", (counts.get(row.model ?? "?") ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, MAX_SERIES)
    .map(([model]) => model);
}

/** One point per request that has `value`, one series per model. */
function perRequest(rows: RequestRow[], models: string[], value: (row: RequestRow) => number | null): ChartData {
  const points = rows.filter((row) => value(row) !== null && models.includes(row.model ?? "?"));
  return {
    x: points.map((row) => row.ts),
    series: models.map((model) => ({
      label: model,
      values: points.map((row) => ((row.model ?? "?") === model ? value(row) : null)),
    })),
  };
}

/** Requests per model per time bucket (at most 90 buckets, at least a minute each). */
function perBucket(rows: RequestRow[], models: string[]): { data: ChartData; bucketS: number } {
  if (rows.length === 0) return { data: { x: [], series: [] }, bucketS: 60 };
  const first = Math.min(...rows.map((row) => row.ts));
  const last = Math.max(...rows.map((row) => row.ts));
  const bucketS = Math.max(60, Math.ceil((last - first) / 90 / 60) * 60);
  const start = Math.floor(first / bucketS) * bucketS;
  const count = Math.floor((last - start) / bucketS) + 1;
  const x = Array.from({ length: count }, (_, i) => start + (i + 0.5) * bucketS);
  const series = models.map((model) => {
    const values = new Array<number>(count).fill(0);
    for (const row of rows) {
      if ((row.model ?? "?") === model) {
        const i = Math.floor((row.ts - start) / bucketS);
        values[i] = (values[i] ?? 0) + 1;
      }
    }
    return { label: model, values: values as Array<number | null> };
  });
  return { data: { x, series }, bucketS };
}

export function ActivityPage() {
  const { theme } = useShell();
  const runs = usePoll(() => api<RunsAnswer>("GET", "/admin/runs"), 2000);
  const metrics = usePoll(() => api<MetricsAnswer>("GET", `/admin/metrics?limit=${LOG_ROWS}`), 5000);
  const [model, setModel] = useState("");
  const cancel = useAction(async (id: string) => {
    await api("POST", `/admin/runs/${seg(id)}/cancel`);
    await runs.reload();
  });
  const cancelAll = useAction(async () => {
    await api("POST", "/admin/runs/cancel-all");
    await runs.reload();
  });

  const rows = useMemo(() => [...(metrics.data?.data ?? [])].sort((a, b) => a.ts - b.ts), [metrics.data]);
  const charts = useMemo(() => {
    const models = topModels(rows);
    return {
      tps: perRequest(rows, models, (row) => row.tps),
      ttft: perRequest(rows, models, (row) => row.ttft_ms),
      requests: perBucket(rows, models),
    };
  }, [rows]);
  const models = useMemo(() => [...new Set(rows.map((row) => row.model ?? "?"))].sort(), [rows]);
  const logRows = rows
    .filter((row) => !model || (row.model ?? "?") === model)
    .reverse()
    .slice(0, 100);
  const inFlight = runs.data?.data ?? [];
  const log = metrics.data?.log;

  return (
    <div class="page">
      <Card
        title={`In flight (${inFlight.length})`}
        actions={
          inFlight.length > 0 && (
            <ConfirmButton label="Cancel all" confirm="Cancel all?" onConfirm={() => void cancelAll.run()} />
          )
        }
      >
        <ErrorNote error={runs.error ?? cancel.error ?? cancelAll.error} />
        <div class="table-wrap">
          <table class="table compact" aria-label="Requests in flight">
            <thead>
              <tr>
                <th>Started</th>
                <th>Model</th>
                <th>Engine</th>
                <th>Route</th>
                <th>Caller</th>
                <th>State</th>
                <th class="num">Age</th>
                <th class="num">TTFT</th>
                <th class="actions-col" />
              </tr>
            </thead>
            <tbody>
              {inFlight.length === 0 && <Empty cols={9}>Nothing running.</Empty>}
              {inFlight.map((run) => (
                <tr key={run.id} data-run={run.id}>
                  <td>{clock(run.started_at)}</td>
                  <td class="mono">{run.served_model ?? run.model ?? "—"}</td>
                  <td>{run.backend?.replace(/^upstream:/, "") ?? "—"}</td>
                  <td class="mono small">
                    {run.route}
                    {run.stream ? " (stream)" : ""}
                  </td>
                  <td class="mono small">{run.caller ?? "—"}</td>
                  <td>
                    <Badge tone={run.state === "generating" ? "ok" : run.state === "cancelling" ? "bad" : "warn"}>
                      {run.state}
                    </Badge>
                  </td>
                  <td class="num">{duration(run.age_ms)}</td>
                  <td class="num">{duration(run.ttft_ms)}</td>
                  <td class="actions-col">
                    <button
                      type="button"
                      class="danger"
                      disabled={cancel.busy || run.state === "cancelling"}
                      onClick={() => void cancel.run(run.id)}
                    >
                      Cancel
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Card>
      <div class="charts">
        <TimeChart title="Tokens per second (per request)" unit="tok/s" data={charts.tps} kind="points" theme={theme} />
        <TimeChart title="Time to first token (streams)" unit="ms" data={charts.ttft} kind="points" theme={theme} />
        <TimeChart
          title={`Requests per model (per ${charts.requests.bucketS / 60} min)`}
          unit="requests"
          data={charts.requests.data}
          kind="bars"
          theme={theme}
        />
      </div>
      <Card title="Per model">
        <ErrorNote error={metrics.error} />
        <div class="table-wrap">
          <table class="table compact" aria-label="Per-model sums">
            <thead>
              <tr>
                <th>Model</th>
                <th class="num">Requests</th>
                <th class="num">Errors</th>
                <th class="num">Streams</th>
                <th class="num">Prompt tok</th>
                <th class="num">Cached tok</th>
                <th class="num">Completion tok</th>
                <th class="num">TTFT p50 / p95</th>
                <th class="num">Tok/s (mean)</th>
                <th class="num">Duration (mean)</th>
              </tr>
            </thead>
            <tbody>
              {(metrics.data?.models ?? []).length === 0 && <Empty cols={10}>No request logged yet.</Empty>}
              {(metrics.data?.models ?? []).map((sum) => (
                <tr key={sum.model}>
                  <td class="mono">{sum.model}</td>
                  <td class="num">{num(sum.requests)}</td>
                  <td class="num">{sum.errors > 0 ? <span class="bad-text">{num(sum.errors)}</span> : 0}</td>
                  <td class="num">{num(sum.streams)}</td>
                  <td class="num">{num(sum.prompt_tokens)}</td>
                  <td class="num">{num(sum.cached_tokens)}</td>
                  <td class="num">{num(sum.completion_tokens)}</td>
                  <td class="num">
                    {duration(sum.ttft_ms_p50)} / {duration(sum.ttft_ms_p95)}
                  </td>
                  <td class="num">{num(sum.tokens_per_s_mean, 1)}</td>
                  <td class="num">{duration(sum.duration_ms_mean)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Card>
      <Card
        title="Request log"
        actions={
          <select aria-label="Model" value={model} onChange={(event) => setModel(event.currentTarget.value)}>
            <option value="">every model</option>
            {models.map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        }
      >
        {log && (
          <p class="muted small">
            {log.enabled
              ? `${num(log.rows)} requests logged (kept: ${log.max_rows > 0 ? `the latest ${num(log.max_rows)}` : "all"}${log.max_age_days > 0 ? `, ${log.max_age_days} days` : ""}); the latest ${logRows.length} shown.`
              : "The request log is off (request_log.enabled)."}
          </p>
        )}
        <div class="table-wrap">
          <table class="table compact" aria-label="Request log">
            <thead>
              <tr>
                <th>Time</th>
                <th>Model</th>
                <th>Engine</th>
                <th>Route</th>
                <th>Caller</th>
                <th>Status</th>
                <th class="num">Tokens in / out</th>
                <th class="num">TTFT</th>
                <th class="num">Duration</th>
                <th class="num">Tok/s</th>
              </tr>
            </thead>
            <tbody>
              {logRows.length === 0 && <Empty cols={10}>No request logged yet.</Empty>}
              {logRows.map((row) => (
                <tr key={row.id} title={row.error ?? undefined}>
                  <td>{clock(row.ts * 1000)}</td>
                  <td class="mono">{row.model ?? "—"}</td>
                  <td>{row.cluster ?? "—"}</td>
                  <td class="mono small">
                    {row.route}
                    {row.stream ? " (stream)" : ""}
                  </td>
                  <td class="mono small">{row.client ?? "—"}</td>
                  <td>
                    <Badge tone={row.status < 400 && !row.error ? "ok" : row.status === 499 ? "warn" : "bad"}>
                      {row.status}
                    </Badge>
                    {row.error && <div class="bad-text small ellipsis">{row.error}</div>}
                  </td>
                  <td class="num">
                    {num(row.prompt_tokens)} / {num(row.completion_tokens)}
                    {row.cached_tokens ? <div class="muted small">{num(row.cached_tokens)} cached</div> : null}
                  </td>
                  <td class="num">{duration(row.ttft_ms)}</td>
                  <td class="num">{duration(row.duration_ms)}</td>
                  <td class="num">{num(row.tps, 1)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Card>
    </div>
  );
}
