/**
 * `/admin/runs` with real parts: a real Ithaca in front of fake OpenAI-wire upstreams and a real local model (MLX in
 * its Worker), called with the real openai and Anthropic SDKs. A slow request is listed while in flight (age, model,
 * caller); cancelling it aborts the upstream exchange or the local generation, and its client gets the dialect's
 * error — 499 `request_cancelled` before the answer started, the in-band error of its stream after —; the request log
 * keeps it; unknown ids are 404, bad parameters 400, and the routes are admin-only.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { FakeUpstream } from "../helpers/fake-upstream.ts";
import { jsonCall } from "../helpers/json-call.ts";
import { makeModel } from "../helpers/paths.ts";
import { startIthaca, type RunningIthaca } from "../helpers/start.ts";
import type { RunView } from "../../src/routes/runs.ts";

const ADMIN = "admin-runs";
const admin = { authorization: `Bearer ${ADMIN}` };
const MESSAGES = [{ role: "user" as const, content: "Tell me a long story about the sea." }];

/** A fake that answers non-stream requests after a long wait, and one whose streams go on for a long time. */
let slow: FakeUpstream;
let long: FakeUpstream;
let server: RunningIthaca;
let openai: OpenAI;

beforeAll(async () => {
  slow = new FakeUpstream({ models: ["m"] });
  slow.behavior = { kind: "slow", delayMs: 30_000 };
  long = new FakeUpstream({ models: ["m"], streamChunks: 100_000, chunkDelayMs: 10 });
  server = await startIthaca(
    {
      auth: { admin_token_env: "RUNS_ADMIN" },
      models: [{ id: "tiny", path: makeModel("qwen3", { seed: 41 }) }],
      upstreams: [
        { id: "slow", base_url: slow.baseUrl, models: ["m"], retry: { attempts: 1 } },
        { id: "long", base_url: long.baseUrl, models: ["m"], retry: { attempts: 1 } },
      ],
    },
    { env: { RUNS_ADMIN: ADMIN } },
  );
  openai = new OpenAI({ baseURL: server.baseURL, apiKey: "unused", maxRetries: 0 });
});

afterAll(async () => {
  await server?.close();
  slow?.stop();
  long?.stop();
});

async function inFlight(): Promise<RunView[]> {
  const { status, json } = await jsonCall(server.url, "GET", "/admin/runs", undefined, admin);
  expect(status).toBe(200);
  expect(json.count).toBe(json.data.length);
  return json.data;
}

/** The one run in flight for `model`, once there is one (polled up to `seconds`). */
async function runOf(model: string, seconds = 30): Promise<RunView> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const run = (await inFlight()).find((r) => r.served_model === model);
    if (run) return run;
    if (Date.now() > deadline) throw new Error(`no run of ${model} in flight`);
    await Bun.sleep(20);
  }
}

const cancel = (id: string) => jsonCall(server.url, "POST", `/admin/runs/${id}/cancel`, undefined, admin);

/** The error `call` fails with (it must fail). */
async function failure(call: PromiseLike<unknown>): Promise<{ status?: number; code?: string; message: string }> {
  try {
    await call;
  } catch (error) {
    return error as { status?: number; code?: string; message: string };
  }
  throw new Error("the call succeeded");
}

/** The latest ended request of the log. */
async function lastLogged() {
  const { json } = await jsonCall(server.url, "GET", "/admin/runs?history=1", undefined, admin);
  return json.history[0];
}

