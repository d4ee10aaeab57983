/**
 * What the request log records of every kind of answer (src/routes/observe.ts and the relays' meter), with real
 * parts: a real Ithaca in front of the cloud fixtures (Anthropic's and OpenAI's documented wire formats) and a fake
 * OpenAI-wire upstream, called with the real SDKs. Bytes relayed untouched (native Anthropic passthrough, OpenAI
 * passthrough, embeddings) are counted from what passes — Anthropic's cache reads included in the prompt —; canonical
 * chunks translated from Anthropic's stream likewise; an upstream's own in-band error and a client that leaves are
 * recorded as the stream's error.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { AnthropicFixture } from "../fixtures/cloud/anthropic.ts";
import { OpenAIFixture } from "../fixtures/cloud/openai.ts";
import { FakeUpstream } from "../helpers/fake-upstream.ts";
import { jsonCall } from "../helpers/json-call.ts";
import { startIthaca, type RunningIthaca } from "../helpers/start.ts";

const KEYS = { ANTHROPIC_KEY: "sk-ant-observe", OPENAI_KEY: "sk-openai-observe" };
const MESSAGES = [{ role: "user" as const, content: "Hello" }];
/** A reply with a prompt of 30 tokens, 10 of them read from the provider's cache, and 7 completion tokens. */
const CACHED = { text: "Hello there, sailor.", usage: { input: 30, output: 7, cached: 10 } };

let anthropic: AnthropicFixture;
let cloud: OpenAIFixture;
let stalling: FakeUpstream;
let server: RunningIthaca;
let claude: Anthropic;
let gpt: OpenAI;

beforeAll(async () => {
  anthropic = new AnthropicFixture({ apiKey: KEYS.ANTHROPIC_KEY, models: ["claude-haiku-4-5"] });
  cloud = new OpenAIFixture({ apiKey: KEYS.OPENAI_KEY, models: ["gpt-4o-mini", "text-embedding-3-small"] });
  stalling = new FakeUpstream({ models: ["m"] });
  stalling.behavior = { kind: "stall", chunks: 2 };
  server = await startIthaca(
    {
      upstreams: [
        {
          id: "anthropic",
          kind: "anthropic-http",
          base_url: anthropic.baseUrl,
          api_key_env: "ANTHROPIC_KEY",
          published: [{ alias: "claude-haiku", model: "claude-haiku-4-5" }],
        },
        {
          id: "openai",
          base_url: cloud.baseUrl,
          api_key_env: "OPENAI_KEY",
          cloud: true,
          published: [
            { alias: "gpt-mini", model: "gpt-4o-mini" },
            { alias: "embed-small", model: "text-embedding-3-small", capabilities: ["embeddings"] },
          ],
        },
        { id: "stall", base_url: stalling.baseUrl, models: ["m"] },
      ],
    },
    { env: KEYS },
  );
  claude = new Anthropic({ baseURL: server.url, apiKey: "unused", maxRetries: 0 });
  gpt = new OpenAI({ baseURL: server.baseURL, apiKey: "unused", maxRetries: 0 });
});

afterAll(async () => {
  await server?.close();
  await Promise.all([anthropic?.close(), cloud?.close()]);
  stalling?.stop();
});

/** The latest request of the log, once it ended (a stream's run may end just after its client read the last byte). */
async function lastLogged(route: string) {
  for (let i = 0; i < 50; i++) {
    const { json } = await jsonCall(server.url, "GET", "/admin/runs?history=1");
    const row = json.history[0];
    if (row?.route === route && json.count === 0) return row;
    await Bun.sleep(20);
  }
  throw new Error(`no ended ${route} request`);
}

