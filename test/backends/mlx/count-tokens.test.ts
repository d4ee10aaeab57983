/**
 * `countTokens` of the local backend: for the same request it equals the `usage.prompt_tokens` that
 * `chatCompletions` reports (one rendering and encoding for both: chat template with tools and template options,
 * generation prompt, BOS as the template writes it), it never loads a model, and it refuses what the chat path refuses
 * with the same errors. Counting runs in the token-count Worker: a large count leaves the server answering, and the
 * Worker ends with the backend. Real generated models, real Workers for the chat side.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BackendCallContext } from "../../../src/backends/backend.ts";
import type { CanonicalChatRequest } from "../../../src/protocol/canonical.ts";
import { createMlxBackend, type MlxBackend } from "../../../src/backends/mlx/backend.ts";
import { DEFAULT_ENGINE } from "../../../src/backends/mlx/engine-settings.ts";
import { PromptCounter } from "../../../src/backends/mlx/prompt-counter.ts";
import type { EngineConfig } from "../../../src/config/schema.ts";
import { OpenAIError } from "../../../src/protocol/errors.ts";
import { WEATHER, WEATHER_SCRIPTS, makeModel, tempDir } from "../../helpers/paths.ts";
import { startIthaca } from "../../helpers/start.ts";

const USER = { role: "user", content: "What is the weather in Paris?" };
const PARTS = {
  role: "user",
  content: [
    { type: "text", text: "What is" },
    { type: "text", text: " the weather?" },
  ],
};
const SYSTEM = { role: "system", content: "You are a terse forecaster." };
/** The tool-calling turn and its result, as a client sends them back. */
const HISTORY = [
  USER,
  {
    role: "assistant",
    content: null,
    tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city": "Paris"}' } }],
  },
  { role: "tool", tool_call_id: "call_1", content: "sunny, 24°C" },
];

let inventory: string;
let backend: MlxBackend;

function engine(over: Partial<EngineConfig> = {}): EngineConfig {
  return { ...DEFAULT_ENGINE, max_active: 2, max_queue: 4, models_dir: inventory, ...over };
}

const ctx = (id: string): BackendCallContext => ({
  model: { id, upstreamId: id, ready: true },
  signal: new AbortController().signal,
  requestId: "test",
});

/** A request without `model`. */
type Body = Record<string, unknown> & { messages: unknown[] };

/** `usage.prompt_tokens` of a real chat completion (one generated token), stream or not. */
async function chatPromptTokens(b: MlxBackend, model: string, body: Body, stream = false): Promise<number> {
  const request = { model, temperature: 0, max_tokens: 1, ...body, stream } as CanonicalChatRequest;
  const answer = await b.chatCompletions(request, ctx(model));
  if (answer.kind === "completion") return answer.completion.usage!.prompt_tokens;
  let promptTokens: number | undefined;
  for await (const chunk of answer.chunks) {
    if ("usage" in chunk && chunk.usage) promptTokens = chunk.usage.prompt_tokens;
  }
  return promptTokens!;
}

const count = (b: MlxBackend, model: string, body: Body) =>
  b.countTokens({ model, ...body } as CanonicalChatRequest, ctx(model));

/** What a call threw, as the fields an OpenAI error answer shows. */
async function failure(call: () => Promise<unknown>) {
  const err = await call().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OpenAIError);
  const { status, code, param, message } = err as OpenAIError;
  return { status, code, param, message };
}

async function state(b: MlxBackend, id: string): Promise<string> {
  const known = await b.models.known();
  return b.models.view(known.find((m) => m.id === id)!).state;
}

