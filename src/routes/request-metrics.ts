/**
 * The Prometheus series of inference requests (`GET /metrics`), kept with prom-client in a registry of their own,
 * labelled by `model` (the catalog id that answered; `none` when none was tried) and `backend` (`local`,
 * `upstream:<id>`; `none`):
 *
 * - `ithaca_requests_total{model,backend,route,status}` — ended requests, by route and HTTP status sent (200 for a
 *   stream, whatever happened in it);
 * - `ithaca_request_errors_total{model,backend,code}` — requests that failed or ended in error, by error code (in-band
 *   ones included; `client_closed` when the client left);
 * - `ithaca_tokens_total{model,backend,type}` — `prompt` (cached included), `cached` and `completion` tokens;
 * - `ithaca_time_to_first_token_seconds{model,backend}` — histogram, streamed answers;
 * - `ithaca_request_duration_seconds{model,backend}` — histogram, arrival to the answer's last byte;
 * - `ithaca_requests_in_flight{model,backend}` — gauge, read from the runs in flight when scraped.
 *
 * Observations are made when a run ends (./runs.ts) and tallied in batches ({@link RequestMetrics.observe}), before
 * every scrape at the latest. Counters are tallied in plain maps and handed to prom-client when scraped (its `collect`
 * hook): prom-client hashes a label set on every `inc`, which is not worth paying per request; the histograms observe
 * directly.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { RequestRow } from "../store/requests.ts";
import type { Runs } from "./runs.ts";

/** The label value of a request that no backend answered. */
const NONE = "none";

/** Rows waiting at most this many before they are tallied. */
const PENDING_ROWS = 1024;
/** Rows waiting at most this long (ms) before they are tallied. */
const PENDING_MS = 1_000;

/** Buckets of the time to first token, in seconds. */
const TTFT_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** Buckets of the request duration, in seconds. */
const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

type ModelLabels = "model" | "backend";

/** A counter's running total for one label set. */
interface Tally {
  labels: Record<string, string>;
  value: number;
}

/** Adds `value` to the tally of `key` in `tallies`, creating it with `labels()` the first time. */
function tally(tallies: Map<string, Tally>, key: string, labels: () => Record<string, string>, value: number): void {
  const found = tallies.get(key);
  if (found) found.value += value;
  else tallies.set(key, { labels: labels(), value });
}

/** A counter whose values are the tallies, set when it is collected. */
function talliedCounter(
  name: string,
  help: string,
  labelNames: string[],
  tallies: Map<string, Tally>,
  registry: Registry,
) {
  return new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const { labels, value } of tallies.values()) this.inc(labels, value);
    },
  });
}

/** The request series and their registry (see the module comment). */
export class RequestMetrics {
  /** The registry `/metrics` renders; read through {@link exposition} only, which tallies what waits first. */
  private readonly registry = new Registry();
  private readonly requests = new Map<string, Tally>();
  private readonly errors = new Map<string, Tally>();
  private readonly tokens = new Map<string, Tally>();
  private readonly ttft: Histogram<ModelLabels>;
  private readonly duration: Histogram<ModelLabels>;
  /** Ended requests not tallied yet. */
  private pending: RequestRow[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;

  /** @param runs the runs in flight, counted when scraped. */
  constructor(runs: Runs) {
    const registers = [this.registry];
    talliedCounter(
      "ithaca_requests_total",
      "Inference requests ended, by model, backend, route and HTTP status sent.",
      ["model", "backend", "route", "status"],
      this.requests,
      this.registry,
    );
    talliedCounter(
      "ithaca_request_errors_total",
      "Inference requests that failed or ended in error (in-band included), by error code.",
      ["model", "backend", "code"],
      this.errors,
      this.registry,
    );
    talliedCounter(
      "ithaca_tokens_total",
      "Tokens of ended requests: prompt (cached included), cached and completion.",
      ["model", "backend", "type"],
      this.tokens,
      this.registry,
    );
    this.ttft = new Histogram({
      name: "ithaca_time_to_first_token_seconds",
      help: "Arrival to the first generated token sent, for streamed answers.",
      labelNames: ["model", "backend"],
      buckets: TTFT_BUCKETS,
      registers,
    });
    this.duration = new Histogram({
      name: "ithaca_request_duration_seconds",
      help: "Arrival to the last byte of the answer.",
      labelNames: ["model", "backend"],
      buckets: DURATION_BUCKETS,
      registers,
    });
    new Gauge({
      name: "ithaca_requests_in_flight",
      help: "Inference requests in flight, by the model and backend answering (none before one is chosen).",
      labelNames: ["model", "backend"],
      registers,
      collect() {
        this.reset();
        for (const run of runs.inFlight()) this.inc({ model: run.servedModel ?? NONE, backend: run.backend ?? NONE });
      },
    });
  }

  /**
   * Counts an ended request. Rows are tallied in batches ({@link PENDING_ROWS} at most, or each second, and before
   * every scrape), not one by one on the request path: a tight loop over many rows runs in warm caches, where the
   * same work done per request costs several times more.
   */
  observe(row: RequestRow): void {
    this.pending.push(row);
    if (this.pending.length >= PENDING_ROWS) this.tallyPending();
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.tallyPending(), PENDING_MS);
      this.timer.unref?.();
    }
  }

  /** Tallies the rows waiting. */
  private tallyPending(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const rows = this.pending;
    this.pending = [];
    for (const row of rows) this.tally(row);
  }

  private tally(row: RequestRow): void {
    const model = row.served_model ?? NONE;
    const backend = row.backend ?? NONE;
    const series = `${model}\n${backend}`;
    const { route, status, error } = row;
    tally(
      this.requests,
      `${series}\n${route}\n${status}`,
      () => ({ model, backend, route, status: String(status) }),
      1,
    );
    if (error !== null || status >= 400) {
      const code = error ?? String(status);
      tally(this.errors, `${series}\n${code}`, () => ({ model, backend, code }), 1);
    }
    for (const type of ["prompt", "cached", "completion"] as const) {
      const count = row[`${type}_tokens`];
      if (count) tally(this.tokens, `${series}\n${type}`, () => ({ model, backend, type }), count);
    }
    const labels = { model, backend };
    if (row.ttft_ms !== null) this.ttft.observe(labels, row.ttft_ms / 1000);
    this.duration.observe(labels, row.duration_ms / 1000);
  }

  /** The Prometheus text exposition of every series. */
  exposition(): Promise<string> {
    this.tallyPending();
    return this.registry.metrics();
  }

  /** The content type of {@link exposition} (text format 0.0.4). */
  get contentType(): string {
    return this.registry.contentType;
  }
}
