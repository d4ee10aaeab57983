/**
 * The `requests` table: the request log (migration 0006). Rows are written in batches (./request-log.ts), read newest
 * first for `GET /admin/metrics` and `GET /admin/runs?history=N`, summed per model, and pruned by age and count.
 */
import type { Database } from "bun:sqlite";

/** One finished inference request as the log keeps it (times in unix ms or ms, token counts in tokens). */
export interface RequestRow {
  /** The run id (`/admin/runs`). */
  id: string;
  /** When the request arrived, unix ms. */
  at: number;
  /** The caller's auth scope (`open`, `key:<id>`, `crew:<id>`, `admin`); null when never decided. */
  caller: string | null;
  /** The route's path: `/v1/chat/completions`, `/v1/messages`, `/v1/responses`, `/v1/embeddings`. */
  route: string;
  /** The model asked for; null when the body had none. */
  model: string | null;
  /** The catalog id that answered (the last one tried when all failed); null when none was tried. */
  served_model: string | null;
  /** Its backend's id (`local`, `upstream:<id>`). */
  backend: string | null;
  stream: boolean;
  /** The HTTP status sent: 200 for a stream, even one that ended with an in-band error. */
  status: number;
  /** The error's code (in-band for a stream; `client_closed` when the client left); null when none. */
  error: string | null;
  /** The whole prompt, cached tokens included; null when the answer did not say. */
  prompt_tokens: number | null;
  cached_tokens: number | null;
  completion_tokens: number | null;
  /** Arrival → first generated token on its way to the client, in ms; null without one (non-stream answers). */
  ttft_ms: number | null;
  /** Completion tokens per second of generation (after the first token, or over the whole request without one). */
  tokens_per_s: number | null;
  /** Arrival → the answer's last byte, in ms. */
  duration_ms: number;
}

/** What `GET /admin/metrics` sums up per model. */
export interface ModelAggregate {
  /** The served model, or the model asked for when none answered. */
  model: string;
  requests: number;
  /** Requests answered with an HTTP error or ended by an in-band one (a client leaving is not counted). */
  errors: number;
  streams: number;
  prompt_tokens: number;
  cached_tokens: number;
  completion_tokens: number;
  /** Time to first token of streamed answers, in ms (nearest rank); null without any. */
  ttft_ms_p50: number | null;
  ttft_ms_p95: number | null;
  /** Mean of the requests' tokens per second; null without any. */
  tokens_per_s_mean: number | null;
  duration_ms_mean: number;
  /** Unix ms of the model's latest request. */
  last_at: number;
}

/** Filters of {@link RequestTable.recent}. */
export interface RecentQuery {
  limit: number;
  /** Served model or model asked for. */
  model?: string;
  backend?: string;
}

type StoredRow = Omit<RequestRow, "stream"> & { stream: number };

const COLUMNS =
  "id, at, caller, route, model, served_model, backend, stream, status, error, prompt_tokens, cached_tokens, " +
  "completion_tokens, ttft_ms, tokens_per_s, duration_ms";

/** A row counts as an error: an HTTP error status, or an error code other than the client leaving. */
const IS_ERROR = "(status >= 400 OR (error IS NOT NULL AND error != 'client_closed'))";

const fromStored = (row: StoredRow): RequestRow => ({ ...row, stream: row.stream === 1 });

/** Nearest-rank percentile `p` (0–1) of ascending `sorted`; null when empty. */
function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number;
}

/** Reads and writes the `requests` table of an open runtime database. */
export class RequestTable {
  private readonly insertOne;

  constructor(private readonly db: Database) {
    this.insertOne = db.query(`INSERT INTO requests (${COLUMNS}) VALUES (${COLUMNS.replace(/\w+/g, "?")})`);
  }

