/**
 * Ithaca in front of a real OpenAI-wire HTTP upstream (fake-upstream.ts), driven by the openai SDK: every field the
 * client sent reaches the upstream with only `model` rewritten, streamed and non-streamed answers pass through, and
 * failures map to the right statuses (502 refused, 504 hanging, upstream 4xx/5xx passed on naming the upstream); a
 * client abort mid-stream aborts the upstream request.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { startIthaca, type RunningIthaca } from "../../helpers/start.ts";
import { closedPort, FakeUpstream } from "../../helpers/fake-upstream.ts";

const MODEL = "mlx-community/Qwen3-0.6B-4bit";
let upstream: FakeUpstream;
let slow: FakeUpstream;
let server: RunningIthaca;
let client: OpenAI;

beforeAll(async () => {
  upstream = new FakeUpstream({ models: [MODEL], streamChunks: 3 });
  slow = new FakeUpstream({ models: ["slow-model"], streamChunks: 200, chunkDelayMs: 20 });
  server = await startIthaca(
    {
      upstreams: [
        // Single upstream answers pass through here; retries and cool-down: test/integration/reliability.test.ts.
        {
          id: "telemak1",
          kind: "openai-http",
          base_url: upstream.baseUrl,
          api_key_env: "UP_KEY",
          retry: { attempts: 1 },
          cooldown: { failures: 100 },
        },
        {
          id: "slow",
          kind: "openai-http",
          base_url: slow.baseUrl,
          timeout_ms: { connect: 300, first_byte: 400, idle: 300 },
          retry: { attempts: 1 },
        },
        { id: "dead", kind: "openai-http", base_url: `http://127.0.0.1:${closedPort()}/v1`, models: ["ghost"] },
        { id: "cloud", kind: "openai-http", base_url: upstream.baseUrl, forward_session_id: false, cloud: true },
      ],
    },
    { env: { UP_KEY: "sk-upstream-secret" } },
  );
  client = new OpenAI({ baseURL: server.baseURL, apiKey: "unused", maxRetries: 0 });
});

afterAll(async () => {
  await server.close();
  upstream.stop();
  slow.stop();
});

const hello = [{ role: "user" as const, content: "hi" }];

describe("passthrough", () => {
  test("every field reaches the upstream unchanged except model (non-stream)", async () => {
    upstream.behavior = { kind: "ok" };
    const sent = {
      model: "telemak1:qwen3-0.6b-4bit",
      messages: [
        { role: "system" as const, content: "be brief" },
        { role: "user" as const, content: [{ type: "text" as const, text: "weather?" }] },
        {
          role: "assistant" as const,
          content: null,
          tool_calls: [
            { id: "call_1", type: "function" as const, function: { name: "weather", arguments: '{"city":"Paris"}' } },
          ],
        },
        { role: "tool" as const, tool_call_id: "call_1", content: "sunny" },
      ],
      temperature: 0.3,
      top_p: 0.9,
      max_tokens: 64,
      max_completion_tokens: 64,
      stop: ["\n\n", "END"],
      seed: 42,
      n: 1,
      presence_penalty: 0.1,
      frequency_penalty: 0.2,
      logit_bias: { "50256": -100 },
      tools: [
        { type: "function" as const, function: { name: "weather", parameters: { type: "object", properties: {} } } },
      ],
      tool_choice: "auto" as const,
      response_format: { type: "json_object" as const },
      user: "u-1",
      metadata: { trace: "t-1" },
      reasoning_effort: "low" as const,
      // Extensions and fields Ithaca has never heard of.
      enable_thinking: false,
      top_k: 20,
      x_custom: { nested: [1, 2, 3] },
    };
    const completion = await client.chat.completions.create(sent as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expect(completion.choices[0]?.message.content).toBe("Hello from the fake upstream");
    expect(upstream.last.body).toEqual({ ...sent, model: MODEL });
    expect(upstream.last.headers.get("authorization")).toBe("Bearer sk-upstream-secret");
  });

  test("a body that needs no rewriting goes out byte for byte; one that does is re-serialized with model rewritten", async () => {
    // The client names the upstream's own id (an alias), sends no session: nothing to rewrite.
    const raw = `{ "messages" : [{"role":"user","content":"hi"}],\n  "model":"${MODEL}", "x_order": [3,1,2] }`;
    const post = (body: string) =>
      fetch(`${server.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
    expect((await post(raw)).status).toBe(200);
    expect(upstream.last.raw).toBe(raw);
    const renamed = raw.replace(MODEL, "telemak1");
    expect((await post(renamed)).status).toBe(200);
    expect(upstream.last.raw).not.toBe(renamed);
    expect(upstream.last.body).toEqual({ ...JSON.parse(renamed), model: MODEL });
  });

  test("the bare upstream id and the upstream id alone both route (aliases)", async () => {
    for (const model of [MODEL, "telemak1", "TELEMAK1:Qwen3-0.6B-4bit"]) {
      await client.chat.completions.create({ model, messages: hello });
      expect(upstream.last.body.model).toBe(MODEL);
    }
  });

  test("streaming through the SDK: chunks in order, usage, [DONE]", async () => {
    upstream.behavior = { kind: "ok" };
    const stream = await client.chat.completions.create({
      model: "telemak1",
      messages: hello,
      stream: true,
      stream_options: { include_usage: true },
      seed: 7,
    });
    let text = "";
    let usage: OpenAI.CompletionUsage | undefined;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    expect(text).toBe("tok1 tok2 tok3 ");
    expect(finish).toBe("stop");
    expect(usage?.completion_tokens).toBe(3);
    expect(upstream.last.body).toMatchObject({ stream: true, stream_options: { include_usage: true }, seed: 7 });
  });

  test("stream bytes pass through untouched", async () => {
    upstream.behavior = { kind: "ok" };
    const response = await fetch(`${server.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "telemak1", messages: hello, stream: true }),
    });
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const text = await response.text();
    expect(text.endsWith("data: [DONE]\n\n")).toBe(true);
    expect(text).toContain(`"model":"${MODEL}"`);
    expect(text.split("\n\n").filter((frame) => frame.startsWith("data: ")).length).toBe(7);
  });

  test("forward_session_id: false strips session_id (strict cloud APIs)", async () => {
    await client.chat.completions.create({
      model: "cloud:qwen3-0.6b-4bit",
      messages: hello,
      session_id: "s-1",
    } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expect(upstream.last.body.session_id).toBeUndefined();
    expect(upstream.last.headers.get("x-session-id")).toBeNull();
    expect(upstream.last.headers.get("authorization")).toBeNull();
    const models = (await (await fetch(`${server.baseURL}/models`)).json()) as {
      data: { id: string; owned_by: string }[];
    };
    expect(models.data.find((entry) => entry.id === "cloud:qwen3-0.6b-4bit")?.owned_by).toBe("odyssai-cloud-cloud");
  });
});

describe("upstream failures", () => {
  test("connection refused: 502 naming the upstream", async () => {
    const error = await client.chat.completions
      .create({ model: "dead:ghost", messages: hello })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    const apiError = error as InstanceType<typeof OpenAI.APIError>;
    expect(apiError.status).toBe(502);
    expect(apiError.message).toContain("upstream 'dead' is unreachable");
    expect(apiError.code).toBe("upstream_unreachable");
  });

  test("upstream 500: 502 Bad Gateway, OpenAI shape, message naming the upstream and its status", async () => {
    upstream.behavior = { kind: "fail", status: 500, body: "boom: the engine fell over" };
    const response = await fetch(`${server.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "telemak1", messages: hello }),
    });
    expect(response.status).toBe(502);
    expect(await response.json()).toEqual({
      error: {
        message: "upstream 'telemak1' returned 500: boom: the engine fell over",
        type: "server_error",
        param: null,
        code: "upstream_error",
      },
    });
    upstream.behavior = { kind: "ok" };
  });

  test("upstream 429 with an OpenAI error body: status, type, code and retry-after kept", async () => {
    upstream.behavior = {
      kind: "fail",
      status: 429,
      body: JSON.stringify({
        error: { message: "slow down", type: "rate_limit_error", param: null, code: "rate_limited" },
      }),
      headers: { "content-type": "application/json", "retry-after": "7" },
    };
    const error = await client.chat.completions
      .create({ model: "telemak1", messages: hello })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    const apiError = error as InstanceType<typeof OpenAI.RateLimitError>;
    expect(apiError.message).toContain("upstream 'telemak1' returned 429: slow down");
    expect(apiError.type).toBe("rate_limit_error");
    expect(apiError.code).toBe("rate_limited");
    expect(apiError.headers.get("retry-after")).toBe("7");
    upstream.behavior = { kind: "ok" };
  });

  test("hanging upstream: 504 (stream: no headers within connect; non-stream: within first_byte)", async () => {
    slow.behavior = { kind: "hang" };
    for (const stream of [true, false]) {
      const started = Date.now();
      const response = await fetch(`${server.baseURL}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "slow", messages: hello, stream }),
      });
      expect(response.status).toBe(504);
      const body = (await response.json()) as { error: { message: string; code: string } };
      expect(body.error.code).toBe("upstream_timeout");
      expect(body.error.message).toContain("upstream 'slow' timed out after");
      expect(body.error.message).toContain("response headers");
      expect(Date.now() - started).toBeLessThan(2000);
    }
    slow.behavior = { kind: "ok" };
  });

  test("stalled stream: in-band error after idle, no [DONE]", async () => {
    slow.behavior = { kind: "stall", chunks: 1 };
    const response = await fetch(`${server.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "slow", messages: hello, stream: true }),
    });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain("tok1");
    expect(text).toContain('"code":"upstream_timeout"');
    expect(text).toContain("the next event");
    expect(text).toEndWith("data: [DONE]\n\n"); // after the error (telemak-companion-wire §9 #27)
    slow.behavior = { kind: "ok" };
  });

  test("the server keeps serving after upstream failures", async () => {
    const completion = await client.chat.completions.create({ model: "telemak1", messages: hello });
    expect(completion.object).toBe("chat.completion");
  });
});

describe("cancellation", () => {
  test("a client abort mid-stream aborts the upstream request", async () => {
    slow.behavior = { kind: "ok" };
    const stream = await client.chat.completions.create({ model: "slow", messages: hello, stream: true });
    let received = 0;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) received++;
      if (received === 3) break; // leaving the loop aborts the SDK's request
    }
    const request = slow.last;
    const aborted = await Promise.race([request.aborted.then(() => true), Bun.sleep(2000).then(() => false)]);
    expect(aborted).toBe(true);
    const health = (await (await fetch(`${server.url}/health`)).json()) as {
      backends: Record<string, { aborted: number; in_flight: number }>;
    };
    expect(health.backends["upstream:slow"]?.aborted).toBeGreaterThanOrEqual(1);
    expect(health.backends["upstream:slow"]?.in_flight).toBe(0);
  });

  test("a client abort while the upstream is still thinking (non-stream) aborts the upstream request", async () => {
    slow.behavior = { kind: "hang" };
    const controller = new AbortController();
    const before = slow.requests.length;
    const pending = client.chat.completions
      .create({ model: "slow", messages: hello }, { signal: controller.signal })
      .catch((caught: unknown) => caught);
    while (slow.requests.length === before) await Bun.sleep(5);
    const request = slow.last;
    controller.abort();
    expect(await pending).toBeInstanceOf(OpenAI.APIUserAbortError);
    const aborted = await Promise.race([request.aborted.then(() => true), Bun.sleep(1000).then(() => false)]);
    expect(aborted).toBe(true);
    slow.behavior = { kind: "ok" };
  });
});

describe("shutdown", () => {
  test("close(): stops accepting, waits out the grace period, then cancels what still runs", async () => {
    slow.behavior = { kind: "ok" };
    const own = await startIthaca({ upstreams: [{ id: "slow2", kind: "openai-http", base_url: slow.baseUrl }] });
    const response = await fetch(`${own.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "slow2", messages: hello, stream: true }),
    });
    const reading = response.text(); // The headers came: the upstream has the request.
    const request = slow.last;
    await own.ithaca.close(100);
    const aborted = await Promise.race([request.aborted.then(() => true), Bun.sleep(1000).then(() => false)]);
    expect(aborted).toBe(true);
    const text = await reading;
    expect(text).toContain('"code":"shutting_down"');
    expect(text).toEndWith("data: [DONE]\n\n");
    await expect(fetch(`${own.url}/health`)).rejects.toThrow();
  });
});

describe("Ithaca in front of another Ithaca (playing a Telemak)", () => {
  test("models, contract capabilities, streaming and the session id cross both hops", async () => {
    upstream.behavior = { kind: "ok" };
    const front = await startIthaca({
      upstreams: [{ id: "inner", kind: "openai-http", base_url: server.baseURL, models: ["telemak1:qwen3-0.6b-4bit"] }],
    });
    try {
      const models = (await (await fetch(`${front.baseURL}/models`)).json()) as {
        data: { id: string; x_odyssai: any }[];
      };
      expect(models.data.map((entry) => entry.id)).toEqual(["inner:telemak1:qwen3-0.6b-4bit"]);
      expect(models.data[0]?.x_odyssai.kind).toBe("openai-http");

      const frontClient = new OpenAI({ baseURL: front.baseURL, apiKey: "unused", maxRetries: 0 });
      const stream = await frontClient.chat.completions.create({
        model: "inner",
        messages: hello,
        stream: true,
        session_id: "two-hops",
      } as OpenAI.ChatCompletionCreateParamsStreaming);
      let text = "";
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
      expect(text).toBe("tok1 tok2 tok3 ");
      expect(upstream.last.body).toMatchObject({ model: MODEL, session_id: "two-hops", stream: true });
    } finally {
      await front.close();
    }
  });
});