describe("an upstream exchange", () => {
  test("a slow request is listed in flight, and cancelling it gives its client 499 request_cancelled", async () => {
    const before = slow.requests.length;
    const pending = failure(openai.chat.completions.create({ model: "slow:m", messages: MESSAGES }));
    const run = await runOf("slow:m");
    expect(run).toMatchObject({
      route: "/v1/chat/completions",
      caller: "open",
      model: "slow:m",
      backend: "upstream:slow",
      stream: false,
      state: "waiting",
      ttft_ms: null,
    });
    expect(run.age_ms).toBeGreaterThanOrEqual(0);
    expect(Date.parse(run.started_at)).toBeLessThanOrEqual(Date.now());

    const cancelled = await cancel(run.id);
    expect(cancelled).toMatchObject({ status: 200, json: { ok: true, id: run.id, cancelled: true } });
    const error = await pending;
    expect(error).toMatchObject({ status: 499, code: "request_cancelled" });
    await slow.requests[before]?.aborted; // the upstream saw its exchange aborted
    expect(slow.requests[before]?.wasAborted()).toBe(true);

    expect(await inFlight()).toEqual([]);
    expect(await lastLogged()).toMatchObject({ id: run.id, status: 499, error: "request_cancelled", model: "slow:m" });
    expect((await cancel(run.id)).status).toBe(404);
  });

  test("cancelling a stream ends it with the in-band error the openai SDK raises", async () => {
    const before = long.requests.length;
    const stream = await openai.chat.completions.create({ model: "long:m", messages: MESSAGES, stream: true });
    let chunks = 0;
    const reading = failure(
      (async () => {
        for await (const _ of stream) chunks++;
      })(),
    );
    const run = await runOf("long:m");
    while (chunks < 3) await Bun.sleep(10);
    expect((await runOf("long:m")).state).toBe("generating");
    expect((await cancel(run.id)).json.cancelled).toBe(true);
    const error = await reading;
    expect(error.message).toContain("cancelled by the operator");
    await long.requests[before]?.aborted;
    expect(await inFlight()).toEqual([]);
    const logged = await lastLogged();
    expect(logged).toMatchObject({ id: run.id, stream: true, status: 200, error: "request_cancelled" });
    expect(logged.ttft_ms).toBeGreaterThan(0);
  });

  test("cancelling an Anthropic stream ends it with an `error` event", async () => {
    const anthropic = new Anthropic({ baseURL: server.url, apiKey: "unused", maxRetries: 0 });
    const stream = anthropic.messages.stream({ model: "long:m", max_tokens: 100_000, messages: MESSAGES });
    let text = "";
    stream.on("text", (delta) => {
      text += delta;
    });
    const ending = failure(stream.finalMessage());
    const run = await runOf("long:m");
    expect(run.route).toBe("/v1/messages");
    while (text.length === 0) await Bun.sleep(10);
    await cancel(run.id);
    expect((await ending).message).toContain("cancelled by the operator");
    expect(await lastLogged()).toMatchObject({ id: run.id, route: "/v1/messages", error: "request_cancelled" });
  });

  test("cancel-all cancels what is in flight", async () => {
    const pending = [1, 2].map(() => failure(openai.chat.completions.create({ model: "slow:m", messages: MESSAGES })));
    while ((await inFlight()).length < 2) await Bun.sleep(20);
    const { json } = await jsonCall(server.url, "POST", "/admin/runs/cancel-all?cluster=slow", undefined, admin);
    expect(json).toEqual({ ok: true, cancelled: 2 });
    for (const error of await Promise.all(pending)) expect(error.status).toBe(499);
  });
});

describe("a local generation", () => {
  test("a cancelled stream stops generating and ends with the in-band error", async () => {
    const stream = await openai.chat.completions.create({
      model: "tiny",
      messages: MESSAGES,
      max_tokens: 4000,
      stream: true,
    });
    let chunks = 0;
    const reading = failure(
      (async () => {
        for await (const _ of stream) chunks++;
      })(),
    );
    const run = await runOf("tiny");
    expect(run.backend).toBe("local");
    while (chunks < 3) await Bun.sleep(10);
    await cancel(run.id);
    expect((await reading).message).toContain("cancelled by the operator");
    expect(chunks).toBeLessThan(4000);
    const models = await jsonCall(server.url, "GET", "/admin/models", undefined, admin);
    expect(models.json.data.find((m: { id: string }) => m.id === "tiny").in_flight).toBe(0);
    const logged = await lastLogged();
    expect(logged).toMatchObject({ id: run.id, backend: "local", error: "request_cancelled" });
  });

  test("a cancelled non-stream generation answers 499", async () => {
    const pending = failure(openai.chat.completions.create({ model: "tiny", messages: MESSAGES, max_tokens: 4000 }));
    const run = await runOf("tiny");
    await cancel(run.id);
    expect(await pending).toMatchObject({ status: 499, code: "request_cancelled" });
  });
});

describe("the routes", () => {
  test("?history=N lists the latest ended requests, at most 500", async () => {
    const { json } = await jsonCall(server.url, "GET", "/admin/runs?history=3", undefined, admin);
    expect(json.history).toHaveLength(3);
    expect(json.history[0].ts).toBeGreaterThanOrEqual(json.history[1].ts);
    const none = await jsonCall(server.url, "GET", "/admin/runs", undefined, admin);
    expect(none.json.history).toEqual([]);
    const over = await jsonCall(server.url, "GET", "/admin/runs?history=501", undefined, admin);
    expect(over.status).toBe(400);
    expect(over.json.error.param).toBe("history");
  });

  test("an unknown run is 404 run_not_found; without the admin token, 401", async () => {
    const unknown = await cancel("no-such-run");
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.code).toBe("run_not_found");
    expect((await jsonCall(server.url, "GET", "/admin/runs")).status).toBe(401);
    expect((await jsonCall(server.url, "POST", "/admin/runs/x/cancel")).status).toBe(401);
  });
});
