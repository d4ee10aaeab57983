/**
 * Cloud backends beyond the conversation matrix: what goes on the wire (keys by env-var name in each provider's
 * header, `anthropic-version`, `anthropic-beta` merged, OpenRouter attribution, the client's key never forwarded,
 * `session_id` stripped), the same-dialect fast path (bytes only the provider sends reach the client), published
 * aliases in the catalog, count_tokens, embeddings, and keys never returned.
 */
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { AnthropicFixture } from "../fixtures/cloud/anthropic.ts";
import { OpenAIFixture } from "../fixtures/cloud/openai.ts";
import { OpenRouterFixture } from "../fixtures/cloud/openrouter.ts";
import { startIthaca, type RunningIthaca } from "../helpers/start.ts";

const KEYS = { ANTHROPIC_KEY: "sk-ant-secret-1", OPENAI_KEY: "sk-openai-secret-2", OPENROUTER_KEY: "sk-or-secret-3" };
let anthropic: AnthropicFixture;
let openai: OpenAIFixture;
let openrouter: OpenRouterFixture;
let ithaca: RunningIthaca;
let claude: Anthropic;
let gpt: OpenAI;

beforeAll(async () => {
  anthropic = new AnthropicFixture({ apiKey: KEYS.ANTHROPIC_KEY, models: ["claude-haiku-4-5"] });
  openai = new OpenAIFixture({ apiKey: KEYS.OPENAI_KEY, models: ["gpt-4o-mini", "text-embedding-3-small"] });
  openrouter = new OpenRouterFixture({ apiKey: KEYS.OPENROUTER_KEY, models: ["anthropic/claude-haiku-4.5"] });
  ithaca = await startIthaca(
    {
      upstreams: [
        {
          id: "anthropic",
          kind: "anthropic-http",
          base_url: anthropic.baseUrl,
          api_key_env: "ANTHROPIC_KEY",
          anthropic_beta: ["prompt-caching-2024-07-31"],
          published: [
            {
              alias: "claude-haiku",
              model: "claude-haiku-4-5",
              capabilities: ["tools", "vision", "thinking"],
              context_length: 200000,
            },
          ],
        },
        {
          id: "openai",
          base_url: openai.baseUrl,
          api_key_env: "OPENAI_KEY",
          cloud: true,
          published: [
            { alias: "gpt-mini", model: "gpt-4o-mini", capabilities: ["tools"] },
            { alias: "embed-small", model: "text-embedding-3-small", capabilities: ["embeddings"] },
          ],
        },
        {
          id: "openrouter",
          base_url: openrouter.baseUrl,
          api_key_env: "OPENROUTER_KEY",
          cloud: true,
          headers: { "HTTP-Referer": "https://ithaca.test", "X-Title": "Ithaca tests" },
          published: [
            { alias: "or:claude-haiku", model: "anthropic/claude-haiku-4.5", capabilities: ["tools", "thinking"] },
          ],
        },
      ],
    },
    { env: KEYS },
  );
  claude = new Anthropic({ baseURL: ithaca.url, apiKey: "client-key", maxRetries: 0 });
  gpt = new OpenAI({ baseURL: ithaca.baseURL, apiKey: "client-key", maxRetries: 0 });
});
afterAll(async () => {
  await ithaca?.close();
  await Promise.all([anthropic?.close(), openai?.close(), openrouter?.close()]);
});

describe("what goes on the wire", () => {
  test("anthropic-http: x-api-key from the env var, anthropic-version, beta flags merged, Ithaca extensions removed", async () => {
    await claude.messages.create(
      {
        model: "claude-haiku",
        max_tokens: 50,
        messages: [{ role: "user", content: "hi" }],
        metadata: { user_id: "user_1" },
        session_id: "s-1",
      } as Anthropic.MessageCreateParamsNonStreaming,
      { headers: { "anthropic-beta": "interleaved-thinking-2025-05-14" } },
    );
    const call = anthropic.calls.at(-1)!;
    expect(call.path).toBe("/v1/messages");
    expect(call.headers.get("x-api-key")).toBe(KEYS.ANTHROPIC_KEY);
    expect(call.headers.get("authorization")).toBeNull();
    expect(call.headers.get("anthropic-version")).toBe("2023-06-01");
    expect(call.headers.get("anthropic-beta")).toBe("prompt-caching-2024-07-31,interleaved-thinking-2025-05-14");
    expect(call.body).toEqual({
      model: "claude-haiku-4-5",
      max_tokens: 50,
      messages: [{ role: "user", content: "hi" }],
      metadata: { user_id: "user_1" },
    });
  });

  test("openai-http: Bearer key from the env var, client key not forwarded, session_id stripped for the cloud", async () => {
    await gpt.chat.completions.create(
      { model: "gpt-mini", messages: [{ role: "user", content: "hi" }], session_id: "s-2" } as never,
      {
        headers: { "x-session-id": "s-2" },
      },
    );
    const call = openai.calls.at(-1)!;
    expect(call.headers.get("authorization")).toBe(`Bearer ${KEYS.OPENAI_KEY}`);
    expect(call.headers.get("x-session-id")).toBeNull();
    expect(call.body).toEqual({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });
  });

  test("OpenRouter: attribution headers", async () => {
    await gpt.chat.completions.create({ model: "or:claude-haiku", messages: [{ role: "user", content: "hi" }] });
    const call = openrouter.calls.at(-1)!;
    expect(call.headers.get("http-referer")).toBe("https://ithaca.test");
    expect(call.headers.get("x-title")).toBe("Ithaca tests");
    expect(call.headers.get("authorization")).toBe(`Bearer ${KEYS.OPENROUTER_KEY}`);
  });
});