describe("bytes relayed untouched", () => {
  test("Anthropic passthrough, whole: cache reads counted in the prompt and as cached", async () => {
    anthropic.enqueue(CACHED);
    const message = await claude.messages.create({ model: "claude-haiku", max_tokens: 64, messages: MESSAGES });
    expect(message.usage).toMatchObject({ input_tokens: 20, cache_read_input_tokens: 10, output_tokens: 7 });
    expect(await lastLogged("/v1/messages")).toMatchObject({
      backend: "upstream:anthropic",
      model: "claude-haiku",
      stream: false,
      status: 200,
      error: null,
      prompt_tokens: 30,
      cached_tokens: 10,
      completion_tokens: 7,
      ttft_ms: null,
    });
  });

  test("Anthropic passthrough, streamed: the same usage, and a time to first token", async () => {
    anthropic.enqueue(CACHED);
    await claude.messages.stream({ model: "claude-haiku", max_tokens: 64, messages: MESSAGES }).finalMessage();
    const row = await lastLogged("/v1/messages");
    expect(row).toMatchObject({
      stream: true,
      error: null,
      prompt_tokens: 30,
      cached_tokens: 10,
      completion_tokens: 7,
    });
    expect(row.ttft_ms).toBeGreaterThan(0);
  });

  test("an Anthropic stream that ends with the upstream's own error event is recorded with its type", async () => {
    anthropic.enqueue({ ...CACHED, error: { status: 529 }, failAfterEvents: 3 });
    const ending = claude.messages.stream({ model: "claude-haiku", max_tokens: 64, messages: MESSAGES }).finalMessage();
    await expect(ending).rejects.toThrow();
    expect(await lastLogged("/v1/messages")).toMatchObject({ stream: true, status: 200, error: "overloaded_error" });
  });

  test("OpenAI passthrough, streamed with include_usage, and embeddings", async () => {
    cloud.enqueue({ text: "Ahoy there.", usage: { input: 12, output: 4, cached: 8 } });
    const stream = await gpt.chat.completions.create({
      model: "gpt-mini",
      messages: MESSAGES,
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const _ of stream);
    const row = await lastLogged("/v1/chat/completions");
    expect(row).toMatchObject({ stream: true, prompt_tokens: 12, cached_tokens: 8, completion_tokens: 4, error: null });
    expect(row.ttft_ms).toBeGreaterThan(0);

    const embedded = await gpt.embeddings.create({ model: "embed-small", input: "The wine-dark sea" });
    expect(await lastLogged("/v1/embeddings")).toMatchObject({
      backend: "upstream:openai",
      status: 200,
      prompt_tokens: embedded.usage.prompt_tokens,
      completion_tokens: null,
    });
  });

  test("an OpenAI stream that ends with the upstream's in-band error is recorded with its code", async () => {
    cloud.enqueue({ text: "Ahoy there, long answer.", error: { status: 500 }, failAfterEvents: 2 });
    const stream = await gpt.chat.completions.create({ model: "gpt-mini", messages: MESSAGES, stream: true });
    await expect(
      (async () => {
        for await (const _ of stream);
      })(),
    ).rejects.toThrow();
    const row = await lastLogged("/v1/chat/completions");
    expect(row.stream).toBe(true);
    expect(row.error).toEqual(expect.any(String));
    expect(row.error).not.toBe("client_closed");
  });

  test("a client that leaves mid-stream: client_closed, the upstream exchange aborted", async () => {
    const before = stalling.requests.length;
    const controller = new AbortController();
    const response = await fetch(`${server.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "stall:m", messages: MESSAGES, stream: true }),
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    await reader.read();
    controller.abort();
    await stalling.requests[before]?.aborted;
    expect(await lastLogged("/v1/chat/completions")).toMatchObject({ model: "stall:m", error: "client_closed" });
  });
});

describe("canonical chunks", () => {
  test("chat completions translated from Anthropic's stream: usage and first token from the chunks", async () => {
    anthropic.enqueue(CACHED);
    const stream = await gpt.chat.completions.create({
      model: "claude-haiku",
      messages: MESSAGES,
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) usage = chunk.usage ?? usage;
    const row = await lastLogged("/v1/chat/completions");
    expect(row).toMatchObject({
      backend: "upstream:anthropic",
      stream: true,
      error: null,
      prompt_tokens: usage?.prompt_tokens,
      completion_tokens: usage?.completion_tokens,
      cached_tokens: 10,
    });
    expect(row.ttft_ms).toBeGreaterThan(0);
  });
});
