/**
 * The request log, `GET /admin/metrics` and Prometheus' `GET /metrics`, with real parts: a real Ithaca (temporary
 * home) in front of a fake OpenAI-wire upstream, called with the real openai and Anthropic SDKs. Every request of
 * every inference route is counted exactly once — stream or not, answered or failed —, its tokens are the usage its
 * client got, a stream's time to first token is that of its first generated token (not of the role chunk), and both
 * routes are admin-only.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { FakeUpstream } from "../helpers/fake-upstream.ts";
import { jsonCall } from "../helpers/json-call.ts";
import { parsePrometheus, sumOf } from "../helpers/prometheus.ts";
import { startIthaca, type RunningIthaca } from "../helpers/start.ts";
import type { RequestView as Row } from "../../src/admin/request-view.ts";

const ADMIN = "admin-metrics";
const MESSAGES = [{ role: "user" as const, content: "Hello" }];
/** The fake's stream waits this long between its role chunk and its first token (a prefill). */
const PREFILL_MS = 150;

let fake: FakeUpstream;
let server: RunningIthaca;
const admin = { authorization: `Bearer ${ADMIN}` };
/** What each client got, by what it did. */
const usage: Record<string, { prompt: number; completion: number }> = {};

beforeAll(async () => {
  fake = new FakeUpstream({ models: ["m"], streamChunks: 4 });
  server = await startIthaca(
    {
      auth: { admin_token_env: "METRICS_ADMIN" },
      upstreams: [{ id: "fx", base_url: fake.baseUrl, models: ["m"], retry: { attempts: 1 } }],
    },
    { env: { METRICS_ADMIN: ADMIN } },
  );
  const openai = new OpenAI({ baseURL: server.baseURL, apiKey: "unused", maxRetries: 0 });
  const anthropic = new Anthropic({ baseURL: server.url, apiKey: "unused", maxRetries: 0 });

  const chat = await openai.chat.completions.create({ model: "fx:m", messages: MESSAGES });
  usage.chat = { prompt: chat.usage?.prompt_tokens ?? -1, completion: chat.usage?.completion_tokens ?? -1 };

  fake.behavior = { kind: "slow", delayMs: PREFILL_MS };
  const stream = await openai.chat.completions.create({
    model: "fx:m",
    messages: MESSAGES,
    stream: true,
    stream_options: { include_usage: true },
  });
  for await (const chunk of stream) {
    if (chunk.usage) usage.stream = { prompt: chunk.usage.prompt_tokens, completion: chunk.usage.completion_tokens };
  }
  fake.behavior = { kind: "ok" };

  const message = await anthropic.messages.stream({ model: "fx:m", max_tokens: 64, messages: MESSAGES }).finalMessage();
  usage.messages = { prompt: message.usage.input_tokens, completion: message.usage.output_tokens };

  const response = await openai.responses.create({ model: "fx:m", input: "Hello" });
  usage.responses = { prompt: response.usage?.input_tokens ?? -1, completion: response.usage?.output_tokens ?? -1 };

  // Three that fail: a model nobody serves (404 before any backend), an upstream's refusal (400), and embeddings the
  // fake does not serve (its 404).
  expect(await failure(openai.chat.completions.create({ model: "nope", messages: MESSAGES }))).toBe(404);
  fake.behavior = { kind: "fail", status: 400, body: JSON.stringify({ error: { message: "bad", code: "bad_thing" } }) };
  expect(await failure(openai.chat.completions.create({ model: "fx:m", messages: MESSAGES }))).toBe(400);
  fake.behavior = { kind: "ok" };
  expect(await failure(openai.embeddings.create({ model: "fx:m", input: "Hello" }))).toBe(404);
});

/** The status of the SDK error `call` fails with (it must fail). */
async function failure(call: PromiseLike<unknown>): Promise<number | undefined> {
  try {
    await call;
  } catch (error) {
    return (error as { status?: number }).status;
  }
  throw new Error("the call succeeded");
}

afterAll(async () => {
  await server?.close();
  fake?.stop();
});