describe("same dialect: bytes pass through", () => {
  test("Anthropic client → Anthropic upstream: the provider's own events (signature_delta) reach the client", async () => {
    anthropic.enqueue({ thinking: "Hmm.", text: "Hi!" });
    const response = await fetch(`${ithaca.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
      body: JSON.stringify({
        model: "claude-haiku",
        max_tokens: 2048,
        stream: true,
        thinking: { type: "enabled", budget_tokens: 1024 },
        messages: [{ role: "user", content: "hi" }],
      }),
    });
    const text = await response.text();
    expect(text).toContain("event: message_start");
    expect(text).toContain('"type":"signature_delta"');
    expect(response.headers.get("request-id")).toStartWith("req_");
  });

  test("OpenAI client → OpenRouter: its keep-alive comments and `provider` field reach the client", async () => {
    const response = await fetch(`${ithaca.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "or:claude-haiku", stream: true, messages: [{ role: "user", content: "hi" }] }),
    });
    const text = await response.text();
    expect(text).toContain(": OPENROUTER PROCESSING");
    expect(text).toContain('"provider"');
    expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
  });
});

describe("catalog, count_tokens, embeddings, secrets", () => {
  test("published aliases are listed with their declared capabilities", async () => {
    const models = (await (await fetch(`${ithaca.baseURL}/models`)).json()) as { data: Array<Record<string, any>> };
    const byId = Object.fromEntries(models.data.map((m) => [m.id, m]));
    expect(Object.keys(byId).sort()).toEqual(["claude-haiku", "embed-small", "gpt-mini", "or:claude-haiku"]);
    expect(byId["claude-haiku"].x_odyssai).toMatchObject({ supports_tools: true, supports_thinking: true });
    expect(byId["claude-haiku"].x_odyssai.context_length).toBe(200000);
  });

  test("count_tokens: the Anthropic upstream's own count; an estimate, flagged, for OpenAI-dialect upstreams", async () => {
    const body = { messages: [{ role: "user" as const, content: "How many tokens is this?" }] };
    const native = await claude.messages.countTokens({ model: "claude-haiku", ...body });
    expect(anthropic.calls.at(-1)!.path).toBe("/v1/messages/count_tokens");
    expect(anthropic.calls.at(-1)!.body.model).toBe("claude-haiku-4-5");
    expect(native.input_tokens).toBeGreaterThan(0);
    const response = await fetch(`${ithaca.url}/v1/messages/count_tokens`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-mini", ...body }),
    });
    expect(response.headers.get("x-ithaca-token-count")).toBe("estimate");
    expect(((await response.json()) as { input_tokens: number }).input_tokens).toBeGreaterThan(0);
  });

  test("embeddings pass through to an upstream that serves them; other models get 400 naming model", async () => {
    const direct = await new OpenAI({ baseURL: openai.baseUrl, apiKey: KEYS.OPENAI_KEY }).embeddings.create({
      model: "text-embedding-3-small",
      input: ["alpha", "beta"],
    });
    const via = await gpt.embeddings.create({ model: "embed-small", input: ["alpha", "beta"] });
    expect(via.data.map((d) => d.embedding)).toEqual(direct.data.map((d) => d.embedding));
    expect(openai.calls.at(-1)!.body.model).toBe("text-embedding-3-small");
    const refused = await gpt.embeddings.create({ model: "claude-haiku", input: "x" }).catch((e) => e);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    expect(refused.error).toMatchObject({ param: "model", code: "model_not_supported" });
  });

  test("upstream keys appear in no response: models, health, contract, errors", async () => {
    anthropic.enqueue({ error: { status: 400, message: "bad request" } });
    const failed = await fetch(`${ithaca.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "claude-haiku", max_tokens: 5, messages: [{ role: "user", content: "x" }] }),
    });
    const bodies = [
      await failed.text(),
      await (await fetch(`${ithaca.baseURL}/models?include_unloaded=true`)).text(),
      await (await fetch(`${ithaca.url}/health`)).text(),
      await (await fetch(`${ithaca.url}/.well-known/inference-engine.json`)).text(),
    ];
    expect(failed.status).toBe(400);
    for (const body of bodies) for (const key of Object.values(KEYS)) expect(body).not.toContain(key);
  });
});
