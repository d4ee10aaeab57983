/**
 * The local engine's bounded queue over HTTP, with the real `openai` SDK: when a model already has
 * `max_active + max_queue` requests in flight, the next one gets 503 in the OpenAI error shape with `Retry-After`,
 * while the requests in flight complete normally — and a proxied request is never delayed by local inference.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { createMlxBackend } from "../../src/backends/mlx/backend.ts";
import { resolveUpstream } from "../../src/config/load.ts";
import { createOpenAIHttpBackend } from "../../src/backends/openai/backend.ts";
import { makeModel } from "../helpers/paths.ts";
import { startIthaca, type RunningIthaca } from "../helpers/start.ts";
import { FakeUpstream } from "../helpers/fake-upstream.ts";

let server: RunningIthaca;
let client: OpenAI;
let upstream: FakeUpstream;

beforeAll(async () => {
  const backend = await createMlxBackend({
    models: [{ id: "tiny", path: makeModel("qwen3", { seed: 5 }) }],
    limits: { maxActive: 1, maxQueue: 1 },
  });
  upstream = new FakeUpstream({ models: ["remote"], streamChunks: 3 });
  const proxied = createOpenAIHttpBackend(
    resolveUpstream({ id: "lan", base_url: upstream.baseUrl, timeout_ms: { first_byte: 30_000, idle: 30_000 } }),
  );
  server = await startIthaca({}, { backends: [backend, proxied] });
  client = new OpenAI({ baseURL: server.baseURL, apiKey: "unused", maxRetries: 0 });
});
afterAll(async () => {
  await server?.close();
  upstream?.stop();
});

/** Starts a long local stream and counts its content chunks until aborted. */
async function longLocalStream() {
  const messages = [{ role: "user" as const, content: "Tell me about lighthouses." }];
  // Long enough to still be decoding while the checks run (the tiny model's context is 4096); aborted at the end.
  const stream = await client.chat.completions.create({
    model: "tiny",
    messages,
    max_tokens: 4000,
    temperature: 0,
    stream: true,
  });
  let chunks = 0;
  let finished = false;
  const done = (async () => {
    for await (const c of stream) {
      if (c.choices[0]?.delta.content) chunks++;
      if (c.choices[0]?.finish_reason) finished = true;
    }
  })();
  return { stream, done, chunks: () => chunks, finished: () => finished };
}

describe("bounded queue over HTTP", () => {
  test("the request beyond max_active + max_queue gets 503 with Retry-After; the others finish", async () => {
    const messages = [{ role: "user" as const, content: "Tell me about lighthouses." }];
    const long = await longLocalStream();
    const queued = client.chat.completions.create({ model: "tiny", messages, max_tokens: 5, temperature: 0 });
    // Give the queued request time to reach the Worker's queue.
    await Bun.sleep(50);

    const res = await fetch(`${server.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "tiny", messages, max_tokens: 5 }),
    });
    expect(res.status).toBe(503);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    const body = (await res.json()) as { error: { code: string; message: string; type: string } };
    expect(body.error.code).toBe("engine_overloaded");
    expect(body.error.type).toBe("server_error");
    expect(body.error.message).toContain("tiny");

    // The SDK surfaces the same refusal as an APIError with status 503.
    const refused = await client.chat.completions.create({ model: "tiny", messages, max_tokens: 5 }).catch((e) => e);
    expect(refused).toBeInstanceOf(OpenAI.APIError);
    expect((refused as InstanceType<typeof OpenAI.APIError>).status).toBe(503);

    long.stream.controller.abort();
    await long.done;
    expect(long.chunks()).toBeGreaterThan(0);
    expect((await queued).usage!.completion_tokens).toBe(5);
  });

  test("proxied requests are answered while a local generation is running (the engine stays in its Worker)", async () => {
    const long = await longLocalStream();
    await Bun.sleep(20);
    const before = long.chunks();
    for (let i = 0; i < 5; i++) {
      const r = await client.chat.completions.create({
        model: "lan:remote",
        messages: [{ role: "user", content: `ping ${i}` }],
      });
      expect(r.choices[0]!.message.content!.length).toBeGreaterThan(0);
      const stream = await client.chat.completions.create({
        model: "lan:remote",
        messages: [{ role: "user", content: "ping" }],
        stream: true,
      });
      let parts = 0;
      for await (const c of stream) if (c.choices[0]?.delta.content) parts++;
      expect(parts).toBe(3);
    }
    // The local stream kept going during and after the proxied requests, and had not finished.
    await Bun.sleep(20);
    expect(long.finished()).toBe(false);
    expect(long.chunks()).toBeGreaterThan(before);
    long.stream.controller.abort();
    await long.done;
  });
});