async function rows(): Promise<Row[]> {
  const { status, json } = await jsonCall(server.url, "GET", "/admin/metrics?limit=100", undefined, admin);
  expect(status).toBe(200);
  return (json.data as Row[]).toReversed(); // oldest first, as made
}

describe("the request log", () => {
  test("one row per request, in order, with route, stream, status and error", async () => {
    const log = await rows();
    expect(log.map((r) => [r.route, r.stream, r.status, r.error])).toEqual([
      ["/v1/chat/completions", false, 200, null],
      ["/v1/chat/completions", true, 200, null],
      ["/v1/messages", true, 200, null],
      ["/v1/responses", false, 200, null],
      ["/v1/chat/completions", false, 404, "model_not_found"],
      ["/v1/chat/completions", false, 400, "bad_thing"],
      ["/v1/embeddings", false, 404, expect.any(String)],
    ]);
    for (const r of log) expect(r.client).toBe("open");
    expect(new Set(log.map((r) => r.id)).size).toBe(log.length);
  });

  test("model asked and served, backend and engine", async () => {
    const log = await rows();
    expect(log[0]).toMatchObject({ model: "fx:m", model_requested: "fx:m", backend: "upstream:fx", cluster: "fx" });
    expect(log[4]).toMatchObject({ model: "nope", model_requested: "nope", backend: null, cluster: null });
    expect(log[5]).toMatchObject({ model: "fx:m", backend: "upstream:fx" });
  });

  test("tokens are the usage each client got", async () => {
    const log = await rows();
    const got = (r: Row) => ({ prompt: r.prompt_tokens, completion: r.completion_tokens });
    expect(got(log[0] as Row)).toEqual(usage.chat as never);
    expect(got(log[1] as Row)).toEqual(usage.stream as never);
    expect(got(log[2] as Row)).toEqual(usage.messages as never);
    expect(got(log[3] as Row)).toEqual(usage.responses as never);
    expect(usage.stream).toEqual({ prompt: 5, completion: 4 });
    expect(log[0]?.ntoks).toBe(6);
    for (const r of log.slice(4)) expect(r.completion_tokens).toBeNull();
  });

  test("streams have a time to first token (the first generated token, not the role chunk); others none", async () => {
    const log = await rows();
    const stream = log[1] as Row;
    expect(stream.ttft_ms).toBeGreaterThanOrEqual(PREFILL_MS - 5);
    expect(stream.ttft_ms).toBeLessThanOrEqual(stream.duration_ms);
    expect(stream.ttft_s).toBeCloseTo((stream.ttft_ms as number) / 1000, 2);
    expect(log[2]?.ttft_ms).toBeGreaterThan(0);
    for (const r of [log[0], log[3], log[4]]) expect(r?.ttft_ms).toBeNull();
    expect(stream.tps).toBeGreaterThan(0);
    for (const r of log) expect(r.duration_ms).toBeGreaterThan(0);
  });

  test("per-model sums", async () => {
    const { json } = await jsonCall(server.url, "GET", "/admin/metrics", undefined, admin);
    const served = json.models.find((m: { model: string }) => m.model === "fx:m");
    const completion = Object.values(usage).reduce((total, u) => total + u.completion, 0);
    expect(served).toMatchObject({ requests: 6, errors: 2, streams: 2, completion_tokens: completion });
    expect(served.ttft_ms_p50).toBeGreaterThan(0);
    expect(served.ttft_ms_p95).toBeGreaterThanOrEqual(served.ttft_ms_p50);
    expect(json.models.find((m: { model: string }) => m.model === "nope")).toMatchObject({ requests: 1, errors: 1 });
    expect(json.in_flight).toBe(0);
    expect(json.log).toEqual({ enabled: true, rows: 7, max_rows: 100_000, max_age_days: 30 });
  });

  test("limit and filters; a bad parameter is a 400 naming it", async () => {
    const latest = await jsonCall(server.url, "GET", "/admin/metrics?limit=2", undefined, admin);
    expect(latest.json.data.map((r: Row) => r.route)).toEqual(["/v1/embeddings", "/v1/chat/completions"]);
    const nope = await jsonCall(server.url, "GET", "/admin/metrics?model=nope", undefined, admin);
    expect(nope.json.count).toBe(1);
    const fx = await jsonCall(server.url, "GET", "/admin/metrics?cluster=fx", undefined, admin);
    expect(fx.json.count).toBe(6);
    for (const bad of ["limit=0", "limit=abc", "limit=1001", "window_s=-1"]) {
      const answer = await jsonCall(server.url, "GET", `/admin/metrics?${bad}`, undefined, admin);
      expect(answer.status).toBe(400);
      expect(answer.json.error.param).toBe(bad.split("=")[0]);
    }
  });
});

