/**
 * The local engine's bounded queue over HTTP, with the real `openai` SDK: when a model already has
 * `max_active + max_queue` requests in flight, the next one gets 503 in the OpenAI error shape with `Retry-After`,
 * while the requests in flight complete normally — and a proxied request is never delayed by local inference.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { createMlxBackend } from "../../src/backends/mlx.ts";
import { makeModel } from "../helpers/paths.ts";
import { startIthaca, type RunningIthaca } from "../server/start.ts";

let server: RunningIthaca;
let client: OpenAI;

beforeAll(async () => {
  const backend = await createMlxBackend({
    models: [{ id: "tiny", path: makeModel("qwen3", { seed: 5 }) }],
    limits: { maxActive: 1, maxQueue: 1 },
  });
  server = await startIthaca({}, { backends: [backend] });
  client = new OpenAI({ baseURL: server.baseURL, apiKey: "unused", maxRetries: 0 });
});
afterAll(() => server?.close());

describe("bounded queue over HTTP", () => {
  test("the request beyond max_active + max_queue gets 503 with Retry-After; the others finish", async () => {
    const messages = [{ role: "user" as const, content: "Tell me about lighthouses." }];
    // Long enough to still be decoding when the checks below run; aborted at the end.
    const long = await client.chat.completions.create({ model: "tiny", messages, max_tokens: 4000, temperature: 0, stream: true });
    const longText = (async () => {
      let n = 0;
      for await (const c of long) if (c.choices[0]?.delta.content) n++;
      return n;
    })();
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

    long.controller.abort();
    expect(await longText).toBeGreaterThan(0);
    expect((await queued).usage!.completion_tokens).toBe(5);
  });
});
