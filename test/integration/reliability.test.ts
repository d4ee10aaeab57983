/**
 * Reliability of upstream calls against fixture servers: retries with backoff before the first byte (429 honouring
 * `retry-after`, Anthropic's 529, 5xx, unreachable), per-alias fallback lists, cool-down of a failing upstream, and
 * failures after a stream started — never retried, sent in the client dialect's in-stream error shape, the stream
 * then ending cleanly.
 */
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { AnthropicFixture } from "../fixtures/cloud/anthropic.ts";
import { OpenAIFixture } from "../fixtures/cloud/openai.ts";
import { startIthaca, type RunningIthaca } from "../helpers/start.ts";
import { closedPort } from "../helpers/fake-upstream.ts";

let flaky: OpenAIFixture;
let backup: OpenAIFixture;
let claude: AnthropicFixture;
let ithaca: RunningIthaca;
let gpt: OpenAI;
let anthropic: Anthropic;
const hello = [{ role: "user" as const, content: "hi" }];
const fast = { base_delay_ms: 10, max_delay_ms: 20 };

beforeAll(async () => {
  flaky = new OpenAIFixture({ models: ["gpt-4o-mini"] });
  backup = new OpenAIFixture({ models: ["gpt-4o"] });
  claude = new AnthropicFixture({ models: ["claude-haiku-4-5"] });
  ithaca = await startIthaca({
    upstreams: [
      {
        id: "flaky",
        base_url: flaky.baseUrl,
        retry: { attempts: 3, ...fast },
        cooldown: { failures: 2, duration_ms: 60_000 },
        published: [
          { alias: "primary", model: "gpt-4o-mini" },
          { alias: "solo", model: "gpt-4o-mini" },
        ],
      },
      {
        id: "backup",
        base_url: backup.baseUrl,
        retry: { attempts: 1 },
        published: [{ alias: "backup", model: "gpt-4o" }],
      },
      {
        id: "anthropic",
        kind: "anthropic-http",
        base_url: claude.baseUrl,
        retry: { attempts: 3, ...fast },
        published: [{ alias: "claude", model: "claude-haiku-4-5" }],
      },
      {
        id: "dead",
        base_url: `http://127.0.0.1:${closedPort()}/v1`,
        retry: { attempts: 2, ...fast },
        published: [{ alias: "ghost", model: "gone" }],
      },
    ],
    fallbacks: { primary: ["backup"], ghost: ["backup"] },
  });
  gpt = new OpenAI({ baseURL: ithaca.baseURL, apiKey: "k", maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: ithaca.url, apiKey: "k", maxRetries: 0 });
});
afterAll(async () => {
  await ithaca?.close();
  await Promise.all([flaky?.close(), backup?.close(), claude?.close()]);
});

const health = async (id: string) =>
  ((await (await fetch(`${ithaca.url}/health`)).json()) as { backends: Record<string, Record<string, unknown>> })
    .backends[`upstream:${id}`]!;