  /** Writes `rows` in one transaction; committed when this returns. */
  insert(rows: readonly RequestRow[]): void {
    const insert = this.insertOne;
    this.db.transaction(() => {
      for (const r of rows) {
        insert.run(
          r.id,
          r.at,
          r.caller,
          r.route,
          r.model,
          r.served_model,
          r.backend,
          r.stream ? 1 : 0,
          r.status,
          r.error,
          r.prompt_tokens,
          r.cached_tokens,
          r.completion_tokens,
          r.ttft_ms,
          r.tokens_per_s,
          r.duration_ms,
        );
      }
    })();
  }

  /** The latest rows, newest first. */
  recent(query: RecentQuery): RequestRow[] {
    const rows = this.db
      .query<StoredRow, [string | null, string | null, number]>(
        `SELECT ${COLUMNS} FROM requests WHERE (?1 IS NULL OR served_model = ?1 OR model = ?1) ` +
          "AND (?2 IS NULL OR backend = ?2) ORDER BY seq DESC LIMIT ?3",
      )
      .all(query.model ?? null, query.backend ?? null, query.limit);
    return rows.map(fromStored);
  }

  /**
   * Per-model sums over the rows since `sinceMs` (unix ms; 0: all), busiest model first.
   * Time-to-first-token percentiles are computed here from the rows' values (SQLite has no percentile function).
   */
  perModel(sinceMs = 0): ModelAggregate[] {
    const sums = this.db
      .query<Omit<ModelAggregate, "ttft_ms_p50" | "ttft_ms_p95">, [number]>(
        "SELECT COALESCE(served_model, model, '') AS model, COUNT(*) AS requests, " +
          `SUM(CASE WHEN ${IS_ERROR} THEN 1 ELSE 0 END) AS errors, SUM(stream) AS streams, ` +
          "COALESCE(SUM(prompt_tokens), 0) AS prompt_tokens, COALESCE(SUM(cached_tokens), 0) AS cached_tokens, " +
          "COALESCE(SUM(completion_tokens), 0) AS completion_tokens, AVG(tokens_per_s) AS tokens_per_s_mean, " +
          "AVG(duration_ms) AS duration_ms_mean, MAX(at) AS last_at " +
          "FROM requests WHERE at >= ? GROUP BY 1 ORDER BY requests DESC, model",
      )
      .all(sinceMs);
    const ttfts = new Map<string, number[]>();
    const rows = this.db
      .query<{ model: string; ttft_ms: number }, [number]>(
        "SELECT COALESCE(served_model, model, '') AS model, ttft_ms FROM requests " +
          "WHERE at >= ? AND ttft_ms IS NOT NULL ORDER BY 1, 2",
      )
      .all(sinceMs);
    for (const row of rows) {
      const list = ttfts.get(row.model);
      if (list) list.push(row.ttft_ms);
      else ttfts.set(row.model, [row.ttft_ms]);
    }
    return sums.map((sum) => {
      const sorted = ttfts.get(sum.model) ?? [];
      return { ...sum, ttft_ms_p50: percentile(sorted, 0.5), ttft_ms_p95: percentile(sorted, 0.95) };
    });
  }

  /** How many rows the log holds. */
  count(): number {
    return this.db.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM requests").get()?.n ?? 0;
  }

  /**
   * Deletes the rows written before the first one that arrived at or after `beforeMs` (unix ms; 0: none by age) —
   * rows go in the order they were written, which is their arrival order but for requests that overlapped —, then
   * all but the newest `keepRows` (0: no row bound), in one transaction.
   * @returns how many rows were deleted.
   */
  prune(beforeMs: number, keepRows: number): number {
    let deleted = 0;
    this.db.transaction(() => {
      if (beforeMs > 0) {
        deleted += this.db.run(
          "DELETE FROM requests WHERE seq < COALESCE((SELECT seq FROM requests WHERE at >= ? ORDER BY seq LIMIT 1), " +
            "(SELECT MAX(seq) + 1 FROM requests))",
          [beforeMs],
        ).changes;
      }
      if (keepRows > 0) {
        deleted += this.db.run(
          "DELETE FROM requests WHERE seq < (SELECT seq FROM requests ORDER BY seq DESC LIMIT 1 OFFSET ?)",
          [keepRows - 1],
        ).changes;
      }
    })();
    return deleted;
  }
}
