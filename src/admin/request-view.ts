/**
 * A request-log row as the admin API shows it (`GET /admin/metrics`, `GET /admin/runs?history=N`): OdyssAI-X's field
 * names where they apply (odyssai-x-wire §1.2: `ts` in unix seconds, `client`, `cluster`, `model`, `ntoks`,
 * `elapsed_s`, `ttft_s`, `tps`, `status`) beside Ithaca's own (times in ms, every token count).
 */
import type { RequestRow } from "../store/requests.ts";

/** A request as the admin API lists it. */
export interface RequestView {
  id: string;
  /** Arrival, unix seconds (OdyssAI-X). */
  ts: number;
  /** Arrival, ISO 8601. */
  at: string;
  /** The caller's scope (`open`, `key:<id>`, `crew:<id>`, `admin`). */
  client: string | null;
  /** The engine that answered: `local` or the upstream's id. */
  cluster: string | null;
  backend: string | null;
  /** The model that answered, else the one asked for. */
  model: string | null;
  model_requested: string | null;
  route: string;
  stream: boolean;
  status: number;
  error: string | null;
  /** Completion tokens (OdyssAI-X). */
  ntoks: number | null;
  prompt_tokens: number | null;
  cached_tokens: number | null;
  completion_tokens: number | null;
  elapsed_s: number;
  duration_ms: number;
  ttft_s: number | null;
  ttft_ms: number | null;
  /** Completion tokens per second. */
  tps: number | null;
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;
const maybe = (value: number | null, digits: number) => (value === null ? null : round(value, digits));

/** The view of one row. */
export function requestView(row: RequestRow): RequestView {
  return {
    id: row.id,
    ts: round(row.at / 1000, 3),
    at: new Date(row.at).toISOString(),
    client: row.caller,
    cluster: row.backend === null ? null : row.backend.replace(/^upstream:/, ""),
    backend: row.backend,
    model: row.served_model ?? row.model,
    model_requested: row.model,
    route: row.route,
    stream: row.stream,
    status: row.status,
    error: row.error,
    ntoks: row.completion_tokens,
    prompt_tokens: row.prompt_tokens,
    cached_tokens: row.cached_tokens,
    completion_tokens: row.completion_tokens,
    elapsed_s: round(row.duration_ms / 1000, 3),
    duration_ms: round(row.duration_ms, 1),
    ttft_s: maybe(row.ttft_ms === null ? null : row.ttft_ms / 1000, 3),
    ttft_ms: maybe(row.ttft_ms, 1),
    tps: maybe(row.tokens_per_s, 2),
  };
}
