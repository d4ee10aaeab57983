/**
 * The request log in a real runtime database (temporary home): rows written in batches off the caller's path (by the
 * timer, or at once past `batch_rows`), read newest first with filters, summed per model (error counts, token totals,
 * nearest-rank TTFT percentiles), bounded by age and rows, flushed on close; a disabled log records nothing.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { RequestLog, type RequestLogOptions } from "../../src/store/request-log.ts";
import type { RequestRow } from "../../src/store/requests.ts";
import { Store } from "../../src/store/store.ts";
import { tempDir } from "../helpers/paths.ts";

const DAY_MS = 86_400_000;

let n = 0;
/** A row of `model` (served by `upstream:fx`) with the fields a test cares about overridden. */
function row(over: Partial<RequestRow> = {}): RequestRow {
  n++;
  return {
    id: `run-${n}`,
    at: Date.now(),
    caller: "open",
    route: "/v1/chat/completions",
    model: "fx:m",
    served_model: "fx:m",
    backend: "upstream:fx",
    stream: false,
    status: 200,
    error: null,
    prompt_tokens: 5,
    cached_tokens: 0,
    completion_tokens: 6,
    ttft_ms: null,
    tokens_per_s: 60,
    duration_ms: 100,
    ...over,
  };
}

const OPTIONS: RequestLogOptions = {
  enabled: true,
  max_age_days: 30,
  max_rows: 100_000,
  flush_ms: 50,
  batch_rows: 500,
};

const opened: { store: Store; log?: RequestLog }[] = [];
function open(options: Partial<RequestLogOptions> = {}) {
  const store = Store.open(tempDir("ithaca-requests-"));
  const log = new RequestLog(store.requests, { ...OPTIONS, ...options });
  opened.push({ store, log });
  return { store, table: store.requests, log };
}

afterEach(() => {
  for (const { store, log } of opened.splice(0)) {
    log?.close();
    store.close();
  }
});

describe("the requests table", () => {
  test("rows come back newest first, as written, filtered by model or backend", () => {
    const { table } = open();
    const first = row({ prompt_tokens: 7, cached_tokens: 3, ttft_ms: 12.5, stream: true, caller: "key:k1" });
    const second = row({ served_model: null, backend: null, model: "nope", status: 404, error: "model_not_found" });
    const third = row({ served_model: "local-m", model: "local-m", backend: "local" });
    table.insert([first, second, third]);
    expect(table.recent({ limit: 10 })).toEqual([third, second, first]);
    expect(table.recent({ limit: 1 })).toEqual([third]);
    expect(table.recent({ limit: 10, model: "nope" })).toEqual([second]);
    expect(table.recent({ limit: 10, backend: "local" })).toEqual([third]);
    expect(table.count()).toBe(3);
  });

  test("per-model sums: requests, errors (not a client leaving), tokens, TTFT p50/p95, mean tok/s", () => {
    const { table } = open();
    const ttfts = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
    table.insert([
      ...ttfts.map((ttft_ms) => row({ stream: true, ttft_ms, tokens_per_s: 50 })),
      row({ status: 502, error: "upstream_error", prompt_tokens: null, completion_tokens: null, tokens_per_s: null }),
      row({ stream: true, error: "client_closed", ttft_ms: null, tokens_per_s: 160 }),
      row({ served_model: null, backend: null, model: "nope", status: 404, error: "model_not_found" }),
    ]);
    const sums = table.perModel();
    expect(sums.map((sum) => sum.model)).toEqual(["fx:m", "nope"]);
    expect(sums[0]).toMatchObject({
      requests: 12,
      errors: 1,
      streams: 11,
      prompt_tokens: 55,
      cached_tokens: 0,
      completion_tokens: 66,
      ttft_ms_p50: 50,
      ttft_ms_p95: 100,
      tokens_per_s_mean: 60,
      duration_ms_mean: 100,
    });
    expect(sums[1]).toMatchObject({ model: "nope", requests: 1, errors: 1, ttft_ms_p50: null, tokens_per_s_mean: 60 });
    // A window leaves older rows out.
    table.insert([row({ at: Date.now() - 2 * DAY_MS, served_model: "old", model: "old" })]);
    expect(table.perModel().map((sum) => sum.model)).toContain("old");
    expect(table.perModel(Date.now() - DAY_MS).map((sum) => sum.model)).not.toContain("old");
  });

  test("retention: rows older than the age bound go, then all but the newest max_rows", () => {
    const { table } = open();
    const now = Date.now();
    table.insert([row({ at: now - 40 * DAY_MS }), row({ at: now - 31 * DAY_MS }), ...[1, 2, 3, 4, 5].map(() => row())]);
    expect(table.prune(now - 30 * DAY_MS, 0)).toBe(2);
    expect(table.count()).toBe(5);
    const newest = table.recent({ limit: 3 });
    expect(table.prune(0, 3)).toBe(2);
    expect(table.recent({ limit: 10 })).toEqual(newest);
    expect(table.prune(0, 3)).toBe(0);
  });
});

describe("the request log's writer", () => {
  test("add() only queues; the timer writes the batch", async () => {
    const { table, log } = open({ flush_ms: 40 });
    log.add(row());
    log.add(row());
    expect(log.pending).toBe(2);
    expect(table.count()).toBe(0);
    await Bun.sleep(150);
    expect(log.pending).toBe(0);
    expect(table.count()).toBe(2);
  });

  test("batch_rows queued rows are written without waiting for the timer", async () => {
    const { table, log } = open({ flush_ms: 60_000, batch_rows: 3 });
    log.add(row());
    log.add(row());
    await Bun.sleep(20);
    expect(table.count()).toBe(0);
    log.add(row());
    expect(table.count()).toBe(0); // not on the caller's path
    await Bun.sleep(20);
    expect(table.count()).toBe(3);
  });

  test("flush() writes at once; close() writes what is queued and ignores later rows", () => {
    const { table, log } = open({ flush_ms: 60_000 });
    log.add(row());
    expect(log.flush()).toBe(1);
    expect(table.count()).toBe(1);
    log.add(row());
    log.close();
    expect(table.count()).toBe(2);
    log.add(row());
    expect(log.flush()).toBe(0);
    expect(table.count()).toBe(2);
  });

  test("retention applies at start: a reopened log drops what is past its bounds", () => {
    const home = tempDir("ithaca-requests-");
    const store = Store.open(home);
    store.requests.insert([row({ at: Date.now() - 3 * DAY_MS }), ...[1, 2, 3, 4].map(() => row())]);
    const log = new RequestLog(store.requests, { ...OPTIONS, max_age_days: 2, max_rows: 3 });
    opened.push({ store, log });
    expect(store.requests.count()).toBe(3);
  });

  test("a disabled log records nothing", () => {
    const { table, log } = open({ enabled: false });
    log.add(row());
    expect(log.pending).toBe(0);
    expect(log.flush()).toBe(0);
    expect(table.count()).toBe(0);
  });
});