describe("retries before the first byte", () => {
  test("429 with retry-after: waited for, then retried", async () => {
    const before = flaky.calls.length;
    flaky.enqueue({ error: { status: 429, retryAfterS: 1 } }, { text: "after the wait" });
    const started = performance.now();
    const answer = await gpt.chat.completions.create({ model: "primary", messages: hello });
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
    expect(answer.choices[0]!.message.content).toBe("after the wait");
    expect(flaky.calls.length - before).toBe(2);
  });

  test("Anthropic 529 overloaded_error: retried (native passthrough, Anthropic SDK)", async () => {
    claude.enqueue({ error: { status: 529 } }, { error: { status: 529 } }, { text: "no longer overloaded" });
    const message = await anthropic.messages.create({ model: "claude", max_tokens: 20, messages: hello });
    expect(message.content).toEqual([expect.objectContaining({ type: "text", text: "no longer overloaded" })]);
    expect(claude.calls.slice(-3).map((call) => call.path)).toEqual(Array(3).fill("/v1/messages"));
  });

  test("529 on every try: 503 in Anthropic's shape naming the upstream", async () => {
    claude.enqueue(...Array(3).fill({ error: { status: 529, message: "Overloaded" } }));
    const error = await anthropic.messages.create({ model: "claude", max_tokens: 20, messages: hello }).catch((e) => e);
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect(error.status).toBe(503);
    expect(error.error).toMatchObject({ type: "error", error: { type: "overloaded_error" } });
    expect(error.error.error.message).toContain("upstream 'anthropic' returned 529");
  });

  test("a client error (400) is not retried", async () => {
    const before = flaky.calls.length;
    flaky.enqueue({ error: { status: 400, message: "bad field" } });
    const error = await gpt.chat.completions.create({ model: "solo", messages: hello }).catch((e) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(flaky.calls.length - before).toBe(1);
  });
});

describe("fallbacks and cool-down", () => {
  test("5xx on every try: the alias falls back to the next in its list", async () => {
    const before = flaky.calls.length;
    flaky.enqueue(...Array(3).fill({ error: { status: 500 } }));
    backup.enqueue({ text: "from the backup" });
    const { data, response } = await gpt.chat.completions.create({ model: "primary", messages: hello }).withResponse();
    expect(data.choices[0]!.message.content).toBe("from the backup");
    expect(response.headers.get("x-ithaca-model")).toBe("backup");
    expect(flaky.calls.length - before).toBe(3);
  });

  test("unreachable upstream: retried, then the fallback answers", async () => {
    backup.enqueue({ text: "ghost busted" });
    const answer = await gpt.chat.completions.create({ model: "ghost", messages: hello });
    expect(answer.choices[0]!.message.content).toBe("ghost busted");
    expect(await health("dead")).toMatchObject({ attempts: 2, errors: 1 });
  });

  test("after repeated failures the upstream cools down: skipped for the fallback, 503 with retry-after alone", async () => {
    flaky.enqueue(...Array(3).fill({ error: { status: 503 } }));
    await gpt.chat.completions.create({ model: "primary", messages: hello }); // second failed request: breaker opens
    expect(await health("flaky")).toMatchObject({ available: false });
    const before = flaky.calls.length;
    backup.enqueue({ text: "cooling elsewhere" });
    const answer = await gpt.chat.completions.create({ model: "primary", messages: hello });
    expect(answer.choices[0]!.message.content).toBe("cooling elsewhere");
    const error = await gpt.chat.completions.create({ model: "solo", messages: hello }).catch((e) => e);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect(error.status).toBe(503);
    expect(error.code).toBe("upstream_cooling_down");
    expect(error.headers.get("retry-after")).toBe("60");
    expect(flaky.calls.length).toBe(before);
  });
});

describe("failures after the stream started: not retried, in the dialect's in-stream error shape", () => {
  test("OpenAI client, OpenAI upstream dropping the connection: data: {error} naming the upstream", async () => {
    const before = backup.calls.length;
    backup.enqueue({ text: "one two three four five six", dropAfterEvents: 3 });
    const response = await fetch(`${ithaca.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "backup", messages: hello, stream: true }),
    });
    const text = await response.text();
    const frames = text.trim().split("\n\n");
    expect(JSON.parse(frames.at(-3)!.slice("data: ".length))).toMatchObject({
      error: { code: "upstream_disconnected", message: expect.stringContaining("upstream 'backup' broke off") },
    });
    // Then the message as a string and [DONE], for Companion v1 (telemak-companion-wire §9 #27).
    expect(JSON.parse(frames.at(-2)!.slice("data: ".length)).error).toContain("upstream 'backup' broke off");
    expect(frames.at(-1)).toBe("data: [DONE]");
    expect(backup.calls.length - before).toBe(1);
  });

  test("Anthropic client, Anthropic upstream (passthrough) dropping the connection: event: error, SDK raises", async () => {
    claude.enqueue({ text: "one two three four five six", dropAfterEvents: 4 });
    const error = await anthropic.messages
      .stream({ model: "claude", max_tokens: 50, messages: hello })
      .finalMessage()
      .catch((e) => e);
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect(String(error.message)).toContain("upstream 'anthropic' broke off");
  });

  test("Anthropic client, OpenAI upstream (translated) sending an in-stream error: event: error with its message", async () => {
    backup.enqueue({
      text: "one two three four five six",
      failAfterEvents: 3,
      error: { status: 500, message: "GPU fell off" },
    });
    const response = await fetch(`${ithaca.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "backup", max_tokens: 50, stream: true, messages: hello }),
    });
    const text = await response.text();
    const last = text.trim().split("\n\n").at(-1)!;
    expect(last.split("\n")[0]).toBe("event: error");
    expect(JSON.parse(last.split("\n")[1]!.slice("data: ".length))).toMatchObject({
      type: "error",
      error: { type: "api_error", message: expect.stringContaining("GPU fell off") },
    });
  });

  test("OpenAI client, Anthropic upstream (translated) sending overloaded_error mid-stream: the SDK raises it", async () => {
    claude.enqueue({ text: "one two three four five six", failAfterEvents: 4, error: { status: 529 } });
    const stream = await gpt.chat.completions.create({ model: "claude", messages: hello, stream: true });
    const error = await (async () => {
      for await (const _ of stream);
    })().catch((e) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(String(error.message)).toMatch(/overloaded/i);
  });
});