describe("Prometheus /metrics", () => {
  test("the series count exactly the requests made, their tokens and latencies", async () => {
    const response = await fetch(`${server.url}/metrics`, { headers: admin });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/plain");
    const samples = parsePrometheus(await response.text());
    const fx = { model: "fx:m", backend: "upstream:fx" };
    expect(sumOf(samples, "ithaca_requests_total")).toBe(7);
    expect(sumOf(samples, "ithaca_requests_total", { ...fx, route: "/v1/chat/completions", status: "200" })).toBe(2);
    expect(sumOf(samples, "ithaca_requests_total", { ...fx, route: "/v1/messages", status: "200" })).toBe(1);
    expect(sumOf(samples, "ithaca_requests_total", { ...fx, route: "/v1/responses" })).toBe(1);
    expect(sumOf(samples, "ithaca_requests_total", { model: "none", backend: "none", status: "404" })).toBe(1);
    expect(sumOf(samples, "ithaca_request_errors_total")).toBe(3);
    expect(sumOf(samples, "ithaca_request_errors_total", { code: "model_not_found" })).toBe(1);
    const prompt = Object.values(usage).reduce((total, u) => total + u.prompt, 0);
    const completion = Object.values(usage).reduce((total, u) => total + u.completion, 0);
    expect(sumOf(samples, "ithaca_tokens_total", { ...fx, type: "prompt" })).toBe(prompt);
    expect(sumOf(samples, "ithaca_tokens_total", { ...fx, type: "completion" })).toBe(completion);
    expect(sumOf(samples, "ithaca_time_to_first_token_seconds_count", fx)).toBe(2);
    expect(sumOf(samples, "ithaca_time_to_first_token_seconds_sum", fx)).toBeGreaterThan(PREFILL_MS / 1000 - 0.005);
    expect(sumOf(samples, "ithaca_request_duration_seconds_count")).toBe(7);
    expect(sumOf(samples, "ithaca_requests_in_flight")).toBe(0);
  });

  test("behind the admin token: 401 without it or with another credential, in the OpenAI shape", async () => {
    for (const headers of [{}, { authorization: "Bearer not-it" }] as Record<string, string>[]) {
      const response = await fetch(`${server.url}/metrics`, { headers });
      expect(response.status).toBe(401);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe("invalid_admin_token");
    }
    expect((await jsonCall(server.url, "GET", "/admin/metrics")).status).toBe(401);
    expect((await fetch(`${server.url}/metrics`, { method: "POST", headers: admin })).status).toBe(404);
  });

  test("with API keys configured the admin token still reads it, and an API key does not", async () => {
    const keyed = await startIthaca(
      { auth: { api_keys: ["sk-client"], admin_token_env: "KEYED_ADMIN" } },
      { env: { KEYED_ADMIN: ADMIN } },
    );
    try {
      expect((await fetch(`${keyed.url}/metrics`, { headers: admin })).status).toBe(200);
      expect((await fetch(`${keyed.url}/metrics`, { headers: { authorization: "Bearer sk-client" } })).status).toBe(
        401,
      );
    } finally {
      await keyed.close();
    }
  });

  test("in open mode without an admin token it answers this machine, as /admin does", async () => {
    const open = await startIthaca({});
    try {
      const response = await fetch(`${open.url}/metrics`);
      expect(response.status).toBe(200);
      expect(await response.text()).toContain("# TYPE ithaca_requests_total counter");
    } finally {
      await open.close();
    }
  });
});