beforeAll(async () => {
  inventory = tempDir("ithaca-count-inventory-");
  // Llama 3.1-style template: starts with bos_token, raises for tools without a user message.
  symlinkSync(makeModel("llama", { seed: 23 }), join(inventory, "llama"));
  mkdirSync(join(inventory, "broken"));
  writeFileSync(join(inventory, "broken", "config.json"), JSON.stringify({ model_type: "gpt9" }));
  // Weights and config, but no tokenizer.json: listed and loadable on paper, failing when read.
  const notok = join(inventory, "no-tokenizer");
  const qwen = makeModel("qwen3", { seed: 24 });
  mkdirSync(notok);
  for (const name of readdirSync(qwen)) if (name !== "tokenizer.json") symlinkSync(join(qwen, name), join(notok, name));
  backend = await createMlxBackend({
    models: [{ id: "weather", path: makeModel("qwen3", { seed: 7, scripts: WEATHER_SCRIPTS }) }],
    engine: engine(),
  });
}, 60_000);
afterAll(() => backend?.close());

describe("countTokens equals the prompt_tokens of chatCompletions", () => {
  const cases: [string, Body][] = [
    ["a user message", { messages: [USER] }],
    ["a system message", { messages: [SYSTEM, USER] }],
    ["content as text parts", { messages: [SYSTEM, PARTS] }],
    ["tools", { messages: [SYSTEM, USER], tools: WEATHER.tools }],
    ["tools with tool_choice none (not rendered)", { messages: [USER], tools: WEATHER.tools, tool_choice: "none" }],
    ["tool-call history, enable_thinking false", { messages: HISTORY, tools: WEATHER.tools, enable_thinking: false }],
    ["enable_thinking false", { messages: [USER], enable_thinking: false }],
    ["reasoning_effort", { messages: [USER], reasoning_effort: "high" }],
  ];
  const counts = new Map<string, number>();

  for (const [name, body] of cases) {
    test(name, async () => {
      const n = await count(backend, "weather", body);
      expect(n).toBe(await chatPromptTokens(backend, "weather", body));
      counts.set(name, n);
    });
  }

  test("streamed: the usage chunk has the same prompt_tokens", async () => {
    const body = { messages: HISTORY, tools: WEATHER.tools, enable_thinking: false };
    expect(await count(backend, "weather", body)).toBe(await chatPromptTokens(backend, "weather", body, true));
  });

  test("the counts follow the request (the cases above are not all one number)", () => {
    expect(counts.get("tools")!).toBeGreaterThan(counts.get("a system message")!);
    expect(counts.get("tools with tool_choice none (not rendered)")).toBe(counts.get("a user message"));
    // The empty think block of enable_thinking false is in the prompt.
    expect(counts.get("enable_thinking false")!).toBeGreaterThan(counts.get("a user message")!);
  });
});

describe("an unloaded inventory model is counted without loading it", () => {
  const body = { messages: [SYSTEM, USER], tools: WEATHER.tools };

  test("the count loads nothing; the chat that loads it reports the same prompt_tokens (BOS included)", async () => {
    const workers = backend.models.workers;
    const n = await count(backend, "llama", body);
    expect(n).toBeGreaterThan(10);
    expect(backend.models.workers).toBe(workers);
    expect(await state(backend, "llama")).toBe("unloaded");
    expect(await chatPromptTokens(backend, "llama", body)).toBe(n);
    expect(await state(backend, "llama")).toBe("loaded");
  });

  test("unloading the model frees its tokenizer; counting again reads it again", async () => {
    const n = await count(backend, "llama", body);
    const held = backend.stats().tokenizers as number;
    expect(await backend.models.unload("llama")).toEqual({ unloaded: true });
    expect(backend.stats().tokenizers).toBe(held - 1);
    expect(await count(backend, "llama", body)).toBe(n);
    expect(backend.stats().tokenizers).toBe(held);
    expect(await state(backend, "llama")).toBe("unloaded");
  });
});

describe("errors are the chat path's", () => {
  async function same(model: string, body: Body) {
    const counted = await failure(() => count(backend, model, body));
    const chat = await failure(() => chatPromptTokens(backend, model, body));
    expect(counted).toEqual(chat);
    return counted;
  }

  test("messages the template rejects: 400 invalid_prompt with the template's message", async () => {
    // The Llama 3.1 template raises for tools when there is no user message.
    const e = await same("llama", { messages: [SYSTEM], tools: WEATHER.tools });
    expect(e).toMatchObject({ status: 400, code: "invalid_prompt" });
    expect(e.message).toContain("Cannot put tools in the first user message");
  });

  test("an unknown model: 404 model_not_found", async () => {
    const e = await same("nope", { messages: [USER] });
    expect(e).toMatchObject({ status: 404, code: "model_not_found", param: "model" });
  });

  test("an inventory model whose directory cannot be loaded: 400 model_unloadable", async () => {
    const e = await same("broken", { messages: [USER] });
    expect(e).toMatchObject({ status: 400, code: "model_unloadable", param: "model" });
  });

  test("a model whose tokenizer cannot be read: 500 model_load_failed", async () => {
    const e = await same("no-tokenizer", { messages: [USER] });
    expect(e).toMatchObject({ status: 500, code: "model_load_failed", param: "model" });
    expect(e.message).toContain("tokenizer.json");
  });

  test("a forced tool_choice: counted with its tools, as the constrained answer's prompt", async () => {
    const body = { messages: [USER], tools: WEATHER.tools, tool_choice: "required" };
    const forced = await count(backend, "weather", body);
    expect(forced).toBe(await chatPromptTokens(backend, "weather", body));
    expect(forced).toBe(await count(backend, "weather", { messages: [USER], tools: WEATHER.tools }));
  });

  test("on-demand loading off: an unloaded model is 404 model_not_loaded, for counts too", async () => {
    const strict = await createMlxBackend({ models: [], engine: engine({ load_on_demand: false }) });
    try {
      const counted = await failure(() => count(strict, "llama", { messages: [USER] }));
      const chat = await failure(() => chatPromptTokens(strict, "llama", { messages: [USER] }));
      expect(counted).toEqual(chat);
      expect(counted).toMatchObject({ status: 404, code: "model_not_loaded", param: "model" });
      expect(strict.models.workers).toBe(0);
    } finally {
      await strict.close();
    }
  });
});

describe("counting runs in the token-count Worker", () => {
  test("while a large count_tokens is in flight, GET /health on the same server answers", async () => {
    const server = await startIthaca({ engine: { models_dir: inventory } });
    const tokenizers = async () => {
      const health = (await (await fetch(`${server.url}/health`)).json()) as {
        backends: { local: { tokenizers: number } };
      };
      return health.backends.local.tokenizers;
    };
    try {
      expect(await tokenizers()).toBe(0);
      const text = "The sea is wide and deep, and the wind is cold. ".repeat(40_000); // ~2 MB
      let counted = false;
      const counting = fetch(`${server.url}/v1/messages/count_tokens`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "llama", messages: [{ role: "user", content: text }] }),
      }).then(async (response) => {
        counted = true;
        return response;
      });
      // /health shows the model held as soon as the count is handed to the Worker; it must answer while the Worker
      // is still encoding, i.e. before the count's answer arrives.
      let answeredDuringCount = false;
      while (!counted && !answeredDuringCount) answeredDuringCount = (await tokenizers()) === 1 && !counted;
      expect(answeredDuringCount).toBe(true);
      const response = await counting;
      expect(response.status).toBe(200);
      expect(((await response.json()) as { input_tokens: number }).input_tokens).toBeGreaterThan(100_000);
    } finally {
      await server.close();
    }
  });

  test("the Worker keeps the most recently counted models only, and ends with close: later counts get 503", async () => {
    const counter = new PromptCounter(1);
    const [llama, weather] = await Promise.all(["llama", "weather"].map((id) => backend.models.resolve(id)));
    const params = { messages: [USER] };
    const n = await counter.count(llama!, params);
    expect(await counter.count(weather!, params)).toBe(await count(backend, "weather", params));
    expect(counter.size).toBe(1);
    expect(await counter.count(llama!, params)).toBe(n);
    counter.close();
    expect(counter.size).toBe(0);
    expect(await failure(() => counter.count(llama!, params))).toMatchObject({ status: 503, code: "shutting_down" });
  });
});
